//! RV64GC encoders: each instruction from its fields (compressed ones as 16-bit parcels),
//! the listing's check that its bytes match them, and the patches the planner applies to
//! PC-relative operands (range checks in [`crate::arch::encode`]).

use super::*;
use crate::arch::encode::{distance, fits_signed, signed, unsigned};

pub(super) fn reg_name(r: u32) -> &'static str {
    const NAMES: [&str; 32] = [
        "zero", "ra", "sp", "gp", "tp", "t0", "t1", "t2", "s0", "s1", "a0", "a1", "a2", "a3", "a4",
        "a5", "a6", "a7", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9", "s10", "s11", "t3", "t4",
        "t5", "t6",
    ];
    NAMES[r as usize]
}

/// The ABI name of floating-point register `f` (f0..f31).
pub(super) fn freg_name(f: u32) -> &'static str {
    const NAMES: [&str; 32] = [
        "ft0", "ft1", "ft2", "ft3", "ft4", "ft5", "ft6", "ft7", "fs0", "fs1", "fa0", "fa1", "fa2",
        "fa3", "fa4", "fa5", "fa6", "fa7", "fs2", "fs3", "fs4", "fs5", "fs6", "fs7", "fs8", "fs9",
        "fs10", "fs11", "ft8", "ft9", "ft10", "ft11",
    ];
    NAMES[f as usize]
}

pub(super) fn half(v: u32) -> Vec<u8> {
    (v as u16).to_le_bytes().to_vec()
}

pub(super) fn word(v: u32) -> Vec<u8> {
    v.to_le_bytes().to_vec()
}

/// The low 6 bits of a CI-format immediate: imm[5] at bit 12, imm[4:0] at bits 6..2.
pub(super) fn ci_imm(imm: i32) -> u32 {
    let imm = imm as u32;
    ((imm >> 5) & 1) << 12 | (imm & 0x1f) << 2
}

/// `c.li rd, imm` (CI, funct3 010, op 01): rd = imm, -32..=31.
pub(super) fn c_li(rd: u32, imm: i32) -> Vec<u8> {
    assert!(fits_signed(imm.into(), 6) && rd != ZERO);
    half(0b010 << 13 | ci_imm(imm) | rd << 7 | 0b01)
}

/// `c.addi rd, imm` (CI, funct3 000, op 01): rd += imm, -32..=31, imm != 0.
pub(super) fn c_addi(rd: u32, imm: i32) -> Vec<u8> {
    assert!(fits_signed(imm.into(), 6) && imm != 0 && rd != ZERO);
    half(ci_imm(imm) | rd << 7 | 0b01)
}

/// `c.lui rd, imm` (CI, funct3 011, op 01): rd = imm << 12, imm in 1..=31 here.
pub(super) fn c_lui(rd: u32, imm: i32) -> Vec<u8> {
    assert!((1..32).contains(&imm) && rd != ZERO && rd != SP);
    half(0b011 << 13 | ci_imm(imm) | rd << 7 | 0b01)
}

/// `c.addi16sp sp, imm` (CI, funct3 011, rd = sp, op 01): sp += imm, a multiple of 16;
/// bit 12 = imm[9], bits 6..2 = imm[4|6|8:7|5].
pub(super) fn c_addi16sp(imm: i32) -> Vec<u8> {
    assert!(imm != 0 && imm % 16 == 0 && fits_signed(imm.into(), 10));
    let i = imm as u32;
    let bits = ((i >> 9) & 1) << 12
        | ((i >> 4) & 1) << 6
        | ((i >> 6) & 1) << 5
        | ((i >> 7) & 3) << 3
        | ((i >> 5) & 1) << 2;
    half(0b011 << 13 | bits | SP << 7 | 0b01)
}

/// `c.addi4spn rd', sp, imm` (CIW, funct3 000, op 00): rd' = sp + imm, a non-zero multiple
/// of 4 below 1024; rd' is x8..x15; bits 12..5 = imm[5:4|9:6|2|3].
pub(super) fn c_addi4spn(rd: u32, imm: u32) -> Vec<u8> {
    assert!((8..16).contains(&rd) && imm != 0 && imm.is_multiple_of(4) && imm < 1024);
    let bits = ((imm >> 4) & 3) << 11
        | ((imm >> 6) & 0xf) << 7
        | ((imm >> 2) & 1) << 6
        | ((imm >> 3) & 1) << 5;
    half(bits | (rd - 8) << 2)
}

