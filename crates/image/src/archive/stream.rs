//! Streaming archives for inputs of any size (issue #5): the layer tar is generated on the
//! fly from files on disk and written, in one pass, through a streaming compressor into
//! the sink (a temporary file renamed at the end, or stdout). Nothing is held whole in
//! memory: peak memory is the read buffer, the compressor's window and the entry list.
//!
//! One pass is enough because the readers of these archives extract them whole before they
//! look inside (`docker load` untars into a temporary directory, skopeo and podman do the
//! same with an OCI archive), so member order is free: the layer comes first, hashed as it
//! is written, and the config, manifest and index that name its digest come after it.
//! Every member's size is known before its bytes are read (the plan records each file's
//! length), so headers need no seeking. A file that changes size while it is read is an
//! error, not a silently wrong image.
//!
//! The layer tar is POSIX ustar (`ustar\0` `00`): directories, symbolic links and hard
//! links need the ustar type flags, and paths longer than 100 bytes are split into
//! `prefix` + `name`; a path longer than that gets a PAX `x` header. Owner 0:0 unless the
//! entry says otherwise, no user or group names, mtime as given (0 leaves it empty).
//!
//! Small archives (up to [`super::compress::ZOPFLI_MAX_INPUT`] uncompressed) are built in
//! memory and gzipped the way every other smidge archive is ([`super::compress::gzip`]:
//! our own DEFLATE, or Zopfli), so a packed 100-byte program is as small as a built-in one.
//! Larger ones go through gzip level 9 on every CPU (zlib-rs, chunked like pigz: see
//! `ParallelGzip`) or zstd.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use oci_spec::image::MediaType;
use sha2::{Digest as _, Sha256};

use super::compress::{self, ZOPFLI_MAX_INPUT};
use super::docker::{manifest_json, CONFIG_NAME, LAYER_NAME, MANIFEST_JSON, MEMBER_MODE};
use super::fs::{parent_dir, Target};
use super::oci::{FILE_MODE, OCI_LAYOUT};
use super::tar::{UstarHeader, BLOCK_SIZE};
use crate::image::index::{index_json, ManifestRef, Names};
use crate::image::manifest::{descriptor, manifest_json as oci_manifest_json};
use crate::image::{Digest, Reference};
use smidge_elf::Platform;

/// The compression of a streamed archive.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum StreamCompression {
    None,
    /// gzip: small archives as small as smidge makes them, large ones level 9 on every CPU.
    #[default]
    Gzip,
    /// zstd (level [`ZSTD_LEVEL`]). `docker load` of Docker 20.10 cannot read a
    /// zstd-compressed archive; OCI layouts with `+zstd` layers are read by skopeo and
    /// podman.
    Zstd,
}

/// zstd level. Measured on Debian's 1.98 MB busybox: level 9 gives 1,015,208 bytes in
/// 0.03 s against gzip -9's 1,023,177 in 0.08 s (zlib-rs); higher levels are several times
/// slower and need more memory (level 12 peaked at 53 MB on a 50 MB input).
pub const ZSTD_LEVEL: i32 = 9;

/// gzip level for large inputs.
pub const GZIP_LEVEL: u32 = 9;

/// The read buffer: the only per-file memory.
const BUF: usize = 256 << 10;

/// What an entry of the layer is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EntryKind {
    Dir,
    /// A regular file: `len` bytes, read from `source` when the layer is written, with
    /// its first `head.len()` bytes replaced by `head` (how `--strip` rewrites the ELF
    /// header without copying the file).
    File {
        source: PathBuf,
        len: u64,
        head: Vec<u8>,
    },
    Symlink(String),
    /// A hard link to an earlier entry, by its path in the layer.
    HardLink(String),
}

/// One entry of the layer tar.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LayerEntry {
    /// Path in the image without the leading `/`, e.g. `bin/sh`; no trailing `/`.
    pub path: String,
    pub kind: EntryKind,
    /// Permission bits (including setuid, setgid and sticky).
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    pub mtime: u64,
}

/// Why a streamed archive could not be written.
#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    #[error("cannot read `{}`", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("`{}` changed size while it was packed ({expected} bytes expected); try again", path.display())]
    Changed { path: PathBuf, expected: u64 },
    #[error("cannot write `{}`", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("`{}` exists and is not an empty directory; refusing to replace it", .0.display())]
    TargetNotEmpty(PathBuf),
    #[error("tar entry `{path}`: {why}")]
    Entry { path: String, why: &'static str },
    #[error("cannot build an OCI document: {0}")]
    Spec(String),
}

