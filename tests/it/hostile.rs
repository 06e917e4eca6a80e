//! Hostile input at the command line (issue #14, "Hostile input, tested end to end"):
//! archives and layouts whose names lead out of them, a layout whose `blobs/` links to a
//! file of this machine, a missing blob, a config that is not JSON, a tar cut short, gzip
//! bombs, and folders to pack that hold a symbolic link loop, a socket, a device node, a
//! FIFO, or a file that grows while smidge reads it.
//!
//! Each refusal is checked the way a user meets it: the exit status (2 for bad input, 1
//! where the input is not at fault), exactly one line on stderr naming the problem,
//! nothing on stdout, nothing written (the directory's listing unchanged, no `.smidge-*`
//! left, `$TMPDIR` empty) and nothing pushed (the registry has no such repository and saw
//! no upload for it). Every case prints `hostile: CASE: exit N: LINE`, so `cargo test
//! --release --test it hostile -- --include-ignored --nocapture` lists the cases and their
//! messages.
//!
//! What is accepted, and why:
//! - An absolute member name in a tar, or an absolute name in `manifest.json`, starts at
//!   the top of the archive (as GNU tar and `docker load` read it): `/etc/hostname` in
//!   `manifest.json` is the archive's member `etc/hostname`, never this machine's file.
//! - A layer that is itself gzip (a bomb included) is pushed as it is, never inflated: the
//!   push reads it once and sends the same bytes.
//! - A `.tar.gz` or `.tar.zst` source is inflated once into a temporary file in `$TMPDIR`
//!   (disk, not memory; removed whatever the outcome), then read like a plain tar.
//! - A folder holding a symbolic link loop packs: links are packed as links, never
//!   followed; a loop as the entrypoint, or as the path given, is refused.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use crate::support::registry::{Mode, Registry};
use crate::support::*;
use serde_json::{json, Value};
use sha2::{Digest as _, Sha256};

// ---------------------------------------------------------------- checks

/// The ceiling of issue #10 ("peak RSS under 64 MiB"), which a bomb must not break.
const RSS_LIMIT_KIB: u64 = 64 * 1024;

/// Every path under `dir` (relative, `/`-separated, a symbolic link as `name -> target`),
/// never following a link: what "nothing written" compares.
fn listing(dir: &Path) -> BTreeSet<String> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeSet<String>) {
        for e in std::fs::read_dir(dir).expect("read dir") {
            let e = e.unwrap();
            let path = e.path();
            let name = path.strip_prefix(root).unwrap().display().to_string();
            let meta = std::fs::symlink_metadata(&path).unwrap();
            if meta.is_symlink() {
                let target = std::fs::read_link(&path).unwrap();
                out.insert(format!("{name} -> {}", target.display()));
            } else if meta.is_dir() {
                out.insert(format!("{name}/"));
                walk(root, &path, out);
            } else {
                out.insert(format!("{name} ({} bytes)", meta.len()));
            }
        }
    }
    let mut out = BTreeSet::new();
    walk(dir, dir, &mut out);
    out
}

/// `out` is a refusal: exit status `code`, nothing on stdout, exactly one line on stderr
/// holding `phrase`. Prints and returns the line.
fn refusal(case: &str, out: &Output, code: i32, phrase: &str) -> String {
    let what = format!("{case}:\n{}", show(out));
    assert_eq!(out.status.code(), Some(code), "exit status: {what}");
    assert!(out.stdout.is_empty(), "nothing on stdout: {what}");
    let stderr = String::from_utf8(out.stderr.clone()).expect("UTF-8 stderr");
    assert_eq!(stderr.lines().count(), 1, "one line on stderr: {what}");
    assert!(stderr.ends_with('\n'), "a whole line: {what}");
    assert!(stderr.contains(phrase), "says `{phrase}`: {what}");
    let line = stderr.trim_end().to_owned();
    println!("hostile: {case}: exit {code}: {line}");
    line
}

/// `GET http://REGISTRY/PATH` (plain HTTP, the anonymous registry): status and body.
fn http_get(registry: &Registry, path: &str, accept: &str) -> (u16, String) {
    let mut conn = TcpStream::connect(&registry.host).expect("connect to the registry");
    write!(
        conn,
        "GET {path} HTTP/1.1\r\nHost: {}\r\nAccept: {accept}\r\nConnection: close\r\n\r\n",
        registry.host
    )
    .unwrap();
    let mut response = String::new();
    conn.read_to_string(&mut response).unwrap();
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("an HTTP response: {response:?}"));
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// The tags of `repo` in the registry (empty when the registry does not know it).
fn tags(registry: &Registry, repo: &str) -> Vec<String> {
    let (status, body) = http_get(registry, &format!("/v2/{repo}/tags/list"), "*/*");
    match status {
        404 => Vec::new(),
        200 => serde_json::from_str::<Value>(&body).unwrap()["tags"]
            .as_array()
            .map(|t| t.iter().map(|t| t.as_str().unwrap().to_owned()).collect())
            .unwrap_or_default(),
        s => panic!("GET /v2/{repo}/tags/list: {s} {body}"),
    }
}

