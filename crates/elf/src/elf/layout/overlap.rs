//! Layouts for arm64, arm, riscv64, ppc64le and s390x whose program header starts earlier
//! inside the ELF header than the portable ones' (issue #15). [`super::Layout::candidates`]
//! offers them beside the portable layout and [`crate::elf::build`] keeps whichever gives the
//! smaller file, program by program: moving the program header also moves (and on 4-byte
//! ISAs misaligns) the holes code lives in, so a shorter header is not always a shorter file.
//!
//! # The search
//!
//! Every layout here must load under Linux (fs/binfmt_elf.c) *and* under qemu-user 7.2, the
//! only way a foreign ISA runs on this machine: qemu reads e_ident[EI_CLASS], [EI_DATA] and
//! [EI_VERSION], e_ehsize, and e_flags where the ISA has them (design.md §2). Linux reads the
//! whole program header from the file (so the file is at least e_phoff + 56 / + 32 bytes
//! long), needs p_type = PT_LOAD, p_offset ≡ p_vaddr modulo the page size with the mapped
//! page inside the file (p_offset < 4096), p_filesz ≤ p_memsz, and PF_X for code.
//!
//! A program header at e_phoff = k overlaps header bytes k..64 (k..52 on 32-bit). Trying
//! every k below the portable layouts' (56 on 64-bit little-endian, 62 on s390x, 44 on arm):
//!
//! - **64-bit little-endian (arm64, riscv64, ppc64le).** p_type = 1 needs four bytes
//!   `01 00 00 00` a header field allows: e_ident's padding (k = 6..12: p_offset then holds
//!   e_type and e_machine, megabytes), e_version (k = 20: p_flags = e_entry's low half,
//!   which would need an odd entry address), e_entry/e_phoff (k = 21..39: p_flags or
//!   p_type land on the entry address's low bytes or on e_phoff = k), e_shoff (k = 40..46:
//!   p_offset takes e_ehsize = 0x40 or e_phentsize = 0x38 above its low byte), e_flags
//!   (k = 48: p_flags = e_ehsize | e_phentsize << 16 = 0x0038_0040 has no PF_X), and
//!   k = 49..55 puts 0x40 or 0x38 into p_type. What is left is **k = 47**
//!   ([`LSB64_AT_47`]): p_type is e_shoff's top byte (1) and e_flags' low three bytes (0),
//!   p_flags is e_flags' top byte (PF_R | PF_X) with e_ehsize and e_phentsize's low byte
//!   above it (0x3800_4005: Linux and qemu read only PF_R/W/X), and p_offset = 256 is
//!   e_phentsize's high byte, e_phnum = 1, and the section fields (zero). That makes
//!   e_flags = 0x0500_0000: arm64 reads no e_flags; riscv64's qemu reads EF_RISCV_RVE
//!   (clear: syscall numbers stay in a7) and Linux's riscv `elf_check_arch` e_machine and
//!   EI_CLASS; ppc64le needs e_flags & 3 = 2 (ELFv2)
//!   in both (with 0, ELFv1, e_entry would name a function descriptor and r12, from which
//!   the ppc64le listings address their data, would not hold the entry point), so ppc64le
//!   keeps the portable layout. The portable fit cannot use k = 47 (its
//!   p_flags is PF_R | PF_X exactly and e_flags are the toolchain's), nor anything below it.
//!   103 bytes of headers against 112, but the odd offset leaves p_paddr and p_align only
//!   one aligned instruction slot each, so it wins for `exit` and loses for `hello`.
//! - **s390x (64-bit big-endian).** Same clashes, plus one of qemu's: on a little-endian
//!   host it byte-swaps the ELF header in its buffer and then swaps the program header in
//!   the same buffer, so bytes shared by both are read reversed within each header field
//!   and again within each program-header field. p_type must read 1 both ways. At k = 61
//!   ([`S390X_AT_61`]) it covers e_shnum's low byte and e_shstrndx (zero, with e_shnum's
//!   high byte, which qemu reads there), then a byte past the header; 117 bytes, portable and kernel. At k = 59
//!   ([`S390X_AT_59`], kernel fit) it covers e_shentsize's low byte, e_shnum and e_shstrndx's
//!   high byte (all but the last zero, as are the bytes qemu reads instead): Linux reads `00 00 00 01` if e_shstrndx's high byte is 1, qemu reads
//!   e_shstrndx's low byte there, so e_shstrndx = 0x0101, and p_flags (Linux and qemu alike)
//!   = 0x0100_0005, a bit in PF_MASKOS that Linux ignores; 115 bytes. k = 60 and k = 58 need
//!   the 1 in two places the swaps send apart; k = 57 would need e_phnum = 0.
//! - **arm (32-bit).** p_type at e_ident's padding (k = 7, 8) puts e_phoff = k into p_memsz
//!   below p_filesz (= e_entry's bytes); at k = 9..12 p_offset holds e_type/e_machine; at
//!   e_version (k = 20) p_offset is e_entry; at e_shoff (k = 32..35) p_offset holds e_flags'
//!   EABI byte and e_ehsize; k = 40..43 puts e_ehsize or e_phentsize into p_type. **No
//!   layout is smaller than the portable one's 76 bytes** (a 45-byte Raiter-style header at
//!   k = 4 would need EI_CLASS = 1 to be p_type's low byte, which qemu-arm refuses and which
//!   this machine cannot run on a real arm kernel).

