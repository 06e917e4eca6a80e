//! The one [`Compression`]: what an archive's outer stream or a layer blob is compressed
//! with, and the one streaming writer ([`Compressor`]) that compresses every byte smidge
//! writes, so the same input gives the same bytes whatever path it takes (`--push`, an
//! archive pushed later, an OCI layout pushed later: issue #10's "one digest").
//!
//! gzip, deterministic (fixed header: MTIME 0, no FNAME, XFL 2, OS 3 "Unix"), chosen by
//! the size of the whole input, which the writer learns by buffering up to 1 MiB:
//! - up to [`SMALL_INPUT`] (64 KiB: every archive of a built-in program): our own DEFLATE
//!   encoder ([`smidge_deflate`]), within 0-5 bytes of Zopfli at 100 iterations and about
//!   100 times faster (~1 ms for a 3.5 KiB archive);
//! - up to [`ZOPFLI_MAX_INPUT`] (1 MiB): Zopfli, 15 iterations;
//! - above: level 9 on every CPU, cut into [`GZIP_CHUNK`]s like pigz ([`ParallelGzip`]);
//!   the chunking is fixed, so the bytes do not depend on the number of CPUs.
//!
//! zstd: level [`ZSTD_LEVEL`] with a content checksum.

use std::io::{self, Read, Write};
use std::num::NonZeroU64;
use std::path::Path;

/// Inputs up to this size (64 KiB) go to [`smidge_deflate`].
pub const SMALL_INPUT: usize = 64 << 10;

/// Inputs larger than this (1 MiB) are not given to Zopfli. Measured (release build):
/// Zopfli with 15 iterations takes 2 s for 1 MiB of an ELF binary and grows a little
/// faster than linearly.
pub const ZOPFLI_MAX_INPUT: usize = 1 << 20;

/// Zopfli iterations between 64 KiB and 1 MiB (Zopfli's default).
pub const ZOPFLI_ITERATIONS: u64 = 15;

/// gzip level for inputs above [`ZOPFLI_MAX_INPUT`].
pub const GZIP_LEVEL: u32 = 9;

/// Input bytes per independently compressed gzip chunk above [`ZOPFLI_MAX_INPUT`].
pub const GZIP_CHUNK: usize = 1 << 20;

/// zstd level. Measured on Debian's 1.98 MB busybox: level 9 gives 1,015,208 bytes in
/// 0.03 s against gzip -9's 1,023,177 in 0.08 s (zlib-rs); higher levels are several times
/// slower and need more memory (level 12 peaked at 53 MB on a 50 MB input).
pub const ZSTD_LEVEL: i32 = 9;

/// The gzip header: ID1 ID2 CM=8 FLG=0 MTIME=0 XFL=2 ("slowest algorithm") OS=3 (Unix),
/// the one Zopfli and flate2 write.
const GZIP_HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 2, 3];

/// How a stream is compressed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Compression {
    /// Plain bytes.
    None,
    /// gzip (RFC 1952), as small as smidge makes it in reasonable time.
    #[default]
    Gzip,
    /// zstd. Docker 20.10's `docker load` cannot read a zstd-compressed archive.
    Zstd,
}

impl Compression {
    /// Every value, in `--help` order.
    pub const ALL: [Compression; 3] = [Compression::Gzip, Compression::Zstd, Compression::None];

