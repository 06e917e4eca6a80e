//! `hello` on 32-bit ARM (Thumb): write(1, message, len), then exit(0).

use super::*;

pub(super) fn hello(message: &[u8], _addressing: Addressing) -> Code {
    let mut insns = vec![
        t16(0x2704, "movs r7, #4 ; SYS_write"),
        t16(0x2001, "movs r0, #1 ; fd 1 = stdout"),
        adr_r1_message(),
    ];
    insns.extend(set_r2(message.len()));
    insns.push(t16(0xdf00, "svc #0"));
    // r0 now holds what write returned (possibly a negative errno).
    insns.push(t16(0x2701, "movs r7, #1 ; SYS_exit"));
    insns.push(t16(0x2000, "movs r0, #0 ; status 0"));
    insns.push(t16(0xdf00, "svc #0"));
    Code {
        insns,
        data: message.to_vec(),
    }
}
