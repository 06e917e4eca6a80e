//! The ELF header layouts, one per platform and [`Fit`]: which header fields are fixed
//! (and to what), which bytes are free for code, where the program header sits.
//!
//! A layout sets fields one at a time into [`Fields`]; when two records overlap, the
//! overlapping fields must agree byte for byte (checked), which is how one eight-byte run
//! can be both `e_phnum`/`e_shentsize` and `p_type`. Every byte no field claims is a hole the
//! planner may fill with code.
//!
//! `portable.rs` has the layouts every platform shares (honest enough for qemu-user and
//! binfmt_misc); `x86.rs` the hand-golfed ones for amd64 and 386; `overlap.rs` the ones of
//! the other ISAs whose program header starts further inside the ELF header.

mod overlap;
mod portable;
mod x86;

use super::machine::{machine, Machine};
use super::spec::*;
use super::Fit;
use crate::Platform;
use std::ops::Range;

/// One fixed header field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Field {
    pub offset: usize,
    /// The spec's name, or names joined by " = " where records overlap.
    pub name: String,
    pub bytes: Vec<u8>,
}

/// The fixed fields of a layout, in the byte order of its machine.
#[derive(Clone, Debug)]
pub struct Fields {
    pub fields: Vec<Field>,
    big_endian: bool,
}

impl Fields {
    pub fn new(machine: &Machine) -> Fields {
        Fields {
            fields: Vec::new(),
            big_endian: machine.data == ELFDATA2MSB,
        }
    }

    /// Sets `bytes` at `offset`. Overlapping an earlier field is allowed only where the
    /// bytes agree; that is how a layout states that one run of bytes does two jobs.
    pub fn put(&mut self, offset: usize, name: &str, bytes: &[u8]) {
        for f in &self.fields {
            let lo = offset.max(f.offset);
            let hi = (offset + bytes.len()).min(f.offset + f.bytes.len());
            for at in lo..hi {
                assert_eq!(
                    bytes[at - offset],
                    f.bytes[at - f.offset],
                    "layout bug: {name} disagrees with {} at byte {at}",
                    f.name
                );
            }
        }
        self.fields.push(Field {
            offset,
            name: name.to_string(),
            bytes: bytes.to_vec(),
        });
    }

    pub fn u8(&mut self, offset: usize, name: &str, v: u8) {
        self.put(offset, name, &[v]);
    }
    pub fn u16(&mut self, offset: usize, name: &str, v: u16) {
        let b = if self.big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        };
        self.put(offset, name, &b);
    }
    pub fn u32(&mut self, offset: usize, name: &str, v: u32) {
        let b = if self.big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        };
        self.put(offset, name, &b);
    }
    pub fn u64(&mut self, offset: usize, name: &str, v: u64) {
        let b = if self.big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        };
        self.put(offset, name, &b);
    }

    /// Whether byte `at` belongs to some field.
    pub fn covers(&self, at: usize) -> bool {
        self.fields
            .iter()
            .any(|f| (f.offset..f.offset + f.bytes.len()).contains(&at))
    }

    /// Writes every field into `file`.
    pub fn write(&self, file: &mut [u8]) {
        for f in &self.fields {
            file[f.offset..f.offset + f.bytes.len()].copy_from_slice(&f.bytes);
        }
    }

    /// An honest e_ident: magic, class, byte order, version, and zero OS ABI and padding
    /// (binfmt_misc, as qemu-user-static registers it, matches bytes 0-6 and 8-15).
    pub fn e_ident(&mut self, m: &Machine) {
        self.put(EI_MAG0, "e_ident[EI_MAG0..=EI_MAG3]", &ELFMAG);
        self.u8(EI_CLASS, "e_ident[EI_CLASS]", m.class);
        self.u8(EI_DATA, "e_ident[EI_DATA]", m.data);
        self.u8(EI_VERSION, "e_ident[EI_VERSION]", EV_CURRENT);
        self.u8(EI_OSABI, "e_ident[EI_OSABI]", ELFOSABI_NONE);
        self.put(
            EI_OSABI + 1,
            "e_ident[EI_ABIVERSION..EI_NIDENT]",
            &[0; EI_NIDENT - 8],
        );
    }
}

/// What a layout's computed fields depend on.
#[derive(Clone, Copy, Debug)]
pub struct Values {
    /// Virtual address of file offset 0.
    pub base: u64,
    /// Virtual address of the entry point.
    pub entry: u64,
    /// Length of the file before trailing zeros are trimmed.
    pub file_len: usize,
    /// Zero-filled bytes the segment has past the end of the file (p_memsz - p_filesz),
    /// and whether it is writable (PF_W). smidge's own programs use neither; `wrap`'s
    /// `--bss` does, on layouts whose [`Rules::zero_fill`] is true.
    pub segment: Segment,
}

/// What a segment holds beyond the file's bytes: zero fill and write permission.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Segment {
    /// p_memsz - p_filesz: bytes zero-filled right after the file's last byte.
    pub bss: u64,
    /// PF_W in p_flags.
    pub writable: bool,
}

impl Segment {
    /// p_memsz for a p_filesz of `filesz`.
    pub fn memsz(&self, filesz: u64) -> u64 {
        filesz + self.bss
    }

    /// p_flags, given the flags of a read-only segment.
    pub fn flags(&self, flags: u32) -> u32 {
        if self.writable {
            flags | PF_W
        } else {
            flags
        }
    }
}

/// Where execution starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Entry {
    /// Anywhere the planner puts the first instruction.
    Free,
    /// At this fixed file offset, inside fixed bytes that run into the first instruction
    /// as a prefix (the first instruction must start at `code`).
    Prefixed { offset: usize, code: usize },
}