    /// The name on the command line and in messages.
    pub fn name(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
        }
    }

    /// What the first bytes of a stream say it is (anything else is [`Compression::None`]).
    pub fn sniff(bytes: &[u8]) -> Compression {
        if bytes.starts_with(&[0x1f, 0x8b]) {
            Compression::Gzip
        } else if bytes.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Compression::Zstd
        } else {
            Compression::None
        }
    }

    /// What an output's file name says, the way `tar -a` reads it: `.tar` → none,
    /// `.tar.gz` / `.tgz` → gzip, `.tar.zst` / `.tar.zstd` → zstd; `None` for any other
    /// name (issue #16).
    pub fn from_file_name(path: &Path) -> Option<Compression> {
        let name = path.file_name()?.to_str()?.to_ascii_lowercase();
        if name.ends_with(".tar.gz") || name.ends_with(".tgz") {
            Some(Compression::Gzip)
        } else if name.ends_with(".tar.zst") || name.ends_with(".tar.zstd") {
            Some(Compression::Zstd)
        } else if name.ends_with(".tar") {
            Some(Compression::None)
        } else {
            None
        }
    }

    /// A writer that compresses into `inner`; [`Compressor::finish`] ends the stream.
    pub fn writer<W: Write>(self, inner: W) -> io::Result<Compressor<W>> {
        Ok(Compressor(match self {
            Compression::None => Inner::Plain(inner),
            Compression::Gzip => Inner::Gzip(Gzip::Buffering {
                inner,
                buf: Vec::new(),
            }),
            Compression::Zstd => {
                let mut z = zstd::Encoder::new(inner, ZSTD_LEVEL)?;
                z.include_checksum(true)?;
                Inner::Zstd(z)
            }
        }))
    }

    /// `data` compressed (the same bytes [`Compression::writer`] gives).
    pub fn compress(self, data: &[u8]) -> Vec<u8> {
        let mut w = self.writer(Vec::new()).expect("a Vec takes any write");
        w.write_all(data).expect("a Vec takes any write");
        w.finish().expect("a Vec takes any write")
    }

    /// A reader that decompresses `inner`.
    pub fn reader<'a, R: Read + 'a>(self, inner: R) -> io::Result<Box<dyn Read + 'a>> {
        Ok(match self {
            Compression::None => Box::new(inner),
            Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(inner)),
            Compression::Zstd => Box::new(zstd::Decoder::new(inner)?),
        })
    }
}