/// Where the push cases run: a directory holding the sources, a `$TMPDIR` of their own, an
/// empty `$DOCKER_CONFIG`, and a registry.
struct PushBench {
    registry: Registry,
    dir: tempfile::TempDir,
    tmp: PathBuf,
    docker_config: tempfile::TempDir,
}

impl PushBench {
    fn start() -> Option<PushBench> {
        let registry = Registry::start(Mode::Anonymous)?;
        let dir = tempdir();
        let tmp = dir.path().join("tmp");
        std::fs::create_dir(&tmp).unwrap();
        Some(PushBench {
            registry,
            dir,
            tmp,
            docker_config: tempdir(),
        })
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `smidge push SOURCE REGISTRY/hostile/CASE:t`, run in the bench's directory.
    fn push(&self, case: &str, source: &Path, extra: &[&str]) -> std::process::Command {
        let mut cmd = smidge();
        cmd.current_dir(self.dir.path())
            .env("TMPDIR", &self.tmp)
            .env("DOCKER_CONFIG", self.docker_config.path())
            .arg("push")
            .arg(source)
            .arg(self.registry.reference(&format!("hostile/{case}:t")))
            .args(extra);
        cmd
    }

    /// Pushing `source` is refused with exit status `code` and one line holding `phrase`;
    /// nothing is written and nothing reaches the registry. The line.
    fn refused(&self, case: &str, source: &Path, code: i32, phrase: &str) -> String {
        let before = listing(self.dir.path());
        let out = self.push(case, source, &[]).output().expect("spawn smidge");
        let line = refusal(case, &out, code, phrase);
        self.nothing_left(case, &before);
        let repo = format!("hostile/{case}");
        assert_eq!(tags(&self.registry, &repo), Vec::<String>::new(), "{case}");
        assert_eq!(self.registry.uploads(&repo), 0, "{case}: no upload started");
        line
    }

    /// The directory is as it was before, `$TMPDIR` empty.
    fn nothing_left(&self, case: &str, before: &BTreeSet<String>) {
        assert_eq!(&listing(self.dir.path()), before, "{case}: nothing written");
        assert_eq!(entries(&self.tmp), BTreeSet::new(), "{case}: $TMPDIR left");
    }
}

// ---------------------------------------------------------------- archives by hand

/// A member of a tar written byte by byte: the `tar` crate refuses to write `..` and
/// absolute names, which is what these tests need.
enum Item {
    File(Vec<u8>),
    Symlink(&'static str),
    HardLink(&'static str),
    /// A regular file whose header says `size` bytes, followed by `data` (shorter).
    Lying {
        size: u64,
        data: Vec<u8>,
    },
}

/// A ustar header: `name` (at most 100 bytes), type flag, size, link name.
fn header(name: &str, kind: u8, size: u64, link: &str) -> [u8; 512] {
    assert!(name.len() <= 100 && link.len() <= 100, "{name} -> {link}");
    let mut h = [0u8; 512];
    let mut octal = |at: usize, width: usize, value: u64| {
        let digits = format!("{value:0w$o}", w = width - 1);
        h[at..at + width - 1].copy_from_slice(digits.as_bytes());
    };
    octal(100, 8, 0o644); // mode
    octal(108, 8, 0); // uid
    octal(116, 8, 0); // gid
    octal(124, 12, size);
    octal(136, 12, 0); // mtime
    h[..name.len()].copy_from_slice(name.as_bytes());
    h[156] = kind;
    h[157..157 + link.len()].copy_from_slice(link.as_bytes());
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    h[148..156].copy_from_slice(b"        ");
    let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
    h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    h
}

fn padding(len: u64) -> usize {
    ((512 - len % 512) % 512) as usize
}

/// A tar of `items`, ended by two zero blocks (unless a member lies about its size: then
/// the file simply stops).
fn tar<N: AsRef<str>>(items: &[(N, Item)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, item) in items {
        let name = name.as_ref();
        match item {
            Item::File(data) => {
                out.extend(header(name, b'0', data.len() as u64, ""));
                out.extend(data);
                out.resize(out.len() + padding(data.len() as u64), 0);
            }
            Item::Symlink(target) => out.extend(header(name, b'2', 0, target)),
            Item::HardLink(target) => out.extend(header(name, b'1', 0, target)),
            Item::Lying { size, data } => {
                out.extend(header(name, b'0', *size, ""));
                out.extend(data);
                return out;
            }
        }
    }
    out.resize(out.len() + 1024, 0);
    out
}

/// `sha256:HEX` of `bytes`.
fn digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex(&Sha256::digest(bytes)))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A small image to break: the config and the (uncompressed) layer of `smidge hello`,
/// read from the docker archive smidge writes.
struct Parts {
    config: Vec<u8>,
    layer: Vec<u8>,
}

impl Parts {
    fn new(dir: &Path) -> Parts {
        let archive = dir.join("hello.tar");
        ok(["hello".as_ref(), "-o".as_ref(), archive.as_os_str()]);
        let mut members = std::collections::HashMap::new();
        let mut ar = tar::Archive::new(std::fs::File::open(&archive).unwrap());
        for e in ar.entries().unwrap() {
            let mut e = e.unwrap();
            let name = e.path().unwrap().display().to_string();
            let mut bytes = Vec::new();
            e.read_to_end(&mut bytes).unwrap();
            members.insert(name, bytes);
        }
        std::fs::remove_file(&archive).unwrap();
        let manifest: Value = serde_json::from_slice(&members["manifest.json"]).unwrap();
        let config = members[manifest[0]["Config"].as_str().unwrap()].clone();
        let layer = members[manifest[0]["Layers"][0].as_str().unwrap()].clone();
        Parts { config, layer }
    }

