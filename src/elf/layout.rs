//! The ELF header layouts, one per platform and [`Fit`]: which header fields are fixed
//! (and to what), which bytes are free for code, where the program header sits.
//!
//! A layout sets fields one at a time into [`Fields`]; when two records overlap, the
//! overlapping fields must agree byte for byte (checked), which is how one eight-byte run
//! can be both `e_phnum`/`e_shentsize` and `p_type`. Every byte no field claims is a hole the
//! planner may fill with code.

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

/// The fixed fields of a layout.
#[derive(Clone, Debug, Default)]
pub struct Fields(pub Vec<Field>);

impl Fields {
    /// Sets `bytes` at `offset`. Overlapping an earlier field is allowed only where the
    /// bytes agree; the names are then joined so listings show the double duty.
    pub fn put(&mut self, offset: usize, name: &str, bytes: &[u8]) {
        for f in &mut self.0 {
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
        self.0.push(Field {
            offset,
            name: name.to_string(),
            bytes: bytes.to_vec(),
        });
    }

    pub fn u8(&mut self, offset: usize, name: &str, v: u8) {
        self.put(offset, name, &[v]);
    }
    pub fn u16(&mut self, offset: usize, name: &str, v: u16) {
        self.put(offset, name, &v.to_le_bytes());
    }
    pub fn u32(&mut self, offset: usize, name: &str, v: u32) {
        self.put(offset, name, &v.to_le_bytes());
    }
    pub fn u64(&mut self, offset: usize, name: &str, v: u64) {
        self.put(offset, name, &v.to_le_bytes());
    }

    /// Whether byte `at` belongs to some field.
    pub fn covers(&self, at: usize) -> bool {
        self.0
            .iter()
            .any(|f| (f.offset..f.offset + f.bytes.len()).contains(&at))
    }

    /// Writes every field into `file`.
    pub fn write(&self, file: &mut [u8]) {
        for f in &self.0 {
            file[f.offset..f.offset + f.bytes.len()].copy_from_slice(&f.bytes);
        }
    }

    fn e_ident(&mut self, class: u8) {
        self.put(EI_MAG0, "e_ident[EI_MAG0..=EI_MAG3]", &ELFMAG);
        self.u8(EI_CLASS, "e_ident[EI_CLASS]", class);
        self.u8(EI_DATA, "e_ident[EI_DATA]", ELFDATA2LSB);
        self.u8(EI_VERSION, "e_ident[EI_VERSION]", EV_CURRENT);
        self.u8(EI_OSABI, "e_ident[EI_OSABI]", ELFOSABI_NONE);
        // EI_ABIVERSION and EI_PAD: binfmt_misc (qemu-user-static) matches them as zero.
        self.put(
            EI_OSABI + 1,
            "e_ident[EI_ABIVERSION..EI_NIDENT]",
            &[0; EI_NIDENT - 8],
        );
    }
}

/// The values a layout's computed fields depend on.
#[derive(Clone, Copy, Debug)]
pub struct Values {
    /// File offset of the entry point.
    pub entry: usize,
    /// Length of the file before trailing zeros are trimmed.
    pub file_len: usize,
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

/// An ELF header layout for a platform and fit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layout {
    pub platform: Platform,
    pub fit: Fit,
}

impl Layout {
    pub fn new(platform: Platform, fit: Fit) -> Layout {
        Layout { platform, fit }
    }

    /// The end of the headers: the file is at least this long, code after it is unconstrained.
    pub fn header_len(self) -> usize {
        match (self.platform, self.fit) {
            (Platform::Amd64, Fit::Portable) => AMD64_PORTABLE_PHOFF + phdr64::SIZE,
            (Platform::Amd64, Fit::Kernel) => AMD64_KERNEL_PHOFF + phdr64::SIZE,
            (Platform::I386, Fit::Portable) => I386_PORTABLE_PHOFF + phdr32::SIZE,
            (Platform::I386, Fit::Kernel) => ehdr32::E_PHNUM + 2,
        }
    }

