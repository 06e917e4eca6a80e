//! `smidge pack` as a user meets it (issue #5): a real static program packed and run,
//! every refusal one clear line with no output file, reproducible folders, `--strip`,
//! and constant memory on a large input.

use std::path::Path;
use std::process::Command;

use crate::support::*;

const BUSYBOX: &str = "/bin/busybox";

/// issue #5: "Debian's busybox-static packed as an image, `docker run IMAGE echo hi`
/// prints `hi`, and its SIZE equals the binary's bytes".
#[test]
#[ignore = "needs docker"]
fn busybox_packed_runs_and_its_size_is_the_binary() {
    require!("docker");
    if !Path::new(BUSYBOX).exists() {
        assert!(!strict(), "busybox-static is not installed");
        eprintln!("skipped: no {BUSYBOX}");
        return;
    }
    let dir = tempdir();
    let archive = dir.path().join("bb.tar.gz");
    let tag = test_tag("pack-busybox");
    ok(["pack", BUSYBOX, "-t", &tag, "-o"]
        .map(Into::into)
        .into_iter()
        .chain([archive.clone().into_os_string()]));
    let img = Loaded::load("docker", &archive, &tag);
    assert_eq!(docker_ok(["run", "--rm", &tag, "echo", "hi"]), "hi");
    let size: u64 = img.inspect("{{.Size}}").parse().unwrap();
    assert_eq!(size, std::fs::metadata(BUSYBOX).unwrap().len());
    assert_eq!(
        img.inspect("{{json .Config.Entrypoint}}"),
        r#"["/busybox"]"#
    );
    assert_eq!(img.inspect("{{.Architecture}}"), "amd64");
}

/// issue #5: "--strip removes what the kernel never reads ... and proves the result still
/// runs".
#[test]
#[ignore = "needs docker"]
fn stripped_busybox_still_runs() {
    require!("docker");
    if !Path::new(BUSYBOX).exists() {
        assert!(!strict(), "busybox-static is not installed");
        return;
    }
    let dir = tempdir();
    let archive = dir.path().join("bb.tar.gz");
    let tag = test_tag("pack-busybox-strip");
    let out = run([
        "pack".as_ref(),
        BUSYBOX.as_ref(),
        "--strip".as_ref(),
        "-t".as_ref(),
        tag.as_ref(),
        "-o".as_ref(),
        archive.as_os_str(),
    ]);
    assert!(out.status.success(), "{}", show(&out));
    let img = Loaded::load("docker", &archive, &tag);
    assert_eq!(docker_ok(["run", "--rm", &tag, "echo", "hi"]), "hi");
    let size: u64 = img.inspect("{{.Size}}").parse().unwrap();
    assert!(
        size < std::fs::metadata(BUSYBOX).unwrap().len(),
        "stripped: {size} bytes"
    );
}

/// Runs `smidge ARGS` in `dir` and checks: exit 2, one line on stderr, nothing written.
fn refused_in(dir: &Path, args: &[&str], why: &str) {
    let before = entries(dir);
    let out = run_in(dir, args);
    let what = format!("smidge {}\n{}", args.join(" "), show(&out));
    assert_eq!(out.status.code(), Some(2), "{what}");
    let stderr = String::from_utf8(out.stderr.clone()).unwrap();
    assert_eq!(stderr.lines().count(), 1, "one line: {what}");
    assert!(stderr.contains(why), "says `{why}`: {what}");
    assert!(out.stdout.is_empty(), "{what}");
    assert_eq!(entries(dir), before, "no output file: {what}");
}

#[test]
fn dynamic_binary_is_refused_with_the_reason() {
    let dir = tempdir();
    refused_in(
        dir.path(),
        &["pack", "/bin/ls", "-o", "out.tar"],
        "dynamically linked",
    );
    // --allow-dynamic lets it through.
    let out = run_in(
        dir.path(),
        ["pack", "/bin/ls", "--allow-dynamic", "-o", "out.tar"],
    );
    assert!(out.status.success(), "{}", show(&out));
}

#[test]
fn script_is_refused() {
    let dir = tempdir();
    let script = dir.path().join("run.sh");
    std::fs::write(&script, "#!/bin/sh\necho hi\n").unwrap();
    Command::new("chmod")
        .arg("755")
        .arg(&script)
        .status()
        .unwrap();
    refused_in(
        dir.path(),
        &["pack", "run.sh", "-o", "out.tar"],
        "script for `/bin/sh`",
    );
}

