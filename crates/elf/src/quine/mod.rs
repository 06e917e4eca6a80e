//! `smidge quine`: a program whose output is the docker archive of the image that holds it
//! (issue #12).
//!
//! `docker load` checks every layer's diff_id, and the config holds the SHA-256 of the layer
//! that holds the program that prints the config, so the digest cannot be precomputed: the
//! program computes it at run time. Everything else in the output is fixed once the
//! program's length is known, so it is laid out here, in Rust, once ([`Output`]): the
//! program receives the output's non-zero bytes as a list of runs (the "template") and
//! the loader's zero-filled memory supplies the rest; this module computes the same output
//! from the same [`Output`] (generation 0), so the two agree by construction, and a test
//! proves it by running the program.
//!
//! The output (no end-of-archive blocks, as smidge's other archives):
//!
//! ```text
//!     0 manifest.json header   [{"Config":"c","RepoTags":["TAG"],"Layers":["l"]}]
//!   512 manifest.json
//!  1024 c header
//!  1536 c                      {"architecture":…,"rootfs":{…,"diff_ids":["sha256:HEX"]}}
//!  2048 l header
//!  2560 l: quine header        mode 0755
//!  3072 l: the program's own bytes, as the loader mapped them, then zeros to 512
//!     N (not written) the SHA-256 padding of l: 0x80, zeros, l's length in bits
//! ```
//!
//! The program reads nothing (no `open`, no `read`, no `/proc/self/exe`): it copies its
//! own bytes from where the loader mapped them, hashes l, writes the digest's hex into c,
//! and writes the whole output with `write` (again after a short write), then `exit`s.
//! One PT_LOAD maps the file read-write-execute at 0x10000 and zero-fills up to the end
//! of the scratch memory: the output at 0x11000, then W and the working variables of
//! SHA-256, then K and H(0), which the program computes on the x87 rather than carrying
//! ([`amd64::k_table`]).
//!
//! [`amd64`] holds the listing; [`i386`] runs the same bytes in 32-bit mode with its own
//! system call and headers. Sizes (payload / gzip archive / printed), measured:
//! amd64 portable 902 / 794 / 4096, kernel 894 / 789 / 4096; 386 portable 868 / 788 /
//! 4096, kernel 860 / 792 / 4096. The payload is larger than it could be (809 bytes on
//! amd64 portable) because the template copies short gaps of zeros ([`GAP`]): that makes
//! the gzip archive smaller, which is what the image weighs.

pub mod amd64;
pub mod i386;

use crate::arch::Insn;
use crate::elf::{Payload, Placed};
use crate::{Fit, Platform};

/// FIPS 180-4 §4.2.2: the first 32 bits of the fractional parts of the cube roots of the
/// first 64 primes.
pub const K: [u32; 64] = [
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
];

/// FIPS 180-4 §5.3.3: the initial hash value H(0).
pub const H0: [u32; 8] = [
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
];

/// The longest gap of zeros the template copies rather than skips. The template's bytes
/// are copies of bytes the output holds before the layer, so DEFLATE codes each run as a
/// match: a tar header's size and checksum fields (21 zeros apart) copied as one run are
/// one long match instead of two short ones around two run bytes. Measured (amd64
/// portable, payload / gzip archive): gap 2: 809 / 815; 20: 845 / 804; 21 to 48:
/// 902 / 794; 64: 1023 / 792; 255: 1471 / 784 (the output then outgrows 4096 bytes).
pub const GAP: usize = 24;

/// A tar block.
pub const BLOCK: usize = 512;

/// The one tar header encoder lives in smidge-image, a floor above this crate; it is
/// handed in: the 512-byte header of a regular file `name` with permission bits `mode`
/// and `size` bytes (mtime 0, owner 0:0).
pub type TarHeader<'a> = &'a dyn Fn(&str, u32, u64) -> [u8; BLOCK];

/// The path of the program in the image, and its entrypoint.
pub const PROGRAM_NAME: &str = "quine";
/// Its permission bits.
pub const PROGRAM_MODE: u32 = 0o755;

/// Why a quine cannot be built.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum QuineError {
    #[error("no quine for {0} yet (linux/amd64 and linux/386 only)")]
    Platform(Platform),
    #[error("the image reference `{0}` does not fit in a quine's manifest")]
    Tag(String),
}

/// FIPS 180-4 §5.1.1: `message`, then 0x80, zeros, and the message's length in bits (64
/// bits, big-endian), to a whole number of 64-byte blocks.
pub fn sha256_padding(len: usize) -> Vec<u8> {
    let mut pad = vec![0x80];
    while (len + pad.len()) % 64 != 56 {
        pad.push(0);
    }
    pad.extend_from_slice(&(len as u64 * 8).to_be_bytes());
    pad
}

