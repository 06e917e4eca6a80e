//! Power ISA encoders: each instruction word from its fields, and the patches the planner
//! applies to PC-relative ones (range checks in [`crate::arch::encode`]).

use super::{Fixup, Insn, Target};
use crate::arch::encode::{distance, signed};

/// One instruction word, stored little-endian.
pub(super) fn word(w: u32, asm: impl Into<String>) -> Insn {
    Insn::new(&w.to_le_bytes(), asm)
}

/// r5 = `len` (up to 2 GiB): see [`load`].
pub(super) fn set_length(len: usize) -> Vec<Insn> {
    load(5, len, "length")
}

/// rN = `value` (up to 2 GiB), all 64 bits: `li rN, value` below 32 KiB, else
/// `lis rN, value >> 16` (`addis`, opcode 15) and, if the low half is not zero,
/// `ori rN, rN, value & 0xffff` (opcode 24).
pub(super) fn load(r: u32, value: usize, what: &str) -> Vec<Insn> {
    assert!(value < 1 << 31, "{what} too large");
    if value < 0x8000 {
        return vec![word(
            0x3800_0000 | r << 21 | value as u32,
            format!("li r{r}, {value} ; {what}"),
        )];
    }
    let (hi, lo) = ((value >> 16) as u32, (value & 0xffff) as u32);
    let mut v = vec![word(
        0x3c00_0000 | r << 21 | hi,
        format!("lis r{r}, {hi} ; {what}"),
    )];
    if lo != 0 {
        v.push(word(
            0x6000_0000 | r << 21 | r << 16 | lo,
            format!("ori r{r}, r{r}, {lo}"),
        ));
    }
    v
}

/// `li rN, imm` (`addi rN, 0, imm`, D-form: opcode 14): the whole register = the
/// sign-extended immediate.
pub(super) fn li(r: u32, imm: i16, comment: &str) -> Insn {
    word(
        0x3800_0000 | r << 21 | u32::from(imm as u16),
        format!("li r{r}, {imm} ; {comment}"),
    )
}

/// `addi rN, r1, d`: an address in the protected zone below the stack pointer.
pub(super) fn addi_sp(r: u32, d: i16, comment: &str) -> Insn {
    word(
        0x3801_0000 | r << 21 | u32::from(d as u16),
        format!("addi r{r}, r1, {d} ; {comment}"),
    )
}

/// `std rS, d(r1)` (DS-form: opcode 62, d a multiple of 4).
pub(super) fn std_sp(s: u32, d: i16, comment: &str) -> Insn {
    assert_eq!(d % 4, 0);
    word(
        0xf801_0000 | s << 21 | u32::from(d as u16),
        format!("std r{s}, {d}(r1) ; {comment}"),
    )
}

/// `mr rA, rS` = `or rA, rS, rS` (X-form: opcode 31, XO 444).
pub(super) fn mr(a: u32, s: u32, comment: &str) -> Insn {
    let asm = format!("mr r{a}, r{s}");
    let asm = if comment.is_empty() {
        asm
    } else {
        format!("{asm} ; {comment}")
    };
    word(0x7c00_0378 | s << 21 | a << 16 | s << 11, asm)
}

/// A branch to a label: `b`/`bl` (I-form) or a conditional `bc` (B-form, `word` says
/// which condition), its displacement filled in by the planner.
pub(super) fn branch(w: u32, asm: &str, label: u8) -> Insn {
    let encode = if w >> 26 == 18 { encode_b } else { encode_bc };
    let insn = word(w, asm).fixup(Fixup::Encode {
        target: Target::Label(label),
        encode,
    });
    if w >> 26 == 18 {
        insn
    } else {
        insn.reads_flags()
    }
}

/// `addi rN, r12, target - entry`: r12 holds the entry address, and this instruction is
/// the first one, at the entry point, so `pc` is that address. Patches the immediate.
pub(super) fn encode_message(bytes: &mut [u8], pc: u64, target: u64) -> Result<(), String> {
    let d = signed(
        distance(pc, target),
        16,
        1,
        "addi r4, r12 (message - entry)",
    )? as i16;
    bytes[..2].copy_from_slice(&d.to_le_bytes()); // SI: the low half of the word
    Ok(())
}

/// A branch displacement: a multiple of 4 in `bits` signed bits.
fn displacement(pc: u64, target: u64, bits: u32) -> Result<u32, String> {
    let words = signed(distance(pc, target), bits - 2, 4, "branch displacement")?;
    Ok((words * 4) as u32 & ((1 << bits) - 1))
}

/// I-form `b target` or `bl target` (opcode 18, AA = 0, LK kept): ±32 MiB.
pub(super) fn encode_b(bytes: &mut [u8], pc: u64, target: u64) -> Result<(), String> {
    let w = u32::from_le_bytes(bytes[..4].try_into().unwrap()) & !0x03ff_fffc;
    let w = w | displacement(pc, target, 26)?;
    bytes.copy_from_slice(&w.to_le_bytes());
    Ok(())
}

