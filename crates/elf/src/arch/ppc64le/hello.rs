//! `hello` on ppc64le: write(1, message, len), then exit(0).

use super::*;

pub(super) fn hello(message: &[u8], _addressing: Addressing) -> Code {
    let mut insns = vec![
        // PC-relative with no branch-and-link: r12 holds the entry address, and this is
        // the instruction at the entry point.
        word(0x388c_0000, "addi r4, r12, message ; r4 = &message").fixup(Fixup::Encode {
            target: Target::Data,
            encode: encode_message,
        }),
        word(0x3800_0000 | SYS_WRITE, "li r0, 4 ; SYS_write"),
        word(0x3860_0001, "li r3, 1 ; fd 1 = stdout"),
    ];
    insns.extend(set_length(message.len()));
    insns.push(word(0x4400_0002, "sc"));
    // r3 now holds what write returned (or an errno): set it again.
    insns.push(word(0x3800_0000 | SYS_EXIT, "li r0, 1 ; SYS_exit"));
    insns.push(word(0x3860_0000, "li r3, 0 ; status 0"));
    insns.push(word(0x4400_0002, "sc"));
    Code {
        insns,
        data: message.to_vec(),
    }
}
