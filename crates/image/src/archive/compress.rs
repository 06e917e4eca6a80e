//! Compression of the outermost stream.
//!
//! gzip, three ways by input size, every one deterministic (fixed header: MTIME 0, no
//! FNAME, OS 3 "Unix"):
//! - up to [`SMALL_INPUT`] (64 KiB: every archive of a built-in program): our own DEFLATE
//!   encoder ([`smidge_deflate`]), within 0-5 bytes of Zopfli at 100 iterations and about
//!   100 times faster (~1 ms for a 3.5 KiB archive);
//! - up to [`ZOPFLI_MAX_INPUT`] (1 MiB): Zopfli, 15 iterations;
//! - above: flate2 level 9 (Zopfli would take seconds to minutes).

use std::io::Write;
use std::num::NonZeroU64;

/// Inputs up to this size (64 KiB) go to [`smidge_deflate`].
pub const SMALL_INPUT: usize = 64 << 10;

/// Inputs larger than this (1 MiB) are compressed with flate2 level 9 instead of Zopfli.
/// Measured (release build): Zopfli with 15 iterations takes 2 s for 1 MiB of an ELF
/// binary and grows a little faster than linearly, so a 10 MiB static binary would take
/// half a minute or more; flate2 does 1 MiB in milliseconds.
pub const ZOPFLI_MAX_INPUT: usize = 1 << 20;

/// Zopfli iterations between 64 KiB and 1 MiB (Zopfli's default).
pub const ZOPFLI_ITERATIONS: u64 = 15;

/// How to compress the outermost stream of an archive.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Compression {
    /// Plain bytes.
    None,
    /// gzip (RFC 1952), as small as we can make it in reasonable time.
    #[default]
    Gzip,
}

/// The gzip header flate2 writes for us: ID1 ID2 CM=8 FLG=0 MTIME=0 XFL=2 OS=3.
const GZIP_OS_UNIX: u8 = 3;

impl Compression {
    /// Compresses `data`.
    pub fn compress(self, data: &[u8]) -> Vec<u8> {
        match self {
            Compression::None => data.to_vec(),
            Compression::Gzip => gzip(data),
        }
    }

    /// Whether this is gzip.
    pub fn is_gzip(self) -> bool {
        self == Compression::Gzip
    }
}

/// gzip, by input size as the module docs say. Deterministic.
pub fn gzip(data: &[u8]) -> Vec<u8> {
    if data.len() <= SMALL_INPUT {
        return gzip_small(data);
    }
    if data.len() > ZOPFLI_MAX_INPUT {
        return gzip_flate2(data);
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

/// gzip (RFC 1952) around our own DEFLATE encoder ([`smidge_deflate`]), with the header
/// Zopfli and flate2 write: ID1 ID2 CM=8 FLG=0 MTIME=0 XFL=2 ("slowest algorithm") OS=3.
pub fn gzip_small(data: &[u8]) -> Vec<u8> {
    let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 2, GZIP_OS_UNIX];
    out.extend(smidge_deflate::deflate(data));
    let mut crc = flate2::Crc::new();
    crc.update(data);
    out.extend(crc.sum().to_le_bytes());
    out.extend((data.len() as u32).to_le_bytes());
    out
}

fn gzip_flate2(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::GzBuilder::new()
        .mtime(0)
        .operating_system(GZIP_OS_UNIX)
        .write(Vec::new(), flate2::Compression::best());
    enc.write_all(data)
        .and_then(|()| enc.finish())
        .expect("compressing into a Vec cannot fail")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn gunzip(b: &[u8]) -> Vec<u8> {
        let mut out = vec![];
        flate2::read::GzDecoder::new(b)
            .read_to_end(&mut out)
            .unwrap();
        out
    }

    #[test]
    fn gzip_round_trips_and_is_deterministic() {
        let data = b"hello hello hello hello".repeat(10);
        let a = gzip(&data);
        assert_eq!(a, gzip(&data));
        assert_eq!(gunzip(&a), data);
        // Fixed header: MTIME 0, no FNAME.
        assert_eq!(&a[..4], &[0x1f, 0x8b, 8, 0]);
        assert_eq!(&a[4..8], &[0, 0, 0, 0]);
    }

    #[test]
    fn large_inputs_use_flate2_and_round_trip() {
        let data: Vec<u8> = (0..ZOPFLI_MAX_INPUT + 10)
            .map(|i| (i % 251) as u8)
            .collect();
        let a = gzip(&data);
        assert_eq!(&a[..10], &[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 2, 3]);
        assert_eq!(gunzip(&a), data);
    }

    #[test]
    fn none_is_identity() {
        assert_eq!(Compression::None.compress(b"abc"), b"abc");
    }
}
