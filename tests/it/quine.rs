//! `smidge quine`: an image whose container prints the archive it was loaded from
//! (issue #12). The SHA-256 listing alone against the sha2 crate; the program run
//! directly prints generation 0 byte for byte and calls only write and exit; every
//! instruction decodes as listed; and through docker (and podman) the output loads as the
//! same image, which prints the same bytes again.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};
use smidge::elf::Payload;
use smidge::quine;
use smidge::{Fit, Platform};

use crate::support::process::{command, native, qemu, runners};
use crate::support::{self, ok, output_of_new_executable, show, test_tag, Loaded};

const FITS: [(Fit, &str); 2] = [(Fit::Portable, "portable"), (Fit::Kernel, "kernel")];

/// The platforms the quine tests cover: every one (`arch::Programs::quine` has no default
/// body), or `SMIDGE_PLATFORMS`.
fn quine_platforms() -> Vec<Platform> {
    support::platforms()
}

/// Every (platform, fit) the quine is built for: (platform, "linux/…", fit, "fit").
fn targets() -> Vec<(Platform, String, Fit, &'static str)> {
    quine_platforms()
        .into_iter()
        .flat_map(|p| FITS.iter().map(move |&(f, fs)| (p, p.to_string(), f, fs)))
        .collect()
}

/// What the tests need to run every platform's quine: qemu-user for the foreign ones and
/// binfmt_misc for executing them directly (as docker does).
fn require_runners() -> bool {
    quine_platforms()
        .iter()
        .all(|&p| native(p) || support::require(qemu(p)))
        && (quine_platforms().iter().all(|&p| native(p)) || support::require("binfmt"))
}