/// Told how far the work has come (bytes of file data read), for a progress bar.
pub trait Progress {
    fn advance(&self, _bytes: u64) {}
}

/// No progress reporting.
pub struct NoProgress;
impl Progress for NoProgress {}

/// What goes into the archive besides the layer: the config is built once the layer's
/// diff_id is known.
pub struct ImageParts<'a> {
    pub platform: Platform,
    pub tag: &'a Reference,
    pub entries: &'a [LayerEntry],
    /// The configuration JSON for a given diff_id.
    pub config: &'a dyn Fn(&Digest) -> Vec<u8>,
}

/// Where a streamed archive goes.
pub enum Sink<'a> {
    Stdout,
    File(&'a Path),
}

// ------------------------------------------------------------------ layer tar

/// `value` in octal, bare digits then NULs; 0 leaves the field empty (as the V7 members
/// of [`super::tar`] do).
fn octal(field: &mut [u8], value: u64) -> bool {
    if value == 0 {
        return true;
    }
    octal_digits(field, value)
}

/// `value` in octal, bare digits then NULs, `0` included: ustar readers (GNU tar, the
/// `tar` crate) want a number in every numeric field of a ustar header.
fn octal_digits(field: &mut [u8], value: u64) -> bool {
    let digits = format!("{value:o}");
    if digits.len() >= field.len() {
        return false;
    }
    field[..digits.len()].copy_from_slice(digits.as_bytes());
    true
}

fn checksum(h: &mut UstarHeader) {
    let block = h.to_block();
    let sum: u32 = block
        .iter()
        .enumerate()
        .map(|(i, &b)| {
            if (148..156).contains(&i) {
                u32::from(b' ')
            } else {
                u32::from(b)
            }
        })
        .sum();
    let digits = format!("{sum:o}");
    h.chksum = [0; 8];
    h.chksum[..digits.len()].copy_from_slice(digits.as_bytes());
}

/// Splits `path` into ustar `prefix` and `name`, if it fits.
fn split_path(path: &str) -> Option<(&str, &str)> {
    if path.len() <= 100 {
        return Some(("", path));
    }
    let b = path.as_bytes();
    // The last '/' that leaves a prefix of at most 155 bytes and a name of at most 100.
    (0..b.len())
        .rev()
        .filter(|&i| b[i] == b'/')
        .find(|&i| i <= 155 && b.len() - i - 1 <= 100 && b.len() - i - 1 > 0)
        .map(|i| (&path[..i], &path[i + 1..]))
}

/// A PAX extended header record: `"<len> key=value\n"`, where len counts itself.
fn pax_record(key: &str, value: &str) -> Vec<u8> {
    let rest = key.len() + value.len() + 3; // ' ', '=', '\n'
    let mut len = rest + 1;
    while len.to_string().len() + rest > len {
        len += 1;
    }
    format!("{len} {key}={value}\n").into_bytes()
}

/// The header blocks (PAX header and data, if needed, then the ustar header) of `e`.
fn header_blocks(e: &LayerEntry) -> Result<Vec<u8>, StreamError> {
    let bad = |why| StreamError::Entry {
        path: e.path.clone(),
        why,
    };
    let (typeflag, size, link, name) = match &e.kind {
        EntryKind::Dir => (b'5', 0, "", format!("{}/", e.path)),
        EntryKind::File { len, .. } => (b'0', *len, "", e.path.clone()),
        EntryKind::Symlink(t) => (b'2', 0, t.as_str(), e.path.clone()),
        EntryKind::HardLink(t) => (b'1', 0, t.as_str(), e.path.clone()),
    };
    let mut out = Vec::new();
    let mut pax = Vec::new();
    let split = split_path(&name);
    if split.is_none() {
        pax.extend(pax_record("path", &name));
    }
    if link.len() > 100 {
        pax.extend(pax_record("linkpath", link));
    }
    if !pax.is_empty() {
        let mut h = UstarHeader::empty();
        let pname = b"PaxHeader";
        h.name[..pname.len()].copy_from_slice(pname);
        octal_digits(&mut h.mode, 0o644);
        octal_digits(&mut h.uid, 0);
        octal_digits(&mut h.gid, 0);
        octal_digits(&mut h.mtime, 0);
        if !octal_digits(&mut h.size, pax.len() as u64) {
            return Err(bad("PAX header too large"));
        }
        h.typeflag = b'x';
        h.magic = *b"ustar\0";
        h.version = *b"00";
        checksum(&mut h);
        out.extend_from_slice(&h.to_block());
        let pad = (BLOCK_SIZE - pax.len() % BLOCK_SIZE) % BLOCK_SIZE;
        out.extend_from_slice(&pax);
        out.resize(out.len() + pad, 0);
    }
    let mut h = UstarHeader::empty();
    let (prefix, short) = split.unwrap_or(("", ""));
    let short = if split.is_none() {
        // Readers that ignore PAX see a truncated name; PAX readers use `path`.
        &name[..name.floor_char_boundary_compat(100)]
    } else {
        short
    };
    h.name[..short.len()].copy_from_slice(short.as_bytes());
    h.prefix[..prefix.len()].copy_from_slice(prefix.as_bytes());
    let link_short = &link[..link.floor_char_boundary_compat(100)];
    h.linkname[..link_short.len()].copy_from_slice(link_short.as_bytes());
    // Directories and files always get a mode (0 would be unreadable to a non-root user).
    if !octal_digits(&mut h.mode, u64::from(e.mode & 0o7777)) {
        return Err(bad("mode does not fit"));
    }
    if !octal_digits(&mut h.uid, e.uid) || !octal_digits(&mut h.gid, e.gid) {
        return Err(bad("uid or gid does not fit a ustar field"));
    }
    if !octal_digits(&mut h.size, size) {
        return Err(bad(
            "file is larger than the 8 GiB a ustar size field holds",
        ));
    }
    if !octal_digits(&mut h.mtime, e.mtime) {
        return Err(bad("mtime does not fit"));
    }
    h.typeflag = typeflag;
    h.magic = *b"ustar\0";
    h.version = *b"00";
    checksum(&mut h);
    out.extend_from_slice(&h.to_block());
    Ok(out)
}