/// The output of a quine whose program is `program_len` bytes: every byte but the
/// program's own and the digest's hex, which the program fills in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Output {
    /// The output (`len` bytes) and then the SHA-256 padding of the layer (not written):
    /// zero where the program and the digest go.
    pub fixed: Vec<u8>,
    /// Bytes the program writes.
    pub len: usize,
    /// Where the program's own bytes go.
    pub program_at: usize,
    pub program_len: usize,
    /// Where the 64 hex digits of the layer's SHA-256 go.
    pub hex_at: usize,
    /// The layer tar: from here to `len`, then hashed with its padding up to `fixed.len()`.
    pub layer_at: usize,
}

impl Output {
    /// Lays out the output for a program of `program_len` bytes on `platform`, tagged
    /// `repo_tag` (`repository:tag`).
    pub fn new(
        platform: Platform,
        repo_tag: &str,
        program_len: usize,
        header: TarHeader,
    ) -> Result<Output, QuineError> {
        if repo_tag.is_empty()
            || repo_tag.len() > 255
            || repo_tag
                .bytes()
                .any(|b| b == b'"' || b == b'\\' || b < 0x20)
        {
            return Err(QuineError::Tag(repo_tag.to_string()));
        }
        let manifest = format!(r#"[{{"Config":"c","RepoTags":["{repo_tag}"],"Layers":["l"]}}]"#);
        let config_head = format!(
            r#"{{"architecture":"{}","os":"{}","config":{{"Cmd":["/{PROGRAM_NAME}"]}},"rootfs":{{"type":"layers","diff_ids":["sha256:"#,
            platform.architecture(),
            platform.os(),
        );
        let config_tail = r#""]}}"#;
        let config_len = config_head.len() + 64 + config_tail.len();
        let padded = |n: usize| n.div_ceil(BLOCK) * BLOCK;
        let layer_len = BLOCK + padded(program_len);
        let mut fixed = Vec::new();
        let member = |fixed: &mut Vec<u8>, name: &str, mode: u32, len: usize| {
            fixed.extend_from_slice(&header(name, mode, len as u64));
        };
        member(&mut fixed, "manifest.json", 0, manifest.len());
        fixed.extend_from_slice(manifest.as_bytes());
        fixed.resize(padded(fixed.len()), 0);
        member(&mut fixed, "c", 0, config_len);
        fixed.extend_from_slice(config_head.as_bytes());
        let hex_at = fixed.len();
        fixed.resize(hex_at + 64, 0);
        fixed.extend_from_slice(config_tail.as_bytes());
        fixed.resize(padded(fixed.len()), 0);
        member(&mut fixed, "l", 0, layer_len);
        let layer_at = fixed.len();
        member(&mut fixed, PROGRAM_NAME, PROGRAM_MODE, program_len);
        let program_at = fixed.len();
        fixed.resize(layer_at + layer_len, 0);
        let len = fixed.len();
        fixed.extend_from_slice(&sha256_padding(layer_len));
        Ok(Output {
            fixed,
            len,
            program_at,
            program_len,
            hex_at,
            layer_at,
        })
    }

    /// What the program writes when its bytes are `program` (generation 0), computed
    /// here with `sha256` (any implementation; the tests use the sha2 crate and this
    /// module's own [`sha256`]).
    pub fn fill(&self, program: &[u8]) -> Vec<u8> {
        assert_eq!(program.len(), self.program_len);
        let mut out = self.fixed[..self.len].to_vec();
        out[self.program_at..self.program_at + program.len()].copy_from_slice(program);
        let digest = sha256(&out[self.layer_at..]);
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        out[self.hex_at..self.hex_at + 64].copy_from_slice(hex.as_bytes());
        out
    }

    /// How many (skip, count) runs [`Output::template`] holds (at most 255: a tag is at
    /// most 255 bytes).
    pub fn runs(&self) -> u32 {
        let t = self.template();
        let (mut i, mut runs) = (0, 0);
        while i < t.len() {
            i += 2 + t[i + 1] as usize;
            runs += 1;
        }
        assert!(runs <= 255, "{runs} runs");
        runs
    }

    /// The template: `fixed` as runs of (zeros to skip: u8, bytes to copy: u8, the bytes).
    /// Gaps of up to [`GAP`] zeros are copied rather than skipped; longer gaps than 255
    /// take runs of no bytes.
    pub fn template(&self) -> Vec<u8> {
        let f = &self.fixed;
        let mut out = Vec::new();
        let mut at = 0; // where the program's pointer is
        let mut i = 0;
        while i < f.len() {
            if f[i] == 0 {
                i += 1;
                continue;
            }
            // A run from i: extend over gaps of at most GAP zeros.
            let mut end = i + 1;
            loop {
                while end < f.len() && f[end] != 0 {
                    end += 1;
                }
                let next = (end..f.len()).find(|&j| f[j] != 0);
                match next {
                    Some(j) if j - end <= GAP => end = j,
                    _ => break,
                }
            }
            let mut skip = i - at;
            while skip > 255 {
                out.extend_from_slice(&[255, 0]);
                skip -= 255;
            }
            let mut run = &f[i..end];
            let mut first = true;
            while !run.is_empty() {
                let n = run.len().min(255);
                out.push(if first { skip as u8 } else { 0 });
                out.push(n as u8);
                out.extend_from_slice(&run[..n]);
                run = &run[n..];
                first = false;
            }
            at = end;
            i = end;
        }
        out
    }
}

/// FIPS 180-4 SHA-256 in plain Rust, the way the listings do it, for generation 0.
pub fn sha256(message: &[u8]) -> [u8; 32] {
    let mut padded = message.to_vec();
    padded.extend_from_slice(&sha256_padding(message.len()));
    let mut h = H0;
    for block in padded.chunks(64) {
        let mut w = [0u32; 64];
        for (i, word) in block.chunks(4).enumerate() {
            w[i] = u32::from_be_bytes(word.try_into().unwrap());
        }
        for i in 16..64 {
            let s0 = w[i - 15].rotate_right(7) ^ w[i - 15].rotate_right(18) ^ (w[i - 15] >> 3);
            let s1 = w[i - 2].rotate_right(17) ^ w[i - 2].rotate_right(19) ^ (w[i - 2] >> 10);
            w[i] = w[i - 16]
                .wrapping_add(s0)
                .wrapping_add(w[i - 7])
                .wrapping_add(s1);
        }
        let [mut a, mut b, mut c, mut d, mut e, mut f, mut g, mut hh] = h;
        for i in 0..64 {
            let s1 = e.rotate_right(6) ^ e.rotate_right(11) ^ e.rotate_right(25);
            let ch = (e & f) ^ (!e & g);
            let t1 = hh
                .wrapping_add(s1)
                .wrapping_add(ch)
                .wrapping_add(K[i])
                .wrapping_add(w[i]);
            let s0 = a.rotate_right(2) ^ a.rotate_right(13) ^ a.rotate_right(22);
            let maj = (a & b) ^ (a & c) ^ (b & c);
            let t2 = s0.wrapping_add(maj);
            hh = g;
            g = f;
            f = e;
            e = d.wrapping_add(t1);
            d = c;
            c = b;
            b = a;
            a = t1.wrapping_add(t2);
        }
        for (x, v) in h.iter_mut().zip([a, b, c, d, e, f, g, hh]) {
            *x = x.wrapping_add(v);
        }
    }
    let mut out = [0u8; 32];
    for (i, x) in h.iter().enumerate() {
        out[i * 4..i * 4 + 4].copy_from_slice(&x.to_be_bytes());
    }
    out
}

/// A built quine: the program and what it prints.
#[derive(Clone, Debug)]
pub struct Quine {
    pub payload: Payload,
    pub output: Output,
    /// What the program prints (and what `smidge quine --compression none` writes).
    pub generation0: Vec<u8>,
}

/// Builds the quine for `platform` in `fit`, tagged `repo_tag`.
pub fn build(
    platform: Platform,
    fit: Fit,
    repo_tag: &str,
    header: TarHeader,
) -> Result<Quine, QuineError> {
    let build = match platform {
        Platform::Amd64 => amd64::quine,
        Platform::I386 => i386::quine,
        p => return Err(QuineError::Platform(p)),
    };
    // The program's length fixes the output, whose template is part of the program: start
    // from a guess and repeat until the length holds still.
    let mut len = 0;
    for _ in 0..16 {
        let output = Output::new(platform, repo_tag, len, header)?;
        let payload = build(fit, &output);
        if payload.bytes.len() == len {
            let generation0 = output.fill(&payload.bytes);
            return Ok(Quine {
                payload,
                output,
                generation0,
            });
        }
        len = payload.bytes.len();
    }
    unreachable!("the program's length settles within a few rounds")
}

/// Places `code` at `at` in `bytes` (which must be long enough) and returns the placed
/// instructions.
pub(crate) fn place(bytes: &mut [u8], at: usize, code: Vec<Insn>) -> Vec<Placed> {
    let mut offset = at;
    code.into_iter()
        .map(|insn| {
            bytes[offset..offset + insn.len()].copy_from_slice(&insn.bytes);
            let placed = Placed { offset, insn };
            offset += placed.insn.len();
            placed
        })
        .collect()
}

/// The length of a listing.
pub(crate) fn code_len(code: &[Insn]) -> usize {
    code.iter().map(Insn::len).sum()
}
