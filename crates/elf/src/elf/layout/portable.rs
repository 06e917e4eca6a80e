//! The portable layouts every platform shares: an honest ELF header for qemu-user and
//! binfmt_misc, with the program header overlapping its tail where the bytes agree.

use super::{Fields, Rules, Values};
use crate::elf::machine::Machine;
use crate::elf::spec::*;

/// The portable rules for a machine, or with `kernel`, the same minus what only
/// binfmt_misc reads: e_ident[EI_OSABI..EI_NIDENT] (9 bytes) is then free for code. qemu-user
/// run directly and Linux check neither.
pub fn for_machine(m: &Machine, kernel: bool) -> &'static dyn Rules {
    match (m.class, m.data, kernel) {
        (ELFCLASS64, ELFDATA2LSB, false) => &PORTABLE64_LSB,
        (ELFCLASS64, ELFDATA2LSB, true) => &KERNEL64_LSB,
        (ELFCLASS64, _, false) => &PORTABLE64_MSB,
        (ELFCLASS64, _, true) => &KERNEL64_MSB,
        (_, _, false) => &PORTABLE32,
        (_, _, true) => &KERNEL32,
    }
}

/// e_ident: honest, or (kernel fit) only the bytes qemu-user reads.
fn e_ident(f: &mut Fields, m: &Machine, honest: bool) {
    if honest {
        f.e_ident(m);
    } else {
        f.put(EI_MAG0, "e_ident[EI_MAG0..=EI_MAG3]", &ELFMAG);
        f.u8(EI_CLASS, "e_ident[EI_CLASS]", m.class);
        f.u8(EI_DATA, "e_ident[EI_DATA]", m.data);
        f.u8(EI_VERSION, "e_ident[EI_VERSION]", EV_CURRENT);
    }
}

/// 64-bit: a plain 64-byte ELF header whose last bytes are also the first of the program
/// header. Little-endian: e_phnum = 1 and e_shentsize = 0 read as p_type = PT_LOAD, and
/// e_shnum/e_shstrndx as p_flags (8 bytes shared, 112 bytes of headers). Big-endian: only
/// e_shstrndx = 0 is shared, as p_type's high half (118 bytes): qemu-user on a
/// little-endian host byte-swaps the ELF header and then the program header in one buffer,
/// so a 4-byte overlap (e_shnum = 0, e_shstrndx = 1 as p_type = 1) reads as p_type 0x100
/// there; zero reads the same both ways. Holes: e_version, e_shoff, e_flags (where the
/// machine ignores it), p_paddr, p_align, and on big-endian e_shentsize + e_shnum.
pub struct Portable64 {
    phoff: usize,
    honest_ident: bool,
}

pub static PORTABLE64_LSB: Portable64 = Portable64 {
    phoff: ehdr64::E_PHNUM,
    honest_ident: true,
};
pub static PORTABLE64_MSB: Portable64 = Portable64 {
    phoff: ehdr64::E_SHENTSIZE + 4,
    honest_ident: true,
};
pub static KERNEL64_LSB: Portable64 = Portable64 {
    phoff: ehdr64::E_PHNUM,
    honest_ident: false,
};
pub static KERNEL64_MSB: Portable64 = Portable64 {
    phoff: ehdr64::E_SHENTSIZE + 4,
    honest_ident: false,
};

impl Rules for Portable64 {
    fn header_len(&self) -> usize {
        self.phoff + phdr64::SIZE
    }

    fn fields(&self, m: &Machine, f: &mut Fields, v: Values) {
        use ehdr64::*;
        use phdr64::*;
        let ph = self.phoff;
        e_ident(f, m, self.honest_ident);
        f.u16(E_TYPE, "e_type", ET_EXEC);
        f.u16(E_MACHINE, "e_machine", m.e_machine);
        f.u64(E_ENTRY, "e_entry", v.entry);
        f.u64(E_PHOFF, "e_phoff", ph as u64);
        if let Some(flags) = m.e_flags {
            f.u32(E_FLAGS, "e_flags", flags);
        }
        f.u16(E_EHSIZE, "e_ehsize", ehdr64::SIZE as u16);
        f.u16(E_PHENTSIZE, "e_phentsize", phdr64::SIZE as u16);
        f.u16(E_PHNUM, "e_phnum", 1);
        if ph == E_PHNUM {
            f.u32(ph + P_TYPE, "p_type (= e_phnum, e_shentsize)", PT_LOAD);
            f.u32(
                ph + P_FLAGS,
                "p_flags (= e_shnum, e_shstrndx)",
                v.segment.flags(PF_R | PF_X),
            );
        } else {
            f.u32(ph + P_TYPE, "p_type (high half = e_shstrndx = 0)", PT_LOAD);
            f.u32(ph + P_FLAGS, "p_flags", v.segment.flags(PF_R | PF_X));
        }
        f.u64(ph + P_OFFSET, "p_offset", 0);
        f.u64(ph + P_VADDR, "p_vaddr", v.base);
        f.u64(ph + P_FILESZ, "p_filesz", v.file_len as u64);
        f.u64(ph + P_MEMSZ, "p_memsz", v.segment.memsz(v.file_len as u64));
    }
}

/// 32-bit: a plain 52-byte ELF header whose last 8 bytes are also the first 8 of the program
/// header (e_phnum = 1 and e_shentsize = 0 read as p_type = PT_LOAD; e_shnum and e_shstrndx
/// as p_offset = 0). 76 bytes of headers; holes: e_version, e_shoff, e_flags (where the
/// machine ignores it), p_paddr, p_align.
pub struct Portable32 {
    honest_ident: bool,
}

pub static PORTABLE32: Portable32 = Portable32 { honest_ident: true };
pub static KERNEL32: Portable32 = Portable32 {
    honest_ident: false,
};

const PORTABLE32_PHOFF: usize = ehdr32::E_PHNUM;

impl Rules for Portable32 {
    fn header_len(&self) -> usize {
        PORTABLE32_PHOFF + phdr32::SIZE
    }

    fn fields(&self, m: &Machine, f: &mut Fields, v: Values) {
        use ehdr32::*;
        use phdr32::*;
        let ph = PORTABLE32_PHOFF;
        e_ident(f, m, self.honest_ident);
        f.u16(E_TYPE, "e_type", ET_EXEC);
        f.u16(E_MACHINE, "e_machine", m.e_machine);
        f.u32(E_ENTRY, "e_entry", v.entry as u32);
        f.u32(E_PHOFF, "e_phoff", ph as u32);
        if let Some(flags) = m.e_flags {
            f.u32(E_FLAGS, "e_flags", flags);
        }
        f.u16(E_EHSIZE, "e_ehsize", ehdr32::SIZE as u16);
        f.u16(E_PHENTSIZE, "e_phentsize", phdr32::SIZE as u16);
        f.u16(E_PHNUM, "e_phnum", 1);
        f.u32(ph + P_TYPE, "p_type (= e_phnum, e_shentsize)", PT_LOAD);
        f.u32(ph + P_OFFSET, "p_offset (= e_shnum, e_shstrndx)", 0);
        f.u32(ph + P_VADDR, "p_vaddr", v.base as u32);
        f.u32(ph + P_FILESZ, "p_filesz", v.file_len as u32);
        f.u32(
            ph + P_MEMSZ,
            "p_memsz",
            v.segment.memsz(v.file_len as u64) as u32,
        );
        f.u32(ph + P_FLAGS, "p_flags", v.segment.flags(PF_R | PF_X));
    }
}