#[test]
fn path_escaping_the_root_is_refused() {
    let dir = tempdir();
    std::fs::write(dir.path().join("f"), b"x").unwrap();
    refused_in(
        dir.path(),
        &["pack", "f", "--dest", "../x", "-o", "out.tar"],
        "escapes",
    );
    refused_in(
        dir.path(),
        &["pack", "--add", "f:/a/../../x", "-o", "out.tar"],
        "escapes",
    );
}

#[test]
fn unreadable_file_is_refused() {
    let dir = tempdir();
    refused_in(
        dir.path(),
        &["pack", "missing", "-o", "out.tar"],
        "cannot read `missing`",
    );
    // A file its reader may not open: as root, run smidge as nobody.
    std::fs::write(dir.path().join("secret"), b"x").unwrap();
    Command::new("chmod")
        .arg("000")
        .arg(dir.path().join("secret"))
        .status()
        .unwrap();
    if is_root() {
        Command::new("chmod")
            .arg("777")
            .arg(dir.path())
            .status()
            .unwrap();
        // A copy of the binary nobody can run wherever the build directory is.
        let bin = dir.path().join("smidge");
        std::fs::copy(BIN, &bin).unwrap();
        // Retried while exec says ETXTBSY (see `output_of_new_executable`).
        let mut tries = 0;
        let out = loop {
            let out = Command::new("setpriv")
                .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
                .arg(&bin)
                .args([
                    "pack",
                    "secret",
                    "--platform",
                    "linux/amd64",
                    "-o",
                    "out.tar",
                ])
                .current_dir(dir.path())
                .output()
                .expect("setpriv");
            tries += 1;
            if !contains(&out.stderr, b"Text file busy") || tries > 100 {
                break out;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        };
        assert_eq!(out.status.code(), Some(2), "{}", show(&out));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("Permission denied") && stderr.lines().count() == 1,
            "{stderr}"
        );
        assert!(!dir.path().join("out.tar").exists());
    } else {
        refused_in(
            dir.path(),
            &["pack", "secret", "-o", "out.tar"],
            "Permission denied",
        );
    }
}

#[test]
fn socket_or_device_in_a_folder_is_refused() {
    let dir = tempdir();
    let tree = dir.path().join("tree");
    std::fs::create_dir(&tree).unwrap();
    std::fs::write(tree.join("ok"), b"x").unwrap();
    let _sock = std::os::unix::net::UnixListener::bind(tree.join("sock")).unwrap();
    refused_in(
        dir.path(),
        &["pack", "tree", "--platform", "linux/amd64", "-o", "out.tar"],
        "is a socket",
    );
    if is_root() {
        let dev = dir.path().join("dev");
        std::fs::create_dir(&dev).unwrap();
        let ok = Command::new("mknod")
            .arg(dev.join("null"))
            .args(["c", "1", "3"])
            .status()
            .unwrap();
        assert!(ok.success());
        refused_in(
            dir.path(),
            &["pack", "dev", "--platform", "linux/amd64", "-o", "out.tar"],
            "is a character device",
        );
    }
}