impl std::fmt::Display for Compression {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A streaming compressor in front of `W`, made by [`Compression::writer`]. Dropping it
/// without [`Compressor::finish`] leaves the stream unterminated.
pub struct Compressor<W: Write>(Inner<W>);

enum Inner<W: Write> {
    Plain(W),
    Gzip(Gzip<W>),
    Zstd(zstd::Encoder<'static, W>),
}

/// gzip: buffered while the input may still be small enough for our DEFLATE or Zopfli,
/// then level 9 on every CPU.
enum Gzip<W: Write> {
    Buffering {
        inner: W,
        buf: Vec<u8>,
    },
    Parallel(ParallelGzip<W>),
    /// Only while switching from one to the other.
    Switching,
}

impl<W: Write> Compressor<W> {
    /// Ends the stream (trailer, checksum) and returns the inner writer, unflushed.
    pub fn finish(self) -> io::Result<W> {
        match self.0 {
            Inner::Plain(w) => Ok(w),
            Inner::Zstd(z) => z.finish(),
            Inner::Gzip(Gzip::Buffering { mut inner, buf }) => {
                inner.write_all(&gzip_whole(&buf))?;
                Ok(inner)
            }
            Inner::Gzip(Gzip::Parallel(p)) => p.finish(),
            Inner::Gzip(Gzip::Switching) => unreachable!("never left switching"),
        }
    }
}

impl<W: Write> Write for Compressor<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        match &mut self.0 {
            Inner::Plain(w) => w.write(data),
            Inner::Zstd(z) => z.write(data),
            Inner::Gzip(g) => {
                if let Gzip::Buffering { buf, .. } = g {
                    if buf.len() + data.len() <= ZOPFLI_MAX_INPUT {
                        buf.extend_from_slice(data);
                        return Ok(data.len());
                    }
                    let Gzip::Buffering { inner, buf } = std::mem::replace(g, Gzip::Switching)
                    else {
                        unreachable!()
                    };
                    let mut p = ParallelGzip::new(inner)?;
                    p.write_all(&buf)?;
                    *g = Gzip::Parallel(p);
                }
                match g {
                    Gzip::Parallel(p) => p.write(data),
                    _ => unreachable!("switched above"),
                }
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match &mut self.0 {
            Inner::Plain(w) => w.flush(),
            Inner::Zstd(z) => z.flush(),
            // A flush would change the bytes; the stream is whole only after finish.
            Inner::Gzip(_) => Ok(()),
        }
    }
}

/// gzip of a whole input of at most [`ZOPFLI_MAX_INPUT`] bytes: our DEFLATE up to 64 KiB,
/// Zopfli above.
fn gzip_whole(data: &[u8]) -> Vec<u8> {
    if data.len() <= SMALL_INPUT {
        return gzip_small(data);
    }
    let options = zopfli::Options {
        iteration_count: NonZeroU64::new(ZOPFLI_ITERATIONS).expect("non-zero"),
        iterations_without_improvement: NonZeroU64::MAX,
        maximum_block_splits: 15,
    };
    let mut out = Vec::new();
    zopfli::compress(options, zopfli::Format::Gzip, data, &mut out)
        .expect("compressing into a Vec cannot fail");
    out
}

/// gzip (RFC 1952) around our own DEFLATE encoder ([`smidge_deflate`]).
pub fn gzip_small(data: &[u8]) -> Vec<u8> {
    let mut out = GZIP_HEADER.to_vec();
    out.extend(smidge_deflate::deflate(data));
    let mut crc = flate2::Crc::new();
    crc.update(data);
    out.extend(crc.sum().to_le_bytes());
    out.extend((data.len() as u32).to_le_bytes());
    out
}

/// gzip on every CPU, the way pigz does it: the input is cut into [`GZIP_CHUNK`]-byte
/// chunks, each compressed on its own thread into raw DEFLATE ending in a sync flush (an
/// empty stored block, so the chunks concatenate into one stream), written in order; an
/// empty final block and the CRC-32 and length close the member. A chunk starts without
/// the 32 KiB window of the previous one, which costs a few hundred bytes per MiB at most.
/// Memory: at most `2 × CPUs` (up to 16) chunks in flight, each about 2 MiB.
struct ParallelGzip<W: Write> {
    inner: W,
    buf: Vec<u8>,
    crc: flate2::Crc,
    in_flight: std::collections::VecDeque<std::thread::JoinHandle<io::Result<Vec<u8>>>>,
    max_in_flight: usize,
}

impl<W: Write> ParallelGzip<W> {
    fn new(mut inner: W) -> io::Result<Self> {
        inner.write_all(&GZIP_HEADER)?;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn back(c: Compression, b: &[u8]) -> Vec<u8> {
        let mut out = vec![];
        c.reader(b).unwrap().read_to_end(&mut out).unwrap();
        out
    }

    fn data(n: usize) -> Vec<u8> {
        (0..n)
            .map(|i| ((i * 7) % 251) as u8 ^ (i / 1000) as u8)
            .collect()
    }

    #[test]
    fn every_compression_round_trips_whatever_the_write_sizes() {
        for n in [0, 10, SMALL_INPUT + 1, 3 * GZIP_CHUNK + 12345] {
            let d = data(n);
            for c in Compression::ALL {
                let whole = c.compress(&d);
                assert_eq!(back(c, &whole), d, "{c} {n}");
                let mut w = c.writer(Vec::new()).unwrap();
                for part in d.chunks(70_000) {
                    w.write_all(part).unwrap();
                }
                assert_eq!(
                    w.finish().unwrap(),
                    whole,
                    "{c} {n}: same bytes however written"
                );
                assert_eq!(
                    Compression::sniff(&whole),
                    if n == 0 && c == Compression::None {
                        Compression::None
                    } else {
                        c
                    }
                );
            }
        }
    }

    #[test]
    fn gzip_header_is_fixed() {
        for n in [10, SMALL_INPUT + 1, ZOPFLI_MAX_INPUT + 1] {
            let a = Compression::Gzip.compress(&data(n));
            assert_eq!(&a[..10], &GZIP_HEADER, "{n}");
        }
        assert_eq!(Compression::Gzip.compress(b"abc"), gzip_small(b"abc"));
    }

    #[test]
    fn names_pick_the_compression() {
        let of = |s: &str| Compression::from_file_name(Path::new(s));
        assert_eq!(of("x.tar"), Some(Compression::None));
        assert_eq!(of("d/X.TAR.GZ"), Some(Compression::Gzip));
        assert_eq!(of("x.tgz"), Some(Compression::Gzip));
        assert_eq!(of("x.tar.zst"), Some(Compression::Zstd));
        assert_eq!(of("x.tar.zstd"), Some(Compression::Zstd));
        assert_eq!(of("x.oci"), None);
        assert_eq!(of("image"), None);
    }
}
