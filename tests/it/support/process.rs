//! Running payloads for real with no Docker: natively (amd64 and 386 on this host), under
//! qemu-user, through binfmt_misc, and as PID 1 of a new PID namespace.

use smidge::elf;
use smidge::{Fit, Platform, Program};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub fn write_payload(dir: &Path, program: &Program, platform: Platform, fit: Fit) -> PathBuf {
    let bytes = elf::build(program, platform, fit).unwrap().bytes;
    let path = dir.join(format!(
        "{}-{}-{fit}",
        program.name(),
        platform.architecture()
    ));
    std::fs::write(&path, bytes).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

pub fn qemu(platform: Platform) -> &'static str {
    match platform {
        Platform::Amd64 => "qemu-x86_64",
        Platform::I386 => "qemu-i386",
        Platform::Arm64 => "qemu-aarch64",
        Platform::ArmV7 => "qemu-arm",
        Platform::Riscv64 => "qemu-riscv64",
        Platform::Ppc64le => "qemu-ppc64le",
        Platform::S390x => "qemu-s390x",
    }
}

pub fn native(platform: Platform) -> bool {
    matches!(platform, Platform::Amd64 | Platform::I386)
}

/// The ways a payload is run: amd64 and 386 natively, the others under qemu-user; and the
/// portable fit also the other way: under qemu-user (x86), or executed directly, which the
/// kernel hands to qemu-user-static through binfmt_misc (the others).
pub fn runners(platform: Platform, fit: Fit) -> Vec<Vec<String>> {
    let qemu = vec![qemu(platform).to_string()];
    let mut r = vec![if native(platform) {
        vec![]
    } else {
        qemu.clone()
    }];
    if fit == Fit::Portable {
        r.push(if native(platform) { qemu } else { vec![] });
    }
    r
}

pub fn command(runner: &[String], exe: &Path) -> Command {
    match runner.split_first() {
        None => Command::new(exe),
        Some((first, rest)) => {
            let mut c = Command::new(first);
            c.args(rest).arg(exe);
            c
        }
    }
}

pub fn require_all() -> bool {
    super::require("x86")
        && super::require("binfmt")
        && super::platforms().iter().all(|&p| super::require(qemu(p)))
}

/// Spawns `cmd`, retrying while its freshly written executable is still open for writing
/// in a child another test thread forked (ETXTBSY until that child execs).
// The child goes back to the caller, which waits for it.
#[allow(clippy::zombie_processes)]
pub fn spawn(cmd: &mut Command) -> Child {
    let start = Instant::now();
    loop {
        match cmd.spawn() {
            Err(e)
                if e.kind() == std::io::ErrorKind::ExecutableFileBusy
                    && start.elapsed() < Duration::from_secs(5) =>
            {
                std::thread::sleep(Duration::from_millis(10))
            }
            other => return other.unwrap(),
        }
    }
}

/// Waits for `child` to exit, up to `limit`.
pub fn wait_within(child: &mut Child, limit: Duration) -> Option<std::process::ExitStatus> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    None
}

pub fn signal(pid: u32, sig: &str) {
    let ok = Command::new("kill")
        .args(["-s", sig, &pid.to_string()])
        .status()
        .unwrap();
    assert!(ok.success(), "kill -s {sig} {pid}");
}

/// State letter of /proc/PID/stat ('S' sleeping, 'R' running, 'Z' zombie, ...).
pub fn state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(") ")
        .and_then(|(_, rest)| rest.chars().next())
}

/// CPU ticks (utime + stime) a process used.
pub fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let rest = stat.rsplit_once(") ").unwrap().1;
    let f: Vec<&str> = rest.split(' ').collect();
    f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()
}

/// `unshare --pid --fork [RUNNER] EXE ARGS`: the payload (or qemu-user running it) is PID 1
/// of a new PID namespace. Returns the unshare process and PID 1's PID as the host sees it.
// The child goes back to the caller, which waits for it.
#[allow(clippy::zombie_processes)]
pub fn spawn_pid1(runner: &[String], exe: &Path, args: &[&str]) -> (Child, u32) {
    let mut child = spawn(
        Command::new("unshare")
            .args(["--pid", "--fork", "--kill-child", "--"])
            .args(runner)
            .arg(exe)
            .args(args),
    );
    let start = Instant::now();
    loop {
        let children = std::fs::read_to_string(format!("/proc/{0}/task/{0}/children", child.id()))
            .unwrap_or_default();
        if let Some(pid) = children.split_whitespace().next() {
            let pid: u32 = pid.parse().unwrap();
            // Wait for unshare's child to have exec'd.
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let argv0 = cmdline.split(|&b| b == 0).next().unwrap_or_default();
            if !argv0.is_empty() && !argv0.ends_with(b"unshare") {
                return (child, pid);
            }
        }
        if start.elapsed() > Duration::from_secs(5) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{} did not start", exe.display());
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Hands `pid1` two orphans, one already a zombie and one still running when its parent
/// exits, and reports whether either is left as a zombie child of `pid1` afterwards.
pub fn leaves_zombie(pid1: u32) -> bool {
    // The shell starts two sleepers and becomes `sleep 0.4`, which never waits: the 0.2 s
    // sleeper is a zombie by the time its parent exits, the 0.6 s one is still running.
    // Both are reparented to the namespace's init, which must reap them.
    let status = Command::new("nsenter")
        .args(["--target", &pid1.to_string(), "--pid", "--"])
        .args(["sh", "-c", "sleep 0.2 & sleep 0.6 & exec sleep 0.4"])
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    std::thread::sleep(Duration::from_millis(1000));
    let children =
        std::fs::read_to_string(format!("/proc/{pid1}/task/{pid1}/children")).unwrap_or_default();
    children
        .split_whitespace()
        .any(|c| state(c.parse().unwrap()) == Some('Z'))
}