use super::{Fields, Rules, Values};
use crate::elf::machine::Machine;
use crate::elf::spec::*;

/// Writes the e_ident bytes qemu-user reads (magic, class, byte order, version); the
/// portable layouts also zero the padding binfmt_misc matches.
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

/// 64-bit little-endian, kernel fit (arm64, riscv64): the program header at e_phoff = 47.
///
/// ```text
/// 47 01                p_type (= e_shoff's top byte)
/// 48 00 00 00 05       e_flags = 0x0500_0000; p_type's high bytes, then p_flags' low byte
/// 52 40 00             e_ehsize            (= p_flags' bytes 1-2)
/// 54 38 00             e_phentsize         (= p_flags' top byte, p_offset's low byte)
/// 56 01 00             e_phnum = 1         (= p_offset = 0x100)
/// 58 00 00 00 00 00    e_shentsize, e_shnum, e_shstrndx's low byte (= p_offset's top)
/// 63 00 01 01 00 ...   e_shstrndx's high byte = p_vaddr = base + 0x100
/// 71                   p_paddr: free
/// 79                   p_filesz = p_memsz: the file's length (any length maps it whole:
/// 87                   the mapping starts at the page holding p_offset, file offset 0)
/// 95..103              p_align: free
/// ```
///
/// Holes: e_ident[7..16], e_version, e_shoff's first 7 bytes, p_paddr, p_align.
pub struct Lsb64At47;
pub static LSB64_AT_47: Lsb64At47 = Lsb64At47;

const AT_47: usize = 47;
/// p_offset: e_phnum = 1 is its second byte.
const AT_47_OFFSET: u64 = 0x100;
/// e_flags: p_flags' low byte is e_flags' top byte.
const AT_47_E_FLAGS: u32 = (PF_R | PF_X) << 24;

impl Rules for Lsb64At47 {
    fn header_len(&self) -> usize {
        AT_47 + phdr64::SIZE
    }

    /// p_filesz does not end where the file does (the segment starts at p_offset = 256).
    fn zero_fill(&self) -> bool {
        false
    }

    fn fields(&self, m: &Machine, f: &mut Fields, v: Values) {
        use ehdr64::*;
        use phdr64::*;
        let ph = AT_47;
        e_ident(f, m, false);
        f.u16(E_TYPE, "e_type", ET_EXEC);
        f.u16(E_MACHINE, "e_machine", m.e_machine);
        f.u64(E_ENTRY, "e_entry", v.entry);
        f.u64(E_PHOFF, "e_phoff", ph as u64);
        f.u32(
            ph + P_TYPE,
            "p_type (= e_shoff's top byte, e_flags' low bytes)",
            PT_LOAD,
        );
        f.u32(E_FLAGS, "e_flags (top byte = p_flags)", AT_47_E_FLAGS);
        f.u16(E_EHSIZE, "e_ehsize", ehdr64::SIZE as u16);
        f.u16(E_PHENTSIZE, "e_phentsize", phdr64::SIZE as u16);
        f.u16(E_PHNUM, "e_phnum", 1);
        let flags = (PF_R | PF_X) | (ehdr64::SIZE as u32) << 8 | (phdr64::SIZE as u32) << 24;
        f.u32(
            ph + P_FLAGS,
            "p_flags (= e_flags' top byte, e_ehsize, e_phentsize's low byte)",
            flags,
        );
        f.u64(
            ph + P_OFFSET,
            "p_offset (= e_phentsize's high byte, e_phnum, e_shentsize, e_shnum, e_shstrndx)",
            AT_47_OFFSET,
        );
        f.u64(ph + P_VADDR, "p_vaddr", v.base + AT_47_OFFSET);
        f.u64(ph + P_FILESZ, "p_filesz", v.file_len as u64);
        f.u64(ph + P_MEMSZ, "p_memsz", v.file_len as u64);
    }
}

/// s390x: the program header over the ELF header's last bytes, where Linux (big-endian)
/// and qemu-user on a little-endian host (which byte-swaps the shared bytes twice, see the
/// module docs) read the same p_type and p_flags.
pub struct S390xTail {
    phoff: usize,
    honest_ident: bool,
}

/// s390x, portable and kernel fit: e_phoff = 61. p_type = `00 00 00 | 01`: e_shnum's low
/// byte and e_shstrndx are zero, and so is e_shnum's high byte, which qemu reads in their
/// place after its swap. 117 bytes of headers; holes: e_version, e_shoff, e_flags,
/// e_shentsize, p_paddr, p_align.
pub static S390X_AT_61: S390xTail = S390xTail {
    phoff: 61,
    honest_ident: true,
};