    /// A config naming `diff_ids` as its layers.
    fn config_with(&self, diff_ids: &[String]) -> Vec<u8> {
        let mut c: Value = serde_json::from_slice(&self.config).unwrap();
        c["rootfs"]["diff_ids"] = json!(diff_ids);
        serde_json::to_vec(&c).unwrap()
    }
}

/// `manifest.json` of a docker archive: one image, `config` and `layers` by name.
fn docker_manifest(config: &str, layers: &[&str]) -> Item {
    let m = json!([{"Config": config, "RepoTags": ["hostile/x:t"], "Layers": layers}]);
    Item::File(serde_json::to_vec(&m).unwrap())
}

/// The files of a one-image OCI layout holding `config` and the uncompressed `layer`, by
/// path: `oci-layout`, `index.json`, and `blobs/sha256/HEX` for the manifest, the config
/// and the layer.
fn oci_files(config: &[u8], layer: &[u8]) -> Vec<(String, Vec<u8>)> {
    let descriptor = |media_type: &str, bytes: &[u8]| json!({"mediaType": media_type, "digest": digest(bytes), "size": bytes.len()});
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": descriptor("application/vnd.oci.image.config.v1+json", config),
        "layers": [descriptor("application/vnd.oci.image.layer.v1.tar", layer)],
    }))
    .unwrap();
    let index = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "manifests": [descriptor("application/vnd.oci.image.manifest.v1+json", &manifest)],
    }))
    .unwrap();
    let blob = |bytes: &[u8]| {
        (
            format!("blobs/sha256/{}", &digest(bytes)[7..]),
            bytes.to_vec(),
        )
    };
    vec![
        (
            "oci-layout".into(),
            br#"{"imageLayoutVersion":"1.0.0"}"#.to_vec(),
        ),
        ("index.json".into(), index),
        blob(&manifest),
        blob(config),
        blob(layer),
    ]
}

/// `files` written under `dir`.
fn write_dir(dir: &Path, files: &[(String, Vec<u8>)]) {
    for (name, bytes) in files {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }
}

// ---------------------------------------------------------------- smidge push