#[test]
fn platform_that_disagrees_with_the_elf_header_is_refused() {
    let dir = tempdir();
    let elf = ok([
        "exit",
        "--platform",
        "linux/386",
        "--format",
        "elf",
        "-o",
        "-",
    ]);
    std::fs::write(dir.path().join("exit"), elf).unwrap();
    Command::new("chmod")
        .arg("755")
        .arg(dir.path().join("exit"))
        .status()
        .unwrap();
    refused_in(
        dir.path(),
        &["pack", "exit", "--platform", "linux/amd64", "-o", "out.tar"],
        "is linux/386 by its ELF header",
    );
    // Without --platform the header decides.
    let out = run_in(
        dir.path(),
        ["pack", "exit", "--format", "oci-dir", "-o", "layout"],
    );
    assert!(out.status.success(), "{}", show(&out));
    let index = std::fs::read_to_string(dir.path().join("layout/index.json")).unwrap();
    assert!(index.contains(r#""architecture":"386""#), "{index}");
}

/// A folder with a subfolder, an executable, a symlink and a hard link.
fn make_tree(root: &Path, when: &str) {
    std::fs::create_dir_all(root.join("bin")).unwrap();
    std::fs::create_dir_all(root.join("etc/app")).unwrap();
    let elf = ok([
        "exit",
        "--platform",
        "linux/amd64",
        "--format",
        "elf",
        "-o",
        "-",
    ]);
    std::fs::write(root.join("bin/exit"), elf).unwrap();
    std::fs::write(root.join("etc/app/conf"), b"a=1\n").unwrap();
    std::os::unix::fs::symlink("exit", root.join("bin/true")).unwrap();
    std::fs::hard_link(root.join("bin/exit"), root.join("bin/exit0")).unwrap();
    for (mode, p) in [("755", "bin/exit"), ("640", "etc/app/conf")] {
        Command::new("chmod")
            .arg(mode)
            .arg(root.join(p))
            .status()
            .unwrap();
    }
    let st = Command::new("touch")
        .args(["-h", "-d", when])
        .args([
            "bin",
            "bin/exit",
            "bin/true",
            "etc",
            "etc/app",
            "etc/app/conf",
        ])
        .current_dir(root)
        .status()
        .unwrap();
    assert!(st.success());
}

/// issue #5: "packing the same folder twice, from two different checkouts with different
/// mtimes, gives the same digest".
#[test]
fn same_folder_from_two_checkouts_gives_the_same_bytes() {
    let dir = tempdir();
    make_tree(&dir.path().join("a"), "2001-01-01 00:00:00");
    make_tree(&dir.path().join("b"), "2022-06-15 12:34:56");
    let mut archives = vec![];
    for (src, out) in [("a", "a.tar.gz"), ("b", "b.tar.gz")] {
        let o = smidge()
            .current_dir(dir.path())
            .env_remove("SOURCE_DATE_EPOCH")
            .args([
                "pack",
                src,
                "--entrypoint",
                "/bin/true",
                "-t",
                "x/y:1",
                "-o",
                out,
            ])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", show(&o));
        archives.push(std::fs::read(dir.path().join(out)).unwrap());
    }
    assert_eq!(archives[0], archives[1]);
    // The layer: sorted, modes kept, links kept, owner 0, mtime 0.
    let mut plain = vec![];
    use std::io::Read;
    flate2::read::GzDecoder::new(&archives[0][..])
        .read_to_end(&mut plain)
        .unwrap();
    let mut outer = tar::Archive::new(&plain[..]);
    let mut layer = vec![];
    for e in outer.entries().unwrap() {
        let mut e = e.unwrap();
        if e.path().unwrap().to_str() == Some("l") {
            e.read_to_end(&mut layer).unwrap();
        }
    }
    let mut seen = vec![];
    for e in tar::Archive::new(&layer[..]).entries().unwrap() {
        let e = e.unwrap();
        let h = e.header();
        assert_eq!(
            (h.uid().unwrap(), h.gid().unwrap(), h.mtime().unwrap()),
            (0, 0, 0)
        );
        seen.push(format!(
            "{} {:?} {:o} {}",
            e.path().unwrap().display(),
            h.entry_type(),
            h.mode().unwrap(),
            e.link_name()
                .unwrap()
                .map(|l| l.display().to_string())
                .unwrap_or_default()
        ));
    }
    assert_eq!(
        seen,
        [
            "bin/ Directory 755 ",
            "bin/exit Regular 755 ",
            "bin/exit0 Link 755 bin/exit",
            "bin/true Symlink 777 exit",
            "etc/ Directory 755 ",
            "etc/app/ Directory 755 ",
            "etc/app/conf Regular 640 ",
        ]
    );
}

/// issue #5: "a 200 MB binary never sits whole in memory; peak memory stays under 64 MiB"
/// (50 MB here, measured by /usr/bin/time as the child's peak RSS).
#[test]
#[ignore = "needs /usr/bin/time"]
fn large_file_streams_in_constant_memory() {
    require!("/usr/bin/time");
    let dir = tempdir();
    let big = dir.path().join("big");
    {
        use std::io::Write;
        let mut f = std::fs::File::create(&big).unwrap();
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut block = vec![0u8; 1 << 20];
        for _ in 0..50 {
            for b in block.chunks_mut(8) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                b.copy_from_slice(&x.to_le_bytes());
            }
            f.write_all(&block).unwrap();
        }
    }
    for (compression, name) in [("gzip", "big.tar.gz"), ("zstd", "big.tar.zst")] {
        let out = Command::new("/usr/bin/time")
            .args(["-f", "%M"])
            .arg(BIN)
            .args([
                "pack",
                "big",
                "--platform",
                "linux/amd64",
                "--compression",
                compression,
            ])
            .args(["--format", "oci", "-o", name])
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", show(&out));
        let stderr = String::from_utf8_lossy(&out.stderr);
        let kib: u64 = stderr.lines().last().unwrap().trim().parse().unwrap();
        assert!(kib < 64 * 1024, "{compression}: peak RSS {kib} KiB");
        let size = std::fs::metadata(dir.path().join(name)).unwrap().len();
        assert!(size > 50 << 20, "random data does not compress: {size}");
    }
}

/// A folder as the root tree, run by docker: a symlinked shell, a hard link, and every
/// config option reaching the container (issue #5).
#[test]
#[ignore = "needs docker"]
fn folder_with_config_runs_in_docker() {
    require!("docker");
    if !Path::new(BUSYBOX).exists() {
        assert!(!strict(), "busybox-static is not installed");
        return;
    }
    let dir = tempdir();
    let root = dir.path().join("root");
    std::fs::create_dir_all(root.join("bin")).unwrap();
    std::fs::create_dir_all(root.join("srv/www")).unwrap();
    std::fs::copy(BUSYBOX, root.join("bin/busybox")).unwrap();
    std::os::unix::fs::symlink("busybox", root.join("bin/sh")).unwrap();
    std::fs::hard_link(root.join("bin/busybox"), root.join("bin/cat")).unwrap();
    std::fs::write(dir.path().join("index.html"), b"page\n").unwrap();
    let tag = test_tag("pack-folder");
    let archive = dir.path().join("f.tar.gz");
    let out = run_in(
        dir.path(),
        [
            "pack",
            "root",
            "--add",
            "index.html:/srv/www/",
            "--entrypoint",
            r#"["/bin/sh","-c"]"#,
            "--cmd",
            r#"["echo $GREETING from $(pwd); /bin/cat index.html"]"#,
            "--env",
            "GREETING=hi",
            "--workdir",
            "/srv/www",
            "--label",
            "org.example=1",
            "--expose",
            "8080",
            "--stop-signal",
            "int",
            "-t",
            &tag,
            "-o",
            "f.tar.gz",
        ],
    );
    assert!(out.status.success(), "{}", show(&out));
    let img = Loaded::load("docker", &archive, &tag);
    assert_eq!(docker_ok(["run", "--rm", &tag]), "hi from /srv/www\npage");
    assert_eq!(img.inspect("{{.Config.StopSignal}}"), "SIGINT");
    assert_eq!(
        img.inspect("{{json .Config.ExposedPorts}}"),
        r#"{"8080/tcp":{}}"#
    );
    assert_eq!(
        img.inspect("{{json .Config.Labels}}"),
        r#"{"org.example":"1"}"#
    );
    // Hard-linked once: SIZE counts the file once per entry docker sees as a file.
    let size: u64 = img.inspect("{{.Size}}").parse().unwrap();
    assert!(
        size >= std::fs::metadata(BUSYBOX).unwrap().len() + 5,
        "{size}"
    );
}

/// `smidge wrap`'s command line (the library is tested in tests/wrap.rs): `--print-base`
/// gives the `org` for nasm, the wrapped file runs, and the image runs in docker.
#[test]
#[ignore = "needs x86, nasm, docker"]
fn wrap_cli_runs_nasm_code() {
    require!("x86", "nasm");
    let dir = tempdir();
    for (platform, bits, write, exit) in [
        (
            "linux/amd64",
            64,
            "mov eax, 1\nmov edi, 1\nlea rsi, [rel msg]\nmov edx, 3\nsyscall",
            "mov eax, 60\nxor edi, edi\nsyscall",
        ),
        (
            "linux/386",
            32,
            "mov eax, 4\nmov ebx, 1\nmov ecx, msg\nmov edx, 3\nint 0x80",
            "mov eax, 1\nxor ebx, ebx\nint 0x80",
        ),
    ] {
        let base = String::from_utf8(ok(["wrap", "--print-base", "--platform", platform])).unwrap();
        let base = base.trim();
        assert!(base.starts_with("0x"), "{base}");
        let src = dir.path().join("hi.asm");
        std::fs::write(
            &src,
            format!("BITS {bits}\norg {base}\n{write}\n{exit}\nmsg: db \"hi\", 10\n"),
        )
        .unwrap();
        let st = Command::new("nasm")
            .args(["-f", "bin", "-o"])
            .arg(dir.path().join("hi.bin"))
            .arg(&src)
            .status()
            .unwrap();
        assert!(st.success());
        let elf = dir.path().join("hi");
        let out = run_in(
            dir.path(),
            [
                "wrap",
                "hi.bin",
                "--platform",
                platform,
                "--format",
                "elf",
                "-o",
                "hi",
            ],
        );
        assert!(out.status.success(), "{}", show(&out));
        let ran = output_of_new_executable(&mut Command::new(&elf)).unwrap();
        assert_eq!(ran.stdout, b"hi\n", "{platform}: {}", show(&ran));
        if platform == "linux/amd64" && require("docker") {
            let tag = test_tag("wrap-hi");
            let out = run_in(
                dir.path(),
                [
                    "wrap",
                    "hi.bin",
                    "--platform",
                    platform,
                    "-t",
                    &tag,
                    "-o",
                    "hi.tar.gz",
                ],
            );
            assert!(out.status.success(), "{}", show(&out));
            let _img = Loaded::load("docker", &dir.path().join("hi.tar.gz"), &tag);
            assert_eq!(docker_ok(["run", "--rm", &tag]), "hi");
        }
    }
    std::fs::write(dir.path().join("empty.bin"), b"").unwrap();
    refused_in(
        dir.path(),
        &["wrap", "empty.bin", "--platform", "linux/amd64", "-o", "x"],
        "empty",
    );
}

/// A file of `mb` MiB of pseudo-random bytes (incompressible, like the worst binary).
fn random_file(path: &Path, mb: usize) {
    use std::io::Write;
    let mut f = std::fs::File::create(path).unwrap();
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    let mut block = vec![0u8; 1 << 20];
    for _ in 0..mb {
        for b in block.chunks_mut(8) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            b.copy_from_slice(&x.to_le_bytes());
        }
        f.write_all(&block).unwrap();
    }
}