    /// Whether trailing zero bytes may be cut, and down to which length. Linux reads the
    /// ELF header into a zero-filled buffer and maps the file's last page zero-filled past
    /// its end, so only the program header (read with an exact-length read) must be whole.
    pub fn trim_to(self) -> Option<usize> {
        match (self.platform, self.fit) {
            (_, Fit::Portable) => None,
            (Platform::Amd64, Fit::Kernel) => Some(AMD64_KERNEL_PHOFF + phdr64::SIZE),
            // e_phnum's low byte is the last byte the kernel needs (its high byte is 0).
            (Platform::I386, Fit::Kernel) => Some(ehdr32::E_PHNUM + 1),
        }
    }

    pub fn entry(self) -> Entry {
        match (self.platform, self.fit) {
            // e_entry = p_type | p_flags << 32 = 0x5_0000_0001: the entry point is byte 1,
            // and "ELF" runs as REX prefixes of the first instruction at byte 4.
            (Platform::Amd64, Fit::Kernel) => Entry::Prefixed { offset: 1, code: 4 },
            _ => Entry::Free,
        }
    }

    /// The virtual address of file offset 0.
    pub fn base(self, file_len: usize) -> u64 {
        match (self.platform, self.fit) {
            // The lowest address mmap allows (vm.mmap_min_addr = 65536).
            (Platform::Amd64, Fit::Portable) => 0x1_0000,
            (Platform::Amd64, Fit::Kernel) => u64::from(AMD64_KERNEL_FLAGS) << 32,
            // p_vaddr = e_ehsize | e_phentsize << 16 = 0x0020_0034, at file offset 0x34.
            (Platform::I386, Fit::Portable) => 0x20_0000,
            // p_memsz = e_entry, so the image must load high enough for the entry address
            // to cover the whole file.
            (Platform::I386, Fit::Kernel) => {
                (file_len as u64).next_multiple_of(0x1000).max(0x1_0000)
            }
        }
    }

    /// Whether a 32-bit absolute address reaches the image.
    pub fn base_below_4g(self) -> bool {
        self.base(0) < (1 << 32)
    }

    /// The fixed fields for these values.
    pub fn fields(self, v: Values) -> Fields {
        let mut f = Fields::default();
        let base = self.base(v.file_len);
        let entry = base + v.entry as u64;
        match (self.platform, self.fit) {
            (Platform::Amd64, Fit::Portable) => amd64_portable(&mut f, base, entry, v.file_len),
            (Platform::Amd64, Fit::Kernel) => amd64_kernel(&mut f, base, entry, v.file_len),
            (Platform::I386, Fit::Portable) => i386_portable(&mut f, base, entry, v.file_len),
            (Platform::I386, Fit::Kernel) => i386_kernel(&mut f, base, entry),
        }
        f
    }

