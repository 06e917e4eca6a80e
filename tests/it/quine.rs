//! `smidge quine`: an image whose container prints the archive it was loaded from
//! (issue #12). The SHA-256 listing alone against the sha2 crate; the program run
//! directly prints generation 0 byte for byte and calls only write and exit; every
//! instruction decodes as listed; and through docker (and podman) the output loads as the
//! same image, which prints the same bytes again.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use capstone::prelude::*;
use sha2::{Digest, Sha256};
use smidge::elf::Payload;
use smidge::quine::{self, amd64};
use smidge::{Fit, Platform};

use crate::support::{self, ok, output_of_new_executable, show, test_tag, Loaded};

const FITS: [(Fit, &str); 2] = [(Fit::Portable, "portable"), (Fit::Kernel, "kernel")];
const PLATFORMS: [(Platform, &str); 2] = [
    (Platform::Amd64, "linux/amd64"),
    (Platform::I386, "linux/386"),
];

/// Every (platform, fit) the quine is built for: (platform, "linux/…", fit, "fit").
fn targets() -> Vec<(Platform, &'static str, Fit, &'static str)> {
    PLATFORMS
        .iter()
        .flat_map(|&(p, ps)| FITS.iter().map(move |&(f, fs)| (p, ps, f, fs)))
        .collect()
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

fn run(exe: &Path) -> Vec<u8> {
    let out = output_of_new_executable(&mut Command::new(exe)).unwrap();
    assert!(out.status.success(), "{}: {}", exe.display(), show(&out));
    out.stdout
}

/// The listing's SHA-256 (with the hex and write listings), run natively on messages
/// around the padding edges (55 bytes is the longest that pads in one block, 56 the
/// shortest that needs two), against the sha2 crate; and the Rust model generation 0 is
/// computed with.
#[test]
fn sha256_listing_matches_sha2() {
    let dir = support::tempdir();
    let qemu = support::require("qemu-x86_64");
    for len in [
        0, 1, 3, 55, 56, 57, 63, 64, 65, 119, 120, 128, 1000, 4096, 6000,
    ] {
        let message: Vec<u8> = (0..len).map(|i| (i * 7 + i / 256) as u8).collect();
        let want = hex::encode(Sha256::digest(&message));
        assert_eq!(hex::encode(quine::sha256(&message)), want, "{len} bytes");
        let payload = amd64::sha256_test(&message);
        let exe = write_exe(dir.path(), &format!("sha-{len}"), &payload.bytes);
        assert_eq!(
            String::from_utf8(run(&exe)).unwrap(),
            want,
            "SHA-256 of {len} bytes"
        );
        // K comes from the x87 (fyl2x, f2xm1): qemu's emulation must agree too.
        if qemu {
            let out = output_of_new_executable(Command::new("qemu-x86_64").arg(&exe)).unwrap();
            assert_eq!(
                String::from_utf8(out.stdout).unwrap(),
                want,
                "SHA-256 of {len} bytes under qemu-x86_64"
            );
        }
    }
}

/// The program, run directly, prints generation 0 (what `smidge quine --compression none`
/// writes), byte for byte; and what it prints is a docker archive of itself.
#[test]
fn program_prints_generation0() {
    let dir = support::tempdir();
    for (_, platform, _, fit) in targets() {
        let tag = "smidge/quine:latest";
        let gen0 = generation0(platform, fit, tag);
        let program = smidge_quine(platform, fit, &["--format", "elf"]);
        let exe = write_exe(
            dir.path(),
            &format!("quine-{}-{fit}", support::arch(platform)),
            &program,
        );
        let printed = run(&exe);
        assert!(
            printed == gen0,
            "{fit}: the program's output differs from generation 0"
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
        assert_eq!(config["architecture"], support::arch(platform));
        let mut inner = tar::Archive::new(&layer[..]);
        let mut e = inner.entries().unwrap().next().unwrap().unwrap();
        assert_eq!(e.path().unwrap().to_str(), Some("quine"));
        assert_eq!(e.header().mode().unwrap(), 0o755);
        let mut data = Vec::new();
        std::io::Read::read_to_end(&mut e, &mut data).unwrap();
        assert!(data == program, "{fit}: the layer holds the program");
    }
}

/// `strace -f` of the program run directly: only write and exit (no open, read, mmap…).
#[test]
fn program_calls_only_write_and_exit() {
    require!("strace");
    let dir = support::tempdir();
    for (_, platform, _, fit) in targets() {
        let program = smidge_quine(platform, fit, &["--format", "elf"]);
        let name = format!("{}-{fit}", support::arch(platform));
        let exe = write_exe(dir.path(), &format!("quine-{name}"), &program);
        let log = dir.path().join(format!("strace-{name}"));
        let out = output_of_new_executable(
            Command::new("strace")
                .args(["-f", "-e", "trace=all", "-o"])
                .arg(&log)
                .arg(&exe),
        )
        .unwrap();
        assert!(out.status.success(), "{}", show(&out));
        let log = std::fs::read_to_string(&log).unwrap();
        let calls: Vec<&str> = log
            .lines()
            .filter_map(|l| {
                // "PID name(args) = result", "+++ exited with 0 +++"
                let l = l.split_once(' ').map_or(l, |(_, rest)| rest).trim_start();
                (!l.starts_with("+++") && !l.starts_with("---"))
                    .then(|| l.split('(').next().unwrap())
            })
            .collect();
        assert_eq!(calls.first(), Some(&"execve"), "{log}");
        for call in &calls[1..] {
            assert!(
                matches!(*call, "write" | "exit" | "exit_group"),
                "{platform} {fit}: the program called {call}:\n{log}"
            );
        }
        assert!(
            calls.contains(&"write") && calls.last() == Some(&"exit"),
            "{log}"
        );
    }
}

/// Every instruction of the quine's listing and of the SHA-256 test program decodes with
/// capstone as listed (mnemonic, operands, length), and every branch lands on one.
#[test]
fn every_quine_instruction_decodes_as_listed() {
    let header = header();
    let mut payloads: Vec<(String, Platform, Payload)> = vec![(
        "sha256 test".into(),
        Platform::Amd64,
        amd64::sha256_test(b"abc"),
    )];
    for (platform, _, fit, name) in targets() {
        let q = quine::build(platform, fit, "smidge/quine:latest", &header).unwrap();
        payloads.push((format!("quine {platform} {name}"), platform, q.payload));
    }
    for (name, platform, payload) in payloads {
        let mode = match platform {
            Platform::I386 => arch::x86::ArchMode::Mode32,
            _ => arch::x86::ArchMode::Mode64,
        };
        let cs = Capstone::new().x86().mode(mode).build().unwrap();
        let starts: Vec<u64> = payload
            .code
            .iter()
            .map(|p| payload.base + p.offset as u64)
            .collect();
        assert_eq!(payload.code[0].offset, payload.entry, "{name}");
        for placed in &payload.code {
            let at = placed.offset;
            let insns = cs
                .disasm_count(&payload.bytes[at..], payload.base + at as u64, 1)
                .unwrap();
            let insn = insns.iter().next().unwrap();
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
            if ops.chars().next().unwrap().is_ascii_alphabetic()
                && (mnemonic.starts_with('j') || mnemonic == "loop")
            {
                let target =
                    u64::from_str_radix(insn.op_str().unwrap().trim_start_matches("0x"), 16)
                        .unwrap();
                assert!(
                    starts.contains(&target),
                    "{name} at {at}: `{listed}` lands inside an instruction"
                );
                continue;
            }
            assert_eq!(
                normalize(insn.op_str().unwrap()),
                normalize(ops),
                "{name} at {at}: capstone reads `{got}`, the listing says `{listed}`"
            );
        }
    }
}

fn split_mnemonic<'a>(listed: &'a str, capstone: &str) -> (&'a str, &'a str) {
    // capstone's mnemonic may hold a prefix ("rep movsb").
    let n = capstone.len().min(listed.len());
    let (m, rest) = listed.split_at(n);
    (m, rest.trim())
}

/// Operands without spaces and size words, numbers in decimal.
fn normalize(ops: &str) -> String {
    let mut s = ops.replace("ptr ", "").replace("st(0)", "st0");
    for size in ["qword ", "dword ", "byte "] {
        s = s.replace(size, "");
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
        let fit = &*format!("{} {fit_name}", support::arch(platform));
        let tag = test_tag(&format!("quine-{fit}"));
        let gen0 = generation0(platform, fit_name, &tag);
        let path = dir
            .path()
            .join(format!("gen0-{}.tar", tag.replace(['/', ':'], "-")));
        std::fs::write(&path, &gen0).unwrap();
        let loaded = Loaded::load("docker", &path, &tag);
        let id = loaded.inspect("{{.Id}}");
        let printed = run_container(&tag);
        assert!(
            printed == gen0,
            "{fit}: the container printed something else"
        );
        drop(loaded);
        let again = Loaded::load_stdin("docker", &printed, &tag);
        assert_eq!(again.inspect("{{.Id}}"), id, "{fit}: not the same image");
        assert_eq!(again.inspect("{{json .RepoTags}}"), format!("[\"{tag}\"]"));
        assert!(run_container(&tag) == gen0, "{fit}: generation 2 differs");
        // The gzip archive smidge writes by default loads as the same image too.
        let gz = path.with_extension("tar.gz");
        std::fs::write(&gz, smidge_quine(platform, fit_name, &["-t", &tag])).unwrap();
        drop(again);
        let gzipped = Loaded::load("docker", &gz, &tag);
        assert_eq!(gzipped.inspect("{{.Id}}"), id);
    }
}

fn run_container(tag: &str) -> Vec<u8> {
    let out = Command::new("docker")
        .args(["run", "--rm", "--network", "none", tag])
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
            .args(["run", "--rm", "--network", "none", &tag])
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