trait FloorCharBoundary {
    fn floor_char_boundary_compat(&self, i: usize) -> usize;
}
impl FloorCharBoundary for str {
    fn floor_char_boundary_compat(&self, i: usize) -> usize {
        if i >= self.len() {
            return self.len();
        }
        (0..=i)
            .rev()
            .find(|&j| self.is_char_boundary(j))
            .unwrap_or(0)
    }
}

fn padding(len: u64) -> usize {
    ((BLOCK_SIZE as u64 - len % BLOCK_SIZE as u64) % BLOCK_SIZE as u64) as usize
}

/// The exact size of the layer tar of `entries`, without reading any file.
pub fn layer_size(entries: &[LayerEntry]) -> Result<u64, StreamError> {
    let mut total = 0u64;
    for e in entries {
        total += header_blocks(e)?.len() as u64;
        if let EntryKind::File { len, .. } = e.kind {
            total += len + padding(len) as u64;
        }
    }
    Ok(total)
}

/// The bytes of file data in `entries` (what a progress bar counts).
pub fn data_size(entries: &[LayerEntry]) -> u64 {
    entries
        .iter()
        .map(|e| match e.kind {
            EntryKind::File { len, .. } => len,
            _ => 0,
        })
        .sum()
}

/// Writes the layer tar of `entries` to `w`, reading each file as it goes.
pub fn write_layer(
    entries: &[LayerEntry],
    w: &mut dyn Write,
    progress: &dyn Progress,
) -> Result<(), StreamError> {
    let werr = archive_write_error;
    let mut buf = vec![0u8; BUF];
    for e in entries {
        w.write_all(&header_blocks(e)?).map_err(werr)?;
        let EntryKind::File { source, len, head } = &e.kind else {
            continue;
        };
        let rerr = |err| StreamError::Read {
            path: source.clone(),
            source: err,
        };
        let changed = || StreamError::Changed {
            path: source.clone(),
            expected: *len,
        };
        let mut f = File::open(source).map_err(rerr)?;
        let mut left = *len;
        let mut skip = head.len() as u64;
        if skip > 0 {
            w.write_all(head).map_err(werr)?;
            left -= skip;
        }
        while left > 0 || skip > 0 {
            let want = if skip > 0 {
                skip.min(BUF as u64) as usize
            } else {
                left.min(BUF as u64) as usize
            };
            let n = match f.read(&mut buf[..want]) {
                Ok(0) => return Err(changed()),
                Ok(n) => n,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                Err(err) => return Err(rerr(err)),
            };
            if skip > 0 {
                skip -= n as u64;
                progress.advance(n as u64);
                continue;
            }
            w.write_all(&buf[..n]).map_err(werr)?;
            left -= n as u64;
            progress.advance(n as u64);
        }
        // The file must end where the plan said it does (a stripped file stops earlier
        // by design, so only unstripped files are checked for growth).
        if head.is_empty() {
            match f.read(&mut buf[..1]) {
                Ok(0) => {}
                Ok(_) => return Err(changed()),
                Err(err) => return Err(rerr(err)),
            }
        }
        w.write_all(&[0u8; BLOCK_SIZE][..padding(*len)])
            .map_err(werr)?;
    }
    Ok(())
}

