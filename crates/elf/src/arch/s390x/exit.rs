//! `exit` on s390x: exit(code).

use super::*;

pub(super) fn exit(code: u8) -> Code {
    let insns = vec![
        if code == 0 {
            Insn::new(&[0x17, 0x22], "xr %r2, %r2 ; status 0")
        } else {
            lghi(2, code.into(), "status")
        },
        svc(SYS_EXIT, "SYS_exit"),
    ];
    Code {
        insns,
        data: Vec::new(),
    }
}
