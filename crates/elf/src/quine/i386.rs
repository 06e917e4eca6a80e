//! The quine on 386. The amd64 listing uses no REX prefix and no 64-bit operand, so its
//! bytes mean the same in 32-bit mode (r-registers read as e-registers; pushes are 4
//! bytes, which only [`amd64::k_table`] has to allow for): this file takes
//! [`amd64::body`] as it is and adds the 32-bit system call and headers. The tests decode
//! every instruction with capstone in 32-bit mode against the listing's text.

use super::amd64::{self, Addresses};
use super::Output;
use crate::arch::Insn;
use crate::elf::layout::Fields;
use crate::elf::machine::machine;
use crate::elf::spec::*;
use crate::elf::Payload;
use crate::{Fit, Platform};

/// The amd64 listing's text with 32-bit register names.
fn to32(insn: Insn) -> Insn {
    let mut asm = insn.asm.clone();
    for (r, e) in [
        ("rax", "eax"),
        ("rbx", "ebx"),
        ("rcx", "ecx"),
        ("rdx", "edx"),
        ("rsi", "esi"),
        ("rdi", "edi"),
        ("rbp", "ebp"),
        ("rsp", "esp"),
    ] {
        asm = asm.replace(r, e);
    }
    Insn { asm, ..insn }
}

/// The quine on 386.
pub fn listing(a: &Addresses) -> Vec<Insn> {
    let mut code: Vec<Insn> = amd64::body(a, true).into_iter().map(to32).collect();
    code.extend(write_exit(a.out, a.out_len));
    code
}

/// write(1, out, len) with int 0x80, again after a short write, then exit(0) (exit(1) if
/// write fails).
pub fn write_exit(out: u32, len: u32) -> Vec<Insn> {
    let imm = |op: u8, v: u32| {
        let mut b = vec![op];
        b.extend_from_slice(&v.to_le_bytes());
        b
    };
    vec![
        Insn::new(&imm(0xb9, out), format!("mov ecx, {out:#x} ; the output")),
        Insn::new(&imm(0xba, len), format!("mov edx, {len} ; its length")),
        Insn::new(&[0x31, 0xdb], "xor ebx, ebx"),
        Insn::new(&[0x43], "inc ebx ; fd 1, and exit status 1 if write fails"),
        // write:
        Insn::new(&[0x6a, 0x04], "push 4 ; SYS_write"),
        Insn::new(&[0x58], "pop eax"),
        Insn::new(&[0xcd, 0x80], "int 0x80"),
        Insn::new(&[0x85, 0xc0], "test eax, eax"),
        Insn::new(&[0x7e, 0x07], "jle exit"),
        Insn::new(&[0x01, 0xc1], "add ecx, eax"),
        Insn::new(&[0x29, 0xc2], "sub edx, eax"),
        Insn::new(&[0x75, 0xf1], "jne write"),
        Insn::new(&[0x4b], "dec ebx ; status 0"),
        // exit:
        Insn::new(&[0x31, 0xc0], "xor eax, eax"),
        Insn::new(&[0x40], "inc eax ; SYS_exit"),
        Insn::new(&[0xcd, 0x80], "int 0x80"),
    ]
}

/// 52 + 32 (portable), or 44 + 32 where the program header starts at e_phnum (kernel).
pub(super) fn header_len(fit: Fit) -> usize {
    match fit {
        Fit::Portable => ehdr32::SIZE + phdr32::SIZE,
        Fit::Kernel => ehdr32::E_PHNUM + phdr32::SIZE,
    }
}

/// As amd64's, in ELF32. In the kernel fit the program header starts at e_phnum: p_type =
/// e_phnum | e_shentsize << 16 = 1 (PT_LOAD), p_offset = e_shnum | e_shstrndx << 16 = 0.
pub(super) fn headers(fit: Fit, file_len: usize, memsz: u32, entry: usize) -> Fields {
    use ehdr32::*;
    use phdr32::*;
    let m = machine(Platform::I386);
    let mut f = Fields::new(&m);
    let ph = match fit {
        Fit::Portable => ehdr32::SIZE,
        Fit::Kernel => E_PHNUM,
    };
    f.e_ident(&m);
    f.u16(E_TYPE, "e_type", ET_EXEC);
    f.u16(E_MACHINE, "e_machine", m.e_machine);
    f.u32(E_VERSION, "e_version", u32::from(EV_CURRENT));
    f.u32(E_ENTRY, "e_entry", amd64::BASE + entry as u32);
    f.u32(E_PHOFF, "e_phoff", ph as u32);
    f.u32(E_SHOFF, "e_shoff", 0);
    f.u32(E_FLAGS, "e_flags", 0);
    f.u16(E_EHSIZE, "e_ehsize", ehdr32::SIZE as u16);
    f.u16(E_PHENTSIZE, "e_phentsize", phdr32::SIZE as u16);
    f.u16(E_PHNUM, "e_phnum", 1);
    f.u16(E_SHENTSIZE, "e_shentsize", 0);
    match fit {
        Fit::Portable => {
            f.u16(E_SHNUM, "e_shnum", 0);
            f.u16(E_SHSTRNDX, "e_shstrndx", 0);
            f.u32(ph + P_TYPE, "p_type", PT_LOAD);
            f.u32(ph + P_OFFSET, "p_offset", 0);
        }
        Fit::Kernel => {
            f.u32(ph + P_TYPE, "p_type (= e_phnum, e_shentsize)", PT_LOAD);
            f.u32(ph + P_OFFSET, "p_offset (= e_shnum, e_shstrndx)", 0);
        }
    }
    f.u32(ph + P_VADDR, "p_vaddr", amd64::BASE);
    f.u32(ph + P_PADDR, "p_paddr", amd64::BASE);
    f.u32(ph + P_FILESZ, "p_filesz", file_len as u32);
    f.u32(ph + P_MEMSZ, "p_memsz", memsz);
    f.u32(ph + P_FLAGS, "p_flags", PF_R | PF_W | PF_X);
    f.u32(ph + P_ALIGN, "p_align", 0x1000);
    f
}

/// The quine's file for `fit`, printing `output`.
pub fn quine(fit: Fit, output: &Output) -> Payload {
    amd64::quine_on(Platform::I386, fit, output, listing)
}
