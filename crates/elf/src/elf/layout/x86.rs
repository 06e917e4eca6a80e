//! The hand-golfed layouts of amd64 and 386.

use super::{Entry, Fields, Rules, Values, DEFAULT_BASE};
use crate::elf::machine::Machine;
use crate::elf::spec::*;

/// amd64, kernel: the program header starts at e_entry (offset 24). e_entry's low half is
/// p_type = PT_LOAD and its high half p_flags = PF_R | PF_X, so the entry point is
/// 0x5_0000_0001: file offset 1, where "ELF" decodes as REX prefixes of the first
/// instruction at byte 4. e_phoff doubles as p_offset, e_shoff as p_vaddr, e_phnum as the
/// low bits of p_filesz. 80 bytes of headers; e_ident[4..16], e_version, e_flags + e_ehsize
/// and p_align hold code.
pub struct Amd64Kernel;
pub static AMD64_KERNEL: Amd64Kernel = Amd64Kernel;

const AMD64_KERNEL_PHOFF: usize = ehdr64::E_ENTRY;
const AMD64_KERNEL_FLAGS: u32 = PF_R | PF_X;

impl Rules for Amd64Kernel {
    fn header_len(&self) -> usize {
        AMD64_KERNEL_PHOFF + phdr64::SIZE
    }

    fn trim_to(&self) -> Option<usize> {
        Some(self.header_len())
    }

    fn entry(&self) -> Entry {
        Entry::Prefixed { offset: 1, code: 4 }
    }

    fn base(&self, _file_len: usize) -> u64 {
        u64::from(AMD64_KERNEL_FLAGS) << 32
    }

    /// p_flags is e_entry's high half, and p_filesz is 1 modulo 64 KiB (e_phnum), so the
    /// fill would start past the end of the file.
    fn zero_fill(&self) -> bool {
        false
    }

    fn fields(&self, m: &Machine, f: &mut Fields, v: Values) {
        use ehdr64::*;
        use phdr64::*;
        let ph = AMD64_KERNEL_PHOFF;
        // p_filesz's low 16 bits are e_phnum = 1; the rest must cover the file past p_offset.
        let needed = v.file_len.saturating_sub(ph) as u64;
        let filesz = 1 + needed.saturating_sub(1).div_ceil(0x1_0000) * 0x1_0000;
        f.put(EI_MAG0, "e_ident[EI_MAG0..=EI_MAG3]", &ELFMAG);
        f.u16(E_TYPE, "e_type", ET_EXEC);
        f.u16(E_MACHINE, "e_machine", m.e_machine);
        f.u64(E_ENTRY, "e_entry", v.entry);
        f.u32(ph + P_TYPE, "p_type (= e_entry low half)", PT_LOAD);
        f.u32(
            ph + P_FLAGS,
            "p_flags (= e_entry high half)",
            AMD64_KERNEL_FLAGS,
        );
        f.u64(E_PHOFF, "e_phoff", ph as u64);
        f.u64(ph + P_OFFSET, "p_offset (= e_phoff)", ph as u64);
        f.u64(ph + P_VADDR, "p_vaddr (= e_shoff)", v.base + ph as u64);
        f.u16(E_PHENTSIZE, "e_phentsize (in p_paddr)", phdr64::SIZE as u16);
        f.u16(E_PHNUM, "e_phnum", 1);
        f.u64(
            ph + P_FILESZ,
            "p_filesz (= e_phnum, e_shentsize, e_shnum, e_shstrndx)",
            filesz,
        );
        f.u64(ph + P_MEMSZ, "p_memsz", filesz);
    }
}

/// 386, portable: the program header starts at e_shoff (offset 32): p_type = e_shoff = 1,
/// p_offset = e_flags = 0x34, and p_vaddr = e_ehsize | e_phentsize << 16 = 0x0020_0034,
/// which is why the image loads at 0x20_0000. e_phnum is p_paddr's low half. 64 bytes of
/// headers; e_version and p_align hold code. (Only x86 can do this: every other 32-bit
/// machine needs its e_flags.)
pub struct I386Portable;
pub static I386_PORTABLE: I386Portable = I386Portable;

const I386_PORTABLE_PHOFF: usize = ehdr32::E_SHOFF;
const I386_PORTABLE_VADDR: u32 = ehdr32::SIZE as u32 | (phdr32::SIZE as u32) << 16;

impl Rules for I386Portable {
    fn header_len(&self) -> usize {
        I386_PORTABLE_PHOFF + phdr32::SIZE
    }

