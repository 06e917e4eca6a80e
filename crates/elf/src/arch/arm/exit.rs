//! `exit` on 32-bit ARM (Thumb): exit(code), the status set only when it is not 0.

use super::*;

pub(super) fn exit(code: u8) -> Code {
    let mut insns = Vec::new();
    if code != 0 {
        insns.push(movs(0, code, " ; status"));
    }
    insns.push(t16(0x2701, "movs r7, #1 ; SYS_exit"));
    insns.push(t16(0xdf00, "svc #0"));
    Code {
        insns,
        data: Vec::new(),
    }
}
