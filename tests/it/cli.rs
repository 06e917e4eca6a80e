//! The command line, as a user meets it: help, version, where output goes,
//! and bad input (one clear line, exit status 2, no output file). issue #2

use std::path::Path;
use std::process::Command;

use crate::support::*;

/// issue #2: "Bad input gets a clear one-line error, exit status 2, and no
/// output file". Runs `smidge ARGS` in a fresh directory holding only
/// `setup` and checks exactly that.
fn refused(args: &[&str], setup: &[&str]) {
    let dir = tempdir();
    for name in setup {
        if name.ends_with('/') {
            std::fs::create_dir(dir.path().join(name)).unwrap();
        } else {
            std::fs::write(dir.path().join(name), b"message\n").unwrap();
        }
    }
    let before = entries(dir.path());
    let out = run_in(dir.path(), args);
    let what = format!("smidge {}\n{}", args.join(" "), show(&out));
    assert_eq!(out.status.code(), Some(2), "{what}");
    assert!(out.stdout.is_empty(), "nothing on stdout: {what}");
    let stderr = String::from_utf8(out.stderr.clone()).expect("UTF-8 error");
    assert!(
        stderr.ends_with('\n') && !stderr.trim().is_empty() && stderr.lines().count() == 1,
        "exactly one line on stderr: {what}"
    );
    assert_eq!(
        entries(dir.path()),
        before,
        "no output file, no temp file left: {what}"
    );
}

#[test]
fn unknown_platform_is_refused() {
    refused(&["hello", "--platform", "linux/vax", "-o", "out.tar"], &[]);
    refused(&["exit", "--platform", "nonsense", "-o", "out.tar"], &[]);
    refused(
        &["pause", "--platform", "plan9/amd64", "-o", "out.tar"],
        &[],
    );
}

#[test]
fn unknown_fit_is_refused() {
    refused(&["hello", "--fit", "tiny", "-o", "out.tar"], &[]);
    refused(&["pause", "--fit", "smallest", "-o", "out.tar"], &[]);
}

#[test]
fn exit_code_out_of_range_is_refused() {
    for code in ["256", "-1", "abc", "1000", "0x10"] {
        refused(&["exit", code, "-o", "out.tar"], &[]);
    }
}

#[test]
fn exit_codes_0_and_255_are_accepted() {
    for code in ["0", "255"] {
        let out = run(["exit", code, "--format", "elf", "-o", "-"]);
        assert!(out.status.success(), "exit {code}: {}", show(&out));
        assert!(out.stdout.starts_with(b"\x7fELF"));
    }
}

#[test]
fn invalid_image_reference_is_refused() {
    for reference in [
        "UPPER:case",
        "smidge/hello:",
        "smidge//hello",
        "bad tag:1",
        "a:b:c",
    ] {
        refused(&["hello", "-t", reference, "-o", "out.tar"], &[]);
    }
}

#[test]
fn unreadable_message_file_is_refused() {
    refused(
        &["hello", "--message-file", "missing.txt", "-o", "out.tar"],
        &[],
    );
    // A directory is not a file one can read a message from.
    refused(
        &["hello", "--message-file", "messages/", "-o", "out.tar"],
        &["messages/"],
    );
}

#[test]
fn output_in_a_missing_directory_is_refused() {
    refused(&["hello", "-o", "missing/out.tar"], &[]);
    refused(&["exit", "-o", "missing/deeper/out.tar"], &[]);
    refused(&["pause", "--format", "elf", "-o", "missing/pause"], &[]);
    refused(
        &["pause", "--format", "oci-dir", "-o", "missing/layout"],
        &[],
    );
}

#[test]
fn unknown_format_or_compression_is_refused() {
    for args in [
        ["hello", "--format", "zip", "-o", "out.tar"],
        ["hello", "--compression", "zstd", "-o", "out.tar"],
    ] {
        let dir = tempdir();
        let out = run_in(dir.path(), args);
        assert_eq!(out.status.code(), Some(2), "{}", show(&out));
        assert!(entries(dir.path()).is_empty(), "no output file");
    }
}