/// `c.sdsp rs2, imm(sp)` (CSS, funct3 111, op 10): stores 8 bytes at sp + imm, a multiple
/// of 8 below 512; bits 12..7 = imm[5:3|8:6].
pub(super) fn c_sdsp(rs2: u32, imm: u32) -> Vec<u8> {
    assert!(imm.is_multiple_of(8) && imm < 512);
    let bits = ((imm >> 3) & 7) << 10 | ((imm >> 6) & 7) << 7;
    half(0b111 << 13 | bits | rs2 << 2 | 0b10)
}

/// `c.slli rd, shamt` (CI, funct3 000, op 10): rd <<= shamt, 1..=63.
pub(super) fn c_slli(rd: u32, shamt: i32) -> Vec<u8> {
    assert!((1..64).contains(&shamt) && rd != ZERO);
    half(ci_imm(shamt) | rd << 7 | 0b10)
}

/// `c.srli rd', shamt` (CB, funct3 100, funct2 00, op 01): rd' >>= shamt (logical); rd' is
/// x8..x15.
pub(super) fn c_srli(rd: u32, shamt: i32) -> Vec<u8> {
    assert!((1..64).contains(&shamt) && (8..16).contains(&rd));
    let s = shamt as u32;
    half(0b100 << 13 | ((s >> 5) & 1) << 12 | (rd - 8) << 7 | (s & 0x1f) << 2 | 0b01)
}

/// `c.sd rs2', imm(rs1')` (CS, funct3 111, op 00): stores 8 bytes at rs1' + imm, a multiple
/// of 8 below 256; bits 12..10 = imm[5:3], bits 6..5 = imm[7:6]; rs1', rs2' are x8..x15.
pub(super) fn c_sd(rs2: u32, imm: u32, rs1: u32) -> Vec<u8> {
    assert!(imm.is_multiple_of(8) && imm < 256 && (8..16).contains(&rs1) && (8..16).contains(&rs2));
    let bits = ((imm >> 3) & 7) << 10 | ((imm >> 6) & 3) << 5;
    half(0b111 << 13 | bits | (rs1 - 8) << 7 | (rs2 - 8) << 2)
}

/// `c.mv rd, rs2` (CR, funct4 1000, op 10): rd = rs2.
pub(super) fn c_mv(rd: u32, rs2: u32) -> Vec<u8> {
    assert!(rd != ZERO && rs2 != ZERO);
    half(0b1000 << 12 | rd << 7 | rs2 << 2 | 0b10)
}

/// `addi rd, rs1, imm` (I-type, opcode 0010011): rd = rs1 + imm, -2048..=2047 (the
/// assembler's `li rd, imm` when rs1 is zero; capstone prints it as `addi`).
pub(super) fn addi(rd: u32, rs1: u32, imm: i32) -> Vec<u8> {
    assert!(fits_signed(imm.into(), 12));
    word((imm as u32) << 20 | rs1 << 15 | rd << 7 | 0b0010011)
}

/// `lui rd, imm` (U-type, opcode 0110111): rd = imm << 12, sign-extended from bit 31.
pub(super) fn lui(rd: u32, imm: u32) -> Vec<u8> {
    assert!(imm < 1 << 20);
    word(imm << 12 | rd << 7 | 0b0110111)
}

/// `auipc rd, imm` (U-type, opcode 0010111): rd = pc + (imm << 12).
pub(super) fn auipc(rd: u32, imm: u32) -> Vec<u8> {
    word(imm << 12 | rd << 7 | 0b0010111)
}

/// `blt rs1, zero, offset` (B-type, funct3 100, opcode 1100011), written `bltz`; the offset
/// (even, ±4 KiB) is filled in by [`encode_bltz`].
pub(super) fn bltz(rs1: u32) -> Vec<u8> {
    word(rs1 << 15 | ZERO << 20 | 0b100 << 12 | 0b1100011)
}

