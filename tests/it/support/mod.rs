//! Helpers shared by the integration tests (issue #2).
//!
//! Every test runs the real binary (`CARGO_BIN_EXE_smidge`) the way a user
//! would. Tests that need an outside tool (a Docker daemon, podman, skopeo,
//! umoci, qemu-user, unshare) start with `require!("docker")`: when the tool
//! is missing the test prints `skipped: <why>` and returns, unless
//! `SMIDGE_TEST_STRICT=1` (set by `scripts/test`), which turns the skip into
//! a failure so CI can never pass by skipping.
#![allow(dead_code)] // each test crate uses a different part of this module

pub mod process;
pub mod registry;

use std::collections::{BTreeSet, HashMap};
use std::ffi::OsStr;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_smidge");

/// The two platforms of issue #2 and the two fits.
pub const PLATFORMS: [&str; 2] = ["linux/amd64", "linux/386"];
pub const FITS: [&str; 2] = ["portable", "kernel"];
pub const PROGRAMS: [&str; 3] = ["hello", "pause", "exit"];

/// `smidge` as a `Command`, stdin closed.
pub fn smidge() -> Command {
    let mut cmd = Command::new(BIN);
    cmd.stdin(Stdio::null());
    cmd
}

/// Run `smidge ARGS` and collect its output.
pub fn run<I, S>(args: I) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    smidge().args(args).output().expect("spawn smidge")
}

/// Run `smidge ARGS` in `dir`.
pub fn run_in<I, S>(dir: &Path, args: I) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    smidge()
        .current_dir(dir)
        .args(args)
        .output()
        .expect("spawn smidge")
}

/// Run `smidge ARGS` with `input` on stdin.
pub fn run_stdin<I, S>(args: I, input: &[u8]) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    pipe(smidge().args(args), input)
}

/// Run `cmd` with `input` on its stdin and collect its output.
pub fn pipe(cmd: &mut Command, input: &[u8]) -> Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    let writer = std::thread::spawn(move || {
        // The child may exit without reading everything; that is its business.
        let _ = stdin.write_all(&input);
    });
    let out = child.wait_with_output().expect("wait");
    writer.join().unwrap();
    out
}

/// Run `smidge ARGS`, require success, return stdout.
pub fn ok<I, S>(args: I) -> Vec<u8>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let args: Vec<_> = args.into_iter().map(|a| a.as_ref().to_owned()).collect();
    let out = run(&args);
    assert!(
        out.status.success(),
        "smidge {:?} failed:\n{}",
        args,
        show(&out)
    );
    out.stdout
}

/// The payload alone (`--format elf` to stdout) for `smidge ARGS`.
pub fn payload<I, S>(args: I) -> Vec<u8>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut all: Vec<std::ffi::OsString> =
        args.into_iter().map(|a| a.as_ref().to_owned()).collect();
    all.extend(["--format", "elf", "-o", "-"].map(Into::into));
    let bytes = ok(&all);
    assert!(bytes.starts_with(b"\x7fELF"), "not an ELF file: {all:?}");
    bytes
}

/// Run a file that was just written and made executable. Retries while
/// exec fails with ETXTBSY ("Text file busy"): when the test process itself
/// wrote the file, another test thread may have forked while the write
/// descriptor was open, and the child holds it until it execs.
pub fn output_of_new_executable(cmd: &mut Command) -> std::io::Result<Output> {
    let start = Instant::now();
    loop {
        match cmd.output() {
            Err(e)
                if e.kind() == std::io::ErrorKind::ExecutableFileBusy
                    && start.elapsed() < Duration::from_secs(5) =>
            {
                std::thread::sleep(Duration::from_millis(10));
            }
            other => return other,
        }
    }
}

/// A fresh temporary directory, removed when dropped.
pub fn tempdir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("smidge-test.")
        .tempdir()
        .expect("temp dir")
}

/// The names in `dir`, sorted.
pub fn entries(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .expect("read dir")
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

/// Status, stdout and stderr of a finished process, for assertion messages.
pub fn show(out: &Output) -> String {
    let clip = |b: &[u8]| {
        let s = String::from_utf8_lossy(&b[..b.len().min(2000)]).into_owned();
        if b.len() > 2000 {
            format!("{s}… ({} bytes)", b.len())
        } else {
            s
        }
    };
    format!(
        "status: {}\nstdout: {}\nstderr: {}",
        out.status,
        clip(&out.stdout),
        clip(&out.stderr)
    )
}

/// Does `haystack` contain `needle`?
pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || haystack.windows(needle.len()).any(|w| w == needle)
}

