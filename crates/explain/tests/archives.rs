//! `explain --file` on image archives and layouts (issue #11): smidge's own docker and OCI
//! archives and OCI directories (gzip, zstd, none), Debian's busybox-static, and broken
//! input (a truncated gzip, a wrong CRC, a random file, a tar whose size runs past it).

use smidge_elf::{elf, Fit, Platform, Program};
use smidge_explain::{ExplainError, Explanation, Kind};
use smidge_image::codec::Compression;
use smidge_image::dest::docker::DockerArchive;
use smidge_image::dest::oci::{LayoutNames, OciArchive, OciDir};
use smidge_image::dest::{write, Output, Sink, Wrapping};
use smidge_image::image::{Image, ImageSet, Reference};
use smidge_image::progress::NoProgress;
use std::path::{Path, PathBuf};

/// Every explanation, and every part's, has ranges in order covering `0..size` exactly,
/// each with a role.
fn check_cover(e: &Explanation, at: &str) {
    let mut end = 0;
    for r in &e.ranges {
        assert_eq!(r.start, end, "{at}: ranges in order, no gap");
        assert!(r.end > r.start, "{at}: an empty range");
        assert!(!r.roles.is_empty(), "{at}: a range without a role");
        end = r.end;
    }
    assert_eq!(end, e.size, "{at}: ranges cover the file");
    assert_eq!(e.bytes.len() as u64, e.size, "{at}: bytes");
    for p in &e.parts {
        check_cover(&p.explanation, &format!("{at} / {}", p.name));
    }
}

fn all_notes(e: &Explanation) -> Vec<String> {
    let mut v = e.notes.clone();
    for p in &e.parts {
        v.extend(all_notes(&p.explanation));
    }
    v
}

fn all_roles(e: &Explanation) -> Vec<String> {
    let mut v: Vec<String> = e
        .ranges
        .iter()
        .flat_map(|r| r.roles.iter().map(|x| x.to_string()))
        .collect();
    for p in &e.parts {
        v.extend(all_roles(&p.explanation));
    }
    v
}

fn has(lines: &[String], want: &str) -> bool {
    lines.iter().any(|l| l.contains(want))
}

fn tag() -> Reference {
    "smidge/hello:latest".parse().unwrap()
}

#[derive(Clone, Copy, Debug)]
enum Form {
    Docker,
    OciTar,
    OciDir,
}

fn hello() -> Vec<u8> {
    elf::build(
        &Program::Hello(b"Hello, world!\n".to_vec()),
        Platform::Amd64,
        Fit::Kernel,
    )
    .unwrap()
    .bytes
}

fn make(dir: &Path, form: Form, c: Compression, image: Image) -> PathBuf {
    let set = ImageSet::new(vec![image]);
    let p = dir.join(format!("{form:?}-{c:?}"));
    let names = || LayoutNames::new(&tag(), false);
    let sink = || Sink::open(&Output::File(p.clone()), 0o644).unwrap();
    match form {
        Form::Docker => write(
            &set,
            &mut DockerArchive::new(
                sink(),
                Wrapping {
                    compression: c,
                    shell_line: false,
                },
                &tag(),
            ),
            &NoProgress,
        ),
        Form::OciTar => write(&set, &mut OciArchive::new(sink(), c, names()), &NoProgress),
        Form::OciDir => write(&set, &mut OciDir::new(&p, c, names()).unwrap(), &NoProgress),
    }
    .unwrap();
    p
}