/// `bge rs1, rs2, offset` (B-type, funct3 101, opcode 1100011); the offset is filled in by
/// [`encode_bltz`], which patches any B-type branch.
pub(super) fn bge(rs1: u32, rs2: u32) -> Vec<u8> {
    word(rs2 << 20 | rs1 << 15 | 0b101 << 12 | 0b1100011)
}

/// `sub rd, rs1, rs2` (R-type, funct7 0100000, opcode 0110011); `neg rd, rs2` is
/// `sub rd, zero, rs2`.
pub(super) fn sub(rd: u32, rs1: u32, rs2: u32) -> Vec<u8> {
    word(0b0100000 << 25 | rs2 << 20 | rs1 << 15 | rd << 7 | 0b0110011)
}

/// `c.swsp rs2, imm(sp)` (CSS, funct3 110, op 10): stores 4 bytes at sp + imm, a multiple
/// of 4 below 256; bits 12..7 = imm[5:2|7:6].
pub(super) fn c_swsp(rs2: u32, imm: u32) -> Vec<u8> {
    assert!(imm.is_multiple_of(4) && imm < 256);
    let bits = ((imm >> 2) & 0xf) << 9 | ((imm >> 6) & 3) << 7;
    half(0b110 << 13 | bits | rs2 << 2 | 0b10)
}

/// `c.bnez rs1', offset` (CB, funct3 111, op 01); rs1' is x8..x15; the offset (±256 bytes)
/// is filled in by [`encode_c_bnez`].
pub(super) fn c_bnez(rs1: u32) -> Vec<u8> {
    assert!((8..16).contains(&rs1));
    half(0b111 << 13 | (rs1 - 8) << 7 | 0b01)
}

/// `li rd, imm` in the fewest bytes, for rd not yet holding anything useful.
pub(super) fn li(rd: u32, imm: i32, comment: &str) -> Vec<Insn> {
    let name = reg_name(rd);
    let c = |s: String| {
        if comment.is_empty() {
            s
        } else {
            format!("{s} ; {comment}")
        }
    };
    if fits_signed(imm.into(), 6) {
        return vec![Insn::new(&c_li(rd, imm), c(format!("c.li {name}, {imm}")))];
    }
    if fits_signed(imm.into(), 12) {
        return vec![Insn::new(
            &addi(rd, ZERO, imm),
            c(format!("addi {name}, zero, {imm}")),
        )];
    }
    // Upper 20 bits rounded so that the low 12 bits are a signed -2048..=2047.
    let hi = (imm + 0x800) >> 12;
    let lo = imm - (hi << 12);
    assert!(imm >= 0 && hi < 1 << 19, "li {name}, {imm}: out of range");
    let mut insns = vec![if hi < 32 {
        Insn::new(&c_lui(rd, hi), format!("c.lui {name}, {hi}"))
    } else {
        Insn::new(&lui(rd, hi as u32), format!("lui {name}, {hi}"))
    }];
    if lo != 0 {
        insns.push(if fits_signed(lo.into(), 6) {
            Insn::new(&c_addi(rd, lo), format!("c.addi {name}, {lo}"))
        } else {
            Insn::new(&addi(rd, rd, lo), format!("addi {name}, {name}, {lo}"))
        });
    }
    let last = insns.last_mut().unwrap();
    last.asm = c(std::mem::take(&mut last.asm));
    insns
}

/// An I-type instruction: imm[11:0] rs1 funct3 rd opcode.
const fn i_type(imm: i32, rs1: u32, funct3: u32, rd: u32, opcode: u32) -> u32 {
    ((imm as u32) & 0xfff) << 20 | rs1 << 15 | funct3 << 12 | rd << 7 | opcode
}

/// An S-type instruction (stores): imm[11:5] rs2 rs1 funct3 imm[4:0] opcode 0100011.
const fn s_type(imm: i32, rs2: u32, rs1: u32, funct3: u32) -> u32 {
    let imm = imm as u32;
    ((imm >> 5) & 0x7f) << 25 | rs2 << 20 | rs1 << 15 | funct3 << 12 | (imm & 0x1f) << 7 | 0b0100011
}