/// issue #14: "archives with `..`, absolute and symlinked member paths; an OCI layout
/// whose `blobs/` holds a symlink to a file outside it; a manifest naming a blob that is
/// missing; a config that is not JSON; … a tar whose size field exceeds the file": each
/// one line, exit status 2, nothing written, nothing pushed.
#[test]
#[ignore = "needs docker-registry"]
fn push_refuses_hostile_archives_and_layouts() {
    let Some(bench) = PushBench::start() else {
        return;
    };
    let parts = Parts::new(bench.dir.path());
    let (config, layer) = (&parts.config, &parts.layer);
    let config_digest = digest(config);
    let layer_digest = digest(layer);
    let write = |name: &str, bytes: &[u8]| {
        let path = bench.path(name);
        std::fs::write(&path, bytes).unwrap();
        path
    };
    let mut lines = Vec::new();
    let mut refused = |case: &str, source: &Path, phrase: &str| {
        lines.push(bench.refused(case, source, 2, phrase));
    };

    // Docker archives whose names lead out of them.
    let docker =
        |config_name: &'static str, layer_names: &[&'static str], items: Vec<(&str, Item)>| {
            let mut all = vec![("manifest.json", docker_manifest(config_name, layer_names))];
            all.extend(items);
            tar(&all)
        };
    let c = || Item::File(config.clone());
    let l = || Item::File(layer.clone());
    let source = write(
        "config-dotdot.tar",
        &docker("../../etc/passwd", &["l"], vec![("c", c()), ("l", l())]),
    );
    refused(
        "docker-config-dotdot",
        &source,
        "manifest.json names `../../etc/passwd`, which is not in the archive",
    );
    let source = write(
        "config-absolute.tar",
        &docker("/etc/passwd", &["l"], vec![("c", c()), ("l", l())]),
    );
    refused(
        "docker-config-absolute",
        &source,
        "manifest.json names `/etc/passwd`, which is not in the archive",
    );
    let source = write(
        "member-dotdot.tar",
        &docker("../c", &["../l"], vec![("../c", c()), ("../l", l())]),
    );
    refused(
        "docker-member-dotdot",
        &source,
        "manifest.json names `../c`, which is not in the archive",
    );
    for (case, item) in [
        (
            "docker-layer-symlink-absolute",
            Item::Symlink("/etc/hostname"),
        ),
        (
            "docker-layer-symlink-dotdot",
            Item::Symlink("../../../../../../etc/hostname"),
        ),
        (
            "docker-layer-hardlink-dotdot",
            Item::HardLink("../etc/passwd"),
        ),
    ] {
        let source = write(
            &format!("{case}.tar"),
            &docker("c", &["l"], vec![("c", c()), ("l", item)]),
        );
        refused(
            case,
            &source,
            "manifest.json names `l`, which is not in the archive",
        );
    }
    let source = write(
        "symlink-loop.tar",
        &docker(
            "c",
            &["l"],
            vec![
                ("c", c()),
                ("l", Item::Symlink("m")),
                ("m", Item::Symlink("l")),
            ],
        ),
    );
    refused(
        "docker-layer-symlink-loop",
        &source,
        "manifest.json names `l`, which is not in the archive",
    );

    // OCI layout tars whose blobs lead out of them.
    let files = oci_files(config, layer);
    // Each member of the layout, `change` applied to its name and bytes.
    let oci_tar = |change: fn(&str, &[u8], &str) -> (String, Item), target: &str| {
        tar(&files
            .iter()
            .map(|(n, b)| change(n, b, target))
            .collect::<Vec<_>>())
    };
    let config_blob = format!("blobs/sha256/{}", &config_digest[7..]);
    let layer_blob = format!("blobs/sha256/{}", &layer_digest[7..]);
    let manifest_digest = digest(&files[2].1);
    // The member `target` as a symbolic link to /etc/hostname, absolute or by `..`.
    let source = write(
        "oci-config-symlink-absolute.tar",
        &oci_tar(
            |n, b, target| match n == target {
                true => (n.into(), Item::Symlink("/etc/hostname")),
                false => (n.into(), Item::File(b.to_vec())),
            },
            &config_blob,
        ),
    );
    refused(
        "oci-tar-blob-symlink-absolute",
        &source,
        &format!("blob {config_digest} is missing"),
    );
    let source = write(
        "oci-layer-symlink-dotdot.tar",
        &oci_tar(
            |n, b, target| match n == target {
                true => (n.into(), Item::Symlink("../../../../etc/hostname")),
                false => (n.into(), Item::File(b.to_vec())),
            },
            &layer_blob,
        ),
    );
    refused(
        "oci-tar-blob-symlink-dotdot",
        &source,
        &format!("blob {layer_digest} is missing"),
    );
    // Every blob stored as `../blobs/sha256/HEX`.
    let source = write(
        "oci-member-dotdot.tar",
        &oci_tar(
            |n, b, _| match n.starts_with("blobs/") {
                true => (format!("../{n}"), Item::File(b.to_vec())),
                false => (n.into(), Item::File(b.to_vec())),
            },
            "",
        ),
    );
    refused(
        "oci-tar-member-dotdot",
        &source,
        &format!("blob {manifest_digest} is missing"),
    );

    // OCI layout directories: a blob, or `blobs` itself, linked to something outside.
    let outside = bench.path("outside");
    std::fs::create_dir(&outside).unwrap();
    std::fs::write(outside.join("config"), config).unwrap();
    let layout = bench.path("layout-blob-link");
    write_dir(&layout, &files);
    std::fs::remove_file(layout.join(&config_blob)).unwrap();
    std::os::unix::fs::symlink(outside.join("config"), layout.join(&config_blob)).unwrap();
    refused(
        "oci-dir-blob-symlink-out",
        &layout,
        &format!("`{config_blob}` leads out of the directory through a symbolic link"),
    );
    let layout = bench.path("layout-blobs-link");
    write_dir(&layout, &files);
    std::fs::rename(layout.join("blobs"), outside.join("blobs")).unwrap();
    std::os::unix::fs::symlink(outside.join("blobs"), layout.join("blobs")).unwrap();
    refused(
        "oci-dir-blobs-symlink-out",
        &layout,
        "leads out of the directory through a symbolic link",
    );

    // A manifest naming a blob that is missing: in a layout, in a docker archive.
    let layout = bench.path("layout-missing-blob");
    write_dir(&layout, &files);
    std::fs::remove_file(layout.join(&layer_blob)).unwrap();
    refused(
        "oci-dir-missing-blob",
        &layout,
        &format!("blob {layer_digest} is missing"),
    );
    let source = write(
        "missing-layer.tar",
        &docker(
            "c",
            &["l", "gone"],
            vec![
                (
                    "c",
                    Item::File(parts.config_with(&[layer_digest.clone(), layer_digest.clone()])),
                ),
                ("l", l()),
            ],
        ),
    );
    refused(
        "docker-missing-layer",
        &source,
        "manifest.json names `gone`, which is not in the archive",
    );

    // A config that is not JSON: the registry must not receive the image.
    let source = write(
        "config-not-json.tar",
        &docker(
            "c",
            &["l"],
            vec![("c", Item::File(b"{not json".to_vec())), ("l", l())],
        ),
    );
    refused(
        "docker-config-not-json",
        &source,
        "config `c` is not an image configuration",
    );
    let layout = bench.path("layout-config-not-json");
    write_dir(&layout, &oci_files(b"{not json", layer));
    refused(
        "oci-dir-config-not-json",
        &layout,
        &format!(
            "config {} is not an image configuration",
            digest(b"{not json")
        ),
    );

    // A tar whose size field exceeds the file: plain, and inside gzip (spooled first).
    let cut = tar(&[
        ("manifest.json", docker_manifest("c", &["l"])),
        ("c", c()),
        (
            "l",
            Item::Lying {
                size: 1 << 20,
                data: layer.clone(),
            },
        ),
    ]);
    let source = write("truncated.tar", &cut);
    refused("tar-size-exceeds-file", &source, "a truncated tar archive");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&cut).unwrap();
    let source = write("truncated.tar.gz", &gz.finish().unwrap());
    refused(
        "tar-gz-size-exceeds-file",
        &source,
        "a truncated tar archive",
    );
    // A gzip stream cut short.
    let whole = {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&docker("c", &["l"], vec![("c", c()), ("l", l())]))
            .unwrap();
        gz.finish().unwrap()
    };
    let source = write("cut.tar.gz", &whole[..whole.len() / 2]);
    refused("gzip-cut-short", &source, "bad gzip data");

    // The checks above see a push: the same bench pushes an intact archive whose manifest
    // names its config `/etc/hostname`, a member of the archive (not this machine's file).
    let source = write(
        "absolute-inside.tar",
        &docker(
            "/etc/hostname",
            &["/l"],
            vec![("/etc/hostname", c()), ("l", l())],
        ),
    );
    let out = bench
        .push("absolute-inside", &source, &[])
        .output()
        .expect("spawn smidge");
    assert!(out.status.success(), "{}", show(&out));
    assert_eq!(tags(&bench.registry, "hostile/absolute-inside"), ["t"]);
    let (status, manifest) = http_get(
        &bench.registry,
        "/v2/hostile/absolute-inside/manifests/t",
        "application/vnd.oci.image.manifest.v1+json",
    );
    assert_eq!(status, 200, "{manifest}");
    let manifest: Value = serde_json::from_str(&manifest).unwrap();
    assert_eq!(manifest["config"]["digest"], config_digest.as_str());

    assert_eq!(lines.len(), 19);
}