/// The platforms the payload tests cover: `SMIDGE_PLATFORMS` (a comma-separated list, e.g.
/// `linux/arm64,linux/386`) when set, else every platform smidge has.
pub fn platforms() -> Vec<smidge::Platform> {
    match std::env::var("SMIDGE_PLATFORMS") {
        Ok(list) if !list.is_empty() => list
            .split(',')
            .map(|p| {
                p.parse()
                    .expect("SMIDGE_PLATFORMS: a platform smidge knows")
            })
            .collect(),
        _ => smidge::Platform::ALL.to_vec(),
    }
}

/// `SMIDGE_TEST_STRICT=1`: a missing tool fails the test instead of skipping it.
pub fn strict() -> bool {
    std::env::var("SMIDGE_TEST_STRICT").is_ok_and(|v| v == "1")
}

/// Is `tool` usable here? Returns false (after printing `skipped: <why>`)
/// when it is not; panics instead under `SMIDGE_TEST_STRICT=1`.
///
/// Tools: `docker` (a reachable daemon), `podman`, `skopeo`, `umoci`
/// (and root, for `umoci unpack`), `qemu-x86_64`, `qemu-i386`, `unshare`
/// (a new PID namespace can be made), `script` (a pty), `root`, `x86`
/// (the host runs amd64 and 386 code natively), or any command that answers
/// `--version`.
pub fn require(tool: &str) -> bool {
    static CACHE: OnceLock<Mutex<HashMap<String, Result<(), String>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let verdict = {
        let mut cache = cache.lock().unwrap_or_else(|e| e.into_inner());
        cache
            .entry(tool.to_owned())
            .or_insert_with(|| probe(tool))
            .clone()
    };
    match verdict {
        Ok(()) => true,
        Err(why) if strict() => {
            panic!("SMIDGE_TEST_STRICT=1 and {tool} is not usable: {why}")
        }
        Err(why) => {
            eprintln!("skipped: {why}");
            false
        }
    }
}

/// Return early from the test unless every tool is usable (see [`require`]).
#[macro_export]
macro_rules! require {
    ($($tool:expr),+ $(,)?) => {
        $( if !$crate::support::require($tool) { return; } )+
    };
}

fn probe(tool: &str) -> Result<(), String> {
    let works = |program: &str, args: &[&str]| -> Result<(), String> {
        match Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .output()
        {
            Ok(out) if out.status.success() => Ok(()),
            Ok(out) => Err(format!(
                "`{program} {}` failed: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            )),
            Err(e) => Err(format!("{program} not found ({e})")),
        }
    };
    match tool {
        "docker" => works("docker", &["info", "--format", "{{.ServerVersion}}"])
            .map_err(|e| format!("no Docker daemon reachable: {e}")),
        "podman" => works("podman", &["info"]),
        "containerd" => match containerd_address() {
            Some(address) => works("ctr", &["--address", address, "version"]),
            None => Err("no containerd socket (dockerd starts one)".into()),
        },
        "umoci" => {
            works("umoci", &["--version"])?;
            is_root()
                .then_some(())
                .ok_or_else(|| "umoci unpack needs root".into())
        }
        "unshare" => works("unshare", &["--pid", "--fork", "--", "true"]),
        "script" => works("script", &["-qec", "true", "/dev/null"]),
        "root" => is_root().then_some(()).ok_or_else(|| "needs root".into()),
        // qemu-user-static's handlers, which run foreign ELF files executed directly.
        "binfmt" => [
            "qemu-aarch64",
            "qemu-arm",
            "qemu-riscv64",
            "qemu-ppc64le",
            "qemu-s390x",
        ]
        .iter()
        .try_for_each(|h| {
            let path = format!("/proc/sys/fs/binfmt_misc/{h}");
            match std::fs::read_to_string(&path) {
                Ok(s) if s.starts_with("enabled") && s.contains("flags: PF") => Ok(()),
                Ok(_) => Err(format!("{path} is disabled or lacks the F flag")),
                Err(e) => Err(format!("no binfmt_misc handler {path} ({e})")),
            }
        }),
        "x86" => (cfg!(any(target_arch = "x86_64", target_arch = "x86")))
            .then_some(())
            .ok_or_else(|| "the host does not run amd64/386 code natively".into()),
        // Debian's busybox-static, a real static program to read.
        "busybox" => works("/bin/busybox", &["true"]),
        // wrk has no --version: it prints its usage and exits 1.
        "wrk" => works("sh", &["-c", "command -v wrk"]),
        other => works(other, &["--version"]),
    }
}

/// The socket of a running containerd: a system one, or the one dockerd starts.
pub fn containerd_address() -> Option<&'static str> {
    [
        "/run/containerd/containerd.sock",
        "/var/run/docker/containerd/containerd.sock",
    ]
    .into_iter()
    .find(|a| Path::new(a).exists())
}

pub fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.trim_ascii() == b"0")
}