/// B-form `bc BO, BI, target` (opcode 16, BO and BI kept: `bso`, `beq`, `bne`): ±32 KiB.
pub(super) fn encode_bc(bytes: &mut [u8], pc: u64, target: u64) -> Result<(), String> {
    let w = u32::from_le_bytes(bytes[..4].try_into().unwrap()) & !0xfffc;
    let w = w | displacement(pc, target, 16)?;
    bytes.copy_from_slice(&w.to_le_bytes());
    Ok(())
}

/// D-form (`addi`, `lbzu`, `stw`, `lfd`, `andi.`, `cmplwi`…): primary opcode `op`, the
/// register or condition field `t` (RT, RS, FRT, or BF << 2 | L), `a` (RA), and the 16-bit
/// immediate or displacement.
pub(super) const fn d_form(op: u32, t: u32, a: u32, imm: i32) -> u32 {
    op << 26 | t << 21 | a << 16 | (imm as u32 & 0xffff)
}

/// X-form (and XO-form: OE = 0): opcode `op` (31 for integer, 63 for floating point), the
/// fields `t`, `a`, `b`, the extended opcode `xo`, and Rc (`.`: set CR0).
pub(super) const fn x_form(op: u32, t: u32, a: u32, b: u32, xo: u32, rc: bool) -> u32 {
    op << 26 | t << 21 | a << 16 | b << 11 | xo << 1 | rc as u32
}

/// A-form floating point (opcode 63): FRT, FRA, FRB, FRC and the extended opcode.
pub(super) const fn a_form(t: u32, a: u32, b: u32, c: u32, xo: u32) -> u32 {
    63 << 26 | t << 21 | a << 16 | b << 11 | c << 6 | xo << 1
}

/// M-form `rlwinm rA, rS, sh, mb, me` (opcode 21): rotate the low word left by `sh`, keep
/// bits `mb..=me` (big-endian bit numbers of the word); the upper word is cleared.
pub(super) const fn rlwinm(a: u32, s: u32, sh: u32, mb: u32, me: u32) -> u32 {
    21 << 26 | s << 21 | a << 16 | sh << 11 | mb << 6 | me << 1
}

/// XFX-form `mtctr rS` = `mtspr 9, rS` (opcode 31, XO 467; the SPR number's halves
/// swapped: 9 in the first).
pub(super) const fn mtctr(s: u32) -> u32 {
    31 << 26 | s << 21 | 9 << 16 | 467 << 1
}

/// B-form `bc BO, BI, 0` (opcode 16): the displacement is patched by [`encode_bc`].
pub(super) const fn bc(bo: u32, bi: u32) -> u32 {
    16 << 26 | bo << 21 | bi << 16
}

/// XL-form `bclr BO, BI` (opcode 19, XO 16): a conditional return to lr.
pub(super) const fn bclr(bo: u32, bi: u32) -> u32 {
    19 << 26 | bo << 21 | bi << 16 | 16 << 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn branches_and_message_are_range_checked() {
        let mut b = 0x4800_0001u32.to_le_bytes(); // bl
        encode_b(&mut b, 0x10010, 0x10000).unwrap();
        assert_eq!(u32::from_le_bytes(b), 0x4bff_fff1);
        assert!(encode_b(&mut b, 0, 32 << 20).is_err());
        assert!(encode_b(&mut b, 0, 2).is_err());
        let mut c = 0x4082_0000u32.to_le_bytes(); // bne
        encode_bc(&mut c, 0x10008, 0x10000).unwrap();
        assert_eq!(u32::from_le_bytes(c), 0x4082_fff8);
        assert!(encode_bc(&mut c, 0, 32 << 10).is_err());
        let mut m = 0x388c_0000u32.to_le_bytes();
        encode_message(&mut m, 0x10000, 0x10040).unwrap();
        assert_eq!(u32::from_le_bytes(m), 0x388c_0040);
        assert!(encode_message(&mut m, 0x10000, 0x18000).is_err());
    }

    #[test]
    fn forms_match_the_manual() {
        // As capstone decodes them.
        assert_eq!(d_form(14, 4, 12, -64), 0x388c_ffc0); // addi r4, r12, -64
        assert_eq!(d_form(55, 3, 23, 4), 0xdc77_0004); // stfdu f3, 4(r23)
        assert_eq!(x_form(31, 5, 5, 6, 266, false), 0x7ca5_3214); // add r5, r5, r6
        assert_eq!(x_form(31, 31, 3, 31, 40, true), 0x7fe3_f851); // subf. r31, r3, r31
        assert_eq!(x_form(63, 6, 0, 5, 424, false), 0xfcc0_2b50); // friz f6, f5
        assert_eq!(a_form(3, 2, 0, 31, 25), 0xfc62_07f2); // fmul f3, f2, f31
        assert_eq!(rlwinm(7, 6, 15, 0, 31), 0x54c7_783e); // rotlwi r7, r6, 15
        assert_eq!(rlwinm(6, 6, 22, 10, 31), 0x54c6_b2be); // srwi r6, r6, 10
        assert_eq!(mtctr(0), 0x7c09_03a6);
        assert_eq!(bc(16, 0), 0x4200_0000); // bdnz
        assert_eq!(bc(4, 2), 0x4082_0000); // bne
        assert_eq!(bclr(12, 0), 0x4d80_0020); // bltlr
    }
}