/// The tar of one regular file `zeros` of `size` zero bytes: its header, then (after the
/// zeros) its padding and the end of the archive.
fn zeros_tar(size: u64) -> (Vec<u8>, Vec<u8>) {
    let head = header("zeros", b'0', size, "").to_vec();
    let tail = vec![0u8; padding(size) + 1024];
    (head, tail)
}

/// gzip of `head`, `zeros` zero bytes and `tail`, in one member, made without deflating
/// the zeros one by one: after a full flush the deflater starts afresh, so a run of
/// zeros compresses to the same bytes every time, and the bomb is those bytes repeated.
/// `zeros` is a whole number of MiB.
fn gzip_bomb(head: &[u8], zeros: u64, tail: &[u8]) -> Vec<u8> {
    use flate2::{Compress, Crc, FlushCompress, Status};
    const CHUNK: usize = 1 << 20;
    assert_eq!(zeros % CHUNK as u64, 0);
    let mut z = Compress::new(flate2::Compression::best(), false);
    let mut deflate = |input: &[u8], flush: FlushCompress| {
        let mut out = Vec::new();
        let mut taken = 0;
        loop {
            out.reserve(64 << 10);
            let before = z.total_in();
            let status = z.compress_vec(&input[taken..], &mut out, flush).unwrap();
            taken += (z.total_in() - before) as usize;
            // Finished, or flushed: all input taken and room left in the output.
            let flushed = flush != FlushCompress::Finish
                && taken == input.len()
                && out.len() < out.capacity();
            if status == Status::StreamEnd || flushed {
                return out;
            }
        }
    };
    let chunk = vec![0u8; CHUNK];
    let mut body = deflate(head, FlushCompress::Full);
    let first = deflate(&chunk, FlushCompress::Full);
    let again = deflate(&chunk, FlushCompress::Full);
    assert_eq!(
        first, again,
        "a flushed run of zeros deflates the same every time"
    );
    body.extend(&first);
    body.extend(&again);
    for _ in 2..zeros / CHUNK as u64 {
        body.extend(&first);
    }
    body.extend(deflate(tail, FlushCompress::Finish));

    let mut crc = Crc::new();
    crc.update(head);
    let mut zero_crc = Crc::new();
    zero_crc.update(&chunk);
    for _ in 0..zeros / CHUNK as u64 {
        crc.combine(&zero_crc);
    }
    let mut tail_crc = Crc::new();
    tail_crc.update(tail);
    crc.combine(&tail_crc);
    let total = head.len() as u64 + zeros + tail.len() as u64;

    let mut gz = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 2, 0xff];
    gz.extend(body);
    gz.extend(crc.sum().to_le_bytes());
    gz.extend((total as u32).to_le_bytes());
    gz
}