/// issue #5: "A progress bar on a terminal for work that takes longer than a moment,
/// silent when not on a terminal."
#[test]
#[ignore = "needs script"]
fn progress_bar_only_on_a_terminal() {
    require!("script");
    let dir = tempdir();
    random_file(&dir.path().join("big"), 40);
    let args = "pack big --platform linux/amd64 --compression none -o out.tar";
    let out = run_in(dir.path(), args.split(' '));
    assert!(out.status.success(), "{}", show(&out));
    assert!(
        out.stderr.is_empty(),
        "silent off a terminal: {}",
        show(&out)
    );
    let tty = Command::new("script")
        .args(["-qec", &format!("{BIN} {args}"), "/dev/null"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(tty.status.success(), "{}", show(&tty));
    assert!(contains(&tty.stdout, b"packing"), "{}", show(&tty));
}

/// `--compression zstd`: an OCI layout whose layer is `+zstd`, which skopeo reads; for a
/// docker archive, a warning that Docker 20.10 cannot load it.
#[test]
#[ignore = "needs skopeo"]
fn zstd_layers_and_the_docker_warning() {
    let dir = tempdir();
    random_file(&dir.path().join("app"), 2);
    let out = run_in(
        dir.path(),
        [
            "pack",
            "app",
            "--platform",
            "linux/amd64",
            "--compression",
            "zstd",
            "--format",
            "oci-dir",
            "-t",
            "x/app:1",
            "-o",
            "layout",
        ],
    );
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "{}",
        show(&out)
    );
    let blobs = dir.path().join("layout/blobs/sha256");
    let manifests: Vec<String> = std::fs::read_dir(&blobs)
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap_or_default())
        .filter(|s| s.contains("\"layers\":["))
        .collect();
    assert_eq!(manifests.len(), 1);
    assert!(
        manifests[0].contains("application/vnd.oci.image.layer.v1.tar+zstd"),
        "{}",
        manifests[0]
    );
    if require("skopeo") {
        let inspect = Command::new("skopeo")
            .args(["inspect", "oci:layout:1"])
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert!(inspect.status.success(), "{}", show(&inspect));
    }
    let out = run_in(
        dir.path(),
        [
            "pack",
            "app",
            "--platform",
            "linux/amd64",
            "--compression",
            "zstd",
            "-o",
            "a.tar.zst",
        ],
    );
    assert!(out.status.success(), "{}", show(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("warning") && stderr.contains("zstd"),
        "{stderr}"
    );
    assert!(dir.path().join("a.tar.zst").exists());
}
