//! Issue #11, `smidge explain`: every byte of every payload has a role, every instruction
//! role is what capstone decodes there, the JSON covers the file exactly, and the
//! pictures open in a real browser.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use crate::support::*;
use smidge::explain::{self, Explanation, Kind};

/// The ranges are in order, cover `0..size` exactly, and each has at least one role.
fn assert_covers(name: &str, e: &Explanation) {
    let mut at = 0;
    for r in &e.ranges {
        assert_eq!(r.start, at, "{name}: a gap or overlap at byte {at}");
        assert!(r.end > r.start, "{name}: an empty range at {at}");
        assert!(
            !r.roles.is_empty(),
            "{name}: bytes {}..{} have no role",
            r.start,
            r.end
        );
        at = r.end;
    }
    assert_eq!(
        at, e.size,
        "{name}: the ranges end at {at}, not at {}",
        e.size
    );
}

/// One instruction role per placed instruction (joined over the ranges a header field cuts
/// it into), each what capstone decodes there: same mnemonic, same length. Literal data a
/// listing carries (`.word`) is not decoded.
fn assert_instructions(
    name: &str,
    e: &Explanation,
    platform: smidge::Platform,
    payload: &smidge::elf::Payload,
) {
    // Each instruction role, over all the ranges it spans (a header field cuts it).
    let mut insns: BTreeMap<(u64, String), (u64, String)> = BTreeMap::new();
    let mut spans: Vec<(u64, u64, String, String)> = Vec::new();
    for r in &e.ranges {
        for role in r.roles.iter().filter(|x| x.kind == Kind::Instruction) {
            match spans
                .iter_mut()
                .find(|s| s.2 == role.name && s.3 == role.text && s.1 == r.start)
            {
                Some(s) => s.1 = r.end,
                None => spans.push((r.start, r.end, role.name.clone(), role.text.clone())),
            }
        }
    }
    for (start, end, asm, text) in spans {
        insns.insert((start, text), (end, asm));
    }
    assert_eq!(
        insns.len(),
        payload.code.len(),
        "{name}: one instruction role per placed instruction"
    );
    let cs = crate::payloads::capstone(platform, payload);
    for ((start, _), (end, asm)) in &insns {
        if asm.starts_with('.') {
            continue; // literal data a listing carries
        }
        let at = *start as usize;
        let decoded = cs
            .disasm_count(&payload.bytes[at..], payload.base + *start, 1)
            .unwrap();
        let insn = decoded
            .iter()
            .next()
            .unwrap_or_else(|| panic!("{name}: capstone decodes nothing at byte {at}"));
        // capstone's mnemonic may hold a prefix ("rep movsb").
        let words = insn.mnemonic().unwrap().split_whitespace().count();
        let listed = asm
            .split_whitespace()
            .take(words)
            .collect::<Vec<_>>()
            .join(" ");
        assert_eq!(
            (insn.mnemonic().unwrap(), insn.len() as u64),
            (listed.as_str(), end - start),
            "{name}: bytes {start}..{end} are `{asm}`, capstone reads `{} {}`",
            insn.mnemonic().unwrap(),
            insn.op_str().unwrap_or("")
        );
    }
}

// issue #11: "a test builds every program × platform × fit and checks that every byte has
// at least one role and that every instruction role agrees with capstone's decoding of
// those bytes."
#[test]
fn every_byte_has_a_role_and_every_instruction_is_what_capstone_reads() {
    for (name, program, platform, fit, payload) in crate::payloads::all() {
        let e = explain::payload::explain(&program, platform, fit, &payload);
        assert_eq!(e.size, payload.bytes.len() as u64, "{name}");
        assert_covers(&name, &e);
        assert_instructions(&name, &e, platform, &payload);
        // Data is where the payload says (an empty message has none).
        let empty = matches!(&program, smidge::Program::Hello(m) if m.is_empty());
        if let Some(at) = payload.data.filter(|_| !empty) {
            let r = e
                .ranges
                .iter()
                .find(|r| r.start <= at as u64 && (at as u64) < r.end);
            assert!(
                r.is_some_and(|r| r.roles.iter().any(|x| x.kind == Kind::Data)),
                "{name}: no data role at byte {at}"
            );
        }
    }
}