/// The lowest address a file maps at by default: vm.mmap_min_addr is 65536 on most
/// distributions, and 64 KiB is also the largest page size (arm64, ppc64le) a segment's
/// address must be aligned to.
pub const DEFAULT_BASE: u64 = 0x1_0000;

/// The rules of one layout.
pub trait Rules: Sync {
    /// The end of the headers: the file is at least this long; code after it is free.
    fn header_len(&self) -> usize;

    /// Trailing zero bytes may be cut down to this length. Linux reads the ELF header into
    /// a zero-filled buffer and maps a file's last page zero-filled past its end, so only
    /// the program header (read with an exact-length read) must be whole.
    fn trim_to(&self) -> Option<usize> {
        None
    }

    fn entry(&self) -> Entry {
        Entry::Free
    }

    /// The virtual address of file offset 0.
    fn base(&self, _file_len: usize) -> u64 {
        DEFAULT_BASE
    }

    /// Whether the layout honours [`Values::segment`]: p_filesz exactly the file (so the
    /// zero fill starts where the file ends) and p_flags and p_memsz free to change. The
    /// golfed x86 kernel layouts tie those fields to e_entry and e_phoff.
    fn zero_fill(&self) -> bool {
        true
    }

    /// Sets the fixed fields.
    fn fields(&self, m: &Machine, f: &mut Fields, v: Values);
}

/// An ELF header layout for a platform and fit.
#[derive(Clone, Copy)]
pub struct Layout {
    pub platform: Platform,
    pub fit: Fit,
    pub machine: Machine,
    rules: &'static dyn Rules,
}

impl std::fmt::Debug for Layout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {} layout", self.platform, self.fit)
    }
}

impl Layout {
    pub fn new(platform: Platform, fit: Fit) -> Layout {
        let machine = machine(platform);
        let rules: &'static dyn Rules = match (platform, fit) {
            (Platform::Amd64, Fit::Kernel) => &x86::AMD64_KERNEL,
            (Platform::I386, Fit::Portable) => &x86::I386_PORTABLE,
            (Platform::I386, Fit::Kernel) => &x86::I386_KERNEL,
            _ => portable::for_machine(&machine, fit == Fit::Kernel),
        };
        Layout {
            platform,
            fit,
            machine,
            rules,
        }
    }

    /// [`Layout::new`] and the other layouts `build` tries for the platform and fit (it keeps
    /// the smallest file): see `overlap.rs` for why these are not always smaller.
    pub fn candidates(platform: Platform, fit: Fit) -> Vec<Layout> {
        let first = Layout::new(platform, fit);
        let more: &[&'static dyn Rules] = match (platform, fit) {
            (Platform::Arm64 | Platform::Riscv64, Fit::Kernel) => &[&overlap::LSB64_AT_47],
            (Platform::S390x, Fit::Portable) => &[&overlap::S390X_AT_61],
            (Platform::S390x, Fit::Kernel) => &[&overlap::S390X_AT_61, &overlap::S390X_AT_59],
            _ => &[],
        };
        let others = more.iter().map(|&rules| Layout { rules, ..first });
        std::iter::once(first).chain(others).collect()
    }

    pub fn header_len(&self) -> usize {
        self.rules.header_len()
    }

    pub fn trim_to(&self) -> Option<usize> {
        self.rules.trim_to()
    }

    pub fn entry(&self) -> Entry {
        self.rules.entry()
    }

    pub fn base(&self, file_len: usize) -> u64 {
        self.rules.base(file_len)
    }

    /// Whether [`Layout::fields_with`] can add zero fill and PF_W (see [`Rules::zero_fill`]).
    pub fn zero_fill(&self) -> bool {
        self.rules.zero_fill()
    }

    /// Whether a 32-bit absolute address reaches the image.
    pub fn base_below_4g(&self) -> bool {
        self.base(0) < (1 << 32)
    }

    /// The fixed fields for a file of `file_len` bytes whose entry point is at file
    /// offset `entry`, with `entry_bits` or'ed into e_entry (Thumb's bit 0).
    pub fn fields(&self, entry: usize, entry_bits: u64, file_len: usize) -> Fields {
        self.fields_with(entry, entry_bits, file_len, Segment::default())
    }

    /// [`Layout::fields`] for a segment with zero fill or write permission; panics unless
    /// the layout can have them ([`Layout::zero_fill`]) or `segment` is the default.
    pub fn fields_with(
        &self,
        entry: usize,
        entry_bits: u64,
        file_len: usize,
        segment: Segment,
    ) -> Fields {
        assert!(
            segment == Segment::default() || self.zero_fill(),
            "{self:?} cannot zero-fill or be writable"
        );
        let mut f = Fields::new(&self.machine);
        let base = self.base(file_len);
        let v = Values {
            base,
            entry: (base + entry as u64) | entry_bits,
            file_len,
            segment,
        };
        self.rules.fields(&self.machine, &mut f, v);
        f
    }

    /// The bytes of the headers no field claims, in file order; the last one runs on past
    /// [`Layout::header_len`] (code after the headers is free).
    pub fn holes(&self) -> Vec<Range<usize>> {
        let entry = match self.entry() {
            Entry::Prefixed { offset, .. } => offset,
            Entry::Free => 0,
        };
        let fields = self.fields(entry, 0, self.header_len());
        let mut holes: Vec<Range<usize>> = Vec::new();
        for at in 0..self.header_len() {
            if fields.covers(at) {
                continue;
            }
            match holes.last_mut() {
                Some(h) if h.end == at => h.end += 1,
                _ => holes.push(at..at + 1),
            }
        }
        match holes.last_mut() {
            Some(h) if h.end == self.header_len() => h.end = usize::MAX,
            _ => holes.push(self.header_len()..usize::MAX),
        }
        holes
    }
}