    /// The bytes of the headers no field claims, in file order; the last one runs on past
    /// [`Layout::header_len`] (code after the headers is free).
    pub fn holes(self) -> Vec<Range<usize>> {
        let entry = match self.entry() {
            Entry::Prefixed { offset, .. } => offset,
            Entry::Free => 0,
        };
        let fields = self.fields(Values {
            entry,
            file_len: self.header_len(),
        });
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

/// amd64, portable: a plain 64-byte ELF header whose last 8 bytes are also the first 8 of
/// the program header (e_phnum = 1 and e_shentsize = 0 read as p_type = PT_LOAD; e_shnum and
/// e_shstrndx as p_flags). Everything qemu-user checks is honest. 112 bytes of headers, with
/// holes at e_version, e_shoff + e_flags, p_paddr and p_align.
const AMD64_PORTABLE_PHOFF: usize = ehdr64::E_PHNUM;

fn amd64_portable(f: &mut Fields, base: u64, entry: u64, file_len: usize) {
    use ehdr64::*;
    use phdr64::*;
    let ph = AMD64_PORTABLE_PHOFF;
    let ehdr_size = ehdr64::SIZE as u16;
    f.e_ident(ELFCLASS64);
    f.u16(E_TYPE, "e_type", ET_EXEC);
    f.u16(E_MACHINE, "e_machine", EM_X86_64);
    f.u64(E_ENTRY, "e_entry", entry);
    f.u64(E_PHOFF, "e_phoff", ph as u64);
    f.u16(E_EHSIZE, "e_ehsize", ehdr_size);
    f.u16(E_PHENTSIZE, "e_phentsize", phdr64::SIZE as u16);
    f.u16(E_PHNUM, "e_phnum", 1);
    f.u32(ph + P_TYPE, "p_type (= e_phnum, e_shentsize)", PT_LOAD);
    f.u32(ph + P_FLAGS, "p_flags (= e_shnum, e_shstrndx)", PF_R | PF_X);
    f.u64(ph + P_OFFSET, "p_offset", 0);
    f.u64(ph + P_VADDR, "p_vaddr", base);
    f.u64(ph + P_FILESZ, "p_filesz", file_len as u64);
    f.u64(ph + P_MEMSZ, "p_memsz", file_len as u64);
}

/// amd64, kernel: the program header starts at e_entry (offset 24). e_entry's low half is
/// p_type = PT_LOAD and its high half p_flags = PF_R | PF_X, so the entry point is
/// 0x5_0000_0001: file offset 1, where "ELF" decodes as REX prefixes of the first
/// instruction at byte 4. e_phoff doubles as p_offset, e_shoff as p_vaddr, e_phnum as the
/// low bits of p_filesz. 80 bytes of headers; e_ident[4..16], e_version, e_flags + e_ehsize
/// and p_align hold code.
const AMD64_KERNEL_PHOFF: usize = ehdr64::E_ENTRY;
const AMD64_KERNEL_FLAGS: u32 = PF_R | PF_X;

fn amd64_kernel(f: &mut Fields, base: u64, entry: u64, file_len: usize) {
    use ehdr64::*;
    use phdr64::*;
    let ph = AMD64_KERNEL_PHOFF;
    // p_filesz's low 16 bits are e_phnum = 1; the rest must cover the file past p_offset.
    let needed = file_len.saturating_sub(ph) as u64;
    let filesz = 1 + needed.saturating_sub(1).div_ceil(0x1_0000) * 0x1_0000;
    f.put(EI_MAG0, "e_ident[EI_MAG0..=EI_MAG3]", &ELFMAG);
    f.u16(E_TYPE, "e_type", ET_EXEC);
    f.u16(E_MACHINE, "e_machine", EM_X86_64);
    f.u64(E_ENTRY, "e_entry", entry);
    f.u32(ph + P_TYPE, "p_type (= e_entry low half)", PT_LOAD);
    f.u32(
        ph + P_FLAGS,
        "p_flags (= e_entry high half)",
        AMD64_KERNEL_FLAGS,
    );
    f.u64(E_PHOFF, "e_phoff", ph as u64);
    f.u64(ph + P_OFFSET, "p_offset (= e_phoff)", ph as u64);
    f.u64(ph + P_VADDR, "p_vaddr (= e_shoff)", base + ph as u64);
    f.u16(E_PHENTSIZE, "e_phentsize (in p_paddr)", phdr64::SIZE as u16);
    f.u16(E_PHNUM, "e_phnum", 1);
    f.u64(
        ph + P_FILESZ,
        "p_filesz (= e_phnum, e_shentsize, e_shnum, e_shstrndx)",
        filesz,
    );
    f.u64(ph + P_MEMSZ, "p_memsz", filesz);
}

/// 386, portable: the program header starts at e_shoff (offset 32): p_type = e_shoff = 1,
/// p_offset = e_flags = 0x34, and p_vaddr = e_ehsize | e_phentsize << 16 = 0x0020_0034,
/// which is why the image loads at 0x20_0000. e_phnum is p_paddr's low half. 64 bytes of
/// headers; e_version and p_align hold code.
const I386_PORTABLE_PHOFF: usize = ehdr32::E_SHOFF;

fn i386_portable(f: &mut Fields, base: u64, entry: u64, file_len: usize) {
    use ehdr32::*;
    use phdr32::*;
    let ph = I386_PORTABLE_PHOFF;
    let ehdr_size = ehdr32::SIZE as u16;
    let vaddr = ehdr32::SIZE as u32 | (phdr32::SIZE as u32) << 16;
    let offset = vaddr & 0xfff;
    f.e_ident(ELFCLASS32);
    f.u16(E_TYPE, "e_type", ET_EXEC);
    f.u16(E_MACHINE, "e_machine", EM_386);
    f.u32(E_ENTRY, "e_entry", entry as u32);
    f.u32(E_PHOFF, "e_phoff", ph as u32);
    f.u32(ph + P_TYPE, "p_type (= e_shoff)", PT_LOAD);
    f.u32(ph + P_OFFSET, "p_offset (= e_flags)", offset);
    f.u16(E_EHSIZE, "e_ehsize", ehdr_size);
    f.u16(E_PHENTSIZE, "e_phentsize", phdr32::SIZE as u16);
    f.u32(ph + P_VADDR, "p_vaddr (= e_ehsize, e_phentsize)", vaddr);
    debug_assert_eq!(u64::from(vaddr - offset), base);
    f.u16(E_PHNUM, "e_phnum (in p_paddr)", 1);
    let size = (file_len as u32).saturating_sub(offset);
    f.u32(ph + P_FILESZ, "p_filesz (= e_shnum, e_shstrndx)", size);
    f.u32(ph + P_MEMSZ, "p_memsz", size);
    f.u32(ph + P_FLAGS, "p_flags", PF_R | PF_X);
}

/// 386, kernel: Brian Raiter's layout. The program header starts at e_ident[EI_CLASS]
/// (offset 4); e_type and e_machine are p_paddr, e_version is p_filesz, e_entry is p_memsz
/// and e_phoff = 4 is p_flags = PF_R (a 32-bit x86 process without PT_GNU_STACK gets
/// read-implies-exec). e_shoff, e_flags and e_ehsize hold code; the file may end after
/// e_phnum's low byte. 46 bytes of headers.
const I386_KERNEL_PHOFF: usize = EI_CLASS;

fn i386_kernel(f: &mut Fields, base: u64, entry: u64) {
    use ehdr32::*;
    use phdr32::*;
    let ph = I386_KERNEL_PHOFF;
    f.put(EI_MAG0, "e_ident[EI_MAG0..=EI_MAG3]", &ELFMAG);
    f.u32(ph + P_TYPE, "p_type (= e_ident[EI_CLASS..])", PT_LOAD);
    f.u32(ph + P_OFFSET, "p_offset (in e_ident)", 0);
    f.u32(ph + P_VADDR, "p_vaddr (in e_ident)", base as u32);
    f.u16(E_TYPE, "e_type (in p_paddr)", ET_EXEC);
    f.u16(E_MACHINE, "e_machine (in p_paddr)", EM_386);
    f.u32(ph + P_FILESZ, "p_filesz (= e_version)", entry as u32);
    f.u32(E_ENTRY, "e_entry", entry as u32);
    f.u32(ph + P_MEMSZ, "p_memsz (= e_entry)", entry as u32);
    f.u32(E_PHOFF, "e_phoff", ph as u32);
    f.u32(ph + P_FLAGS, "p_flags (= e_phoff)", PF_R);
    f.u16(E_PHENTSIZE, "e_phentsize", phdr32::SIZE as u16);
    f.u16(E_PHNUM, "e_phnum", 1);
}
