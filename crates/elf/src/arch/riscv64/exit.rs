//! `exit` on riscv64: exit(code).

use super::*;

pub(super) fn exit(code: u8) -> Code {
    let mut insns = Vec::new();
    insns.extend(li(A0, code.into(), "status"));
    insns.push(listed(
        &[0x93, 0x08, 0xd0, 0x05],
        addi(A7, ZERO, SYS_EXIT),
        "addi a7, zero, 93 ; SYS_exit",
    ));
    insns.push(ecall());
    Code {
        insns,
        data: Vec::new(),
    }
}
