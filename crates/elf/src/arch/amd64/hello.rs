//! `hello` on x86-64: write(1, message, len), then exit(0).

use super::{SYS_EXIT, SYS_WRITE};
use crate::arch::{x86, Addressing, Code, Fixup, Insn, Target};

pub(super) fn hello(message: &[u8], addressing: Addressing) -> Code {
    let insns = vec![
        Insn::new(&[0xb0, SYS_WRITE], "mov al, 1 ; SYS_write"),
        Insn::new(&[0x89, 0xc7], "mov edi, eax ; fd 1 = stdout"),
        match addressing {
            Addressing::Abs32 => {
                Insn::new(&[0xbe, 0, 0, 0, 0], "mov esi, message").fixup(Fixup::Abs32 {
                    at: 1,
                    target: Target::Data,
                })
            }
            Addressing::PcRelative => {
                Insn::new(&[0x48, 0x8d, 0x35, 0, 0, 0, 0], "lea rsi, [rip + message]").fixup(
                    Fixup::Rel32 {
                        at: 3,
                        target: Target::Data,
                    },
                )
            }
        },
        x86::set_edx(message.len()),
        Insn::new(&[0x0f, 0x05], "syscall"),
        // rax now holds what write returned (possibly a negative errno), so set all of it.
        Insn::new(&[0x6a, SYS_EXIT], "push 60 ; SYS_exit"),
        Insn::new(&[0x58], "pop rax"),
        Insn::new(&[0x31, 0xff], "xor edi, edi ; status 0"),
        Insn::new(&[0x0f, 0x05], "syscall"),
    ];
    Code {
        insns,
        data: message.to_vec(),
    }
}