fn write_exe(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

/// `smidge quine --platform PLATFORM --fit FIT ARGS…` to stdout.
fn smidge_quine(platform: &str, fit: &str, args: &[&str]) -> Vec<u8> {
    let mut all = vec!["quine", "--platform", platform, "--fit", fit, "-o", "-"];
    all.extend_from_slice(args);
    ok(&all)
}

fn generation0(platform: &str, fit: &str, tag: &str) -> Vec<u8> {
    let args = ["--compression", "none", "--format", "docker", "-t", tag];
    smidge_quine(platform, fit, &args)
}

/// Runs `exe` every way `platform` and `fit` are run ([`runners`]: natively or under
/// qemu-user, and the portable fit also through the other), and returns what it printed,
/// the same every way.
fn run(platform: Platform, fit: Fit, exe: &Path) -> Vec<u8> {
    let mut printed: Option<Vec<u8>> = None;
    for runner in runners(platform, fit) {
        let out = output_of_new_executable(&mut command(&runner, exe)).unwrap();
        assert!(
            out.status.success(),
            "{} {runner:?}: {}",
            exe.display(),
            show(&out)
        );
        if let Some(p) = &printed {
            assert!(
                *p == out.stdout,
                "{} {runner:?} printed something else",
                exe.display()
            );
        }
        printed = Some(out.stdout);
    }
    printed.unwrap()
}

/// The listing's SHA-256 (with the hex and write listings), on messages around the
/// padding edges (55 bytes is the longest that pads in one block, 56 the shortest that
/// needs two), against the sha2 crate, on every platform (natively and under qemu-user:
/// amd64's K comes from the x87, whose emulation must agree); and the Rust model
/// generation 0 is computed with.
#[test]
#[ignore = "needs qemu-user and binfmt_misc"]
fn sha256_listing_matches_sha2() {
    if !require_runners() {
        return;
    }
    let dir = support::tempdir();
    for len in [
        0, 1, 3, 55, 56, 57, 63, 64, 65, 119, 120, 128, 1000, 4096, 6000,
    ] {
        let message: Vec<u8> = (0..len).map(|i| (i * 7 + i / 256) as u8).collect();
        let want = hex::encode(Sha256::digest(&message));
        assert_eq!(hex::encode(quine::sha256(&message)), want, "{len} bytes");
        for platform in quine_platforms() {
            let payload = quine::sha256_test(platform, &message);
            let name = format!("sha-{}-{len}", platform.architecture());
            let exe = write_exe(dir.path(), &name, &payload.bytes);
            let printed = run(platform, Fit::Portable, &exe);
            assert_eq!(
                String::from_utf8(printed).unwrap(),
                want,
                "{platform}: SHA-256 of {len} bytes"
            );
        }
    }
}

/// The program, run directly (or under qemu-user), prints generation 0 (what `smidge
/// quine --compression none` writes), byte for byte; and what it prints is a docker
/// archive of itself.
#[test]
#[ignore = "needs qemu-user and binfmt_misc"]
fn program_prints_generation0() {
    if !require_runners() {
        return;
    }
    let dir = support::tempdir();
    for (p, platform, fit_, fit) in targets() {
        let platform = platform.as_str();
        let tag = "smidge/quine:latest";
        let gen0 = generation0(platform, fit, tag);
        let program = smidge_quine(platform, fit, &["--format", "elf"]);
        let exe = write_exe(
            dir.path(),
            &format!("quine-{}-{fit}", p.architecture()),
            &program,
        );
        let printed = run(p, fit_, &exe);
        assert!(
            printed == gen0,
            "{platform} {fit}: the program's output differs from generation 0"
        );
        // The archive holds the program itself as /quine, and the config names its layer.
        let mut outer = tar::Archive::new(&printed[..]);
        let mut files = std::collections::BTreeMap::new();
        for e in outer.entries().unwrap() {
            let mut e = e.unwrap();
            let mut data = Vec::new();
            std::io::Read::read_to_end(&mut e, &mut data).unwrap();
            files.insert(e.path().unwrap().to_string_lossy().into_owned(), data);
        }
        let manifest: serde_json::Value = serde_json::from_slice(&files["manifest.json"]).unwrap();
        assert_eq!(manifest[0]["RepoTags"][0], tag);
        let config: serde_json::Value = serde_json::from_slice(&files["c"]).unwrap();
        let layer = &files["l"];
        assert_eq!(
            config["rootfs"]["diff_ids"][0],
            format!("sha256:{}", hex::encode(Sha256::digest(layer)))
        );
        assert_eq!(config["architecture"], p.architecture());
        assert_eq!(config["variant"].as_str(), p.variant());
        let mut inner = tar::Archive::new(&layer[..]);
        let mut e = inner.entries().unwrap().next().unwrap().unwrap();
        assert_eq!(e.path().unwrap().to_str(), Some("quine"));
        assert_eq!(e.header().mode().unwrap(), 0o755);
        let mut data = Vec::new();
        std::io::Read::read_to_end(&mut e, &mut data).unwrap();
        assert!(
            data == program,
            "{platform} {fit}: the layer holds the program"
        );
    }
}

/// The system calls the program makes: `strace -f` of it run directly (amd64, 386), or
/// qemu-user's own `-strace` (the others, whose system calls qemu makes on their behalf):
/// only write and exit (no open, read, mmap…).
#[test]
#[ignore = "needs strace and qemu-user"]
fn program_calls_only_write_and_exit() {
    if !support::require("strace") || !require_runners() {
        return;
    }
    let dir = support::tempdir();
    for (p, platform, _, fit) in targets() {
        let program = smidge_quine(&platform, fit, &["--format", "elf"]);
        let name = format!("{}-{fit}", p.architecture());
        let exe = write_exe(dir.path(), &format!("quine-{name}"), &program);
        let log = dir.path().join(format!("strace-{name}"));
        let mut cmd = if native(p) {
            let mut c = Command::new("strace");
            c.args(["-f", "-e", "trace=all", "-o"]).arg(&log).arg(&exe);
            c
        } else {
            let mut c = Command::new(qemu(p));
            c.arg("-strace").arg(&exe);
            c
        };
        let out = output_of_new_executable(&mut cmd).unwrap();
        assert!(out.status.success(), "{}", show(&out));
        let log = if native(p) {
            std::fs::read_to_string(&log).unwrap()
        } else {
            String::from_utf8_lossy(&out.stderr).into_owned()
        };
        let calls: Vec<&str> = log
            .lines()
            .filter_map(|l| {
                // strace: "PID name(args) = result", "+++ exited with 0 +++";
                // qemu: "PID name(args) = result", the result maybe on a line of its own.
                let l = l.split_once(' ').map_or(l, |(_, rest)| rest).trim_start();
                (!l.starts_with("+++") && !l.starts_with("---") && l.contains('('))
                    .then(|| l.split('(').next().unwrap())
            })
            .collect();
        let calls = if native(p) {
            assert_eq!(calls.first(), Some(&"execve"), "{log}");
            &calls[1..]
        } else {
            &calls[..]
        };
        for call in calls {
            assert!(
                matches!(*call, "write" | "exit" | "exit_group"),
                "{platform} {fit}: the program called {call}:\n{log}"
            );
        }
        assert!(
            calls.contains(&"write") && calls.last() == Some(&"exit"),
            "{platform} {fit}: {log}"
        );
    }
}

/// Every instruction of the quine's listing and of the SHA-256 test program decodes with
/// capstone as listed (mnemonic, operands, length), and every branch lands on one.
#[test]
fn every_quine_instruction_decodes_as_listed() {
    let header = header();
    let mut payloads: Vec<(String, Platform, Payload)> = Vec::new();
    for platform in quine_platforms() {
        let test = quine::sha256_test(platform, b"abc");
        payloads.push((format!("sha256 test {platform}"), platform, test));
    }
    for (platform, _, fit, name) in targets() {
        let q = quine::build(platform, fit, "smidge/quine:latest", &header).unwrap();
        payloads.push((format!("quine {platform} {name}"), platform, q.payload));
    }
    for (name, platform, payload) in payloads {
        let cs = crate::payloads::capstone(platform, &payload);
        let starts: Vec<u64> = payload
            .code
            .iter()
            .map(|p| payload.base + p.offset as u64)
            .collect();
        assert_eq!(payload.code[0].offset, payload.entry, "{name}");
        let x86 = matches!(platform, Platform::Amd64 | Platform::I386);
        for placed in &payload.code {
            let at = placed.offset;
            if placed.insn.asm.starts_with('.') {
                // Literal data in the code (`.word 0x…`), if a listing carries any: the
                // bytes must say what the listing says.
                let listed = placed.insn.asm.split(';').next().unwrap().trim();
                assert!(
                    listed.starts_with(".word") || listed.starts_with(".long"),
                    "{name} at {at}: `{listed}`"
                );
                continue;
            }
            let insns = cs
                .disasm_count(&payload.bytes[at..], payload.base + at as u64, 1)
                .unwrap();
            let insn = insns
                .iter()
                .next()
                .unwrap_or_else(|| panic!("{name}: nothing decodes at {at}"));
            let got = format!("{} {}", insn.mnemonic().unwrap(), insn.op_str().unwrap());
            let listed = placed.insn.asm.split(';').next().unwrap().trim();
            assert_eq!(
                insn.len(),
                placed.insn.len(),
                "{name} at {at}: {got} / {listed}"
            );
            let (mnemonic, ops) = split_mnemonic(listed, insn.mnemonic().unwrap());
            assert_eq!(
                mnemonic,
                insn.mnemonic().unwrap(),
                "{name} at {at}: {got} / {listed}"
            );
            if ops.is_empty() {
                continue; // string instructions: capstone spells out the implicit operands
            }
            // A branch to a label: it must land on an instruction of the listing.
            let last = ops.rsplit(", ").next().unwrap();
            let label = if x86 {
                ops.starts_with(|c: char| c.is_ascii_alphabetic())
                    && (mnemonic.starts_with('j') || mnemonic == "loop")
            } else {
                last.starts_with(|c: char| c.is_ascii_alphabetic())
                    && last.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                    && !is_register(platform, last)
            };
            if label {
                // RISC-V prints a branch's offset (signed), the others its address.
                let printed = insn.op_str().unwrap().rsplit(", ").next().unwrap();
                let printed = printed.trim_start_matches('#');
                let target = if platform == Platform::Riscv64 {
                    let v: i64 = match printed.strip_prefix('-') {
                        Some(d) => -parse_num(d),
                        None => parse_num(printed),
                    };
                    (payload.base + at as u64).wrapping_add(v as u64)
                } else {
                    parse_num(printed) as u64
                };
                assert!(
                    starts.contains(&target),
                    "{name} at {at}: `{listed}` lands inside an instruction"
                );
                continue;
            }
            assert_eq!(
                normalize(insn.op_str().unwrap(), x86),
                normalize(ops, x86),
                "{name} at {at}: capstone reads `{got}`, the listing says `{listed}`"
            );
        }
    }
}

fn parse_num(s: &str) -> i64 {
    match s.strip_prefix("0x") {
        Some(h) => i64::from_str_radix(h, 16).unwrap(),
        None => s.parse().unwrap(),
    }
}

/// Whether `op` names a register (so it is not a label).
fn is_register(platform: Platform, op: &str) -> bool {
    let num = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_digit());
    match platform {
        Platform::Amd64 | Platform::I386 => false,
        Platform::Arm64 => {
            ["sp", "xzr", "wzr", "lr", "fp"].contains(&op)
                || op
                    .strip_prefix(['x', 'w', 'd', 's', 'v', 'q'])
                    .is_some_and(num)
        }
        Platform::ArmV7 => {
            ["sp", "lr", "pc", "ip", "fp", "sb", "sl"].contains(&op)
                || op.strip_prefix(['r', 'd', 's']).is_some_and(num)
        }
        Platform::Riscv64 => {
            ["zero", "ra", "sp", "gp", "tp", "fp"].contains(&op)
                || op.strip_prefix(['a', 's', 't', 'x', 'f']).is_some_and(num)
                || op.strip_prefix("fa").is_some_and(num)
                || op.strip_prefix("fs").is_some_and(num)
                || op.strip_prefix("ft").is_some_and(num)
        }
        Platform::Ppc64le => {
            op.strip_prefix(['r', 'f', 'v']).is_some_and(num)
                || op.strip_prefix("cr").is_some_and(num)
                || ["lr", "ctr"].contains(&op)
        }
        Platform::S390x => {
            op.strip_prefix("%r").is_some_and(num) || op.strip_prefix("%f").is_some_and(num)
        }
    }
}

