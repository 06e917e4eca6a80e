//! The reader behind `smidge push SOURCE` (`source::read_source`), fed the input four
//! ways: as the file itself (a docker archive or OCI layout tar, plain, gzip or zstd),
//! gzip-compressed, zstd-compressed (so every input also goes through the decompressing
//! spool), and, when the input is a tar, extracted into a directory read as an OCI
//! layout. Errors are fine, a panic is not, and an error is one line that does not
//! quote the source's bytes (serde's "invalid type: string \"…\"" would). Every layer
//! of every image read is then written out as a tar (the reading `push` does).
//!
//! A fuzzer that flips bytes of a tar rarely gets past the digests that tie an OCI
//! layout together, so an input may also be a layout written as text, which this
//! target turns into a tar whose digests and sizes are right ([`from_text`]); most
//! mutations of such an input then reach the JSON documents and layers themselves.
#![no_main]

use std::fs;
use std::io::{self, Read, Write};
use std::path::{Component, Path, PathBuf};
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use smidge_image::progress::NoProgress;
use smidge_image::source::read_source;

/// The most a compressed input may decompress to (the spool is a temporary file) and
/// the most of a layer written out: a bomb is out of scope here, it only slows fuzzing.
const CAP: u64 = 64 << 20;

/// A writer that takes `CAP` bytes, then fails.
struct Capped(u64);

impl Write for Capped {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        if b.len() as u64 > self.0 {
            return Err(io::Error::other("capped"));
        }
        self.0 -= b.len() as u64;
        Ok(b.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A temporary directory for this process.
fn dir() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        tempfile::Builder::new()
            .prefix("smidge-fuzz-source-")
            .tempdir()
            .unwrap()
    })
    .path()
}

fn read(path: &Path) {
    let source = match read_source(path) {
        Ok(s) => s,
        Err(e) => {
            let e = e.to_string();
            assert!(!e.contains('\n'), "{e}");
            assert!(!e.contains("string \""), "an error quotes the source: {e}");
            return;
        }
    };
    assert!(!source.set.images.is_empty());
    for image in &source.set.images {
        for layer in image.layers() {
            let _ = layer.write_tar(&mut Capped(CAP), &NoProgress);
        }
    }
}

/// How many bytes `data` decompresses to, up to `CAP + 1`, if it is gzip or zstd.
fn decompressed_len(data: &[u8]) -> Option<u64> {
    let r: Box<dyn Read + '_> = match data {
        [0x1f, 0x8b, ..] => Box::new(flate2::read::MultiGzDecoder::new(data)),
        [0x28, 0xb5, 0x2f, 0xfd, ..] => Box::new(zstd::Decoder::new(data).ok()?),
        _ => return None,
    };
    Some(io::copy(&mut r.take(CAP + 1), &mut io::sink()).unwrap_or(0))
}

/// `data` as a tar extracted into `to`: regular files and directories only, at most 256
/// entries, names with `..` or a root refused. `None` when it is not a tar.
fn extract(data: &[u8], to: &Path) -> Option<()> {
    let mut ar = tar::Archive::new(data);
    let mut any = false;
    for entry in ar.entries().ok()?.take(256) {
        let mut entry = entry.ok()?;
        let name = entry.path().ok()?.into_owned();
        let mut rel = PathBuf::new();
        for c in name.components() {
            match c {
                Component::Normal(c) => rel.push(c),
                Component::CurDir => {}
                _ => return None,
            }
        }
        if rel.as_os_str().is_empty() {
            continue;
        }
        let path = to.join(&rel);
        let kind = entry.header().entry_type();
        if kind.is_dir() {
            let _ = fs::create_dir_all(&path);
        } else if kind.is_file() {
            if let Some(parent) = path.parent() {
                let _ = fs::create_dir_all(parent);
            }
            if let Ok(mut f) = fs::File::create(&path) {
                io::copy(&mut entry, &mut f).ok()?;
            }
        }
        any = true;
    }
    any.then_some(())
}

/// Inputs that start with this are layouts written as text.
const TEXT: &[u8] = b"SMIDGE-FUZZ-LAYOUT\n";

