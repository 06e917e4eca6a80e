//! AArch64 encoders: each instruction word from its fields, and the patches the planner
//! applies to PC-relative ones (range checks in [`crate::arch::encode`]).

use super::Insn;
use crate::arch::encode::{distance, signed};

/// One instruction word.
pub(super) fn a64(word: u32, asm: impl Into<String>) -> Insn {
    Insn::new(&word.to_le_bytes(), asm)
}

/// `movz xd, #imm16, lsl #(16 * hw)`: 1 10 100101 hw:2 imm16:16 Rd:5.
pub(super) const fn movz(rd: u32, imm16: u16, hw: u32) -> u32 {
    0xd280_0000 | hw << 21 | (imm16 as u32) << 5 | rd
}

/// `movk xd, #imm16, lsl #(16 * hw)`: 1 11 100101 hw:2 imm16:16 Rd:5.
pub(super) const fn movk(rd: u32, imm16: u16, hw: u32) -> u32 {
    0xf280_0000 | hw << 21 | (imm16 as u32) << 5 | rd
}

/// `mov xd, #value`: a `movz` of the lowest non-zero 16-bit chunk, then a `movk` per other
/// non-zero chunk (a 64 MiB length takes two). Nothing for zero: every register is zero
/// at the entry point.
pub(super) fn set(rd: u32, value: u64, what: &str) -> Vec<Insn> {
    let mut out = Vec::new();
    for hw in 0..4u32 {
        let chunk = (value >> (16 * hw)) as u16;
        if chunk == 0 {
            continue;
        }
        out.push(if out.is_empty() {
            // capstone prints movz as `mov` with the shifted value.
            let v = (chunk as u64) << (16 * hw);
            a64(movz(rd, chunk, hw), format!("mov x{rd}, #{v} ; {what}"))
        } else {
            let shift = 16 * hw;
            a64(
                movk(rd, chunk, hw),
                format!("movk x{rd}, #{chunk}, lsl #{shift}"),
            )
        });
    }
    out
}

// The quine's instructions (arch/arm64/quine.rs): each a const fn from its fields (the
// Arm ARM's names), register numbers 0..=31 (31 is wzr/xzr or sp, as the instruction
// reads it).

/// `adr xd, pc + delta`: 0 immlo:2 10000 immhi:19 Rd:5 (±1 MiB).
pub(super) const fn adr(rd: u32, delta: i32) -> u32 {
    let imm = delta as u32 & 0x1f_ffff;
    0x1000_0000 | (imm & 3) << 29 | (imm >> 2) << 5 | rd
}

/// `movz wd, #imm16`: the 32-bit form of [`movz`] (capstone prints `mov wd, #imm16`).
pub(super) const fn movz_w(rd: u32, imm16: u16) -> u32 {
    0x5280_0000 | (imm16 as u32) << 5 | rd
}

/// Loads and stores with a signed 9-bit byte offset: `size 111 0 00 opc 0 imm9 idx Rn Rt`,
/// idx [`UNSCALED`] (`ldur`, `stur`), [`POST`] (`[xn], #imm`) or [`PRE`] (`[xn, #imm]!`).
pub(super) const fn ls9(op: u32, rt: u32, rn: u32, imm9: i32, idx: u32) -> u32 {
    op | (imm9 as u32 & 0x1ff) << 12 | idx << 10 | rn << 5 | rt
}
pub(super) const UNSCALED: u32 = 0;
pub(super) const POST: u32 = 1;
pub(super) const PRE: u32 = 3;
pub(super) const LDRB: u32 = 0x3840_0000;
pub(super) const STRB: u32 = 0x3800_0000;
pub(super) const LDR_W: u32 = 0xb840_0000;
pub(super) const STR_W: u32 = 0xb800_0000;

