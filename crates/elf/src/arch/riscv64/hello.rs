//! `hello` on riscv64: write(1, message, len), then exit(0); the message addressed
//! PC-relatively (see [`super::encode::message_address`]).

use super::*;

pub(super) fn hello(message: &[u8], _addressing: Addressing) -> Code {
    let mut insns = Vec::new();
    let len = i32::try_from(message.len()).expect("message length is checked");
    insns.push(listed(
        &[0x05, 0x45],
        c_li(A0, 1),
        "c.li a0, 1 ; fd 1 = stdout",
    ));
    insns.extend(message_address());
    insns.extend(li(A2, len, "length"));
    insns.push(listed(
        &[0x93, 0x08, 0x00, 0x04],
        addi(A7, ZERO, SYS_WRITE),
        "addi a7, zero, 64 ; SYS_write",
    ));
    insns.push(ecall());
    // a0 now holds what write returned (possibly a negative errno).
    insns.push(listed(&[0x01, 0x45], c_li(A0, 0), "c.li a0, 0 ; status 0"));
    insns.push(listed(
        &[0xf5, 0x08],
        c_addi(A7, SYS_EXIT - SYS_WRITE),
        "c.addi a7, 29 ; SYS_exit = SYS_write + 29",
    ));
    insns.push(ecall());
    Code {
        insns,
        data: message.to_vec(),
    }
}