/// An R-type instruction: funct7 rs2 rs1 funct3 rd opcode.
const fn r_type(funct7: u32, rs2: u32, rs1: u32, funct3: u32, rd: u32, opcode: u32) -> u32 {
    funct7 << 25 | rs2 << 20 | rs1 << 15 | funct3 << 12 | rd << 7 | opcode
}

/// `lbu rd, imm(rs1)` (LOAD, funct3 100): rd = the byte at rs1 + imm, zero-extended.
pub(super) fn lbu(rd: u32, rs1: u32, imm: i32) -> Vec<u8> {
    assert!(fits_signed(imm.into(), 12));
    word(i_type(imm, rs1, 0b100, rd, 0b0000011))
}

/// `sb rs2, imm(rs1)` (STORE, funct3 000): the low byte of rs2 to rs1 + imm.
pub(super) fn sb(rs2: u32, rs1: u32, imm: i32) -> Vec<u8> {
    assert!(fits_signed(imm.into(), 12));
    word(s_type(imm, rs2, rs1, 0b000))
}

/// `sd rs2, imm(rs1)` (STORE, funct3 011): rs2 to the doubleword at rs1 + imm.
pub(super) fn sd(rs2: u32, rs1: u32, imm: i32) -> Vec<u8> {
    assert!(fits_signed(imm.into(), 12));
    word(s_type(imm, rs2, rs1, 0b011))
}

/// `rem rd, rs1, rs2` (M extension: OP, funct7 0000001, funct3 110): the signed remainder.
pub(super) fn rem(rd: u32, rs1: u32, rs2: u32) -> Vec<u8> {
    word(r_type(0b0000001, rs2, rs1, 0b110, rd, 0b0110011))
}

/// A B-type branch (BRANCH, opcode 1100011) with funct3 `funct3` (000 beq, 001 bne, 100 blt,
/// 101 bge, 110 bltu, 111 bgeu); the offset is filled in by [`encode_bltz`].
pub(super) fn branch(funct3: u32, rs1: u32, rs2: u32) -> Vec<u8> {
    word(rs2 << 20 | rs1 << 15 | funct3 << 12 | 0b1100011)
}

/// `jal rd, offset` (J-type, opcode 1101111): imm[20|10:1|11|19:12] at bits 31..12, ±1 MiB.
pub(super) fn jal(rd: u32, offset: i64) -> Vec<u8> {
    assert!(fits_signed(offset, 21) && offset % 2 == 0);
    let o = offset as u32;
    let imm = ((o >> 20) & 1) << 31
        | ((o >> 1) & 0x3ff) << 21
        | ((o >> 11) & 1) << 20
        | ((o >> 12) & 0xff) << 12;
    word(imm | rd << 7 | 0b1101111)
}

/// `csrrwi rd, csr, uimm` (SYSTEM, funct3 101): rd = the CSR, the CSR = uimm (0..=31).
pub(super) fn csrrwi(rd: u32, csr: u32, uimm: u32) -> Vec<u8> {
    assert!(csr < 1 << 12 && uimm < 32);
    word(csr << 20 | uimm << 15 | 0b101 << 12 | rd << 7 | 0b1110011)
}

/// The `frm` CSR (the floating-point rounding mode) and its round-towards-zero value.
pub(super) const CSR_FRM: u32 = 0x002;
pub(super) const RM_RTZ: u32 = 0b001;
/// The rounding-mode field meaning "as frm says" (capstone then prints no rounding mode).
const RM_DYN: u32 = 0b111;

/// An OP-FP instruction (opcode 1010011) on doubles, rounding as frm says.
fn op_fp(funct7: u32, rs2: u32, rs1: u32, rd: u32) -> Vec<u8> {
    word(r_type(funct7, rs2, rs1, RM_DYN, rd, 0b1010011))
}

/// `fmul.d rd, rs1, rs2` (funct7 0001001).
pub(super) fn fmul_d(rd: u32, rs1: u32, rs2: u32) -> Vec<u8> {
    op_fp(0b0001001, rs2, rs1, rd)
}