/// `ldr wt, [xn, #offset]` and `str`, an unsigned offset (a multiple of 4 below 16 KiB):
/// 10 111 0 01 opc imm12 Rn Rt.
pub(super) const fn ldr_str_w_uimm(op: u32, rt: u32, rn: u32, offset: u32) -> u32 {
    op | (offset / 4) << 10 | rn << 5 | rt
}
pub(super) const LDR_W_UIMM: u32 = 0xb940_0000;
pub(super) const STR_W_UIMM: u32 = 0xb900_0000;

/// `rev wd, wn`: the bytes of a word reversed, 0 1 0 11010110 00000 0000 10 Rn Rd.
pub(super) const fn rev_w(rd: u32, rn: u32) -> u32 {
    0x5ac0_0800 | rn << 5 | rd
}

/// Load and store pair, signed offset: `opc 101 V 010 L imm7 Rt2 Rn Rt`, imm7 counting
/// the register's size (opc 00: w, 10: x; with V, 00: s, 01: d, 10: q).
pub(super) const fn pair(op: u32, rt: u32, rt2: u32, rn: u32, offset: i32) -> u32 {
    let (opc, simd) = (op >> 30, op & 0x0400_0000 != 0);
    let scale = if simd { 4 << opc } else { 4 << (opc >> 1) };
    op | ((offset / scale) as u32 & 0x7f) << 15 | rt2 << 10 | rn << 5 | rt
}
/// The same, pre-indexed (`[xn, #offset]!`): bit 23 set (writeback).
pub(super) const fn pair_pre(op: u32, rt: u32, rt2: u32, rn: u32, offset: i32) -> u32 {
    pair(op, rt, rt2, rn, offset) | 0x0080_0000
}
pub(super) const LDP_W: u32 = 0x2940_0000;
pub(super) const LDP_X: u32 = 0xa940_0000;
pub(super) const LDP_Q: u32 = 0xad40_0000;
pub(super) const STP_Q: u32 = 0xad00_0000;

/// Add and subtract (immediate): `sf op S 100010 sh imm12 Rn Rd`, imm12 shifted left by
/// 12 if `lsl12`.
pub(super) const fn addsub_imm(op: u32, rd: u32, rn: u32, imm12: u32, lsl12: bool) -> u32 {
    op | (lsl12 as u32) << 22 | imm12 << 10 | rn << 5 | rd
}
pub(super) const ADD_W_IMM: u32 = 0x1100_0000;
pub(super) const ADDS_W_IMM: u32 = 0x3100_0000;
pub(super) const SUB_W_IMM: u32 = 0x5100_0000;
pub(super) const SUBS_W_IMM: u32 = 0x7100_0000;
pub(super) const ADD_X_IMM: u32 = 0x9100_0000;
pub(super) const SUB_X_IMM: u32 = 0xd100_0000;

/// Logical and add/subtract (shifted register): `sf opc 01011 shift N Rm imm6 Rn Rd`,
/// Rm shifted by `amount` ([`LSL`], [`LSR`], or [`ROR`] for the logical ones).
pub(super) const fn shifted(op: u32, rd: u32, rn: u32, rm: u32, shift: u32, amount: u32) -> u32 {
    op | shift << 22 | rm << 16 | amount << 10 | rn << 5 | rd
}
pub(super) const LSL: u32 = 0;
pub(super) const LSR: u32 = 1;
pub(super) const ROR: u32 = 3;
pub(super) const AND_W: u32 = 0x0a00_0000;
pub(super) const BIC_W: u32 = 0x0a20_0000;
pub(super) const ORR_W: u32 = 0x2a00_0000;
pub(super) const EOR_W: u32 = 0x4a00_0000;
pub(super) const ADD_W: u32 = 0x0b00_0000;
pub(super) const ADD_X: u32 = 0x8b00_0000;
pub(super) const AND_X: u32 = 0x8a00_0000;
pub(super) const EOR_X: u32 = 0xca00_0000;
pub(super) const SUBS_X: u32 = 0xeb00_0000;