/// How much the bombs inflate to: 2 GiB of zeros (plus the tar around them).
const BOMB_ZEROS: u64 = 2 << 30;

/// sha256 of `head`, `zeros` zero bytes and `tail`.
fn digest_of_zeros(head: &[u8], zeros: u64, tail: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(head);
    let chunk = vec![0u8; 1 << 20];
    for _ in 0..zeros >> 20 {
        h.update(&chunk);
    }
    h.update(tail);
    format!("sha256:{}", hex(&h.finalize()))
}

/// The layer digests of `REPO:t` in the registry.
fn pushed_layers(registry: &Registry, repo: &str) -> Vec<String> {
    let (status, body) = http_get(
        registry,
        &format!("/v2/{repo}/manifests/t"),
        "application/vnd.oci.image.manifest.v1+json",
    );
    assert_eq!(status, 200, "{repo}: {body}");
    let manifest: Value = serde_json::from_str(&body).unwrap();
    manifest["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["digest"].as_str().unwrap().to_owned())
        .collect()
}

/// issue #14: "a gzip bomb layer (push stays within the memory bound and the time it
/// takes to read the input once)". The layer is a tar holding 2 GiB of zeros; two shapes:
///
/// - a docker archive (a plain tar) whose layer is that tar gzipped, 2 MiB: smidge never
///   inflates it. It reads the archive once (hashing the layer as it is), and pushes the
///   same 2 MiB: the registry's layer digest is the bomb's.
/// - the whole archive gzipped (`.tar.gz`, 2 MiB): smidge inflates it once, into a
///   temporary file in `$TMPDIR` (2 GiB of disk, never memory), checks the layer against
///   its diff_id and pushes it gzipped; the temporary file is gone afterwards. The same
///   archive with a diff_id that does not match is refused after that one pass, with
///   nothing pushed.
///
/// Both stay under the 64 MiB of issue #10.
#[test]
#[ignore = "needs /usr/bin/time, docker-registry"]
fn gzip_bombs_are_pushed_in_bounded_memory() {
    require!("/usr/bin/time");
    let Some(bench) = PushBench::start() else {
        return;
    };
    let parts = Parts::new(bench.dir.path());
    let (head, tail) = zeros_tar(BOMB_ZEROS);
    let started = Instant::now();
    let diff_id = digest_of_zeros(&head, BOMB_ZEROS, &tail);
    let config = parts.config_with(std::slice::from_ref(&diff_id));
    let bomb = gzip_bomb(&head, BOMB_ZEROS, &tail);
    eprintln!(
        "bomb: {} bytes inflating to {} ({:?} to make)",
        bomb.len(),
        head.len() as u64 + BOMB_ZEROS + tail.len() as u64,
        started.elapsed()
    );
    assert!(bomb.len() < 4 << 20, "a bomb: {} bytes", bomb.len());

    // The bomb as a layer.
    let source = bench.path("bomb-layer.tar");
    std::fs::write(
        &source,
        tar(&[
            ("manifest.json", docker_manifest("c", &["l.tar.gz"])),
            ("c", Item::File(config.clone())),
            ("l.tar.gz", Item::File(bomb.clone())),
        ]),
    )
    .unwrap();
    let before = listing(bench.dir.path());
    let started = Instant::now();
    let (out, kib) = output_with_peak_rss(&bench.push("bomb-layer", &source, &[]));
    let took = started.elapsed();
    assert!(out.status.success(), "{}", show(&out));
    println!("hostile: gzip-bomb-layer: exit 0 in {took:.2?}, peak RSS {kib} KiB, pushed as it is");
    assert!(kib < RSS_LIMIT_KIB, "peak RSS {kib} KiB");
    assert!(took < Duration::from_secs(10), "took {took:?}");
    assert_eq!(
        pushed_layers(&bench.registry, "hostile/bomb-layer"),
        [digest(&bomb)]
    );
    bench.nothing_left("gzip-bomb-layer", &before);

    // The whole archive as the bomb.
    let archive = |config: &[u8]| {
        let mut plain = tar(&[
            ("manifest.json", docker_manifest("c", &["l"])),
            ("c", Item::File(config.to_vec())),
        ]);
        plain.truncate(plain.len() - 1024); // the end of the archive comes after `l`
        plain.extend(header(
            "l",
            b'0',
            head.len() as u64 + BOMB_ZEROS + tail.len() as u64,
            "",
        ));
        plain.extend(&head);
        let mut end = tail.clone();
        end.resize(
            tail.len() + padding(head.len() as u64 + tail.len() as u64) + 1024,
            0,
        );
        gzip_bomb(&plain, BOMB_ZEROS, &end)
    };
    let source = bench.path("bomb-archive.tar.gz");
    std::fs::write(&source, archive(&config)).unwrap();
    let before = listing(bench.dir.path());
    let started = Instant::now();
    let (out, kib) = output_with_peak_rss(&bench.push("bomb-archive", &source, &[]));
    let took = started.elapsed();
    assert!(out.status.success(), "{}", show(&out));
    println!("hostile: gzip-bomb-archive: exit 0 in {took:.2?}, peak RSS {kib} KiB");
    assert!(kib < RSS_LIMIT_KIB, "peak RSS {kib} KiB");
    assert!(took < Duration::from_secs(60), "took {took:?}");
    bench.nothing_left("gzip-bomb-archive", &before);
    assert_eq!(
        pushed_layers(&bench.registry, "hostile/bomb-archive").len(),
        1
    );
    // The layer went gzipped: the registry holds megabytes, not the 2 GiB.
    let (stored, _) = bench.registry.blob_bytes();
    assert!(stored < 64 << 20, "the registry stores {stored} bytes");

    // The same, its config naming another layer: refused after one pass.
    std::fs::write(&source, archive(&parts.config)).unwrap();
    let before = listing(bench.dir.path());
    let started = Instant::now();
    let (out, kib) = output_with_peak_rss(&bench.push("bomb-archive-refused", &source, &[]));
    let took = started.elapsed();
    refusal(
        "gzip-bomb-archive-wrong-diff-id",
        &out,
        2,
        "is an uncompressed tar whose digest",
    );
    println!("hostile: gzip-bomb-archive-wrong-diff-id: refused in {took:.2?}, peak RSS {kib} KiB");
    assert!(kib < RSS_LIMIT_KIB, "peak RSS {kib} KiB");
    assert!(took < Duration::from_secs(60), "took {took:?}");
    bench.nothing_left("gzip-bomb-archive-wrong-diff-id", &before);
    assert_eq!(
        tags(&bench.registry, "hostile/bomb-archive-refused"),
        Vec::<String>::new()
    );
}

// ---------------------------------------------------------------- smidge pack

/// `smidge pack ARGS` run in `dir`, given at most 30 s (a FIFO opened for reading would
/// block forever): its output.
fn pack_in(dir: &Path, args: &[&str]) -> Output {
    let mut child = smidge()
        .current_dir(dir)
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn smidge");
    if crate::support::process::wait_within(&mut child, Duration::from_secs(30)).is_none() {
        let _ = child.kill();
        let _ = child.wait();
        panic!("smidge {} still ran after 30 s", args.join(" "));
    }
    child.wait_with_output().unwrap()
}

/// `smidge pack ARGS` in `dir` is refused with exit status `code` and one line holding
/// `phrase`, and `dir/out/` (where `-o` points) stays empty: no output, no `.smidge-*`.
fn pack_refused(case: &str, dir: &Path, args: &[&str], code: i32, phrase: &str) -> String {
    let out_dir = dir.join("out");
    std::fs::create_dir_all(&out_dir).unwrap();
    let before = listing(dir);
    let out = pack_in(dir, args);
    let line = refusal(case, &out, code, phrase);
    assert_eq!(
        entries(&out_dir),
        BTreeSet::new(),
        "{case}: nothing in out/"
    );
    assert_eq!(listing(dir), before, "{case}: nothing written");
    line
}

/// issue #14: "a packed folder with a symlink loop, a socket, …": a loop is packed as two
/// links (links in a folder are never followed); followed, as the entrypoint or as the
/// path given, it is refused. A socket and a FIFO are refused, each by its kind, before
/// anything is written (and the FIFO is never opened).
#[test]
fn pack_refuses_special_files_and_packs_a_link_loop_as_links() {
    let dir = tempdir();
    let d = dir.path();

    // A symbolic link loop, a -> b -> a.
    let looped = d.join("loop");
    std::fs::create_dir(&looped).unwrap();
    std::os::unix::fs::symlink("b", looped.join("a")).unwrap();
    std::os::unix::fs::symlink("a", looped.join("b")).unwrap();
    let out = pack_in(
        d,
        &[
            "pack",
            "loop",
            "--platform",
            "linux/amd64",
            "-o",
            "loop.tar",
        ],
    );
    assert!(out.status.success(), "{}", show(&out));
    println!("hostile: pack-symlink-loop: exit 0: packed as two links");
    let links = layer_links(&d.join("loop.tar"));
    std::fs::remove_file(d.join("loop.tar")).unwrap();
    assert_eq!(links, [("a".into(), "b".into()), ("b".into(), "a".into())]);
    let mut lines = vec![
        pack_refused(
            "pack-symlink-loop-entrypoint",
            d,
            &["pack", "loop", "--entrypoint", "/a", "-o", "out/x.tar"],
            2,
            "the entrypoint `/a` is not in the image",
        ),
        pack_refused(
            "pack-symlink-loop-given",
            d,
            &["pack", "loop/a", "-o", "out/x.tar"],
            2,
            "Too many levels of symbolic links",
        ),
    ];

    // A UNIX socket, listening while smidge runs.
    let sock = d.join("sock");
    std::fs::create_dir(&sock).unwrap();
    std::fs::write(sock.join("app"), b"x").unwrap();
    let listener = std::os::unix::net::UnixListener::bind(sock.join("control.sock")).unwrap();
    lines.push(pack_refused(
        "pack-socket",
        d,
        &["pack", "sock", "-o", "out/x.tar"],
        2,
        "sock/control.sock` is a socket: an image layer holds only files, directories and links",
    ));
    drop(listener);

    // A FIFO: refused by its kind, never opened (opening it would wait for a writer).
    let fifo = d.join("fifo");
    std::fs::create_dir(&fifo).unwrap();
    let path = std::ffi::CString::new(fifo.join("pipe").to_str().unwrap()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(path.as_ptr(), 0o644) }, 0, "mkfifo");
    lines.push(pack_refused(
        "pack-fifo",
        d,
        &["pack", "fifo", "-o", "out/x.tar"],
        2,
        "fifo/pipe` is a FIFO",
    ));
    lines.push(pack_refused(
        "pack-fifo-given",
        d,
        &["pack", "fifo/pipe", "-o", "out/x.tar"],
        2,
        "fifo/pipe` is a FIFO",
    ));

    assert_eq!(lines.len(), 5);
}

