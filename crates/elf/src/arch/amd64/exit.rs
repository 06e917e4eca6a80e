//! `exit` on x86-64: exit(code), the status set only when it is not 0.

use super::SYS_EXIT;
use crate::arch::{Code, Insn};

pub(super) fn exit(code: u8) -> Code {
    let mut insns = vec![Insn::new(&[0xb0, SYS_EXIT], "mov al, 60 ; SYS_exit")];
    if code != 0 {
        insns.push(Insn::new(&[0x40, 0xb7, code], format!("mov dil, {code}")));
    }
    insns.push(Insn::new(&[0x0f, 0x05], "syscall"));
    Code {
        insns,
        data: Vec::new(),
    }
}