/// The files of a layout written as text: after [`TEXT`], at most ten parts that each
/// start with `--- NAME\n`, the rest of the part being the file's bytes. `@N` (N a
/// digit) stands for the sha256 (64 hex digits) of part N's bytes and `#N` for their
/// length: in a part's bytes for every part after it, in its name also for itself (so
/// a document names the blobs that follow it, and a blob is `blobs/sha256/@N`).
fn from_text(data: &[u8]) -> Option<Vec<(String, Vec<u8>)>> {
    let rest = data.strip_prefix(TEXT)?;
    let mut parts: Vec<(&[u8], &[u8])> = Vec::new();
    for chunk in split(rest, b"--- ").into_iter().skip(1).take(10) {
        let (name, body) = match chunk.iter().position(|&b| b == b'\n') {
            Some(i) => (&chunk[..i], &chunk[i + 1..]),
            None => (chunk, &[][..]),
        };
        parts.push((name, body.strip_suffix(b"\n").unwrap_or(body)));
    }
    let mut facts: Vec<Option<(String, usize)>> = vec![None; parts.len()];
    let mut done = vec![(String::new(), Vec::new()); parts.len()];
    for (i, (name, body)) in parts.iter().enumerate().rev() {
        let body = substitute(body, &facts);
        facts[i] = Some((hex(&sha256(&body)), body.len()));
        let name = String::from_utf8_lossy(&substitute(name, &facts)).into_owned();
        done[i] = (name, body);
    }
    Some(done)
}

/// `data` split before each occurrence of `sep` at the start of a line.
fn split<'a>(data: &'a [u8], sep: &[u8]) -> Vec<&'a [u8]> {
    let mut out = Vec::new();
    let mut start = 0;
    for i in 0..data.len() {
        if data[i..].starts_with(sep) && (i == 0 || data[i - 1] == b'\n') {
            out.push(&data[start..i]);
            start = i + sep.len();
        }
    }
    out.push(&data[start..]);
    out
}

/// `@N` and `#N` in `bytes` replaced, for the parts N whose `facts` (hex digest,
/// length) are known.
fn substitute(bytes: &[u8], facts: &[Option<(String, usize)>]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if let (b'@' | b'#', Some(d @ b'0'..=b'9')) = (bytes[i], bytes.get(i + 1)) {
            if let Some(Some((digest, size))) = facts.get(usize::from(d - b'0')) {
                if bytes[i] == b'@' {
                    out.extend_from_slice(digest.as_bytes());
                } else {
                    out.extend_from_slice(size.to_string().as_bytes());
                }
                i += 2;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    out
}

fn sha256(b: &[u8]) -> [u8; 32] {
    use sha2::Digest as _;
    sha2::Sha256::digest(b).into()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// `files` as a plain tar (names the tar crate refuses are left out).
fn tar_of(files: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, body) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(body.len() as u64);
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::Regular);
        if h.set_path(name).is_err() {
            continue;
        }
        h.set_cksum();
        b.append(&h, &body[..]).unwrap();
    }
    b.into_inner().unwrap()
}

/// The reader holds JSON documents of at most 4 MiB (`source::MAX_DOCUMENT`) and
/// streams everything else through 256 KiB buffers; the inputs are a few KiB. (zstd's
/// decoder, in C, allocates its window itself, at most 128 MiB by its own limit.)
const LIMIT: usize = 8 << 20;

fuzz_target!(init: smidge_fuzz::limit_allocations(LIMIT), |data: &[u8]| {
    let dir = dir();
    let file = dir.join("source.tar");

    if let Some(files) = from_text(data) {
        // Read as a tar, and through the same paths as any other input.
        one(dir, &file, &tar_of(&files));
        return;
    }
    one(dir, &file, data);
});

/// `data` read as it is, gzip- and zstd-compressed, and as an extracted directory.
fn one(dir: &Path, file: &Path, data: &[u8]) {
    // The input as it is: a plain tar is indexed in place, a compressed one spooled
    // (when it is not a bomb).
    if decompressed_len(data).is_none_or(|n| n <= CAP) {
        fs::write(file, data).unwrap();
        read(file);
    }

    // Compressed here, so that every input also takes the decompressing path.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(data).unwrap();
    fs::write(file, gz.finish().unwrap()).unwrap();
    read(file);
    fs::write(file, zstd::encode_all(data, 1).unwrap()).unwrap();
    read(file);

    // A tar extracted: an OCI layout (or anything else) as a directory.
    let layout = dir.join("layout");
    let _ = fs::remove_dir_all(&layout);
    fs::create_dir(&layout).unwrap();
    if extract(data, &layout).is_some() {
        read(&layout);
    }
    fs::remove_dir_all(&layout).unwrap();
}