/// `fsqrt.d rd, rs1` (funct7 0101101, rs2 0).
pub(super) fn fsqrt_d(rd: u32, rs1: u32) -> Vec<u8> {
    op_fp(0b0101101, 0, rs1, rd)
}

/// `fcvt.d.lu rd, rs1` (funct7 1101001, rs2 00011): an unsigned 64-bit integer to a double.
pub(super) fn fcvt_d_lu(rd: u32, rs1: u32) -> Vec<u8> {
    op_fp(0b1101001, 0b00011, rs1, rd)
}

/// `fcvt.l.d rd, rs1` (funct7 1100001, rs2 00010): a double to a signed 64-bit integer.
pub(super) fn fcvt_l_d(rd: u32, rs1: u32) -> Vec<u8> {
    op_fp(0b1100001, 0b00010, rs1, rd)
}

/// `c.ld rd', imm(rs1')` (CL, funct3 011, op 00): loads 8 bytes from rs1' + imm, a multiple
/// of 8 below 256; bits 12..10 = imm[5:3], bits 6..5 = imm[7:6]; rd', rs1' are x8..x15.
pub(super) fn c_ld(rd: u32, imm: u32, rs1: u32) -> Vec<u8> {
    assert!(imm.is_multiple_of(8) && imm < 256 && (8..16).contains(&rs1) && (8..16).contains(&rd));
    let bits = ((imm >> 3) & 7) << 10 | ((imm >> 6) & 3) << 5;
    half(0b011 << 13 | bits | (rs1 - 8) << 7 | (rd - 8) << 2)
}

/// `c.add rd, rs2` (CR, funct4 1001, op 10): rd += rs2.
pub(super) fn c_add(rd: u32, rs2: u32) -> Vec<u8> {
    assert!(rd != ZERO && rs2 != ZERO);
    half(0b1001 << 12 | rd << 7 | rs2 << 2 | 0b10)
}

/// `c.jr rs1` (CR, funct4 1000, rs2 0, op 10): jumps to rs1.
pub(super) fn c_jr(rs1: u32) -> Vec<u8> {
    assert!(rs1 != ZERO);
    half(0b1000 << 12 | rs1 << 7 | 0b10)
}

/// The CA-format operations (funct6 100011, op 01) on rd', rs2' (x8..x15): funct2 00
/// `c.sub`, 01 `c.xor`, 10 `c.or`, 11 `c.and`.
pub(super) fn c_alu(funct2: u32, rd: u32, rs2: u32) -> Vec<u8> {
    assert!((8..16).contains(&rd) && (8..16).contains(&rs2) && funct2 < 4);
    half(0b100011 << 10 | (rd - 8) << 7 | funct2 << 5 | (rs2 - 8) << 2 | 0b01)
}

/// `c.beqz rs1', offset` (CB, funct3 110, op 01); the offset is filled in by
/// [`encode_c_bnez`].
pub(super) fn c_beqz(rs1: u32) -> Vec<u8> {
    assert!((8..16).contains(&rs1));
    half(0b110 << 13 | (rs1 - 8) << 7 | 0b01)
}

/// `c.j`: bits 12..2 = offset[11|4|9:8|10|6|7|3:1|5], ±2 KiB from the jump itself.
pub(super) fn encode_c_j(bytes: &mut [u8], pc: u64, target: u64) -> Result<(), String> {
    let off = distance(pc, target);
    signed(off, 11, 2, "c.j")?;
    let o = off as u32;
    let bits = ((o >> 11) & 1) << 12
        | ((o >> 4) & 1) << 11
        | ((o >> 8) & 3) << 9
        | ((o >> 10) & 1) << 8
        | ((o >> 6) & 1) << 7
        | ((o >> 7) & 1) << 6
        | ((o >> 1) & 7) << 3
        | ((o >> 5) & 1) << 2;
    bytes.copy_from_slice(&half(0b101 << 13 | bits | 0b01));
    Ok(())
}