/// Run `smidge ARGS` with stdout (and stderr) on a pseudo-terminal, via
/// util-linux `script`. Returns the exit status and what the terminal showed.
pub(crate) fn on_a_terminal(dir: &Path, args: &str) -> (Option<i32>, Vec<u8>) {
    let out = Command::new("script")
        .current_dir(dir)
        .args(["-qec", &format!("{BIN} {args}"), "/dev/null"])
        .stdin(std::process::Stdio::null())
        .output()
        .expect("spawn script");
    (out.status.code(), out.stdout)
}

// issue #2: "Without -o: stdout when it is not a terminal, otherwise refuse
// with a clear hint (never dump binary on a terminal)".
#[test]
#[ignore = "needs script"]
fn binary_output_to_a_terminal_is_refused() {
    require!("script");
    for args in ["hello", "pause --compression none", "exit 3 --format elf"] {
        let dir = tempdir();
        let (status, screen) = on_a_terminal(dir.path(), args);
        let shown = String::from_utf8_lossy(&screen);
        assert_eq!(status, Some(2), "smidge {args} on a terminal: {shown}");
        assert!(
            !contains(&screen, b"\x7fELF") && !contains(&screen, b"\x1f\x8b"),
            "binary on the terminal: {shown:?}"
        );
        assert_eq!(
            shown.trim().lines().count(),
            1,
            "one line of hint: {shown:?}"
        );
        assert!(shown.contains("-o"), "the hint names -o: {shown:?}");
        assert!(entries(dir.path()).is_empty());
    }
}

#[test]
fn without_o_the_archive_goes_to_a_pipe() {
    let dir = tempdir();
    let file = dir.path().join("hello.tar.gz");
    ok(["hello", "-o", file.to_str().unwrap()]);
    // $ smidge hello | cat > hello.tar.gz
    let piped = ok(["hello"]);
    assert!(piped == std::fs::read(&file).unwrap(), "stdout != -o file");
}

#[test]
fn o_dash_writes_to_stdout() {
    let dir = tempdir();
    let file = dir.path().join("exit.tar.gz");
    ok(["exit", "9", "-o", file.to_str().unwrap()]);
    // $ smidge exit 9 -o -
    let out = run_in(dir.path(), ["exit", "9", "-o", "-"]);
    assert!(out.status.success(), "{}", show(&out));
    assert!(
        out.stdout == std::fs::read(&file).unwrap(),
        "stdout != -o file"
    );
    assert_eq!(
        entries(dir.path()).into_iter().collect::<Vec<_>>(),
        ["exit.tar.gz"],
        "`-o -` made no file named -"
    );
}

#[test]
fn each_help_carries_an_example() {
    for command in [&[][..], &["hello"], &["pause"], &["exit"], &["serve"]] {
        let mut args = command.to_vec();
        args.push("--help");
        let out = run(&args);
        assert!(out.status.success(), "smidge {args:?}: {}", show(&out));
        let help = String::from_utf8_lossy(&out.stdout);
        assert!(
            help.to_lowercase().contains("example"),
            "smidge {args:?} has no example:\n{help}"
        );
        let example = format!("smidge {}", command.first().unwrap_or(&""));
        assert!(
            help.contains(example.trim_end()),
            "smidge {args:?}: no `{example}` line:\n{help}"
        );
    }
}