/// `ror wd, wn, #amount`, which is `extr wd, wn, wn, #amount`: 0 00 100111 0 0 Rm imms Rn Rd.
pub(super) const fn ror_w(rd: u32, rn: u32, amount: u32) -> u32 {
    0x1380_0000 | rn << 16 | amount << 10 | rn << 5 | rd
}

/// A logical immediate of `ones` low bits set (`N immr=0 imms=ones-1`): `and wd, wn,
/// #mask` (32-bit) and `tst xn, #mask` (`ands xzr`, 64-bit).
pub(super) const fn and_w_low(rd: u32, rn: u32, ones: u32) -> u32 {
    0x1200_0000 | (ones - 1) << 10 | rn << 5 | rd
}
pub(super) const fn tst_x_low(rn: u32, ones: u32) -> u32 {
    0xf240_001f | (ones - 1) << 10 | rn << 5
}

/// `udiv wd, wn, wm`: 0 0 0 11010110 Rm 00001 0 Rn Rd.
pub(super) const fn udiv_w(rd: u32, rn: u32, rm: u32) -> u32 {
    0x1ac0_0800 | rm << 16 | rn << 5 | rd
}

/// `msub wd, wn, wm, wa` (wa - wn * wm): 0 00 11011 000 Rm 1 Ra Rn Rd.
pub(super) const fn msub_w(rd: u32, rn: u32, rm: u32, ra: u32) -> u32 {
    0x1b00_8000 | rm << 16 | ra << 10 | rn << 5 | rd
}

/// `ngc xd, xm` (`sbc xd, xzr, xm`: 0 - xm - 1 + carry): 1 1 0 11010000 Rm 000000 11111 Rd.
pub(super) const fn ngc_x(rd: u32, rm: u32) -> u32 {
    0xda00_03e0 | rm << 16 | rd
}

/// Condition codes.
pub(super) const NE: u32 = 1;
pub(super) const LO: u32 = 3;
pub(super) const HI: u32 = 8;

/// `b.cond`, `cbz wt` and `cbnz wt` with a zero offset ([`encode_imm19`] patches it).
pub(super) const fn b_cond(cond: u32) -> u32 {
    0x5400_0000 | cond
}
pub(super) const fn cbz_w(rt: u32) -> u32 {
    0x3400_0000 | rt
}
pub(super) const fn cbnz_w(rt: u32) -> u32 {
    0x3500_0000 | rt
}

/// `svc #0`.
pub(super) const SVC0: u32 = 0xd400_0001;

/// Scalar double precision: `ucvtf dd, wn`, `fsqrt dd, dn`, `fmul dd, dn, dm`, and
/// `fcvtzu xd, dn, #fbits` (to fixed point: truncates dn * 2^fbits), 0 0 0 11110 01 ...
pub(super) const fn ucvtf_d_w(rd: u32, rn: u32) -> u32 {
    0x1e63_0000 | rn << 5 | rd
}
pub(super) const fn fsqrt_d(rd: u32, rn: u32) -> u32 {
    0x1e61_c000 | rn << 5 | rd
}
pub(super) const fn fmul_d(rd: u32, rn: u32, rm: u32) -> u32 {
    0x1e60_0800 | rm << 16 | rn << 5 | rd
}
pub(super) const fn fcvtzu_x_d_fixed(rd: u32, rn: u32, fbits: u32) -> u32 {
    0x9e59_0000 | (64 - fbits) << 10 | rn << 5 | rd
}

/// Advanced SIMD: `add vd.4s, vn.4s, vm.4s`.
pub(super) const fn add_4s(rd: u32, rn: u32, rm: u32) -> u32 {
    0x4ea0_8400 | rm << 16 | rn << 5 | rd
}

/// Patches the signed `bits`-bit word offset at bit `lsb` of an instruction, after
/// checking that `target - pc` is a multiple of 4 in range.
fn patch_offset(
    bytes: &mut [u8],
    pc: u64,
    target: u64,
    lsb: u32,
    bits: u32,
    what: &str,
) -> Result<(), String> {
    let words = signed(distance(pc, target), bits, 4, what)?;
    let mask = ((1u64 << bits) - 1) as u32;
    let word = u32::from_le_bytes(bytes[..4].try_into().unwrap());
    let word = word & !(mask << lsb) | ((words as u32) & mask) << lsb;
    bytes[..4].copy_from_slice(&word.to_le_bytes());
    Ok(())
}

