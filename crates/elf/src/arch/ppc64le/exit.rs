//! `exit` on ppc64le: exit(code).

use super::*;

pub(super) fn exit(code: u8) -> Code {
    let insns = vec![
        word(0x3800_0000 | SYS_EXIT, "li r0, 1 ; SYS_exit"),
        word(0x3860_0000 | code as u32, format!("li r3, {code}")),
        word(0x4400_0002, "sc"),
    ];
    Code {
        insns,
        data: Vec::new(),
    }
}