// ------------------------------------------------------------------ writers

/// Counts and hashes what passes through.
struct Hashing<W> {
    inner: W,
    hash: Sha256,
    count: u64,
}

impl<W: Write> Hashing<W> {
    fn new(inner: W) -> Self {
        Hashing {
            inner,
            hash: Sha256::new(),
            count: 0,
        }
    }
    fn finish(self) -> (W, Digest, u64) {
        let bytes: [u8; 32] = self.hash.finalize().into();
        (self.inner, digest_from(bytes), self.count)
    }
}

fn digest_from(bytes: [u8; 32]) -> Digest {
    Digest::parse(&format!("sha256:{}", hex::encode(bytes))).expect("64 hex digits")
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hash.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Input bytes per independently compressed gzip chunk.
pub const GZIP_CHUNK: usize = 1 << 20;

/// gzip on every CPU, the way pigz does it: the input is cut into [`GZIP_CHUNK`]-byte
/// chunks, each compressed on its own thread into raw DEFLATE ending in a sync flush (an
/// empty stored block, so the chunks concatenate into one stream), written in order; an
/// empty final block and the CRC-32 and length close the member. The chunk size is fixed,
/// so the output is the same on any number of CPUs. A chunk starts without the 32 KiB
/// window of the previous one, which costs a few hundred bytes per MiB at most. Memory:
/// at most `2 × CPUs` chunks in flight, each about 2 MiB.
struct ParallelGzip<W: Write> {
    inner: W,
    buf: Vec<u8>,
    crc: flate2::Crc,
    in_flight: std::collections::VecDeque<std::thread::JoinHandle<io::Result<Vec<u8>>>>,
    max_in_flight: usize,
}

impl<W: Write> ParallelGzip<W> {
    fn new(mut inner: W) -> io::Result<Self> {
        // ID1 ID2 CM=8 FLG=0 MTIME=0 XFL=2 (max compression) OS=3 (Unix).
        inner.write_all(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 2, 3])?;
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        Ok(ParallelGzip {
            inner,
            buf: Vec::with_capacity(GZIP_CHUNK),
            crc: flate2::Crc::new(),
            in_flight: Default::default(),
            max_in_flight: 2 * cpus.min(8),
        })
    }

    fn deflate_chunk(chunk: &[u8]) -> io::Result<Vec<u8>> {
        let mut c = flate2::Compress::new(flate2::Compression::new(GZIP_LEVEL), false);
        let mut out = Vec::with_capacity(chunk.len() + chunk.len() / 64 + 1024);
        let mut input = chunk;
        loop {
            if out.capacity() - out.len() < 1024 {
                out.reserve(out.capacity() / 2 + 1024);
            }
            let before = c.total_in();
            c.compress_vec(input, &mut out, flate2::FlushCompress::Sync)
                .map_err(io::Error::other)?;
            input = &input[(c.total_in() - before) as usize..];
            // The flush is complete when output space is left over.
            if input.is_empty() && out.len() < out.capacity() {
                return Ok(out);
            }
        }
    }

    fn wait_oldest(&mut self) -> io::Result<()> {
        if let Some(h) = self.in_flight.pop_front() {
            let out = h
                .join()
                .map_err(|_| io::Error::other("a compression thread panicked"))??;
            self.inner.write_all(&out)?;
        }
        Ok(())
    }

    fn send(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = std::mem::replace(&mut self.buf, Vec::with_capacity(GZIP_CHUNK));
        self.crc.update(&chunk);
        while self.in_flight.len() >= self.max_in_flight {
            self.wait_oldest()?;
        }
        self.in_flight
            .push_back(std::thread::spawn(move || Self::deflate_chunk(&chunk)));
        Ok(())
    }

    fn finish(mut self) -> io::Result<W> {
        self.send()?;
        while !self.in_flight.is_empty() {
            self.wait_oldest()?;
        }
        // An empty final block with fixed codes: BFINAL=1, BTYPE=01, end-of-block.
        self.inner.write_all(&[0x03, 0x00])?;
        self.inner.write_all(&self.crc.sum().to_le_bytes())?;
        self.inner.write_all(&self.crc.amount().to_le_bytes())?;
        Ok(self.inner)
    }
}

