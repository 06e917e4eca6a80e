//! The quine on 386 ([`crate::quine`]). The amd64 listing uses no REX prefix and no 64-bit operand, so its
//! bytes mean the same in 32-bit mode (r-registers read as e-registers; pushes are 4
//! bytes, which only `k_table` (arch/amd64/quine.rs) has to allow for): this file takes
//! the amd64 `body` as it is and adds the 32-bit system call and headers. The tests decode
//! every instruction with capstone in 32-bit mode against the listing's text.

use crate::arch::amd64::quine as amd64;
use crate::arch::quine::Addresses;
use crate::arch::Insn;

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

/// The SHA-256 test program: amd64's, with the 32-bit stack and system call.
pub fn sha256_test(a: &Addresses) -> Vec<Insn> {
    let mut code: Vec<Insn> = amd64::digest(a, true).into_iter().map(to32).collect();
    code.extend(write_exit(a.hex, 64));
    code
}