fn split_mnemonic<'a>(listed: &'a str, capstone: &str) -> (&'a str, &'a str) {
    // capstone's mnemonic may hold a prefix ("rep movsb").
    let n = capstone.len().min(listed.len());
    let (m, rest) = listed.split_at(n);
    (m, rest.trim())
}

/// Operands without spaces (and x86's size words, ARM's `#`), numbers in decimal.
fn normalize(ops: &str, x86: bool) -> String {
    let mut s = ops.to_string();
    if x86 {
        s = s.replace("ptr ", "").replace("st(0)", "st0");
        for size in ["qword ", "dword ", "byte "] {
            s = s.replace(size, "");
        }
    } else {
        s = s.replace('#', "");
    }
    let s = s.replace(' ', "");
    let mut out = String::new();
    let mut rest = s.as_str();
    while let Some(i) = rest.find("0x") {
        out.push_str(&rest[..i]);
        let digits: String = rest[i + 2..]
            .chars()
            .take_while(char::is_ascii_hexdigit)
            .collect();
        out.push_str(&u64::from_str_radix(&digits, 16).unwrap().to_string());
        rest = &rest[i + 2 + digits.len()..];
    }
    out.push_str(rest);
    out
}

fn header() -> impl Fn(&str, u32, u64) -> [u8; 512] {
    |name, mode, size| {
        smidge::codec::tar::UstarHeader::member(name, mode, 0, size)
            .unwrap()
            .to_block()
    }
}