/// s390x, kernel fit: e_phoff = 59.
///
/// ```text
/// 58 00 00             e_shentsize = 0     (= p_type's first byte; qemu reads byte 58 there)
/// 60 00 00             e_shnum = 0         (= p_type's middle bytes)
/// 62 01 01             e_shstrndx = 0x0101: Linux reads p_type's low byte at 62, qemu
///                      (after swapping e_shstrndx) at 63; p_flags' high byte at 63 is the
///                      other reading's, 1 both ways
/// 64 00 00 05          p_flags = 0x0100_0005 (PF_R | PF_X, and bit 24 in PF_MASKOS, ignored)
/// ```
///
/// 115 bytes of headers; holes: e_ident[7..16], e_version, e_shoff, e_flags, p_paddr,
/// p_align.
pub static S390X_AT_59: S390xTail = S390xTail {
    phoff: 59,
    honest_ident: false,
};

impl Rules for S390xTail {
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
        f.u16(E_EHSIZE, "e_ehsize", ehdr64::SIZE as u16);
        f.u16(E_PHENTSIZE, "e_phentsize", phdr64::SIZE as u16);
        f.u16(E_PHNUM, "e_phnum", 1);
        match ph {
            61 => {
                // qemu reads e_shnum's high byte where p_type's first byte is.
                f.u16(E_SHENTSIZE + 2, "e_shnum (= p_type)", 0);
                f.u16(E_SHENTSIZE + 4, "e_shstrndx (= p_type)", 0);
                f.u32(ph + P_TYPE, "p_type", PT_LOAD);
                f.u32(ph + P_FLAGS, "p_flags", v.segment.flags(PF_R | PF_X));
            }
            59 => {
                // qemu reads e_shentsize's high byte where p_type's first byte is.
                f.u16(E_SHENTSIZE, "e_shentsize (= p_type)", 0);
                f.u16(E_SHENTSIZE + 2, "e_shnum (= p_type)", 0);
                f.u16(E_SHENTSIZE + 4, "e_shstrndx (= p_type, p_flags)", 0x0101);
                f.u32(ph + P_TYPE, "p_type", PT_LOAD);
                f.u32(
                    ph + P_FLAGS,
                    "p_flags (high byte = e_shstrndx's low byte)",
                    v.segment.flags(0x0100_0000 | PF_R | PF_X),
                );
            }
            _ => unreachable!("no other s390x tail layout"),
        }
        f.u64(ph + P_OFFSET, "p_offset", 0);
        f.u64(ph + P_VADDR, "p_vaddr", v.base);
        f.u64(ph + P_FILESZ, "p_filesz", v.file_len as u64);
        f.u64(ph + P_MEMSZ, "p_memsz", v.segment.memsz(v.file_len as u64));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::elf::machine::machine;
    use crate::elf::spec::ehdr64::*;
    use crate::Platform;

    /// qemu-user on a little-endian host: the ELF header's fields byte-swapped in place, then
    /// the program header's, in the same buffer (linux-user/elfload.c, `bswap_ehdr` and
    /// `bswap_phdr`); returns (p_type, p_flags) as qemu then reads them.
    fn qemu_reads(file: &mut [u8], phoff: usize) -> (u32, u32) {
        let fields = [
            (E_TYPE, 2),
            (E_MACHINE, 2),
            (E_VERSION, 4),
            (E_ENTRY, 8),
            (E_PHOFF, 8),
            (E_SHOFF, 8),
            (E_FLAGS, 4),
            (E_EHSIZE, 2),
            (E_PHENTSIZE, 2),
            (E_PHNUM, 2),
            (E_SHENTSIZE, 2),
            (E_SHENTSIZE + 2, 2),
            (E_SHENTSIZE + 4, 2),
        ];
        for (at, len) in fields {
            file[at..at + len].reverse();
        }
        // bswap_phdr, then the host's little-endian read: the swapped bytes as big-endian.
        let be = |at: usize| u32::from_be_bytes(file[at..at + 4].try_into().unwrap());
        (be(phoff), be(phoff + 4))
    }

    /// Linux (big-endian) and qemu-user read p_type = PT_LOAD and PF_R | PF_X from the
    /// s390x tail layouts.
    #[test]
    fn s390x_tails_read_the_same_in_linux_and_qemu() {
        let m = machine(Platform::S390x);
        for rules in [&S390X_AT_61, &S390X_AT_59] {
            let len = rules.header_len();
            let mut f = Fields::new(&m);
            let v = Values {
                base: super::super::DEFAULT_BASE,
                entry: super::super::DEFAULT_BASE + 40,
                file_len: len,
                segment: Default::default(),
            };
            rules.fields(&m, &mut f, v);
            let mut file = vec![0u8; len];
            f.write(&mut file);
            let ph = rules.phoff;
            let be = |at: usize| u32::from_be_bytes(file[at..at + 4].try_into().unwrap());
            let linux = (be(ph), be(ph + 4));
            let qemu = qemu_reads(&mut file, ph);
            for (who, (p_type, p_flags)) in [("linux", linux), ("qemu", qemu)] {
                assert_eq!(p_type, PT_LOAD, "{who}, e_phoff {ph}");
                assert_eq!(p_flags & 7, PF_R | PF_X, "{who}, e_phoff {ph}");
            }
        }
    }
}
