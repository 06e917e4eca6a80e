//! `hello` on IA-32: write(1, message, len), then exit(0).

use super::*;

pub(super) fn hello(message: &[u8], _addressing: Addressing) -> Code {
    let insns = vec![
        Insn::new(&[0xb0, SYS_WRITE], "mov al, 4 ; SYS_write"),
        Insn::new(&[0x43], "inc ebx ; fd 1 = stdout"),
        Insn::new(&[0xb9, 0, 0, 0, 0], "mov ecx, message").fixup(Fixup::Abs32 {
            at: 1,
            target: Target::Data,
        }),
        x86::set_edx(message.len()),
        Insn::new(&[0xcd, 0x80], "int 0x80"),
        // eax holds what write returned; ebx is 1, the SYS_exit number.
        Insn::new(&[0x93], "xchg ebx, eax ; eax = 1 = SYS_exit"),
        Insn::new(&[0x31, 0xdb], "xor ebx, ebx ; status 0"),
        Insn::new(&[0xcd, 0x80], "int 0x80"),
    ];
    Code {
        insns,
        data: message.to_vec(),
    }
}