impl<W: Write> Write for ParallelGzip<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let n = data.len().min(GZIP_CHUNK - self.buf.len());
        self.buf.extend_from_slice(&data[..n]);
        if self.buf.len() == GZIP_CHUNK {
            self.send()?;
        }
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A streaming compressor in front of `W`.
enum Compressor<W: Write> {
    Plain(W),
    Gzip(ParallelGzip<W>),
    Zstd(zstd::Encoder<'static, W>),
}

impl<W: Write> Compressor<W> {
    fn new(inner: W, c: StreamCompression) -> io::Result<Self> {
        Ok(match c {
            StreamCompression::None => Compressor::Plain(inner),
            StreamCompression::Gzip => Compressor::Gzip(ParallelGzip::new(inner)?),
            StreamCompression::Zstd => {
                let mut z = zstd::Encoder::new(inner, ZSTD_LEVEL)?;
                z.include_checksum(true)?;
                Compressor::Zstd(z)
            }
        })
    }
    fn finish(self) -> io::Result<W> {
        match self {
            Compressor::Plain(w) => Ok(w),
            Compressor::Gzip(g) => g.finish(),
            Compressor::Zstd(z) => z.finish(),
        }
    }
}

impl<W: Write> Write for Compressor<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Compressor::Plain(w) => w.write(buf),
            Compressor::Gzip(g) => g.write(buf),
            Compressor::Zstd(z) => z.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Compressor::Plain(w) => w.flush(),
            Compressor::Gzip(g) => g.flush(),
            Compressor::Zstd(z) => z.flush(),
        }
    }
}

/// The outer tar: members written one after the other, each header before its data.
fn member_header(name: &str, mode: u32, size: u64) -> [u8; BLOCK_SIZE] {
    let mut h = UstarHeader::empty();
    h.name[..name.len()].copy_from_slice(name.as_bytes());
    octal(&mut h.mode, u64::from(mode));
    if !octal(&mut h.size, size) {
        h.size[0] = b'0';
    }
    checksum(&mut h);
    h.to_block()
}

fn member(w: &mut dyn Write, name: &str, mode: u32, data: &[u8]) -> io::Result<()> {
    w.write_all(&member_header(name, mode, data.len() as u64))?;
    w.write_all(data)?;
    w.write_all(&[0u8; BLOCK_SIZE][..padding(data.len() as u64)])
}

/// Writes the layer as a member `name` of the outer tar, returning its diff_id.
fn layer_member(
    w: &mut dyn Write,
    name: &str,
    mode: u32,
    size: u64,
    entries: &[LayerEntry],
    progress: &dyn Progress,
) -> Result<Digest, StreamError> {
    let werr = archive_write_error;
    w.write_all(&member_header(name, mode, size))
        .map_err(werr)?;
    let mut h = Hashing::new(&mut *w);
    write_layer(entries, &mut h, progress)?;
    let (w, diff_id, n) = h.finish();
    debug_assert_eq!(n, size);
    w.write_all(&[0u8; BLOCK_SIZE][..padding(size)])
        .map_err(werr)?;
    Ok(diff_id)
}

/// The uncompressed docker archive: `manifest.json`, `l` (the layer, hashed as it goes),
/// `c` (the config naming that hash).
fn docker_tar(
    parts: &ImageParts<'_>,
    w: &mut dyn Write,
    progress: &dyn Progress,
) -> Result<(), StreamError> {
    let werr = archive_write_error;
    let size = layer_size(parts.entries)?;
    member(
        w,
        MANIFEST_JSON,
        MEMBER_MODE,
        &manifest_json(&parts.tag.repo_tag()),
    )
    .map_err(werr)?;
    let diff_id = layer_member(w, LAYER_NAME, MEMBER_MODE, size, parts.entries, progress)?;
    member(w, CONFIG_NAME, MEMBER_MODE, &(parts.config)(&diff_id)).map_err(werr)?;
    Ok(())
}

/// A write error inside the archive stream (the sink names the file, not this).
fn archive_write_error(source: io::Error) -> StreamError {
    StreamError::Write {
        path: PathBuf::from("<archive>"),
        source,
    }
}

fn blob_path(d: &Digest) -> String {
    format!("blobs/sha256/{}", d.hex())
}