/// Generation 0 → docker load → docker run → output == generation 0 → docker rmi →
/// docker load of the output → the same image ID → run → byte-identical output.
#[test]
#[ignore = "needs docker"]
fn docker_loads_what_the_container_prints() {
    require!("docker");
    let dir = support::tempdir();
    for (_, platform, _, fit_name) in targets() {
        let platform = platform.as_str();
        let fit = &*format!("{} {fit_name}", support::arch(platform));
        let tag = test_tag(&format!("quine-{fit}"));
        let gen0 = generation0(platform, fit_name, &tag);
        let path = dir
            .path()
            .join(format!("gen0-{}.tar", tag.replace(['/', ':'], "-")));
        std::fs::write(&path, &gen0).unwrap();
        let loaded = Loaded::load("docker", &path, &tag);
        let id = loaded.inspect("{{.Id}}");
        let printed = run_container(platform, &tag);
        assert!(
            printed == gen0,
            "{fit}: the container printed something else"
        );
        drop(loaded);
        let again = Loaded::load_stdin("docker", &printed, &tag);
        assert_eq!(again.inspect("{{.Id}}"), id, "{fit}: not the same image");
        assert_eq!(again.inspect("{{json .RepoTags}}"), format!("[\"{tag}\"]"));
        assert!(
            run_container(platform, &tag) == gen0,
            "{fit}: generation 2 differs"
        );
        // The gzip archive smidge writes by default loads as the same image too.
        let gz = path.with_extension("tar.gz");
        std::fs::write(&gz, smidge_quine(platform, fit_name, &["-t", &tag])).unwrap();
        drop(again);
        let gzipped = Loaded::load("docker", &gz, &tag);
        assert_eq!(gzipped.inspect("{{.Id}}"), id);
    }
}

