//! `hello` on AArch64: write(1, message, len), then exit(0). Always PC-relative: `adr`
//! reaches ±1 MiB around itself wherever the image loads.

use super::*;

pub(super) fn hello(message: &[u8], _addressing: Addressing) -> Code {
    let mut insns = vec![
        a64(0xd280_0020, "mov x0, #1 ; fd 1 = stdout"),
        a64(0x1000_0001, "adr x1, message").fixup(Fixup::Encode {
            target: Target::Data,
            encode: encode_adr,
        }),
    ];
    insns.extend(set(X2, message.len() as u64, "length"));
    insns.push(a64(0xd280_0808, "mov x8, #64 ; SYS_write"));
    insns.push(a64(0xd400_0001, "svc #0"));
    // x0 now holds what write returned (possibly a negative errno).
    insns.push(a64(0xd280_0000, "mov x0, #0 ; status 0"));
    insns.push(a64(0xd280_0ba8, "mov x8, #93 ; SYS_exit"));
    insns.push(a64(0xd400_0001, "svc #0"));
    Code {
        insns,
        data: message.to_vec(),
    }
}