/// `bltz`: imm[12|10:5] at bits 31..25, imm[4:1|11] at bits 11..7, ±4 KiB.
pub(super) fn encode_bltz(bytes: &mut [u8], pc: u64, target: u64) -> Result<(), String> {
    let off = distance(pc, target);
    signed(off, 12, 2, "B-type branch")?;
    let o = off as u32;
    let insn = u32::from_le_bytes(bytes[..4].try_into().unwrap()) & 0x01ff_f07f;
    let imm = ((o >> 12) & 1) << 31
        | ((o >> 5) & 0x3f) << 25
        | ((o >> 1) & 0xf) << 8
        | ((o >> 11) & 1) << 7;
    bytes.copy_from_slice(&word(insn | imm));
    Ok(())
}

/// `c.bnez` (and `c.beqz`): bits 12..10 = offset[8|4:3], bits 6..2 = offset[7:6|2:1|5],
/// ±256 bytes from the branch itself.
pub(super) fn encode_c_bnez(bytes: &mut [u8], pc: u64, target: u64) -> Result<(), String> {
    let off = distance(pc, target);
    signed(off, 8, 2, "c.bnez")?;
    let o = off as u32;
    let bits = ((o >> 8) & 1) << 12
        | ((o >> 3) & 3) << 10
        | ((o >> 6) & 3) << 5
        | ((o >> 1) & 3) << 3
        | ((o >> 5) & 1) << 2;
    let insn = u16::from_le_bytes(bytes[..2].try_into().unwrap()) as u32 & 0xe383;
    bytes.copy_from_slice(&half(insn | bits));
    Ok(())
}

/// `c.lui rd, hi`: the target's [`message_page`] as an absolute address (an image below
/// 4 GiB); c.lui reaches the pages 1..=31 (addresses 0x800..0x1f7ff), which holds the
/// default base, 64 KiB, and the start of every image smidge lays out there.
pub(super) fn encode_c_lui(bytes: &mut [u8], _pc: u64, target: u64) -> Result<(), String> {
    let hi = unsigned((message_page(target) >> 12) as i64, 5, 1, "c.lui (pages)")?;
    if hi == 0 {
        return Err(format!("c.lui cannot reach {target:#x} (page 0)"));
    }
    let insn = u16::from_le_bytes(bytes[..2].try_into().unwrap()) as u32 & !ci_imm(-1);
    bytes.copy_from_slice(&half(insn | ci_imm(hi as i32)));
    Ok(())
}

/// The 4 KiB page nearest the message, rounded so that the message is within -2048..=2047
/// of it (the reach of an `addi`).
pub(super) fn message_page(target: u64) -> u64 {
    (target + 0x800) & !0xfff
}

/// `auipc rd, hi`: hi is the distance in pages from the auipc's page to [`message_page`]
/// (bits 31..12; ±2 GiB).
pub(super) fn encode_auipc(bytes: &mut [u8], pc: u64, target: u64) -> Result<(), String> {
    let pages = (message_page(target) >> 12) as i64 - (pc >> 12) as i64;
    signed(pages, 20, 1, "auipc (pages)")?;
    let insn = u32::from_le_bytes(bytes[..4].try_into().unwrap()) & 0xfff;
    bytes.copy_from_slice(&word(insn | (pages as u32) << 12));
    Ok(())
}

/// `addi rd, rd, lo`: lo is the message's distance from [`message_page`] (bits 31..20); it
/// does not depend on where the addi itself is.
pub(super) fn encode_addi_lo(bytes: &mut [u8], _pc: u64, target: u64) -> Result<(), String> {
    let lo = target.wrapping_sub(message_page(target)) as i64;
    debug_assert!(fits_signed(lo, 12));
    let insn = u32::from_le_bytes(bytes[..4].try_into().unwrap()) & 0x000f_ffff;
    bytes.copy_from_slice(&word(insn | (lo as u32) << 20));
    Ok(())
}

/// An instruction as the listing writes it, its bytes checked against the same instruction
/// encoded from its fields (`encoded`), so a typo in either cannot go unnoticed.
pub(super) fn listed(bytes: &[u8], encoded: Vec<u8>, asm: impl Into<String>) -> Insn {
    let asm = asm.into();
    assert_eq!(bytes, &encoded[..], "listing bytes of `{asm}`");
    Insn::new(bytes, asm)
}

