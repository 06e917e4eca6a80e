//! `exit` on IA-32: exit(code), the status set only when it is not 0.

use super::*;

pub(super) fn exit(code: u8) -> Code {
    let mut insns = Vec::new();
    if code != 0 {
        insns.push(Insn::new(&[0xb3, code], format!("mov bl, {code}")));
    }
    insns.push(Insn::new(&[0x40], "inc eax ; SYS_exit"));
    insns.push(Insn::new(&[0xcd, 0x80], "int 0x80"));
    Code {
        insns,
        data: Vec::new(),
    }
}