/// issue #14: "a packed folder with … a device node": refused by its kind (mknod needs
/// root). /dev/null's numbers, 1:3.
#[test]
#[ignore = "needs root"]
fn pack_refuses_a_device_node() {
    require!("root");
    let dir = tempdir();
    let d = dir.path();
    let dev = d.join("dev");
    std::fs::create_dir(&dev).unwrap();
    let path = std::ffi::CString::new(dev.join("null").to_str().unwrap()).unwrap();
    let made = unsafe { libc::mknod(path.as_ptr(), libc::S_IFCHR | 0o666, libc::makedev(1, 3)) };
    assert_eq!(made, 0, "mknod: {}", std::io::Error::last_os_error());
    pack_refused(
        "pack-device-node",
        d,
        &["pack", "dev", "-o", "out/x.tar"],
        2,
        "dev/null` is a character device",
    );
}

/// issue #14: "a file that grows while it is read". A 128 MiB file is appended to from
/// before smidge starts until it exits, so whenever smidge looked at its size, more is
/// there when it has read that much: exit status 1 (the input is not wrong, it moved),
/// one line, no output file and no `.smidge-*` left.
#[test]
fn pack_refuses_a_file_that_grows_while_it_is_read() {
    use std::sync::atomic::{AtomicBool, Ordering};
    let dir = tempdir();
    let d = dir.path();
    let grow = d.join("grow");
    std::fs::create_dir(&grow).unwrap();
    let big = grow.join("big.bin");
    write_random_file(&big, 128, 14);
    std::fs::create_dir(d.join("out")).unwrap();

    let stop = std::sync::Arc::new(AtomicBool::new(false));
    let appender = {
        let (stop, big) = (stop.clone(), big.clone());
        std::thread::spawn(move || {
            let mut f = std::fs::OpenOptions::new().append(true).open(&big).unwrap();
            let block = vec![0x5au8; 64 << 10];
            let mut appended = 0u64;
            // At most 512 MiB, whatever happens.
            while !stop.load(Ordering::Relaxed) && appended < 512 << 20 {
                f.write_all(&block).unwrap();
                appended += block.len() as u64;
                std::thread::sleep(Duration::from_micros(200));
            }
            appended
        })
    };
    // The appender is under way before smidge looks at the file.
    std::thread::sleep(Duration::from_millis(20));
    let out = pack_in(
        d,
        &[
            "pack",
            "grow",
            "--platform",
            "linux/amd64",
            "-o",
            "out/grow.tar",
        ],
    );
    stop.store(true, Ordering::Relaxed);
    let appended = appender.join().unwrap();
    assert!(
        appended < 512 << 20,
        "smidge ran out the appender ({appended} bytes)"
    );
    refusal(
        "pack-file-grows",
        &out,
        1,
        &format!(
            "`{}` changed while smidge read it",
            Path::new("grow/big.bin").display()
        ),
    );
    assert_eq!(entries(&d.join("out")), BTreeSet::new(), "nothing in out/");
}

/// The symbolic links (name, target) in the one layer of the docker archive `archive`.
fn layer_links(archive: &Path) -> Vec<(String, String)> {
    let mut members = std::collections::HashMap::new();
    let mut ar = tar::Archive::new(std::fs::File::open(archive).unwrap());
    for e in ar.entries().unwrap() {
        let mut e = e.unwrap();
        let name = e.path().unwrap().display().to_string();
        let mut bytes = Vec::new();
        e.read_to_end(&mut bytes).unwrap();
        members.insert(name, bytes);
    }
    let manifest: Value = serde_json::from_slice(&members["manifest.json"]).unwrap();
    let layer = &members[manifest[0]["Layers"][0].as_str().unwrap()];
    let mut links = Vec::new();
    for e in tar::Archive::new(&layer[..]).entries().unwrap() {
        let e = e.unwrap();
        if e.header().entry_type() == tar::EntryType::Symlink {
            let target = e.link_name().unwrap().unwrap().display().to_string();
            links.push((e.path().unwrap().display().to_string(), target));
        }
    }
    links
}
