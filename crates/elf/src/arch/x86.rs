//! What IA-32 and x86-64 share: the short jump, the skip and the nop the layout planner
//! uses to link code across ELF header fields.

use super::{Fixup, Insn, Target};

/// `jmp rel8` (EB cb).
pub fn jump(target: Target) -> Insn {
    Insn::new(&[0xeb, 0x00], "jmp short target").fixup(Fixup::Rel8 { at: 1, target })
}

/// An instruction whose operand is the next `fixed` bytes of the file.
pub fn skip(fixed: usize) -> Option<Insn> {
    match fixed {
        // cmp al, imm8 (3C ib): the byte that follows is its operand; only flags change.
        1 => Some(Insn::new(&[0x3c], "cmp al, <next byte>").swallows(1)),
        // cmp eax, imm32 (3D id): the four bytes that follow are its operand.
        4 => Some(Insn::new(&[0x3d], "cmp eax, <next 4 bytes>").swallows(4)),
        _ => None,
    }
}

/// `nop` (90).
pub fn nop() -> Insn {
    Insn::new(&[0x90], "nop")
}

/// The prefix bytes (the ELF magic "ELF" = 45 4C 46) decode as REX prefixes on x86-64
/// (REX.RB, REX.WR, REX.RX); only the last one counts. It sets R and X and clears W and B,
/// so an instruction with no ModRM byte, no REX of its own and no byte register above AL..BL
/// keeps its meaning. On IA-32 those bytes are `inc ebp; dec esp; inc esi`, which this
/// crate never relies on, so only the x86-64 reading is accepted.
pub fn tolerates_rex_prefix(insn: &Insn, prefix: &[u8]) -> bool {
    let rex_only = prefix.iter().all(|b| b & 0xf0 == 0x40);
    let last_clears_w_b = prefix.last().is_some_and(|b| b & 0b1001 == 0);
    let opcode_ok = matches!(
        insn.bytes.first(),
        // mov al..bl, imm8 | push imm32 | push imm8 | push rax..rdi
        Some(0xb0..=0xb3) | Some(0x68) | Some(0x6a) | Some(0x50..=0x57)
    );
    rex_only && last_clears_w_b && opcode_ok
}

/// edx = `len`, assuming edx is 0 (as it is at the entry point): `mov dl` when it fits.
pub fn set_edx(len: usize) -> Insn {
    match u8::try_from(len) {
        Ok(n) => Insn::new(&[0xb2, n], format!("mov dl, {n} ; length")),
        Err(_) => {
            let n = u32::try_from(len).expect("message length is checked by Program");
            let [b0, b1, b2, b3] = n.to_le_bytes();
            Insn::new(&[0xba, b0, b1, b2, b3], format!("mov edx, {n} ; length"))
        }
    }
}