#[test]
fn smidges_own_archives_and_layouts() {
    let dir = tempfile::tempdir().unwrap();
    let payload = hello();
    let program = Program::Hello(b"Hello, world!\n".to_vec());
    for form in [Form::Docker, Form::OciTar, Form::OciDir] {
        for c in [Compression::Gzip, Compression::Zstd, Compression::None] {
            let image = Image::of_program(Platform::Amd64, &program, &payload, None).unwrap();
            let p = make(dir.path(), form, c, image);
            let e = smidge_explain::file(&p).unwrap();
            let at = format!("{form:?} {c:?}");
            // SMIDGE_EXPLAIN_SEEDS=DIR keeps the archives (the fuzz target's seeds).
            if let (Some(seeds), false) = (std::env::var_os("SMIDGE_EXPLAIN_SEEDS"), p.is_dir()) {
                std::fs::copy(&p, Path::new(&seeds).join(format!("hello-{form:?}-{c:?}"))).unwrap();
            }
            if matches!(
                (form, c),
                (Form::Docker, Compression::Gzip | Compression::Zstd)
            ) {
                for r in &e.ranges {
                    for role in &r.roles {
                        println!("  {:>4}..{:<4} {role}", r.start, r.end);
                    }
                }
            }
            check_cover(&e, &at);
            let notes = all_notes(&e);
            let roles = all_roles(&e);
            println!("{at}: {} ({} bytes)", e.what, e.size);
            for n in &notes {
                println!("  {n}");
            }
            let file = format!("the layer is 1 file, /hello, {} bytes", payload.len());
            assert!(has(&notes, &file), "{at}: {notes:#?}");
            assert!(
                has(&roles, "config: linux/amd64, entrypoint /hello, 1 layer"),
                "{at}: {roles:#?}"
            );
            assert!(has(&roles, "tar-header chksum: "), "{at}");
            assert!(has(&roles, "tar-header name: hello (hello)"), "{at}");
            match (form, c) {
                (Form::OciDir, _) => {
                    assert_eq!(e.what, "OCI layout directory");
                    assert!(has(&roles, "oci-layout: imageLayoutVersion 1.0.0"), "{at}");
                    assert!(has(&notes, "its sha256 digest matches its name"), "{at}");
                    assert!(!has(&notes, "does not match"), "{at}: {notes:#?}");
                }
                (_, Compression::Gzip) => {
                    assert!(e.what.starts_with("gzip, "), "{at}: {}", e.what);
                    assert!(has(&notes, "gzip trailer matches"), "{at}: {notes:#?}");
                    assert!(has(&notes, "DEFLATE: "), "{at}");
                    for f in [
                        "gzip ID1: 0x1f",
                        "gzip ID2: 0x8b",
                        "gzip CM: 8 (deflate)",
                        "gzip FLG",
                        "gzip MTIME",
                        "gzip XFL",
                        "gzip OS",
                        "gzip CRC32",
                        "gzip ISIZE",
                    ] {
                        assert!(has(&roles, f), "{at}: {f}");
                    }
                    assert!(has(&roles, "deflate DEFLATE block 0: "), "{at}");
                }
                (_, Compression::Zstd) => {
                    assert!(e.what.starts_with("zstd, "), "{at}: {}", e.what);
                    assert!(
                        has(&roles, "zstd frame 0 block 0: decodes to bytes 0.."),
                        "{at}: {roles:#?}"
                    );
                    for f in [
                        "zstd Magic_Number",
                        "zstd Frame_Header_Descriptor",
                        "zstd Block_Header (block 0)",
                    ] {
                        assert!(has(&roles, f), "{at}: {f}");
                    }
                }
                (_, Compression::None) => {
                    assert!(e.what.ends_with("(tar)"), "{at}: {}", e.what);
                }
            }
            match form {
                Form::Docker => {
                    assert!(has(&roles, "docker manifest.json: config "), "{at}");
                }
                Form::OciTar => {
                    assert!(has(&roles, "index: 1 manifest"), "{at}");
                    assert!(has(&roles, "manifest: config sha256:"), "{at}");
                    assert!(has(&roles, "its sha256 digest matches its name"), "{at}");
                    assert!(!has(&notes, "its sha256 digest is"), "{at}");
                }
                Form::OciDir => {}
            }
        }
    }
}

#[test]
fn a_truncated_gzip_is_malformed_with_where() {
    let dir = tempfile::tempdir().unwrap();
    let image = Image::of_payload(Platform::Amd64, "hello", &hello(), None, None).unwrap();
    let p = make(dir.path(), Form::Docker, Compression::Gzip, image);
    let bytes = std::fs::read(&p).unwrap();
    for cut in [5, 12, bytes.len() / 2, bytes.len() - 9, bytes.len() - 1] {
        let q = dir.path().join(format!("cut-{cut}"));
        std::fs::write(&q, &bytes[..cut]).unwrap();
        match smidge_explain::file(&q) {
            Err(e @ ExplainError::Malformed { .. }) => {
                let line = e.to_string();
                assert!(line.contains("truncated"), "{cut}: {line}");
                assert!(!line.contains('\n'), "one line: {line}");
            }
            other => panic!("{cut}: {other:?}"),
        }
    }
}

#[test]
fn a_wrong_crc_is_a_note() {
    let dir = tempfile::tempdir().unwrap();
    let image = Image::of_payload(Platform::Amd64, "hello", &hello(), None, None).unwrap();
    let p = make(dir.path(), Form::Docker, Compression::Gzip, image);
    let mut bytes = std::fs::read(&p).unwrap();
    let n = bytes.len();
    bytes[n - 8] ^= 0xff;
    std::fs::write(&p, &bytes).unwrap();
    let e = smidge_explain::file(&p).unwrap();
    check_cover(&e, "bad crc");
    assert!(
        has(&e.notes, "gzip trailer does not match the decoded bytes"),
        "{:#?}",
        e.notes
    );
    assert!(has(&all_roles(&e), "does not match"));
}

#[test]
fn a_random_file_is_unknown_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("random");
    let mut x = 12345u32;
    let bytes: Vec<u8> = (0..4096)
        .map(|_| {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            (x >> 16) as u8
        })
        .collect();
    std::fs::write(&p, &bytes).unwrap();
    let e = smidge_explain::file(&p).unwrap_err();
    assert!(matches!(e, ExplainError::Unknown { .. }), "{e:?}");
    let line = e.to_string();
    assert!(
        !line.contains('\n') && line.contains("is not an ELF file"),
        "{line}"
    );
}

