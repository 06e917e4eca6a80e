//! `exit` on AArch64: exit(code).

use super::*;

pub(super) fn exit(code: u8) -> Code {
    let mut insns = Vec::new();
    insns.extend(set(X0, u64::from(code), "status"));
    insns.push(a64(0xd280_0ba8, "mov x8, #93 ; SYS_exit"));
    insns.push(a64(0xd400_0001, "svc #0"));
    Code {
        insns,
        data: Vec::new(),
    }
}
