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