/// The manifest and index of a one-image layout.
fn oci_documents(
    parts: &ImageParts<'_>,
    config: &[u8],
    layer_media: MediaType,
    layer_digest: &Digest,
    layer_size: u64,
) -> Result<(Vec<u8>, Digest, Vec<u8>), StreamError> {
    let spec = |e: crate::image::ImageError| StreamError::Spec(e.to_string());
    let config_desc =
        descriptor(MediaType::ImageConfig, &Digest::of(config), config.len()).map_err(spec)?;
    let layer_desc = descriptor(layer_media, layer_digest, layer_size as usize).map_err(spec)?;
    let manifest = oci_manifest_json(config_desc, vec![layer_desc]).map_err(spec)?;
    let digest = Digest::of(&manifest);
    let repo_tag = parts.tag.repo_tag();
    let index = index_json(
        &ManifestRef {
            digest: &digest,
            size: manifest.len(),
            platform: parts.platform,
        },
        Names {
            tag: parts.tag.tag_or_latest(),
            repo_tag: &repo_tag,
        },
    );
    Ok((manifest, digest, index))
}

/// The uncompressed OCI layout tar. The layer blob is stored uncompressed (the outer
/// stream carries the compression, as in [`super::oci_archive`]). Its member name is its
/// digest, and a tar header precedes its data, so the layer is hashed in a first pass:
/// the only archive that reads its input twice (the second pass checks the hash again).
fn oci_tar(
    parts: &ImageParts<'_>,
    w: &mut dyn Write,
    progress: &dyn Progress,
) -> Result<(), StreamError> {
    let werr = archive_write_error;
    let size = layer_size(parts.entries)?;
    let mut hasher = Hashing::new(io::sink());
    write_layer(parts.entries, &mut hasher, &NoProgress)?;
    let (_, diff_id, _) = hasher.finish();
    let config = (parts.config)(&diff_id);
    let (manifest, manifest_digest, index) =
        oci_documents(parts, &config, MediaType::ImageLayer, &diff_id, size)?;
    member(w, "oci-layout", FILE_MODE, OCI_LAYOUT).map_err(werr)?;
    member(w, "index.json", FILE_MODE, &index).map_err(werr)?;
    member(w, &blob_path(&manifest_digest), FILE_MODE, &manifest).map_err(werr)?;
    member(w, &blob_path(&Digest::of(&config)), FILE_MODE, &config).map_err(werr)?;
    let again = layer_member(
        w,
        &blob_path(&diff_id),
        FILE_MODE,
        size,
        parts.entries,
        progress,
    )?;
    if again != diff_id {
        return Err(StreamError::Changed {
            path: PathBuf::from("the input"),
            expected: size,
        });
    }
    Ok(())
}

/// Which archive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArchiveKind {
    Docker,
    Oci,
}

/// Writes the docker archive or OCI layout tar of `parts`, compressed, to `sink`. Small
/// archives are built in memory and compressed by [`compress::gzip`]; large ones stream.
pub fn write_archive(
    parts: &ImageParts<'_>,
    kind: ArchiveKind,
    compression: StreamCompression,
    sink: Sink<'_>,
    progress: &dyn Progress,
) -> Result<(), StreamError> {
    let body = |w: &mut dyn Write| match kind {
        ArchiveKind::Docker => docker_tar(parts, w, progress),
        ArchiveKind::Oci => oci_tar(parts, w, progress),
    };
    let small = layer_size(parts.entries)? + 16 * BLOCK_SIZE as u64 <= ZOPFLI_MAX_INPUT as u64;
    if small && compression == StreamCompression::Gzip {
        let mut plain = Vec::new();
        body(&mut plain)?;
        let gz = compress::gzip(&plain);
        return to_sink(sink, FILE_MODE, |w| {
            w.write_all(&gz).map_err(|source| StreamError::Write {
                path: PathBuf::from("<archive>"),
                source,
            })
        });
    }
    to_sink(sink, FILE_MODE, |w| {
        let werr = |source| StreamError::Write {
            path: PathBuf::from("<archive>"),
            source,
        };
        let mut c =
            Compressor::new(io::BufWriter::with_capacity(BUF, w), compression).map_err(werr)?;
        body(&mut c)?;
        c.finish().and_then(|mut b| b.flush()).map_err(werr)
    })
}

