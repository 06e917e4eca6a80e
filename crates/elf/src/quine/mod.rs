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
//! of the scratch memory: the output at 0x11000, then [`SCRATCH_LEN`] bytes for SHA-256's
//! W, working variables, K and H. Every platform computes K and H(0) (cube and square
//! roots of the primes) rather than carrying 288 bytes of tables: on the x87 (amd64,
//! 386), or in double precision (the others).
//!
//! Each instruction set's listing is `arch/<isa>/quine.rs` ([`crate::arch::Programs::quine`],
//! given the [`Addresses`] this module lays out); this module writes the one file around
//! it for every platform (headers, the listing at the entry point, the template). The
//! sizes (payload / gzip archive / printed) are in `tests/golden/quine.txt` and printed by
//! `scripts/bench`. The payload is larger than it could be because the template copies
//! short gaps of zeros ([`GAP`]): that makes the gzip archive smaller, which is what the
//! image weighs.

use crate::arch::{self, Insn};
use crate::elf::layout::Fields;
use crate::elf::machine::machine;
use crate::elf::spec::*;
use crate::elf::{Payload, Placed};
use crate::{Fit, Platform};

pub use crate::arch::quine::{Addresses, H0, K, SCRATCH_LEN};

/// The load address of the file.
pub const BASE: u32 = 0x1_0000;
/// Where the output is built, in the zero-filled memory after the file (which is smaller
/// than a page: the longest template, with a 255-byte tag, is under 1 KiB).
pub const OUT: u32 = BASE + 0x1000;

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
    /// Where the 64 hex digits of the layer's SHA-256 go, in the config (`c`) at
    /// `config`.
    pub hex_at: usize,
    pub config: std::ops::Range<usize>,
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
        let variant = platform
            .variant()
            .map(|v| format!(r#","variant":"{v}""#))
            .unwrap_or_default();
        let config_head = format!(
            r#"{{"architecture":"{}","os":"{}"{variant},"config":{{"Cmd":["/{PROGRAM_NAME}"]}},"rootfs":{{"type":"layers","diff_ids":["sha256:"#,
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
        let config = fixed.len()..fixed.len() + config_len;
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
            config,
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

impl Quine {
    /// The image's config (`c`): its digest is the image ID.
    pub fn config(&self) -> &[u8] {
        &self.generation0[self.output.config.clone()]
    }

    /// The layer tar (`l`), which holds the program as `/quine`.
    pub fn layer(&self) -> &[u8] {
        &self.generation0[self.output.layer_at..self.output.len]
    }
}

/// Builds the quine for `platform` in `fit`, tagged `repo_tag`.
pub fn build(
    platform: Platform,
    fit: Fit,
    repo_tag: &str,
    header: TarHeader,
) -> Result<Quine, QuineError> {
    // The program's length fixes the output, whose template is part of the program: start
    // from a guess and repeat until the length holds still.
    let mut len = 0;
    for _ in 0..16 {
        let output = Output::new(platform, repo_tag, len, header)?;
        let payload = program(platform, fit, &output)?;
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

/// The program that prints `output`: headers, the platform's listing, the template.
fn program(platform: Platform, fit: Fit, output: &Output) -> Result<Payload, QuineError> {
    let scratch = OUT + output.fixed.len() as u32;
    let isa = arch::isa(platform);
    let payload = file(
        platform,
        fit,
        &output.template(),
        |_| scratch + SCRATCH_LEN,
        |template| {
            let a = Addresses {
                template,
                runs: output.runs(),
                out: OUT,
                base: BASE,
                program: OUT + output.program_at as u32,
                program_len: output.program_len as u32,
                layer: OUT + output.layer_at as u32,
                sha_end: OUT + output.fixed.len() as u32,
                hex: OUT + output.hex_at as u32,
                out_len: output.len as u32,
                scratch,
            };
            isa.quine(&a)
        },
    );
    // A tag is at most 255 bytes, so the file never reaches the output.
    assert!(payload.bytes.len() <= (OUT - BASE) as usize);
    Ok(payload)
}

/// A program that writes the 64 hex digits of the SHA-256 of `message` and exits: the
/// platform's quine listing's digest and write (see [`crate::arch::quine`]), around the
/// message padded as the quine's layer is. For the tests.
pub fn sha256_test(platform: Platform, message: &[u8]) -> Payload {
    let mut data = message.to_vec();
    data.extend(sha256_padding(message.len()));
    let data_len = data.len() as u32;
    // The hex, then the scratch memory, after the padded message.
    let hex_at = |end: u32| end.next_multiple_of(64);
    let isa = arch::isa(platform);
    file(
        platform,
        Fit::Portable,
        &data,
        |end| hex_at(end) + 64 + SCRATCH_LEN,
        |message| {
            let end = message + data_len;
            let a = Addresses {
                layer: message,
                sha_end: end,
                hex: hex_at(end),
                scratch: hex_at(end) + 64,
                ..Addresses::default()
            };
            isa.sha256_test(&a)
        },
    )
}

/// How long the headers are: the ELF header then one program header (portable), or the
/// program header from e_phnum on (kernel: p_type is e_phnum | e_shentsize << 16 = 1, so
/// only where the byte order is little-endian; s390x keeps the portable headers).
fn header_len(platform: Platform, fit: Fit) -> usize {
    let m = machine(platform);
    let overlap = fit == Fit::Kernel && m.data == ELFDATA2LSB;
    match (m.is_64(), overlap) {
        (true, false) => ehdr64::SIZE + phdr64::SIZE,
        (true, true) => ehdr64::E_PHNUM + phdr64::SIZE,
        (false, false) => ehdr32::SIZE + phdr32::SIZE,
        (false, true) => ehdr32::E_PHNUM + phdr32::SIZE,
    }
}

/// The ELF header and the one program header: one read-write-execute PT_LOAD of the whole
/// file at [`BASE`], up to `memsz_end` (the rest zero-filled), entered at offset `entry`.
/// In the kernel fit (little-endian) the program header starts at e_phnum: p_type =
/// e_phnum | e_shentsize << 16 = 1 (PT_LOAD), and the next word is e_shnum | e_shstrndx
/// << 16: p_flags = 7 in ELF64 (the kernel reads no section header), p_offset = 0 in ELF32.
fn headers(platform: Platform, fit: Fit, file_len: usize, memsz_end: u32, entry: usize) -> Fields {
    let m = machine(platform);
    let mut f = Fields::new(&m);
    let entry = (u64::from(BASE) + entry as u64) | arch::isa(platform).entry_bits();
    let (filesz, memsz) = (file_len as u64, u64::from(memsz_end - BASE));
    let flags = PF_R | PF_W | PF_X;
    let overlap = header_len(platform, fit) < header_len(platform, Fit::Portable);
    f.e_ident(&m);
    if m.is_64() {
        use ehdr64::*;
        use phdr64::*;
        let ph = if overlap { E_PHNUM } else { ehdr64::SIZE };
        f.u16(E_TYPE, "e_type", ET_EXEC);
        f.u16(E_MACHINE, "e_machine", m.e_machine);
        f.u32(E_VERSION, "e_version", u32::from(EV_CURRENT));
        f.u64(E_ENTRY, "e_entry", entry);
        f.u64(E_PHOFF, "e_phoff", ph as u64);
        f.u64(E_SHOFF, "e_shoff", 0);
        f.u32(E_FLAGS, "e_flags", m.e_flags.unwrap_or(0));
        f.u16(E_EHSIZE, "e_ehsize", ehdr64::SIZE as u16);
        f.u16(E_PHENTSIZE, "e_phentsize", phdr64::SIZE as u16);
        f.u16(E_PHNUM, "e_phnum", 1);
        f.u16(E_SHENTSIZE, "e_shentsize", 0);
        if overlap {
            f.u32(ph + P_TYPE, "p_type (= e_phnum, e_shentsize)", PT_LOAD);
            f.u32(ph + P_FLAGS, "p_flags (= e_shnum, e_shstrndx)", flags);
        } else {
            f.u16(E_SHNUM, "e_shnum", 0);
            f.u16(E_SHSTRNDX, "e_shstrndx", 0);
            f.u32(ph + P_TYPE, "p_type", PT_LOAD);
            f.u32(ph + P_FLAGS, "p_flags", flags);
        }
        f.u64(ph + P_OFFSET, "p_offset", 0);
        f.u64(ph + P_VADDR, "p_vaddr", u64::from(BASE));
        f.u64(ph + P_PADDR, "p_paddr", u64::from(BASE));
        f.u64(ph + P_FILESZ, "p_filesz", filesz);
        f.u64(ph + P_MEMSZ, "p_memsz", memsz);
        f.u64(ph + P_ALIGN, "p_align", 0x1000);
    } else {
        use ehdr32::*;
        use phdr32::*;
        let ph = if overlap { E_PHNUM } else { ehdr32::SIZE };
        f.u16(E_TYPE, "e_type", ET_EXEC);
        f.u16(E_MACHINE, "e_machine", m.e_machine);
        f.u32(E_VERSION, "e_version", u32::from(EV_CURRENT));
        f.u32(E_ENTRY, "e_entry", entry as u32);
        f.u32(E_PHOFF, "e_phoff", ph as u32);
        f.u32(E_SHOFF, "e_shoff", 0);
        f.u32(E_FLAGS, "e_flags", m.e_flags.unwrap_or(0));
        f.u16(E_EHSIZE, "e_ehsize", ehdr32::SIZE as u16);
        f.u16(E_PHENTSIZE, "e_phentsize", phdr32::SIZE as u16);
        f.u16(E_PHNUM, "e_phnum", 1);
        f.u16(E_SHENTSIZE, "e_shentsize", 0);
        if overlap {
            f.u32(ph + P_TYPE, "p_type (= e_phnum, e_shentsize)", PT_LOAD);
            f.u32(ph + P_OFFSET, "p_offset (= e_shnum, e_shstrndx)", 0);
        } else {
            f.u16(E_SHNUM, "e_shnum", 0);
            f.u16(E_SHSTRNDX, "e_shstrndx", 0);
            f.u32(ph + P_TYPE, "p_type", PT_LOAD);
            f.u32(ph + P_OFFSET, "p_offset", 0);
        }
        f.u32(ph + P_VADDR, "p_vaddr", BASE);
        f.u32(ph + P_PADDR, "p_paddr", BASE);
        f.u32(ph + P_FILESZ, "p_filesz", filesz as u32);
        f.u32(ph + P_MEMSZ, "p_memsz", memsz as u32);
        f.u32(ph + P_FLAGS, "p_flags", flags);
        f.u32(ph + P_ALIGN, "p_align", 0x1000);
    }
    f
}

/// A file: headers, `code`, then `data`; `code` gets the address of `data`, and the
/// segment is zero-filled up to `memsz_end(address of the file's end)`.
fn file(
    platform: Platform,
    fit: Fit,
    data: &[u8],
    memsz_end: impl Fn(u32) -> u32,
    mut code: impl FnMut(u32) -> Vec<Insn>,
) -> Payload {
    let entry = header_len(platform, fit);
    // An instruction set may need more instructions for some addresses than for others:
    // place the data after the code until the code's length holds still.
    let mut data_at = entry;
    let insns = loop {
        let insns = code(BASE + data_at as u32);
        let at = entry + code_len(&insns);
        if at == data_at {
            break insns;
        }
        data_at = at;
    };
    let file_len = data_at + data.len();
    let mut bytes = vec![0; file_len];
    let placed: Vec<Placed> = place(&mut bytes, entry, insns);
    bytes[data_at..].copy_from_slice(data);
    let end = BASE + file_len as u32;
    headers(platform, fit, file_len, memsz_end(end), entry).write(&mut bytes);
    Payload {
        bytes,
        base: u64::from(BASE),
        entry,
        entry_address: (u64::from(BASE) + entry as u64) | arch::isa(platform).entry_bits(),
        code: placed,
        data: Some(data_at),
    }
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