#[test]
fn a_tar_whose_size_runs_past_its_end_is_explained_with_a_note() {
    let dir = tempfile::tempdir().unwrap();
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_ustar();
    h.set_size(5000);
    h.set_mode(0o644);
    h.set_cksum();
    b.append_data(&mut h, "big", &[1u8; 5000][..]).unwrap();
    let mut t = b.into_inner().unwrap();
    t.truncate(512 + 1000);
    let p = dir.path().join("short.tar");
    std::fs::write(&p, &t).unwrap();
    let e = smidge_explain::file(&p).unwrap();
    check_cover(&e, "short tar");
    assert!(
        has(
            &e.notes,
            "member big says it is 5,000 bytes, but the tar ends 1,000 bytes after its header"
        ),
        "{:#?}",
        e.notes
    );
}

#[test]
fn a_layout_refuses_links_out_of_it() {
    let dir = tempfile::tempdir().unwrap();
    let image = Image::of_payload(Platform::Amd64, "hello", &hello(), None, None).unwrap();
    let p = make(dir.path(), Form::OciDir, Compression::Gzip, image);
    let outside = dir.path().join("secret");
    std::fs::write(&outside, b"{}").unwrap();
    std::os::unix::fs::symlink(&outside, p.join("blobs/sha256/evil")).unwrap();
    let e = smidge_explain::file(&p).unwrap_err();
    let line = e.to_string();
    assert!(line.contains("leads out of the layout"), "{line}");
    assert!(!line.contains('\n'));
}

/// Debian's busybox-static: explained as an ELF (statically linked: no PT_INTERP), and
/// packed in a gzip docker archive, its 2 MB as a layer of many DEFLATE blocks.
#[test]
fn busybox_static() {
    let bin = Path::new("/bin/busybox");
    if !bin.exists() {
        assert!(
            std::env::var_os("SMIDGE_TEST_STRICT").is_none(),
            "/bin/busybox is missing (apt-get install busybox-static)"
        );
        eprintln!("skipped: no /bin/busybox");
        return;
    }
    let bytes = std::fs::read(bin).unwrap();
    let e = smidge_explain::file(bin).unwrap();
    check_cover(&e, "busybox");
    let roles = all_roles(&e);
    assert!(e.what.starts_with("ELF 64-bit LSB"), "{}", e.what);
    assert!(
        !has(&roles, "PT_INTERP"),
        "busybox-static has no interpreter"
    );
    println!("busybox: {} ({} bytes)", e.what, e.size);
    for n in &e.notes {
        println!("  {n}");
    }

    let dir = tempfile::tempdir().unwrap();
    let image = Image::of_payload(Platform::Amd64, "busybox", &bytes, None, None).unwrap();
    let p = make(dir.path(), Form::Docker, Compression::Gzip, image);
    let t = std::time::Instant::now();
    let e = smidge_explain::file(&p).unwrap();
    println!(
        "busybox docker archive, gzip: {} bytes, explained in {:?}",
        e.size,
        t.elapsed()
    );
    check_cover(&e, "busybox archive");
    let notes = all_notes(&e);
    for n in &notes {
        println!("  {n}");
    }
    let file = format!(
        "the layer is 1 file, /busybox, {}",
        smidge_explain_thousands(bytes.len())
    );
    assert!(has(&notes, &file), "{notes:#?}");
    assert!(has(&notes, "gzip trailer matches"));
    let blocks = e
        .ranges
        .iter()
        .flat_map(|r| &r.roles)
        .filter(|r| r.kind == Kind::Deflate)
        .map(|r| r.name.clone())
        .collect::<std::collections::BTreeSet<_>>()
        .len();
    assert!(blocks > 1, "{blocks} blocks");

    // zstd: each block's "decodes to bytes a..b", block after block, to the end.
    let p = make(
        dir.path(),
        Form::Docker,
        Compression::Zstd,
        Image::of_payload(Platform::Amd64, "busybox", &bytes, None, None).unwrap(),
    );
    let e = smidge_explain::file(&p).unwrap();
    check_cover(&e, "busybox zstd archive");
    println!("busybox docker archive, zstd: {} bytes", e.size);
    for n in &e.notes {
        println!("  {n}");
    }
    let mut seen = std::collections::BTreeSet::new();
    let mut ends = vec![];
    for role in e.ranges.iter().flat_map(|r| &r.roles) {
        if role.name.contains(" block ")
            && role.text.starts_with("decodes to bytes ")
            && seen.insert(role.name.clone())
        {
            let span = role.text["decodes to bytes ".len()..]
                .split(' ')
                .next()
                .unwrap()
                .replace(',', "");
            let (a, b) = span.split_once("..").unwrap();
            ends.push((a.parse::<u64>().unwrap(), b.parse::<u64>().unwrap()));
        }
    }
    assert!(ends.len() > 1, "{ends:?}");
    for w in ends.windows(2) {
        assert_eq!(w[0].1, w[1].0, "{ends:?}");
    }
    assert!(
        ends.iter().filter(|(a, b)| b > a).count() > ends.len() / 2,
        "{ends:?}"
    );
    assert_eq!(ends[0].0, 0);
    assert_eq!(ends.last().unwrap().1, e.parts[0].explanation.size);
}

fn smidge_explain_thousands(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}
