//! z/Architecture encoders: each instruction from its fields, and the patches the planner
//! applies to PC-relative ones (range checks in [`crate::arch::encode`]).

use super::{Fixup, Insn, Target};
use crate::arch::encode::{distance, signed};

/// `svc N` (0A NN): the system call whose number is the immediate byte.
pub(super) fn svc(n: u8, name: &str) -> Insn {
    Insn::new(&[0x0a, n], format!("svc {n} ; {name}"))
}

/// `lghi %rN, imm` (A7 N9 imm16): the whole register = the sign-extended immediate.
pub(super) fn lghi(r: u8, imm: i16, comment: &str) -> Insn {
    let [i0, i1] = imm.to_be_bytes();
    Insn::new(
        &[0xa7, r << 4 | 0x9, i0, i1],
        format!("lghi %r{r}, {imm} ; {comment}"),
    )
}

/// `la %rN, D(%r15)` (41 N0 FD DD): the whole register = r15 + D (D < 4096).
pub(super) fn la_sp(r: u8, d: u8, comment: &str) -> Insn {
    Insn::new(
        &[0x41, r << 4, 0xf0, d],
        format!("la %r{r}, {d}(%r15) ; {comment}"),
    )
}

/// r4 = `len`, all 64 bits: the shortest of `lghi` (up to 32767), `llill` (up to 65535),
/// `llilf` (up to 4 GiB - 1).
pub(super) fn set_r4(len: usize) -> Insn {
    let n = u32::try_from(len).expect("message length is checked by Program");
    if let Ok(n) = i16::try_from(n) {
        lghi(4, n, "length")
    } else if let Ok(n) = u16::try_from(n) {
        let [i0, i1] = n.to_be_bytes();
        Insn::new(&[0xa5, 0x4f, i0, i1], format!("llill %r4, {n} ; length"))
    } else {
        let [i0, i1, i2, i3] = n.to_be_bytes();
        Insn::new(
            &[0xc0, 0x4f, i0, i1, i2, i3],
            format!("llilf %r4, {n} ; length"),
        )
    }
}

/// Patches the 16-bit halfword offset of a relative branch (RI-c: `j`, `jl`) at bytes 2..4
/// (±64 KiB; PC-relative operands count halfwords from the instruction's own address).
pub(super) fn encode_ri16(bytes: &mut [u8], pc: u64, target: u64) -> Result<(), String> {
    let d = signed(distance(pc, target), 16, 2, "brc (halfwords)")? as i16;
    bytes[2..4].copy_from_slice(&d.to_be_bytes());
    Ok(())
}

/// Patches the 32-bit halfword offset of `larl` (RIL-b) at bytes 2..6 (±4 GiB).
pub(super) fn encode_ril32(bytes: &mut [u8], pc: u64, target: u64) -> Result<(), String> {
    let d = signed(distance(pc, target), 32, 2, "larl (halfwords)")? as i32;
    bytes[2..6].copy_from_slice(&d.to_be_bytes());
    Ok(())
}

/// `lhi %rN, imm` (A7 N8 imm16): the low word = the sign-extended immediate (enough for an
/// `int` argument).
pub(super) fn lhi(r: u8, imm: i16, comment: &str) -> Insn {
    let [i0, i1] = imm.to_be_bytes();
    Insn::new(
        &[0xa7, r << 4 | 0x8, i0, i1],
        format!("lhi %r{r}, {imm} ; {comment}"),
    )
}

/// A 2-byte RR instruction on the low words: `lr` (18), `xr` (17), `ltr` (12), `lcr` (13).
pub(super) fn rr(op: u8, mnemonic: &str, r1: u8, r2: u8, comment: &str) -> Insn {
    let asm = format!("{mnemonic} %r{r1}, %r{r2}");
    let asm = if comment.is_empty() {
        asm
    } else {
        format!("{asm} ; {comment}")
    };
    Insn::new(&[op, r1 << 4 | r2], asm)
}

/// The system call `nr` above 255: `lghi %r1, nr` and `svc 0`.
pub(super) fn svc0(nr: u16, name: &str) -> [Insn; 2] {
    let n = i16::try_from(nr).unwrap();
    [
        lghi(1, n, &format!("SYS_{name}")),
        svc(0, "the number in r1"),
    ]
}

/// `larl %rN, target` (C0 N0 ri32): the whole register = the address of a label or the data.
pub(super) fn larl(r: u8, target: Target, what: &str) -> Insn {
    Insn::new(&[0xc0, r << 4, 0, 0, 0, 0], format!("larl %r{r}, {what}")).fixup(Fixup::Encode {
        target,
        encode: encode_ril32,
    })
}

/// `brc mask, label` (A7 M4 ri16), as capstone names it (`j`, `jne`, `jnh`, …).
pub(super) fn brc(mask: u8, asm: &str, label: u8) -> Insn {
    let insn = Insn::new(&[0xa7, mask << 4 | 0x4, 0, 0], asm).fixup(Fixup::Encode {
        target: Target::Label(label),
        encode: encode_ri16,
    });
    if mask == 15 {
        insn
    } else {
        insn.reads_flags()
    }
}

/// The instruction formats the quine lays out by hand (z/Architecture Principles of
/// Operation, chapter 5): each returns the bytes from the fields. Registers are 4-bit
/// numbers; a base or index of 0 means none.
///
/// RR (2 bytes): `op r1, r2`.
pub(super) const fn rr_bytes(op: u8, r1: u8, r2: u8) -> [u8; 2] {
    [op, r1 << 4 | r2]
}