fn run_container(platform: &str, tag: &str) -> Vec<u8> {
    let out = Command::new("docker")
        .args([
            "run",
            "--rm",
            "--network",
            "none",
            "--platform",
            platform,
            tag,
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "docker run {tag}: {}", show(&out));
    out.stdout
}

/// `podman load` of the container's output gives the same image ID as docker's, and where
/// podman can run containers here, it prints the same bytes.
#[test]
#[ignore = "needs podman"]
fn podman_loads_the_same_image() {
    require!("podman");
    let dir = support::tempdir();
    for (_, platform, _, fit) in targets() {
        let platform = platform.as_str();
        let tag = test_tag(&format!("quine-podman-{fit}-{}", support::arch(platform)));
        let gen0 = generation0(platform, fit, &tag);
        let path = dir.path().join(format!("gen0-{fit}.tar"));
        std::fs::write(&path, &gen0).unwrap();
        let loaded = Loaded::load("podman", &path, &tag);
        let config_digest = {
            let mut outer = tar::Archive::new(&gen0[..]);
            let mut digest = String::new();
            for e in outer.entries().unwrap() {
                let mut e = e.unwrap();
                if e.path().unwrap().to_str() == Some("c") {
                    let mut data = Vec::new();
                    std::io::Read::read_to_end(&mut e, &mut data).unwrap();
                    digest = hex::encode(Sha256::digest(&data));
                }
            }
            digest
        };
        assert_eq!(loaded.inspect("{{.Id}}"), config_digest, "{fit}");
        let out = Command::new("podman")
            .args([
                "run",
                "--rm",
                "--network",
                "none",
                "--platform",
                platform,
                &tag,
            ])
            .output()
            .unwrap();
        if out.status.success() {
            assert!(
                out.stdout == gen0,
                "{fit}: podman run printed something else"
            );
        } else {
            eprintln!("podman run does not work here: {}", show(&out));
        }
    }
}

/// Every quine payload's bytes, pinned in tests/golden/quine.txt (`SMIDGE_BLESS=1` rewrites
/// it), with the size of the gzip archive smidge writes and of what the program prints.
#[test]
fn quine_bytes_are_pinned() {
    let path = format!("{}/tests/golden/quine.txt", env!("CARGO_MANIFEST_DIR"));
    let mut text = String::new();
    for (platform, name, _, fit) in targets() {
        let name = name.as_str();
        let payload = smidge_quine(name, fit, &["--format", "elf"]);
        let gzip = smidge_quine(name, fit, &["--compression", "gzip"]).len();
        let printed = generation0(name, fit, "smidge/quine:latest").len();
        text.push_str(&format!(
            "quine {platform} {fit} {} gzip={gzip} printed={printed} {}\n",
            payload.len(),
            hex::encode(&payload)
        ));
    }
    if std::env::var("SMIDGE_BLESS").is_ok_and(|v| v == "1") {
        std::fs::write(&path, &text).unwrap();
    }
    let golden = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{path}: {e} (SMIDGE_BLESS=1 writes it)"));
    assert_eq!(
        golden, text,
        "quine changed; if intended, rerun with SMIDGE_BLESS=1"
    );
}

/// The sha256 digest of the config member `c` of a quine's docker archive: the image ID.
fn config_digest(archive: &[u8]) -> String {
    let mut outer = tar::Archive::new(archive);
    for e in outer.entries().unwrap() {
        let mut e = e.unwrap();
        if e.path().unwrap().to_str() == Some("c") {
            let mut data = Vec::new();
            std::io::Read::read_to_end(&mut e, &mut data).unwrap();
            return hex::encode(Sha256::digest(&data));
        }
    }
    panic!("no config `c` in the archive")
}

/// The quine outside a docker archive: as an OCI archive (podman loads it as the same
/// image ID, skopeo reads the same config bytes) and pushed to a registry for two
/// platforms at once (`docker pull --platform`, `docker run`: each prints the docker
/// archive of itself tagged as pushed, which loads as the image it printed).
#[test]
#[ignore = "needs podman, skopeo, docker and docker-registry"]
fn oci_and_pushed_quines_are_the_same_image() {
    use crate::support::registry::{Mode, Registry};
    require!("podman");
    require!("skopeo");
    require!("docker");
    let Some(registry) = Registry::start(Mode::Anonymous) else {
        return;
    };
    let dir = support::tempdir();
    let (platform, fit) = ("linux/amd64", "kernel");
    let tag = test_tag("quine-oci");
    let gen0 = generation0(platform, fit, &tag);
    let id = config_digest(&gen0);

    let oci = dir.path().join("q.oci.tar");
    let oci_arg = oci.to_str().unwrap();
    let mut args = vec!["quine", "--platform", platform, "--fit", fit, "-t", &tag];
    args.extend(["--format", "oci", "-o", oci_arg]);
    ok(&args);
    let raw_config = Command::new("skopeo")
        .args(["inspect", "--raw", "--config"])
        .arg(format!("oci-archive:{oci_arg}"))
        .output()
        .unwrap();
    assert!(raw_config.status.success(), "{}", show(&raw_config));
    assert_eq!(hex::encode(Sha256::digest(&raw_config.stdout)), id);
    let loaded = Loaded::load("podman", &oci, &tag);
    assert_eq!(
        loaded.inspect("{{.Id}}"),
        id,
        "podman load of the OCI archive"
    );
    drop(loaded);

    // Two platforms pushed as one index: each pulls and runs as its own quine.
    let reference = registry.reference("smidge/quine:pushed");
    let both = format!("{platform},linux/arm64");
    let pushed = ok([
        "quine",
        "--platform",
        &both,
        "--fit",
        fit,
        "--push",
        &reference,
    ]);
    assert!(String::from_utf8(pushed).unwrap().starts_with(&reference));
    for platform in [platform, "linux/arm64"] {
        let printed = support::docker_pull_and_run_bytes(&reference, Some(platform));
        // Tagged as pushed: the same bytes `smidge quine -t REFERENCE` writes.
        assert!(
            printed == generation0(platform, fit, &reference),
            "{platform}: the pulled quine printed something else"
        );
        let again = Loaded::load_stdin("docker", &printed, &reference);
        // The program holds its manifest, tag included: pushed as REFERENCE, it is the
        // image `smidge quine -t REFERENCE` makes, and what it prints loads as that image.
        assert_eq!(
            again.inspect("{{.Id}}"),
            format!("sha256:{}", config_digest(&printed)),
            "{platform}"
        );
        assert_eq!(
            again.inspect("{{json .RepoTags}}"),
            format!("[\"{reference}\"]")
        );
    }
}