/// Runs `write` against stdout, or against a temporary file next to `path` that is
/// fsync'd, given `mode` and renamed over `path` only when everything succeeded.
fn to_sink(
    sink: Sink<'_>,
    mode: u32,
    write: impl FnOnce(&mut dyn Write) -> Result<(), StreamError>,
) -> Result<(), StreamError> {
    match sink {
        Sink::Stdout => {
            let out = io::stdout();
            let mut lock = out.lock();
            write(&mut lock)?;
            lock.flush().map_err(|source| StreamError::Write {
                path: PathBuf::from("<stdout>"),
                source,
            })
        }
        Sink::File(path) => {
            let werr = |source| StreamError::Write {
                path: path.to_path_buf(),
                source,
            };
            let path = match Target::of(path) {
                Target::InPlace => {
                    let mut f = fs::OpenOptions::new()
                        .write(true)
                        .open(path)
                        .map_err(werr)?;
                    write(&mut f)?;
                    return f.flush().map_err(werr);
                }
                Target::Replace(p) => p,
            };
            let path = path.as_path();
            let mut tmp = tempfile::Builder::new()
                .prefix(".smidge-")
                .tempfile_in(parent_dir(path))
                .map_err(werr)?;
            write(tmp.as_file_mut()).map_err(|e| match e {
                StreamError::Write { source, .. } => werr(source),
                other => other,
            })?;
            tmp.as_file()
                .set_permissions(fs::Permissions::from_mode(mode))
                .and_then(|()| tmp.as_file().sync_all())
                .map_err(werr)?;
            tmp.persist(path).map(|_| ()).map_err(|e| werr(e.error))
        }
    }
}