/// RX-a (4 bytes): `op r1, d2(x2, b2)`, d2 < 4096.
pub(super) const fn rx(op: u8, r1: u8, d2: u16, x2: u8, b2: u8) -> [u8; 4] {
    assert!(d2 < 4096);
    [op, r1 << 4 | x2, b2 << 4 | (d2 >> 8) as u8, d2 as u8]
}

/// RS-a (4 bytes): `op r1, r3, d2(b2)` (`lm`, `stm`; the shifts `srl`, `sldl` with r3 = 0
/// and the shift count in d2).
pub(super) const fn rs(op: u8, r1: u8, r3: u8, d2: u16, b2: u8) -> [u8; 4] {
    assert!(d2 < 4096);
    [op, r1 << 4 | r3, b2 << 4 | (d2 >> 8) as u8, d2 as u8]
}

/// RSY-a (6 bytes, EB ... op): `op r1, r3, d2(b2)` with a 20-bit signed d2 (`rll`: the
/// rotate count in d2).
pub(super) const fn rsy(op: u8, r1: u8, r3: u8, d2: i32, b2: u8) -> [u8; 6] {
    assert!(d2 >= -(1 << 19) && d2 < 1 << 19);
    let dl = (d2 & 0xfff) as u16;
    let dh = ((d2 >> 12) & 0xff) as u8;
    [
        0xeb,
        r1 << 4 | r3,
        b2 << 4 | (dl >> 8) as u8,
        dl as u8,
        dh,
        op,
    ]
}

/// RI (4 bytes): the 12-bit opcode `op` (A7x: `lhi` A78, `ahi` A7A, `chi` A7E, `lghi` A79,
/// `brct` A76, `brc` A74; A5x: `llilh` A5E, `llihl` A5D), r1 (or a mask), a 16-bit
/// immediate (a relative branch's halfwords).
pub(super) const fn ri(op: u16, r1: u8, i2: u16) -> [u8; 4] {
    let [i0, i1] = i2.to_be_bytes();
    [(op >> 4) as u8, r1 << 4 | (op & 0xf) as u8, i0, i1]
}

/// RIL (6 bytes): the 12-bit opcode `op` (`llilf` C0F, `clfi` C2F), r1, a 32-bit immediate.
pub(super) const fn ril(op: u16, r1: u8, i2: u32) -> [u8; 6] {
    let [i0, i1, i2, i3] = i2.to_be_bytes();
    [(op >> 4) as u8, r1 << 4 | (op & 0xf) as u8, i0, i1, i2, i3]
}

/// RRE (4 bytes): the 16-bit opcode `op` (B3xx, B9xx), `op r1, r2`.
pub(super) const fn rre(op: u16, r1: u8, r2: u8) -> [u8; 4] {
    let [o0, o1] = op.to_be_bytes();
    [o0, o1, 0, r1 << 4 | r2]
}

/// RRF-e (4 bytes): `op r1, m3, r2` (`cgdbr`: m3 is the rounding method).
pub(super) const fn rrf_e(op: u16, r1: u8, m3: u8, r2: u8) -> [u8; 4] {
    let [o0, o1] = op.to_be_bytes();
    [o0, o1, m3 << 4, r1 << 4 | r2]
}

/// RSI (4 bytes): `op r1, r3, ri2` (`brxle` 85), ri2 in halfwords.
pub(super) const fn rsi(op: u8, r1: u8, r3: u8, ri2: i16) -> [u8; 4] {
    let [i0, i1] = ri2.to_be_bytes();
    [op, r1 << 4 | r3, i0, i1]
}

/// RIE-c (6 bytes, `op`..`op2`): `op r1, i2, m3, ri4` as `cij` (EC..7E) lays it out: r1,
/// the mask m3, the 16-bit halfword offset ri4 (patched later), the 8-bit immediate i2.
pub(super) const fn rie_c(op: u8, r1: u8, m3: u8, i2: u8, op2: u8) -> [u8; 6] {
    [op, r1 << 4 | m3, 0, 0, i2, op2]
}

/// SS-a (6 bytes): `op d1(len, b1), d2(b2)`, 1 <= len <= 256 (`mvc` D2).
pub(super) const fn ss(op: u8, d1: u16, len: u16, b1: u8, d2: u16, b2: u8) -> [u8; 6] {
    assert!(d1 < 4096 && d2 < 4096 && len >= 1 && len <= 256);
    [
        op,
        (len - 1) as u8,
        b1 << 4 | (d1 >> 8) as u8,
        d1 as u8,
        b2 << 4 | (d2 >> 8) as u8,
        d2 as u8,
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_operands_count_halfwords() {
        let mut j = [0xa7, 0xf4, 0, 0];
        encode_ri16(&mut j, 0x10010, 0x10000).unwrap();
        assert_eq!(j, [0xa7, 0xf4, 0xff, 0xf8]);
        assert!(encode_ri16(&mut j, 0x10000, 0x10001).is_err());
        assert!(encode_ri16(&mut j, 0, 64 << 10).is_err());
        let mut l = [0xc0, 0x30, 0, 0, 0, 0];
        encode_ril32(&mut l, 0x10000, 0x10100).unwrap();
        assert_eq!(l, [0xc0, 0x30, 0, 0, 0, 0x80]);
    }
}