// ---------------------------------------------------------------- docker

/// A tag no other test (or test run) uses: `smidge-test/<name>:<pid>`.
pub fn test_tag(name: &str) -> String {
    let name: String = name
        .chars()
        .map(|c| match c {
            'a'..='z' | '0'..='9' | '-' | '.' => c,
            'A'..='Z' => c.to_ascii_lowercase(),
            _ => '-',
        })
        .collect();
    format!("smidge-test/{name}:{}", std::process::id())
}

/// The architecture part of `linux/<arch>`, as docker and OCI spell it.
pub fn arch(platform: &str) -> &str {
    platform.split('/').nth(1).expect("os/arch")
}

/// Run `docker ARGS`.
pub fn docker<I, S>(args: I) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    Command::new("docker")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("spawn docker")
}

/// Run `docker ARGS`, require success, return stdout trimmed.
pub fn docker_ok<I, S>(args: I) -> String
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let args: Vec<_> = args.into_iter().map(|a| a.as_ref().to_owned()).collect();
    let out = docker(&args);
    assert!(
        out.status.success(),
        "docker {args:?} failed:\n{}",
        show(&out)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// A tag loaded into an engine (`docker` or `podman`); removed on drop, so
/// parallel tests and reruns never see each other's images. Removal is by
/// tag: an image another test loaded under its own tag stays.
pub struct Loaded {
    pub engine: &'static str,
    pub tag: String,
}

impl Loaded {
    /// `<engine> load -i ARCHIVE`, which must name `tag` in its output.
    pub fn load(engine: &'static str, archive: &Path, tag: &str) -> Loaded {
        // Remove leftovers of an earlier, interrupted run first.
        let _ = Command::new(engine).args(["rmi", "-f", tag]).output();
        let out = Command::new(engine)
            .arg("load")
            .arg("-i")
            .arg(archive)
            .stdin(Stdio::null())
            .output()
            .expect("spawn load");
        let loaded = Loaded {
            engine,
            tag: tag.to_owned(),
        };
        assert!(
            out.status.success(),
            "{engine} load -i {} failed:\n{}",
            archive.display(),
            show(&out)
        );
        let said = String::from_utf8_lossy(&out.stdout);
        assert!(
            said.contains(tag),
            "{engine} load did not report {tag}:\n{}",
            show(&out)
        );
        loaded
    }

    /// Like `load`, but the archive arrives on stdin (`smidge … | docker load`).
    pub fn load_stdin(engine: &'static str, archive: &[u8], tag: &str) -> Loaded {
        let _ = Command::new(engine).args(["rmi", "-f", tag]).output();
        let out = pipe(Command::new(engine).arg("load"), archive);
        let loaded = Loaded {
            engine,
            tag: tag.to_owned(),
        };
        assert!(
            out.status.success(),
            "{engine} load failed:\n{}",
            show(&out)
        );
        loaded
    }

    /// `<engine> image inspect --format FORMAT TAG`.
    pub fn inspect(&self, format: &str) -> String {
        let out = Command::new(self.engine)
            .args(["image", "inspect", "--format", format, &self.tag])
            .output()
            .expect("spawn inspect");
        assert!(
            out.status.success(),
            "inspect {}:\n{}",
            self.tag,
            show(&out)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }
}

impl Drop for Loaded {
    fn drop(&mut self) {
        let _ = Command::new(self.engine)
            .args(["rmi", "-f", &self.tag])
            .output();
    }
}

/// A container, removed (`docker rm -f`) on drop.
pub struct Container(pub String);

impl Drop for Container {
    fn drop(&mut self) {
        let _ = docker(["rm", "-f", &self.0]);
    }
}

/// Poll `check` every 20 ms until it holds or `limit` passes.
pub fn wait_until(limit: Duration, mut check: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    loop {
        if check() {
            return true;
        }
        if start.elapsed() > limit {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `podman run` flags this machine needs: as root in a VM whose hard
/// RLIMIT_NOFILE/RLIMIT_NPROC are below podman's defaults (1048576 and
/// 4194304), runc cannot raise them ("error setting rlimit type 7:
/// operation not permitted"), so ask for small limits.
pub const PODMAN_RUN_LIMITS: [&str; 4] = [
    "--ulimit",
    "nofile=1024:1024",
    "--ulimit",
    "nproc=1024:1024",
];

// ---------------------------------------------------------------- issue #10

/// Run `cmd` to the end under GNU time (`/usr/bin/time -f %M`) and return its output
/// (time's own line taken off stderr) with its peak resident set size in KiB. issue #10:
/// "peak RSS under 64 MiB for a 1 GiB image". Callers `require!("/usr/bin/time")`.
///
/// Why not `wait4(2)`'s `ru_maxrss` from the test process itself: std spawns with
/// `CLONE_VM` (posix_spawn), and at `execve` Linux folds the peak RSS of the memory the
/// child came from (the test process's, tens of MiB with the other tests running) into the
/// child's `ru_maxrss`: measured, `/bin/true` spawned by a 200 MiB process "peaks" at
/// 218 MiB, and every smidge run of a test at the test process's 40 MiB. GNU time forks
/// from its own small process, so the figure is the program's own.
pub fn output_with_peak_rss(cmd: &Command) -> (Output, u64) {
    const MARK: &str = "smidge-test-peak-rss-kib=";
    let mut timed = Command::new("/usr/bin/time");
    timed
        .args(["-f", &format!("{MARK}%M"), "--"])
        .arg(cmd.get_program())
        .args(cmd.get_args())
        .stdin(Stdio::null());
    for (key, value) in cmd.get_envs() {
        match value {
            Some(value) => timed.env(key, value),
            None => timed.env_remove(key),
        };
    }
    if let Some(dir) = cmd.get_current_dir() {
        timed.current_dir(dir);
    }
    let mut out = timed.output().expect("spawn /usr/bin/time");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let (before, kib) = stderr
        .trim_end()
        .rsplit_once(MARK)
        .unwrap_or_else(|| panic!("no peak RSS from /usr/bin/time:\n{}", show(&out)));
    let kib = kib.trim().parse().expect("time's %M: KiB");
    // time says "Command exited with non-zero status N" itself; the status tells as much.
    let before: Vec<&str> = before
        .lines()
        .filter(|l| !l.starts_with("Command exited with non-zero status"))
        .collect();
    let mut stderr = before.join("\n");
    if !stderr.is_empty() {
        stderr.push('\n');
    }
    out.stderr = stderr.into_bytes();
    (out, kib)
}

/// Write `mib` MiB of pseudo-random bytes (xorshift64 from `seed`) to `path`: input that
/// does not compress, different for every seed (so a registry or skopeo's blob cache has
/// never seen it), made fast enough for hundreds of MiB.
pub fn write_random_file(path: &Path, mib: usize, seed: u64) {
    let mut file = std::io::BufWriter::new(std::fs::File::create(path).expect("create"));
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut block = vec![0u8; 1 << 20];
    for _ in 0..mib {
        for word in block.chunks_mut(8) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            word.copy_from_slice(&x.to_le_bytes());
        }
        file.write_all(&block).expect("write");
    }
    file.flush().expect("flush");
}

/// `docker pull [--platform P] REF`, then `docker run --rm [--platform P] REF`: the
/// container's stdout. The pulled tag is removed afterwards. The Docker daemon pulls from
/// a registry on 127.0.0.1 over plain HTTP (127.0.0.0/8 is an insecure registry by default).
pub fn docker_pull_and_run(reference: &str, platform: Option<&str>) -> String {
    String::from_utf8(docker_pull_and_run_bytes(reference, platform)).unwrap()
}

/// [`docker_pull_and_run`], for a program whose output is not text.
pub fn docker_pull_and_run_bytes(reference: &str, platform: Option<&str>) -> Vec<u8> {
    let with_platform = |cmd: &str| {
        let mut args = vec![cmd.to_owned()];
        if let Some(p) = platform {
            args.extend(["--platform".to_owned(), p.to_owned()]);
        }
        args
    };
    let _pulled = Loaded {
        engine: "docker",
        tag: reference.to_owned(),
    };
    let mut pull = with_platform("pull");
    pull.extend(["-q".to_owned(), reference.to_owned()]);
    docker_ok(&pull);
    let mut run = with_platform("run");
    run.extend(["--rm".to_owned(), reference.to_owned()]);
    let out = docker(&run);
    assert!(out.status.success(), "docker {run:?}:\n{}", show(&out));
    out.stdout
}