    fn base(&self, _file_len: usize) -> u64 {
        u64::from(I386_PORTABLE_VADDR & !0xfff)
    }

    fn fields(&self, m: &Machine, f: &mut Fields, v: Values) {
        use ehdr32::*;
        use phdr32::*;
        let ph = I386_PORTABLE_PHOFF;
        let offset = I386_PORTABLE_VADDR & 0xfff;
        f.e_ident(m);
        f.u16(E_TYPE, "e_type", ET_EXEC);
        f.u16(E_MACHINE, "e_machine", m.e_machine);
        f.u32(E_ENTRY, "e_entry", v.entry as u32);
        f.u32(E_PHOFF, "e_phoff", ph as u32);
        f.u32(ph + P_TYPE, "p_type (= e_shoff)", PT_LOAD);
        f.u32(ph + P_OFFSET, "p_offset (= e_flags)", offset);
        f.u16(E_EHSIZE, "e_ehsize", ehdr32::SIZE as u16);
        f.u16(E_PHENTSIZE, "e_phentsize", phdr32::SIZE as u16);
        f.u32(
            ph + P_VADDR,
            "p_vaddr (= e_ehsize, e_phentsize)",
            I386_PORTABLE_VADDR,
        );
        f.u16(E_PHNUM, "e_phnum (in p_paddr)", 1);
        let size = (v.file_len as u32).saturating_sub(offset);
        f.u32(ph + P_FILESZ, "p_filesz (= e_shnum, e_shstrndx)", size);
        f.u32(ph + P_MEMSZ, "p_memsz", v.segment.memsz(size.into()) as u32);
        f.u32(ph + P_FLAGS, "p_flags", v.segment.flags(PF_R | PF_X));
    }
}

/// 386, kernel: Brian Raiter's layout. The program header starts at e_ident[EI_CLASS]
/// (offset 4); e_type and e_machine are p_paddr, e_version is p_filesz, e_entry is p_memsz
/// and e_phoff = 4 is p_flags = PF_R (a 32-bit x86 process without PT_GNU_STACK gets
/// read-implies-exec). e_shoff, e_flags and e_ehsize hold code; the file may end after
/// e_phnum's low byte. 46 bytes of headers.
pub struct I386Kernel;
pub static I386_KERNEL: I386Kernel = I386Kernel;

const I386_KERNEL_PHOFF: usize = EI_CLASS;

impl Rules for I386Kernel {
    fn header_len(&self) -> usize {
        ehdr32::E_PHNUM + 2
    }

    fn trim_to(&self) -> Option<usize> {
        // e_phnum's low byte is the last byte the kernel needs (its high byte is 0).
        Some(ehdr32::E_PHNUM + 1)
    }

    /// p_flags is e_phoff = PF_R, and p_memsz is e_entry.
    fn zero_fill(&self) -> bool {
        false
    }

    fn base(&self, file_len: usize) -> u64 {
        // p_memsz = e_entry, so the image must load high enough for the entry address to
        // cover the whole file.
        (file_len as u64).next_multiple_of(0x1000).max(DEFAULT_BASE)
    }

    fn fields(&self, m: &Machine, f: &mut Fields, v: Values) {
        use ehdr32::*;
        use phdr32::*;
        let ph = I386_KERNEL_PHOFF;
        let entry = v.entry as u32;
        f.put(EI_MAG0, "e_ident[EI_MAG0..=EI_MAG3]", &ELFMAG);
        f.u32(ph + P_TYPE, "p_type (= e_ident[EI_CLASS..])", PT_LOAD);
        f.u32(ph + P_OFFSET, "p_offset (in e_ident)", 0);
        f.u32(ph + P_VADDR, "p_vaddr (in e_ident)", v.base as u32);
        f.u16(E_TYPE, "e_type (in p_paddr)", ET_EXEC);
        f.u16(E_MACHINE, "e_machine (in p_paddr)", m.e_machine);
        f.u32(ph + P_FILESZ, "p_filesz (= e_version)", entry);
        f.u32(E_ENTRY, "e_entry", entry);
        f.u32(ph + P_MEMSZ, "p_memsz (= e_entry)", entry);
        f.u32(E_PHOFF, "e_phoff", ph as u32);
        f.u32(ph + P_FLAGS, "p_flags (= e_phoff)", PF_R);
        f.u16(E_PHENTSIZE, "e_phentsize", phdr32::SIZE as u16);
        f.u16(E_PHNUM, "e_phnum", 1);
    }
}