#[test]
fn version_prints_the_crate_version() {
    let out = run(["--version"]);
    assert!(out.status.success(), "{}", show(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("smidge {}", env!("CARGO_PKG_VERSION"))
    );
}

// issue #2: the tag goes into the archive; the default is smidge/<program>:latest.
#[test]
fn the_tag_is_recorded_in_the_archive() {
    for program in PROGRAMS {
        let tar = ok([program, "--compression", "none", "-o", "-"]);
        let default = format!("smidge/{program}:latest");
        assert!(
            contains(&tar, default.as_bytes()),
            "no {default} in the archive"
        );
    }
    let tar = ok([
        "hello",
        "--compression",
        "none",
        "-t",
        "example.com:5000/team/hi:v1",
        "-o",
        "-",
    ]);
    assert!(contains(&tar, b"example.com:5000/team/hi:v1"));
}

// issue #2: "Writing output is atomic: a failed run leaves no partial file."
// A 64 KiB file system fills up halfway through a 1 MiB archive: smidge must
// fail (status 1, a runtime failure), leave no partial or temporary file, and
// leave the file it would have replaced as it was.
#[test]
#[ignore = "needs root, unshare"]
fn a_run_that_fails_while_writing_leaves_no_file() {
    require!("root", "unshare");
    let dir = tempdir();
    let message: Vec<u8> = (0..1u32 << 20)
        .map(|i| (i.wrapping_mul(7919) >> 5) as u8)
        .collect();
    let message_file = dir.path().join("message.bin");
    std::fs::write(&message_file, &message).unwrap();
    let small = dir.path().join("small");
    std::fs::create_dir(&small).unwrap();
    // In a private mount namespace, so the mount vanishes with the process.
    let script = format!(
        "mount -t tmpfs -o size=64k smidge-test {small} && \
         echo old > {small}/out.tar && \
         {BIN} hello --compression none --message-file {msg} -o {small}/out.tar; \
         echo \"status=$?\"; ls -A {small}; cat {small}/out.tar",
        small = small.display(),
        msg = message_file.display(),
    );
    let out = Command::new("unshare")
        .args(["--mount", "--propagation", "private", "sh", "-c", &script])
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", show(&out));
    assert_eq!(
        said.lines().collect::<Vec<_>>(),
        ["status=1", "out.tar", "old"],
        "{}",
        show(&out)
    );
}

/// Write the payload to DIR/NAME, executable, and run it here (the host is
/// amd64 and runs 386 code too). Returns (exit code, stdout).
fn run_payload(dir: &Path, name: &str, args: &[&str]) -> (Option<i32>, Vec<u8>) {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(name);
    let mut all = args.to_vec();
    all.extend(["--format", "elf", "-o", path.to_str().unwrap()]);
    ok(&all);
    let mode = std::fs::metadata(&path).unwrap().permissions().mode();
    if mode & 0o111 == 0 {
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let out = output_of_new_executable(&mut Command::new(&path)).expect("exec payload");
    (out.status.code(), out.stdout)
}

// issue #2: `hello [MESSAGE...]` joins the words with one space and adds a
// newline; -n drops it; --message-file takes bytes as they are ("-" = stdin).
#[test]
#[ignore = "needs x86"]
fn hello_message_from_words_flags_and_files() {
    require!("x86");
    let dir = tempdir();
    let d = dir.path();
    for platform in PLATFORMS {
        for fit in FITS {
            let p = ["--platform", platform, "--fit", fit];
            fn with<'a>(args: &[&'a str], p: &[&'a str]) -> Vec<&'a str> {
                [args, p].concat()
            }
            assert_eq!(
                run_payload(d, "default", &with(&["hello"], &p)),
                (Some(0), b"Hello, world!\n".to_vec())
            );
            assert_eq!(
                run_payload(d, "words", &with(&["hello", "a", "b  c", "d"], &p)),
                (Some(0), b"a b  c d\n".to_vec())
            );
            assert_eq!(
                run_payload(d, "n", &with(&["hello", "-n", "no", "newline"], &p)),
                (Some(0), b"no newline".to_vec())
            );
            let bytes = b"\0any\xffbytes\n\0";
            std::fs::write(d.join("msg"), bytes).unwrap();
            let file = d.join("msg");
            assert_eq!(
                run_payload(
                    d,
                    "file",
                    &with(&["hello", "--message-file", file.to_str().unwrap()], &p)
                ),
                (Some(0), bytes.to_vec())
            );
            assert_eq!(
                run_payload(
                    d,
                    "empty",
                    &with(&["hello", "--message-file", "/dev/null"], &p)
                ),
                (Some(0), b"".to_vec())
            );
        }
    }
    // $ printf 'from stdin' | smidge hello --message-file - --format elf -o -
    let out = run_stdin(
        ["hello", "--message-file", "-", "--format", "elf", "-o", "-"],
        b"from stdin",
    );
    assert!(out.status.success(), "{}", show(&out));
    assert!(contains(&out.stdout, b"from stdin"));
}

// issue #2: the payload size targets are checked in tests/payloads.rs (size_targets).

/// issue #2 asks for a gzip archive of `smidge pause --fit kernel` (amd64) of at most 300
/// bytes; `docker save | gzip -9` of the best-known pause image is 976. Not reached: 398.
/// What `docker load` needs, compressed on its own with nothing else around it (the
/// manifest, the config with its 64-hex-digit diff_id, the payload), is most of it; the
/// four tar headers (three members, one file in the layer) add the rest. So this pins the
/// size reached, to catch regressions. (issue #15: the payload went 105 → 100 bytes and the
/// config gained `"User":"65535:65535"`, as Kubernetes' pause has: 385 → 398.)
#[test]
fn pause_kernel_amd64_archive_size() {
    const REACHED: usize = 398;
    let archive = ok([
        "pause",
        "--platform",
        "linux/amd64",
        "--fit",
        "kernel",
        "-o",
        "-",
    ]);
    assert!(archive.starts_with(&[0x1f, 0x8b]), "gzip");
    assert!(
        archive.len() <= REACHED,
        "{} bytes, more than the {REACHED} reached",
        archive.len()
    );
}

// issue #6: "a header with CR or LF is refused with a clear error"; the other bad inputs of
// `serve` the same way (exit 2, one line, no file).
#[test]
fn serve_bad_input_is_refused() {
    let o = ["-o", "out.tar.gz"];
    for args in [
        &["serve", "--header", "X-A: 1\r\nX-B: 2"][..],
        &["serve", "--header", "X-A: 1\nX-B: 2"],
        &["serve", "--header", "no colon"],
        &["serve", "--header", "Content-Length: 3"],
        &["serve", "--header", "Connection: keep-alive"],
        &["serve", "--content-type", "text/plain\r\nX: y"],
        &["serve", "--port", "0"],
        &["serve", "--port", "65536"],
        &["serve", "--status", "199"],
        &["serve", "--status", "600"],
        &["serve", "--status", "204", "--body", "x"],
        &["serve", "--body", "a", "--body-file", "message"],
        &["serve", "--body-file", "missing"],
    ] {
        let mut args = args.to_vec();
        args.extend(o);
        // `\r\n` above are the two characters each; make them real line breaks.
        let owned: Vec<String> = args
            .iter()
            .map(|a| a.replace("\\r", "\r").replace("\\n", "\n"))
            .collect();
        let args: Vec<&str> = owned.iter().map(String::as_str).collect();
        refused(&args, &["message"]);
    }
}

/// The response bytes are what the options say, byte for byte, found inside the payload.
#[test]
fn serve_response_comes_from_the_options() {
    let dir = tempdir();
    std::fs::write(dir.path().join("body.bin"), [0u8, 13, 10, 255, b'x']).unwrap();
    let out = run_in(
        dir.path(),
        [
            "serve",
            "--status",
            "503",
            "--body-file",
            "body.bin",
            "--content-type",
            "application/x-test",
            "-H",
            "Retry-After: 120",
            "--header",
            "X-Empty:",
            "--format",
            "elf",
            "-o",
            "-",
        ],
    );
    assert!(out.status.success(), "{}", show(&out));
    let want: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/x-test\r\nContent-Length: 5\r\nRetry-After: 120\r\nX-Empty: \r\nConnection: close\r\n\r\n\0\r\n\xffx";
    assert!(
        contains(&out.stdout, want),
        "{:?}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(
        out.stdout.ends_with(want),
        "the response is the payload's last bytes"
    );
}