/// The quine's program: every byte has a role, every instruction is what capstone reads,
/// and every byte of the template belongs to one of its runs.
#[test]
fn the_quine_is_explained_byte_for_byte() {
    for platform in smidge::Platform::ALL {
        for fit in [smidge::Fit::Portable, smidge::Fit::Kernel] {
            let q = smidge::image::quine::build(platform, fit, "smidge/quine:latest").unwrap();
            let name = format!("quine {platform} {fit}");
            let e = explain::payload::quine(&q, platform, fit);
            assert_eq!(e.size, q.payload.bytes.len() as u64, "{name}");
            assert_covers(&name, &e);
            assert_instructions(&name, &e, platform, &q.payload);
            let template = q.payload.data.unwrap() as u64;
            for r in e.ranges.iter().filter(|r| r.start >= template) {
                assert!(
                    r.roles
                        .iter()
                        .any(|x| x.kind == Kind::Data && x.name.starts_with("template run")),
                    "{name}: bytes {}..{} are in no template run",
                    r.start,
                    r.end
                );
            }
            let runs = e
                .ranges
                .iter()
                .flat_map(|r| &r.roles)
                .filter(|x| x.name.starts_with("template run"))
                .map(|x| &x.name)
                .collect::<std::collections::BTreeSet<_>>()
                .len();
            assert_eq!(runs as u32, q.output.runs(), "{name}");
        }
    }
}

// issue #11: "`json`: {"size": N, "ranges": [...]}, ranges in order, covering the file
// exactly"; the listing; the same payload `smidge hello --format elf` writes.
#[test]
fn the_command_explains_what_the_build_command_writes() {
    let args = ["--platform", "linux/amd64", "--fit", "kernel"];
    let elf = payload(["hello", "a", "b"].iter().chain(&args));
    let json = ok(["explain", "hello", "a", "b"]
        .iter()
        .chain(&args)
        .chain(&["--format", "json"]));
    let v: serde_json::Value = serde_json::from_slice(&json).unwrap();
    assert_eq!(v["size"], elf.len());
    let mut at = 0;
    for r in v["ranges"].as_array().unwrap() {
        assert_eq!(r["start"], at);
        at = r["end"].as_u64().unwrap();
        for role in r["roles"].as_array().unwrap() {
            assert!(
                role["kind"].is_string() && role["name"].is_string() && role["text"].is_string()
            );
        }
    }
    assert_eq!(at, elf.len() as u64);

    // The listing: off a terminal, no colour; the summary line adds up.
    let text = String::from_utf8(ok(["explain", "hello"].iter().chain(&args))).unwrap();
    assert!(!text.contains('\x1b'), "colour off a terminal:\n{text}");
    assert!(text.contains("instruction mov al, 1"), "{text}");
    assert!(
        text.contains("data message: \"Hello, world!\\n\""),
        "{text}"
    );
    let summary = text.lines().find(|l| l.contains("header only")).unwrap();
    let numbers: Vec<u64> = summary
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|w| w.parse().ok())
        .collect();
    assert_eq!(numbers[0], numbers[1..].iter().sum::<u64>(), "{summary}");

    // -o writes the file; nothing on stdout.
    let dir = tempdir();
    let out = dir.path().join("hello.json");
    let printed = ok([
        "explain",
        "hello",
        "--format",
        "json",
        "-o",
        out.to_str().unwrap(),
    ]);
    assert!(printed.is_empty());
    assert!(std::fs::read(&out).unwrap().starts_with(b"{"));
}

// issue #11: "coloured by role when stdout is a terminal (respect `NO_COLOR`)".
#[test]
#[ignore = "needs script"]
fn the_listing_is_coloured_on_a_terminal_unless_no_color() {
    require!("script");
    let dir = tempdir();
    let (status, screen) = crate::cli::on_a_terminal(dir.path(), "explain pause");
    assert_eq!(status, Some(0));
    assert!(contains(&screen, b"\x1b["), "no colour on a terminal");
    let (status, screen) = crate::cli::on_a_terminal(dir.path(), "explain pause");
    assert_eq!(status, Some(0));
    let out = Command::new("script")
        .current_dir(dir.path())
        .env("NO_COLOR", "1")
        .args(["-qec", &format!("{BIN} explain pause"), "/dev/null"])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(!contains(&out.stdout, b"\x1b["), "colour with NO_COLOR=1");
    drop(screen);
}