/// `b`: 000101 imm26, the word offset from the branch itself (±128 MiB).
pub(super) fn encode_b(bytes: &mut [u8], pc: u64, target: u64) -> Result<(), String> {
    patch_offset(bytes, pc, target, 0, 26, "b")
}

/// `tbnz`: b5 011011 1 b40:5 imm14 Rt:5, the word offset from the branch (±32 KiB).
pub(super) fn encode_tbnz(bytes: &mut [u8], pc: u64, target: u64) -> Result<(), String> {
    patch_offset(bytes, pc, target, 5, 14, "tbnz")
}

/// `cbnz` and `b.cond`: imm19 at bit 5, the word offset from the branch (±1 MiB).
pub(super) fn encode_imm19(bytes: &mut [u8], pc: u64, target: u64) -> Result<(), String> {
    patch_offset(bytes, pc, target, 5, 19, "cbnz/b.cond")
}

/// `adr`: 0 immlo:2 10000 immhi:19 Rd:5, the byte offset from the instruction (±1 MiB).
pub(super) fn encode_adr(bytes: &mut [u8], pc: u64, target: u64) -> Result<(), String> {
    let delta = signed(distance(pc, target), 21, 1, "adr")?;
    let imm = delta as u32 & 0x1f_ffff;
    let word = u32::from_le_bytes(bytes[..4].try_into().unwrap());
    let word = word & !(0x6000_0000 | 0x00ff_ffe0) | (imm & 3) << 29 | (imm >> 2) << 5;
    bytes[..4].copy_from_slice(&word.to_le_bytes());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arch::arm64::X2;

    #[test]
    fn set_builds_any_length() {
        let asm = |v| {
            set(X2, v, "length")
                .iter()
                .map(|i| i.asm.clone())
                .collect::<Vec<_>>()
        };
        assert!(asm(0).is_empty());
        assert_eq!(asm(14), ["mov x2, #14 ; length"]);
        assert_eq!(asm(1 << 20), ["mov x2, #1048576 ; length"]);
        assert_eq!(
            asm((64 << 20) - 1),
            ["mov x2, #65535 ; length", "movk x2, #1023, lsl #16"]
        );
    }

    #[test]
    fn branches_are_range_checked() {
        let mut b = 0x1400_0000u32.to_le_bytes();
        encode_b(&mut b, 0x10000, 0x10010).unwrap();
        assert_eq!(u32::from_le_bytes(b), 0x1400_0004);
        encode_b(&mut b, 0x10010, 0x10000).unwrap();
        assert_eq!(u32::from_le_bytes(b), 0x17ff_fffc);
        assert!(encode_b(&mut b, 0, 128 << 20).is_err());
        assert!(encode_b(&mut b, 0, 2).is_err());
        let mut t = 0xb7f8_0000u32.to_le_bytes();
        encode_tbnz(&mut t, 0x10008, 0x10000).unwrap();
        assert_eq!(u32::from_le_bytes(t), 0xb7ff_ffc0);
        assert!(encode_tbnz(&mut t, 0, 32 << 10).is_err());
        let mut a = 0x1000_0001u32.to_le_bytes();
        encode_adr(&mut a, 0x10000, 0x10005).unwrap();
        assert_eq!(u32::from_le_bytes(a), 0x3000_0021);
        assert!(encode_adr(&mut a, 0, 1 << 20).is_err());
        let mut c = 0xb500_0000u32.to_le_bytes();
        encode_imm19(&mut c, 0x10010, 0x10000).unwrap();
        assert_eq!(u32::from_le_bytes(c), 0xb5ff_ff80);
        assert!(encode_imm19(&mut c, 0, 1 << 20).is_err());
    }
}