/// `ecall` (SYSTEM, every field zero but the opcode).
pub(super) fn ecall() -> Insn {
    listed(&[0x73, 0x00, 0x00, 0x00], word(0b1110011), "ecall")
}

/// a1 = the address of the message, PC-relatively, in four instructions that each stand
/// alone, so the planner may put a jump between any two of them: `auipc` reaches the
/// message's page (keeping its own offset within its page), two shifts clear that offset
/// (the image is mapped at a page boundary, so page offsets are file offsets), `addi` adds
/// the message's offset from that page.
pub(super) fn message_address() -> Vec<Insn> {
    vec![
        listed(
            &[0x97, 0x05, 0x00, 0x00],
            auipc(A1, 0),
            "auipc a1, message ; a1 = pc + the pages up to the message's",
        )
        .fixup(Fixup::Encode {
            target: Target::Data,
            encode: encode_auipc,
        }),
        listed(&[0xb1, 0x81], c_srli(A1, 12), "c.srli a1, 12"),
        listed(
            &[0xb2, 0x05],
            c_slli(A1, 12),
            "c.slli a1, 12 ; a1 = that page",
        ),
        listed(
            &[0x93, 0x85, 0x05, 0x00],
            addi(A1, A1, 0),
            "addi a1, a1, message ; a1 = message",
        )
        .fixup(Fixup::Encode {
            target: Target::Data,
            encode: encode_addi_lo,
        }),
    ]
}

/// rd = the address of `target` (named `what` in the listing), in instructions that each
/// stand alone (the planner may put a jump between them): below 4 GiB `c.lui` its page and
/// `addi` its offset from that page; else PC-relatively, as [`message_address`] does.
pub(super) fn address(rd: u32, target: Target, what: &str, addressing: Addressing) -> Vec<Insn> {
    let r = reg_name(rd);
    let lo = Insn::new(&addi(rd, rd, 0), format!("addi {r}, {r}, {what}")).fixup(Fixup::Encode {
        target,
        encode: encode_addi_lo,
    });
    match addressing {
        Addressing::Abs32 => vec![
            Insn::new(&c_lui(rd, 16), format!("c.lui {r}, {what}")).fixup(Fixup::Encode {
                target,
                encode: encode_c_lui,
            }),
            lo,
        ],
        Addressing::PcRelative => vec![
            Insn::new(&auipc(rd, 0), format!("auipc {r}, {what}")).fixup(Fixup::Encode {
                target,
                encode: encode_auipc,
            }),
            Insn::new(&c_srli(rd, 12), format!("c.srli {r}, 12")),
            Insn::new(&c_slli(rd, 12), format!("c.slli {r}, 12")),
            lo,
        ],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The expected words are what llvm-mc (-triple=riscv64 -mattr=+c) assembles.
    #[test]
    fn serve_encoders() {
        let mut b = c_bnez(A4);
        encode_c_bnez(&mut b, 0x10010, 0x10000).unwrap();
        assert_eq!(b, [0x65, 0xfb]); // c.bnez a4, -16
        let mut b = c_bnez(A0);
        encode_c_bnez(&mut b, 0x10000, 0x100c8).unwrap();
        assert_eq!(b, [0x61, 0xe5]); // c.bnez a0, 200
        assert!(encode_c_bnez(&mut b, 0x10000, 0x10100).is_err());
        let mut l = c_lui(A1, 16);
        encode_c_lui(&mut l, 0, 0x10900).unwrap();
        assert_eq!(l, [0xc5, 0x65]); // c.lui a1, 17 (then addi a1, a1, -1792)
        assert!(encode_c_lui(&mut l, 0, 0x20000).is_err());
        assert_eq!(c_swsp(A6, 0), [0x42, 0xc0]);
        assert_eq!(sub(A0, ZERO, A0), [0x33, 0x05, 0xa0, 0x40]); // neg a0, a0
        assert_eq!(lui(A6, 0xa1460), [0x37, 0x08, 0x46, 0xa1]);
    }
}