// issue #11: "`--file` ... on Debian's `busybox-static`, on a truncated ELF and a random
// file (one clear line, the exit status smidge gives other unreadable input, no panic)".
#[test]
fn explain_file_reads_elf_files_and_refuses_the_rest_in_one_line() {
    let dir = tempdir();
    // A payload smidge wrote: the same header roles as the built-in explanation.
    let hello = dir.path().join("hello");
    std::fs::write(
        &hello,
        payload(["hello", "--platform", "linux/amd64", "--fit", "portable"]),
    )
    .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&ok([
        "explain",
        "--file",
        hello.to_str().unwrap(),
        "--format",
        "json",
    ]))
    .unwrap();
    let names: Vec<&str> = v["ranges"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r["roles"].as_array().unwrap())
        .filter_map(|x| x["name"].as_str())
        .collect();
    for field in ["e_entry", "e_phoff", "p_type", "p_filesz", "PT_LOAD 0"] {
        assert!(names.contains(&field), "no {field} in {names:?}");
    }

    let truncated = dir.path().join("truncated");
    let random = dir.path().join("random");
    let bytes = std::fs::read(&hello).unwrap();
    // Cut inside the program header table (e_phoff: 8 bytes at 32).
    let e_phoff = u64::from_le_bytes(bytes[32..40].try_into().unwrap()) as usize;
    std::fs::write(&truncated, &bytes[..e_phoff + 10]).unwrap();
    write_random_file(&random, 1, 11);
    for (path, says) in [
        (&truncated, "a truncated ELF file"),
        (
            &random,
            "is not an ELF file, an image archive or an OCI layout",
        ),
        (&dir.path().join("missing"), "cannot read"),
    ] {
        let out = run(["explain", "--file", path.to_str().unwrap()]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{}: {err}", path.display());
        assert_eq!(err.lines().count(), 1, "one line: {err}");
        assert!(err.contains(says), "{err}");
        assert!(out.stdout.is_empty());
    }
}

#[test]
#[ignore = "needs busybox"]
fn explain_file_of_busybox_names_segments_sections_and_what_strip_drops() {
    require!("busybox");
    let text = String::from_utf8(ok(["explain", "--file", "/bin/busybox"])).unwrap();
    for want in [
        "EM_X86_64",
        "p_type: PT_LOAD",
        "section .text",
        "sh_offset",
        "pack --strip",
    ] {
        assert!(text.contains(want), "no `{want}` in the listing");
    }
    let e = explain::file(Path::new("/bin/busybox")).unwrap();
    assert_covers("busybox", &e);
}

/// `chromium --headless` on `page`, a screenshot of `width`×`height`: its size and RGB
/// pixels.
fn screenshot(page: &Path, width: u32, height: u32) -> (u32, u32, Vec<u8>) {
    let dir = tempdir();
    let png = dir.path().join("shot.png");
    let out = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            "--force-device-scale-factor=1",
        ])
        .arg(format!(
            "--user-data-dir={}",
            dir.path().join("profile").display()
        ))
        .arg(format!("--screenshot={}", png.display()))
        .arg(format!("--window-size={width},{height}"))
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap();
    assert!(png.exists(), "chromium wrote no screenshot: {}", show(&out));
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&png).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    buf.truncate(info.buffer_size());
    let rgb = match info.color_type {
        png::ColorType::Rgb => buf,
        png::ColorType::Rgba => buf.chunks(4).flat_map(|p| [p[0], p[1], p[2]]).collect(),
        other => panic!("a {other:?} screenshot"),
    };
    (info.width, info.height, rgb)
}

/// The colour of pixel (x, y) as `#rrggbb`.
fn pixel(shot: &(u32, u32, Vec<u8>), x: u32, y: u32) -> String {
    let i = ((y * shot.0 + x) * 3) as usize;
    format!(
        "#{:02x}{:02x}{:02x}",
        shot.2[i],
        shot.2[i + 1],
        shot.2[i + 2]
    )
}