/// Writes the OCI layout directory `dir` (which must not exist or be empty), the layer
/// blob compressed as asked, built in a temporary sibling directory and renamed.
pub fn write_oci_dir(
    parts: &ImageParts<'_>,
    compression: StreamCompression,
    dir: &Path,
    progress: &dyn Progress,
) -> Result<(), StreamError> {
    let werr = |source| StreamError::Write {
        path: dir.to_path_buf(),
        source,
    };
    match fs::read_dir(dir) {
        Ok(mut it) => {
            if it.next().is_some() {
                return Err(StreamError::TargetNotEmpty(dir.to_path_buf()));
            }
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) if e.kind() == io::ErrorKind::NotADirectory => {
            return Err(StreamError::TargetNotEmpty(dir.to_path_buf()));
        }
        Err(e) => return Err(werr(e)),
    }
    let tmp = tempfile::Builder::new()
        .prefix(".smidge-oci-")
        .tempdir_in(parent_dir(dir))
        .map_err(werr)?;
    let blobs = tmp.path().join("blobs/sha256");
    fs::create_dir_all(&blobs).map_err(werr)?;
    let put = |name: &str, data: &[u8]| -> Result<(), StreamError> {
        let p = tmp.path().join(name);
        fs::write(&p, data)
            .and_then(|()| fs::set_permissions(&p, fs::Permissions::from_mode(FILE_MODE)))
            .map_err(werr)
    };
    // The layer blob, compressed, hashed before and after compression in one pass.
    let media = match compression {
        StreamCompression::None => MediaType::ImageLayer,
        StreamCompression::Gzip => MediaType::ImageLayerGzip,
        StreamCompression::Zstd => MediaType::ImageLayerZstd,
    };
    let layer_tmp = blobs.join(".layer");
    let file = File::create(&layer_tmp).map_err(werr)?;
    let small = layer_size(parts.entries)? <= ZOPFLI_MAX_INPUT as u64;
    let (diff_id, blob_digest, blob_size) = if small && compression == StreamCompression::Gzip {
        let mut plain = Hashing::new(Vec::new());
        write_layer(parts.entries, &mut plain, progress)?;
        let (plain, diff_id, _) = plain.finish();
        let gz = compress::gzip(&plain);
        let mut f = file;
        f.write_all(&gz).map_err(werr)?;
        (diff_id, Digest::of(&gz), gz.len() as u64)
    } else {
        let outer = Hashing::new(io::BufWriter::with_capacity(BUF, file));
        let mut c = Compressor::new(outer, compression).map_err(werr)?;
        let mut inner = Hashing::new(&mut c);
        write_layer(parts.entries, &mut inner, progress)?;
        let (_, diff_id, _) = inner.finish();
        let (outer, blob_digest, blob_size) = c.finish().map_err(werr)?.finish();
        outer.into_inner().map_err(|e| werr(e.into_error()))?;
        (diff_id, blob_digest, blob_size)
    };
    fs::set_permissions(&layer_tmp, fs::Permissions::from_mode(FILE_MODE)).map_err(werr)?;
    fs::rename(&layer_tmp, tmp.path().join(blob_path(&blob_digest))).map_err(werr)?;
    let config = (parts.config)(&diff_id);
    let (manifest, manifest_digest, index) =
        oci_documents(parts, &config, media, &blob_digest, blob_size)?;
    put("oci-layout", OCI_LAYOUT)?;
    put("index.json", &index)?;
    put(&blob_path(&manifest_digest), &manifest)?;
    put(&blob_path(&Digest::of(&config)), &config)?;
    fs::set_permissions(tmp.path(), fs::Permissions::from_mode(0o755)).map_err(werr)?;
    let tmp_path = tmp.keep();
    fs::rename(&tmp_path, dir).map_err(|e| {
        let _ = fs::remove_dir_all(&tmp_path);
        werr(e)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(dir: &Path) -> Vec<LayerEntry> {
        let f = dir.join("f");
        fs::write(&f, b"hello").unwrap();
        let long = "d/".repeat(70) + "file";
        vec![
            LayerEntry {
                path: "bin".into(),
                kind: EntryKind::Dir,
                mode: 0o755,
                uid: 0,
                gid: 0,
                mtime: 0,
            },
            LayerEntry {
                path: "bin/f".into(),
                kind: EntryKind::File {
                    source: f.clone(),
                    len: 5,
                    head: vec![],
                },
                mode: 0o755,
                uid: 0,
                gid: 0,
                mtime: 7,
            },
            LayerEntry {
                path: "bin/g".into(),
                kind: EntryKind::HardLink("bin/f".into()),
                mode: 0o755,
                uid: 0,
                gid: 0,
                mtime: 7,
            },
            LayerEntry {
                path: "bin/s".into(),
                kind: EntryKind::Symlink("f".into()),
                mode: 0o777,
                uid: 1,
                gid: 2,
                mtime: 0,
            },
            LayerEntry {
                path: long,
                kind: EntryKind::File {
                    source: f,
                    len: 5,
                    head: b"J".to_vec(),
                },
                mode: 0o644,
                uid: 0,
                gid: 0,
                mtime: 0,
            },
        ]
    }

    #[test]
    fn layer_reads_back_with_a_real_tar_reader() {
        let dir = tempfile::tempdir().unwrap();
        let es = entries(dir.path());
        let mut out = Vec::new();
        write_layer(&es, &mut out, &NoProgress).unwrap();
        assert_eq!(out.len() as u64, layer_size(&es).unwrap());
        let mut seen = vec![];
        for e in ::tar::Archive::new(&out[..]).entries().unwrap() {
            let mut e = e.unwrap();
            let mut data = String::new();
            e.read_to_string(&mut data).unwrap();
            let h = e.header();
            seen.push((
                e.path().unwrap().display().to_string(),
                h.entry_type().as_byte(),
                h.mode().unwrap(),
                h.uid().unwrap(),
                e.link_name().unwrap().map(|p| p.display().to_string()),
                data,
            ));
        }
        let long = "d/".repeat(70) + "file";
        assert_eq!(
            seen,
            vec![
                ("bin/".into(), b'5', 0o755, 0, None, String::new()),
                ("bin/f".into(), b'0', 0o755, 0, None, "hello".into()),
                (
                    "bin/g".into(),
                    b'1',
                    0o755,
                    0,
                    Some("bin/f".into()),
                    "".into()
                ),
                ("bin/s".into(), b'2', 0o777, 1, Some("f".into()), "".into()),
                (long, b'0', 0o644, 0, None, "Jello".into()),
            ]
        );
    }

    #[test]
    fn pax_record_length_counts_itself() {
        let r = pax_record("path", "abc");
        assert_eq!(r, b"12 path=abc\n");
        let v = "x".repeat(90);
        let r = pax_record("path", &v);
        let text = String::from_utf8(r.clone()).unwrap();
        let (len, _) = text.split_once(' ').unwrap();
        assert_eq!(len.parse::<usize>().unwrap(), r.len());
    }

    #[test]
    fn parallel_gzip_is_one_gzip_stream() {
        let mut data = Vec::new();
        for i in 0..(3 * GZIP_CHUNK + 12345) {
            data.push(((i * 7) % 251) as u8 ^ (i / 1000) as u8);
        }
        let mut gz = ParallelGzip::new(Vec::new()).unwrap();
        for part in data.chunks(70_000) {
            gz.write_all(part).unwrap();
        }
        let out = gz.finish().unwrap();
        assert!(out.len() < data.len() / 4);
        let mut back = Vec::new();
        flate2::read::GzDecoder::new(&out[..])
            .read_to_end(&mut back)
            .unwrap();
        assert_eq!(back, data);
        let mut gz = ParallelGzip::new(Vec::new()).unwrap();
        gz.write_all(&data).unwrap();
        assert_eq!(
            gz.finish().unwrap(),
            out,
            "the same bytes however it is written"
        );
    }

    #[test]
    fn changed_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let mut es = entries(dir.path());
        es.truncate(2);
        if let EntryKind::File { len, .. } = &mut es[1].kind {
            *len = 9;
        }
        assert!(matches!(
            write_layer(&es, &mut Vec::new(), &NoProgress),
            Err(StreamError::Changed { .. })
        ));
    }
}