// issue #11: "The SVG and HTML open in a real browser: headless Chromium renders them to
// PNG, and the test checks the picture is the expected size and not blank, and (for HTML)
// that the number of cells in the DOM equals the file size."
#[test]
#[ignore = "needs chromium"]
fn the_pictures_render_in_chromium() {
    require!("chromium");
    let dir = tempdir();
    let size = payload(["hello", "--platform", "linux/amd64", "--fit", "kernel"]).len();
    let svg = dir.path().join("hello.svg");
    let html = dir.path().join("hello.html");
    for (format, path) in [("svg", &svg), ("html", &html)] {
        ok([
            "explain",
            "hello",
            "--platform",
            "linux/amd64",
            "--fit",
            "kernel",
            "--format",
            format,
            "-o",
            path.to_str().unwrap(),
        ]);
    }
    // The SVG says its size; the browser draws it at that size, the first cell (byte 0,
    // e_ident's magic) in the ELF header's colour, byte 0x50 (the message) in data's.
    let text = std::fs::read_to_string(&svg).unwrap();
    assert!(
        !text.contains("<script") && !text.contains("href="),
        "self-contained"
    );
    let attr = |name: &str| -> u32 {
        let at = text.find(&format!(" {name}=\"")).unwrap() + name.len() + 3;
        text[at..].split('"').next().unwrap().parse().unwrap()
    };
    let (w, h) = (attr("width"), attr("height"));
    let shot = screenshot(&svg, w, h);
    assert_eq!((shot.0, shot.1), (w, h));
    // Cells are 30×22 from (64, 30), 16 a row.
    let cell = |byte: u32| (64 + (byte % 16) * 30 + 3, 30 + (byte / 16) * 22 + 3);
    let (x, y) = cell(0);
    assert_eq!(pixel(&shot, x, y), "#8ecae6", "byte 0: elf-header");
    let (x, y) = cell(0x50);
    assert_eq!(pixel(&shot, x, y), "#ffe08a", "byte 0x50: data");
    // Not blank: many pixels are neither white nor one colour.
    let mut colours = std::collections::BTreeSet::new();
    for px in shot.2.chunks(3) {
        colours.insert((px[0], px[1], px[2]));
    }
    assert!(colours.len() > 8, "{} colours: blank?", colours.len());

    let shot = screenshot(&html, 900, 700);
    let non_white = shot.2.chunks(3).filter(|p| p != &[255, 255, 255]).count();
    assert!(
        non_white > 10_000,
        "the HTML page renders blank ({non_white} pixels drawn)"
    );
    // The DOM chromium built has one cell per byte.
    let dom = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--dump-dom",
        ])
        .arg(format!(
            "--user-data-dir={}",
            dir.path().join("profile").display()
        ))
        .arg(format!("file://{}", html.display()))
        .output()
        .unwrap();
    let dom = String::from_utf8_lossy(&dom.stdout);
    assert_eq!(
        dom.matches("<span class=\"b ").count(),
        size,
        "cells in the DOM"
    );
}

// issue #11: "The README shows one picture (the amd64 kernel-fit `hello`) rendered from this
// command." The picture in docs/ is what the command draws today
// (`SMIDGE_BLESS=1 cargo test --test it readme_picture` redraws it).
#[test]
fn the_readme_picture_is_what_the_command_draws() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/docs/explain-hello-amd64-kernel.svg"
    );
    let drawn = ok([
        "explain",
        "hello",
        "--platform",
        "linux/amd64",
        "--fit",
        "kernel",
        "--format",
        "svg",
    ]);
    if std::env::var("SMIDGE_BLESS").is_ok_and(|v| v == "1") {
        std::fs::write(path, &drawn).unwrap();
    }
    let committed = std::fs::read(path).unwrap();
    assert!(
        committed == drawn,
        "{path} is not what `smidge explain hello --platform linux/amd64 --fit kernel --format \
         svg` draws; rerun with SMIDGE_BLESS=1"
    );
}

// issue #11: "`--file` on smidge's own archives and layouts": every format smidge writes
// is explained down to the layer's file, the ranges covering each level exactly.
#[test]
fn explain_file_reads_every_archive_and_layout_smidge_writes() {
    let dir = tempdir();
    for (name, format) in [
        ("hello.tar.gz", "docker"),
        ("hello.tar.zst", "docker"),
        ("hello.tar", "docker"),
        ("hello.oci.tar.gz", "oci"),
        ("layout", "oci-dir"),
    ] {
        let path = dir.path().join(name);
        ok(["hello", "--format", format, "-o", path.to_str().unwrap()]);
        let e = explain::file(&path).unwrap_or_else(|err| panic!("{name}: {err}"));
        fn walk(name: &str, e: &Explanation, found: &mut bool) {
            assert_covers(name, e);
            for r in &e.ranges {
                for role in &r.roles {
                    if role.kind == Kind::TarHeader && role.text.contains("hello") {
                        *found = true;
                    }
                }
            }
            for p in &e.parts {
                walk(&format!("{name} / {}", p.name), &p.explanation, found);
            }
        }
        let mut found = false;
        walk(name, &e, &mut found);
        assert!(found, "{name}: the layer's `hello` is not named anywhere");
        // The command prints it, and the JSON has the same parts.
        let json = ok([
            "explain",
            "--file",
            path.to_str().unwrap(),
            "--format",
            "json",
        ]);
        let v: serde_json::Value = serde_json::from_slice(&json).unwrap();
        assert_eq!(v["size"], e.size, "{name}");
    }
}
