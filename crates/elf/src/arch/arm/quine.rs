//! The quine on 32-bit ARM ([`crate::quine`], [`crate::arch::quine`]), in Thumb-2 (ARMv7-A,
//! the `linux/arm/v7` baseline), and SHA-256 (FIPS 180-4) as its own listing.
//!
//! Unlike smidge's other ARM programs (Thumb-1 only, for ARMv6 too), these use Thumb-2's
//! 32-bit encodings where they pay: `eor.w`/`add.w` with a rotated operand (a rotation and
//! an operation in one instruction), `movw`/`movt`, `addw`/`subw`, and VFP double
//! precision for K and H(0). Linux starts the program in Thumb state ([`super`]); nothing
//! here relies on the registers' initial values.
//!
//! capstone reads the `.f64` instructions only with `CS_MODE_V8` (without it, it takes the
//! FPU for a single-precision one: `ARM_FeatureVFPOnlySP`); the unit test here uses it.
//!
//! The scratch memory (`Addresses::scratch`, zero-filled), from its start Z:
//! - `Z .. Z+640`: KW, pairs (W[i], K[i]); the rounds' message schedule also writes W[64..80]
//!   (unused) to the pairs after K.
//! - `Z+640 .. Z+928`: the working variables' window, sliding down one word a round from
//!   S0 = Z+896 (a at the lowest address, h at the highest) to F = Z+640; sp is its pointer.
//! - `Z+928 .. Z+960`: H, in order H0..H7.
//!
//! The listing's own labels are resolved here ([`Asm`]): every branch is a 16-bit `b` or
//! `b<cond>` and every other instruction has a fixed length, so one pass lays them out.

use crate::arch::quine::Addresses;
use crate::arch::Insn;

/// KW: 80 pairs (W, K).
const KW_LEN: u32 = 80 * 8;
/// Where the window is when the rounds end (F), from Z.
const F_AT: u32 = KW_LEN;
/// Where it starts (S0): 64 slides of 4 bytes above F.
const S0_AT: u32 = F_AT + 64 * 4;
/// H, after the window's initial 8 words.
const H_AT: u32 = S0_AT + 32;
const _: () = assert!(H_AT + 32 <= crate::arch::quine::SCRATCH_LEN);

// ---- Encoders ------------------------------------------------------------------------

/// A 16-bit Thumb instruction.
const fn t16(h: u16) -> [u8; 2] {
    h.to_le_bytes()
}

/// A 32-bit Thumb-2 instruction: the first halfword, then the second, each little-endian.
const fn t32(hw1: u16, hw2: u16) -> [u8; 4] {
    let a = hw1.to_le_bytes();
    let b = hw2.to_le_bytes();
    [a[0], a[1], b[0], b[1]]
}

/// `movs rd, #imm8` (T1).
const fn movs_imm(rd: u16, imm: u16) -> [u8; 2] {
    t16(0x2000 | rd << 8 | imm)
}
/// `cmp rn, #imm8` (T1).
const fn cmp_imm(rn: u16, imm: u16) -> [u8; 2] {
    t16(0x2800 | rn << 8 | imm)
}
/// `adds rdn, #imm8` (T2).
const fn adds_imm(rd: u16, imm: u16) -> [u8; 2] {
    t16(0x3000 | rd << 8 | imm)
}
/// `subs rdn, #imm8` (T2).
const fn subs_imm(rd: u16, imm: u16) -> [u8; 2] {
    t16(0x3800 | rd << 8 | imm)
}
/// `subs rd, rn, rm` (T1).
const fn subs_reg(rd: u16, rn: u16, rm: u16) -> [u8; 2] {
    t16(0x1a00 | rm << 6 | rn << 3 | rd)
}
/// `lsls rd, rm, #imm5` (T1).
const fn lsls_imm(rd: u16, rm: u16, imm: u16) -> [u8; 2] {
    t16(imm << 6 | rm << 3 | rd)
}
/// `lsrs rd, rm, #imm5` (T1).
const fn lsrs_imm(rd: u16, rm: u16, imm: u16) -> [u8; 2] {
    t16(0x0800 | imm << 6 | rm << 3 | rd)
}
/// The 16 data-processing operations on low registers (T1: 010000 op Rm Rdn).
const AND: u16 = 0;
const EOR: u16 = 1;
const fn dp(op: u16, rdn: u16, rm: u16) -> [u8; 2] {
    t16(0x4000 | op << 6 | rm << 3 | rdn)
}
/// `add rdn, rm` (T2, any registers, flags untouched).
const fn add_reg(rdn: u16, rm: u16) -> [u8; 2] {
    t16(0x4400 | (rdn >> 3) << 7 | rm << 3 | (rdn & 7))
}
/// `cmp rn, rm` (T2, a high register among them; T1 for two low ones).
const fn cmp_reg(rn: u16, rm: u16) -> [u8; 2] {
    if rn < 8 && rm < 8 {
        t16(0x4280 | rm << 3 | rn)
    } else {
        t16(0x4500 | (rn >> 3) << 7 | rm << 3 | (rn & 7))
    }
}
/// `mov rd, rm` (T1, any registers, flags untouched).
const fn mov_reg(rd: u16, rm: u16) -> [u8; 2] {
    t16(0x4600 | (rd >> 3) << 7 | rm << 3 | (rd & 7))
}
/// `ldr rt, [rn, #imm5*4]` / `str` (T1).
const fn ldr_imm(rt: u16, rn: u16, imm: u16) -> [u8; 2] {
    t16(0x6800 | (imm / 4) << 6 | rn << 3 | rt)
}
const fn str_imm(rt: u16, rn: u16, imm: u16) -> [u8; 2] {
    t16(0x6000 | (imm / 4) << 6 | rn << 3 | rt)
}
/// `ldrb rt, [rn, #imm5]` / `strb` (T1).
const fn ldrb_imm(rt: u16, rn: u16, imm: u16) -> [u8; 2] {
    t16(0x7800 | imm << 6 | rn << 3 | rt)
}
const fn strb_imm(rt: u16, rn: u16, imm: u16) -> [u8; 2] {
    t16(0x7000 | imm << 6 | rn << 3 | rt)
}
/// `ldrb rt, [rn, rm]` / `strb` (T1, register offset).
const fn ldrb_reg(rt: u16, rn: u16, rm: u16) -> [u8; 2] {
    t16(0x5c00 | rm << 6 | rn << 3 | rt)
}
const fn strb_reg(rt: u16, rn: u16, rm: u16) -> [u8; 2] {
    t16(0x5400 | rm << 6 | rn << 3 | rt)
}
/// `ldr rt, [sp, #imm8*4]` / `str` (T2).
const fn ldr_sp(rt: u16, imm: u16) -> [u8; 2] {
    t16(0x9800 | rt << 8 | (imm / 4))
}
const fn str_sp(rt: u16, imm: u16) -> [u8; 2] {
    t16(0x9000 | rt << 8 | (imm / 4))
}
/// `add rd, sp, #imm8*4` (T1).
const fn add_rd_sp(rd: u16, imm: u16) -> [u8; 2] {
    t16(0xa800 | rd << 8 | (imm / 4))
}
/// `add sp, #imm7*4` / `sub sp, #imm7*4` (T2 / T1).
const fn add_sp(imm: u16) -> [u8; 2] {
    t16(0xb000 | (imm / 4))
}
const fn sub_sp(imm: u16) -> [u8; 2] {
    t16(0xb080 | (imm / 4))
}
/// `adr rd, #imm8*4` (T1): rd = Align(pc + 4, 4) + imm.
const fn adr(rd: u16, imm: u16) -> [u8; 2] {
    t16(0xa000 | rd << 8 | (imm / 4))
}
/// `pop {list}` / `ldm rn!, {list}` / `stm rn!, {list}` (T1, low registers as a bit mask).
const fn pop(list: u16) -> [u8; 2] {
    t16(0xbc00 | list)
}
const fn ldm(rn: u16, list: u16) -> [u8; 2] {
    t16(0xc800 | rn << 8 | list)
}
const fn stm(rn: u16, list: u16) -> [u8; 2] {
    t16(0xc000 | rn << 8 | list)
}
/// `rev rd, rm` (T1): byte swap.
const fn rev(rd: u16, rm: u16) -> [u8; 2] {
    t16(0xba00 | rm << 3 | rd)
}
/// `svc #0`.
const SVC0: [u8; 2] = t16(0xdf00);

/// Shifted-register data processing (T2/T3: 11101 01 op S Rn | 0 imm3 Rd imm2 type Rm), with
/// `ror #sh`: `eor.w` is op 0100, `add.w` 1000.
const ROR: u16 = 3;
const fn dp_ror(op: u16, rd: u16, rn: u16, rm: u16, sh: u16) -> [u8; 4] {
    t32(
        0xea00 | op << 5 | rn,
        (sh >> 2) << 12 | rd << 8 | (sh & 3) << 6 | ROR << 4 | rm,
    )
}
const EOR_W: u16 = 0b0100;
const ADD_W: u16 = 0b1000;

/// A 12-bit immediate (i:imm3:imm8) spread into a 32-bit instruction's two halfwords.
const fn imm12(hw1: u16, hw2: u16, imm: u16) -> [u8; 4] {
    t32(
        hw1 | (imm >> 11) << 10,
        ((imm >> 8) & 7) << 12 | hw2 | (imm & 0xff),
    )
}

/// Thumb-2's modified immediate (`ThumbExpandImm`) for `v`, as i:imm3:imm8, if it has one.
const fn modified_imm(v: u32) -> Option<u16> {
    if v < 0x100 {
        return Some(v as u16);
    }
    let mut rot = 8;
    while rot < 32 {
        let unrot = v.rotate_left(rot);
        if unrot < 0x100 && unrot & 0x80 != 0 {
            return Some((rot << 7) as u16 | (unrot & 0x7f) as u16);
        }
        rot += 1;
    }
    None
}

/// `mov.w rd, #const` (T2).
const fn mov_w(rd: u16, imm: u16) -> [u8; 4] {
    imm12(0xf04f, rd << 8, imm)
}
/// `add.w rd, rn, #const` / `sub.w` (T3, modified immediate).
const fn add_w(rd: u16, rn: u16, imm: u16) -> [u8; 4] {
    imm12(0xf100 | rn, rd << 8, imm)
}
const fn sub_w(rd: u16, rn: u16, imm: u16) -> [u8; 4] {
    imm12(0xf1a0 | rn, rd << 8, imm)
}
/// `addw rd, rn, #imm12` / `subw` (T4, plain 12-bit immediate).
const fn addw(rd: u16, rn: u16, imm: u16) -> [u8; 4] {
    imm12(0xf200 | rn, rd << 8, imm)
}
const fn subw(rd: u16, rn: u16, imm: u16) -> [u8; 4] {
    imm12(0xf2a0 | rn, rd << 8, imm)
}
/// `movw rd, #imm16` / `movt` (T3 / T1: imm4:i:imm3:imm8).
const fn movw(rd: u16, imm: u16) -> [u8; 4] {
    imm12(0xf240 | imm >> 12, rd << 8, imm & 0xfff)
}
const fn movt(rd: u16, imm: u16) -> [u8; 4] {
    imm12(0xf2c0 | imm >> 12, rd << 8, imm & 0xfff)
}

// VFP (VFPv3, double precision: d0..d15; single registers s0..s31 overlap them).

/// `vmov sn, rt` (core to single).
const fn vmov_s_r(sn: u16, rt: u16) -> [u8; 4] {
    t32(0xee00 | sn >> 1, rt << 12 | 0x0a10 | (sn & 1) << 7)
}
/// `vmov rt, sn` (single to core).
const fn vmov_r_s(rt: u16, sn: u16) -> [u8; 4] {
    t32(0xee10 | sn >> 1, rt << 12 | 0x0a10 | (sn & 1) << 7)
}
/// `vcvt.f64.u32 dd, sm` (`signed`: `vcvt.f64.s32`).
const fn vcvt_f64_int(dd: u16, sm: u16, signed: bool) -> [u8; 4] {
    t32(
        0xeeb8,
        dd << 12 | 0x0b40 | (signed as u16) << 7 | (sm & 1) << 5 | sm >> 1,
    )
}
/// `vcvt.s32.f64 sd, dm`, rounding towards zero.
const fn vcvt_s32_f64(sd: u16, dm: u16) -> [u8; 4] {
    t32(0xeebd | (sd & 1) << 6, (sd >> 1) << 12 | 0x0bc0 | dm)
}
/// `vcvt.u32.f64 dd, dd, #32`: to unsigned fixed point with 32 fraction bits, rounding
/// towards zero (the result in dd's low single register).
const fn vcvt_u32_f64_fix32(dd: u16) -> [u8; 4] {
    t32(0xeebf, dd << 12 | 0x0bc0)
}
/// `vmov.f64 dd, dm`.
const fn vmov_f64(dd: u16, dm: u16) -> [u8; 4] {
    t32(0xeeb0, dd << 12 | 0x0b40 | dm)
}
/// `vmul.f64 dd, dn, dm`.
const fn vmul_f64(dd: u16, dn: u16, dm: u16) -> [u8; 4] {
    t32(0xee20 | dn, dd << 12 | 0x0b00 | dm)
}
/// `vsub.f64 dd, dn, dm`.
const fn vsub_f64(dd: u16, dn: u16, dm: u16) -> [u8; 4] {
    t32(0xee30 | dn, dd << 12 | 0x0b40 | dm)
}
/// `vsqrt.f64 dd, dm`.
const fn vsqrt_f64(dd: u16, dm: u16) -> [u8; 4] {
    t32(0xeeb1, dd << 12 | 0x0bc0 | dm)
}

/// A register list's text, `{r0, r1}`.
fn list(mask: u16) -> String {
    let regs: Vec<String> = (0..8)
        .filter(|r| mask & (1 << r) != 0)
        .map(|r| format!("r{r}"))
        .collect();
    format!("{{{}}}", regs.join(", "))
}

/// A register's name as capstone prints it.
fn reg(r: u16) -> String {
    match r {
        9 => "sb".into(),
        10 => "sl".into(),
        11 => "fp".into(),
        12 => "ip".into(),
        13 => "sp".into(),
        _ => format!("r{r}"),
    }
}

// ---- The assembler's bookkeeping: labels and 16-bit branches --------------------------

/// The b<cond> condition codes used.
const NE: u16 = 1;
const HS: u16 = 2;
const LO: u16 = 3;
const HI: u16 = 8;
const LE: u16 = 13;
const ALWAYS: u16 = 14;

enum Item {
    Insn(Insn),
    Label(&'static str),
    /// `b<cond> label` (16 bits; `ALWAYS`: `b label`).
    Branch(u16, &'static str, String),
    /// `adr rd, label` (16 bits: forward, to a word boundary within 1020 bytes).
    Adr(u16, &'static str, String),
}

/// A listing under construction: instructions, labels, and branches to labels.
#[derive(Default)]
struct Asm {
    items: Vec<Item>,
}

impl Asm {
    fn i(&mut self, bytes: &[u8], asm: impl Into<String>) -> &mut Self {
        self.items.push(Item::Insn(Insn::new(bytes, asm)));
        self
    }

    fn with(&mut self, bytes: &[u8], asm: String, comment: &str) -> &mut Self {
        if comment.is_empty() {
            self.i(bytes, asm)
        } else {
            self.i(bytes, format!("{asm} ; {comment}"))
        }
    }

    fn pop(&mut self, mask: u16, comment: &str) -> &mut Self {
        self.with(&pop(mask), format!("pop {}", list(mask)), comment)
    }

    fn ldm(&mut self, rn: u16, mask: u16, comment: &str) -> &mut Self {
        self.with(
            &ldm(rn, mask),
            format!("ldm r{rn}!, {}", list(mask)),
            comment,
        )
    }

    fn stm(&mut self, rn: u16, mask: u16, comment: &str) -> &mut Self {
        self.with(
            &stm(rn, mask),
            format!("stm r{rn}!, {}", list(mask)),
            comment,
        )
    }

    fn label(&mut self, name: &'static str) -> &mut Self {
        self.items.push(Item::Label(name));
        self
    }

    fn adr(&mut self, rd: u16, label: &'static str, comment: &str) -> &mut Self {
        self.items.push(Item::Adr(rd, label, comment.into()));
        self
    }

    /// `mov r8, r8` (a nop) if the code so far does not end at a word boundary.
    fn align(&mut self) -> &mut Self {
        if !self.len().is_multiple_of(4) {
            self.i(&mov_reg(8, 8), "mov r8, r8 ; to a word boundary");
        }
        self
    }

    fn b(&mut self, cond: u16, label: &'static str, comment: &str) -> &mut Self {
        self.items.push(Item::Branch(cond, label, comment.into()));
        self
    }

    /// The bytes laid out so far (labels resolved at [`Asm::finish`]).
    fn len(&self) -> usize {
        self.items
            .iter()
            .map(|i| match i {
                Item::Insn(x) => x.len(),
                Item::Label(_) => 0,
                Item::Branch(..) | Item::Adr(..) => 2,
            })
            .sum()
    }

    /// The listing, every branch encoded: `b<cond>` (T1) reaches pc + 4 - 256 .. + 254,
    /// `b` (T2) ±2 KiB.
    fn finish(self) -> Vec<Insn> {
        let mut at = 0;
        let mut labels = std::collections::HashMap::new();
        for item in &self.items {
            match item {
                Item::Insn(x) => at += x.len(),
                Item::Label(name) => {
                    assert!(labels.insert(*name, at).is_none(), "label {name} twice");
                }
                Item::Branch(..) | Item::Adr(..) => at += 2,
            }
        }
        let mut at = 0;
        let mut out = Vec::new();
        for item in self.items {
            match item {
                Item::Insn(x) => {
                    at += x.len();
                    out.push(x);
                }
                Item::Label(_) => {}
                Item::Adr(rd, label, comment) => {
                    // The code starts at a word boundary (the ELF headers are 76 or 84
                    // bytes long), so offsets from it align as addresses do.
                    let imm = labels[label] - ((at + 4) & !3);
                    assert!(imm % 4 == 0 && imm <= 1020, "adr {label}");
                    let imm = imm as u16;
                    out.push(Insn::new(
                        &adr(rd, imm),
                        format!("adr r{rd}, #{imm} ; {comment}"),
                    ));
                    at += 2;
                }
                Item::Branch(cond, label, comment) => {
                    let target = labels[label] as i64;
                    let off = (target - (at as i64 + 4)) / 2;
                    let (h, name) = if cond == ALWAYS {
                        assert!((-1024..1024).contains(&off), "b {label}");
                        (0xe000 | (off as u16 & 0x7ff), "b".to_string())
                    } else {
                        assert!((-128..128).contains(&off), "b<cond> {label}");
                        let c = ["eq", "ne", "hs", "lo", "mi", "pl", "vs", "vc", "hi", "ls"]
                            .get(cond as usize)
                            .copied()
                            .unwrap_or(match cond {
                                10 => "ge",
                                11 => "lt",
                                12 => "gt",
                                _ => "le",
                            });
                        (0xd000 | cond << 8 | (off as u16 & 0xff), format!("b{c}"))
                    };
                    let asm = if comment.is_empty() {
                        format!("{name} {label}")
                    } else {
                        format!("{name} {label} ; {comment}")
                    };
                    out.push(Insn::new(&t16(h), asm));
                    at += 2;
                }
            }
        }
        out
    }
}

/// `rd = v`: `movs` below 256 (a low register), else `mov.w` for a modified immediate, else
/// `movw` and, above 0xffff, `movt`.
fn set(asm: &mut Asm, rd: u16, v: u32, what: &str) {
    let r = reg(rd);
    if v < 0x100 && rd < 8 {
        asm.i(&movs_imm(rd, v as u16), format!("movs {r}, #{v} ; {what}"));
    } else if let Some(m) = modified_imm(v) {
        asm.i(&mov_w(rd, m), format!("mov.w {r}, #{v} ; {what}"));
    } else {
        asm.i(
            &movw(rd, v as u16),
            format!("movw {r}, #{} ; {what}", v & 0xffff),
        );
        if v > 0xffff {
            asm.i(
                &movt(rd, (v >> 16) as u16),
                format!("movt {r}, #{}", v >> 16),
            );
        }
    }
}

/// `rd = rn + delta`: `add.w`/`sub.w` for a modified immediate, else `addw`/`subw` within
/// 4095, else [`set`].
fn set_from(asm: &mut Asm, rd: u16, rn: u16, rn_value: u32, v: u32, what: &str) {
    let (d, n) = (reg(rd), reg(rn));
    let delta = v.wrapping_sub(rn_value);
    let neg = rn_value.wrapping_sub(v);
    if let Some(m) = modified_imm(delta) {
        asm.i(
            &add_w(rd, rn, m),
            format!("add.w {d}, {n}, #{delta} ; {what}"),
        );
    } else if let Some(m) = modified_imm(neg) {
        asm.i(
            &sub_w(rd, rn, m),
            format!("sub.w {d}, {n}, #{neg} ; {what}"),
        );
    } else if delta < 0x1000 {
        asm.i(
            &addw(rd, rn, delta as u16),
            format!("addw {d}, {n}, #{delta} ; {what}"),
        );
    } else if neg < 0x1000 {
        asm.i(
            &subw(rd, rn, neg as u16),
            format!("subw {d}, {n}, #{neg} ; {what}"),
        );
    } else {
        set(asm, rd, v, what);
    }
}

// ---- The listings --------------------------------------------------------------------

/// The quine: the template into the output, our own bytes into the layer, SHA-256 of the
/// layer, its hex into the config, then write and exit.
pub fn listing(a: &Addresses) -> Vec<Insn> {
    let mut asm = Asm::default();
    // 1. The template: runs of (zeros to skip, bytes to copy, the bytes).
    set(&mut asm, 0, a.out, "the output, zero-filled");
    asm.adr(1, "template", "the template, after the code")
        .i(
            &movs_imm(2, a.runs as u16),
            format!("movs r2, #{} ; the template's runs", a.runs),
        )
        .label("tmpl")
        .i(&ldrb_imm(3, 1, 0), "ldrb r3, [r1] ; zeros to skip")
        .i(&ldrb_imm(4, 1, 1), "ldrb r4, [r1, #1] ; bytes to copy")
        .i(&adds_imm(1, 2), "adds r1, #2")
        .i(&add_reg(0, 3), "add r0, r3")
        .i(&mov_reg(5, 4), "mov r5, r4 ; copied last to first")
        .b(ALWAYS, "tmpl_next", "")
        .label("tmpl_copy")
        .i(&ldrb_reg(3, 1, 5), "ldrb r3, [r1, r5]")
        .i(&strb_reg(3, 0, 5), "strb r3, [r0, r5]")
        .label("tmpl_next")
        .i(&subs_imm(5, 1), "subs r5, #1")
        .b(HS, "tmpl_copy", "no borrow: r5 was at least 1")
        .i(&add_reg(0, 4), "add r0, r4")
        .i(&add_reg(1, 4), "add r1, r4")
        .i(&subs_imm(2, 1), "subs r2, #1")
        .b(NE, "tmpl", "");
    // 2. Our own bytes, as the loader mapped them, into the layer.
    set(&mut asm, 0, a.base, "our own bytes");
    set_from(
        &mut asm,
        1,
        0,
        a.base,
        a.program,
        "their place in the layer",
    );
    set(&mut asm, 2, a.program_len, "the program's length");
    asm.label("self")
        .i(&subs_imm(2, 1), "subs r2, #1")
        .i(&ldrb_reg(3, 0, 2), "ldrb r3, [r0, r2]")
        .i(&strb_reg(3, 1, 2), "strb r3, [r1, r2]")
        .b(NE, "self", "");
    digest(&mut asm, a, Some((1, a.program)));
    // 5. write(1, out, out_len), again after a short write, then exit.
    set(&mut asm, 1, a.out, "the output");
    set(&mut asm, 2, a.out_len, "its length");
    write_exit(&mut asm);
    asm.align();
    asm.label("template");
    asm.finish()
}

/// write(1, r1, r2), again after a short write, then exit(r2): 0 once all is written, what
/// is left if write fails.
fn write_exit(asm: &mut Asm) {
    asm.label("write")
        .i(&movs_imm(0, 1), "movs r0, #1 ; stdout")
        .i(&movs_imm(7, 4), "movs r7, #4 ; SYS_write")
        .i(&SVC0, "svc #0")
        .i(&cmp_imm(0, 0), "cmp r0, #0")
        .b(LE, "exit", "an error (or nothing written): stop")
        .i(&add_reg(1, 0), "add r1, r0")
        .i(&subs_reg(2, 2, 0), "subs r2, r2, r0")
        .b(NE, "write", "")
        .label("exit")
        .i(
            &lsls_imm(0, 2, 0),
            "movs r0, r2 ; status: 0, or what is left",
        )
        .i(&movs_imm(7, 1), "movs r7, #1 ; SYS_exit")
        .i(&SVC0, "svc #0");
}

/// The SHA-256 test program ([`crate::arch::Programs::sha256_test`]): K and H(0), the
/// digest of the padded message at `a.layer`, its hex at `a.hex`, written.
pub fn sha256_test(a: &Addresses) -> Vec<Insn> {
    let mut asm = Asm::default();
    digest(&mut asm, a, None);
    asm.i(
        &subs_imm(1, 64),
        "subs r1, #64 ; the hex, after the hex loop",
    )
    .i(&movs_imm(2, 64), "movs r2, #64");
    write_exit(&mut asm);
    asm.align();
    asm.finish()
}

/// Steps 3 and 4: K and H(0) from the table into place, SHA-256 of the padded message from
/// `a.layer` to `a.sha_end`, and its hex to `a.hex` (r1 ends at `a.hex` + 64).
///
/// K and H(0) are computed, not carried: primes by trial division (repeated subtraction:
/// ARMv7-A need not have `udiv`), and for each prime p, on the VFP (VFPv3-D16, which the
/// armhf ABI of linux/arm/v7 assumes), x ← √√(x·p) from x = p, 32 times: the first step
/// gives √p exactly (√(p²) = p), the fixed point is ∛p (x⁴ = x·p), and each step divides
/// the error by 4, so 32 steps reach double precision's last bits (20 are enough, checked
/// for all 64 primes). The fraction's first 32 bits: x minus its integer part (`vcvt` to an
/// integer and back), then `vcvt` to fixed point with 32 fraction bits (both truncate).
/// The square roots go up from F: the first 8 are H(0), where [`digest`]'s first `addh`
/// takes them; the other 56 land in the window's space, not yet used. The tests check K and
/// H(0) through the digest.
///
/// `known`: a register and its value, to reach sb from in fewer bytes than `movw`/`movt`.
fn digest(asm: &mut Asm, a: &Addresses, known: Option<(u16, u32)>) {
    let z = a.scratch;
    let kw_end = z + 512;
    let what = "sb: the end of K (64 pairs of W and K)";
    match known {
        Some((r, v)) => set_from(asm, 9, r, v, kw_end, what),
        None => set(asm, 9, kw_end, what),
    }
    set_from(asm, 5, 9, kw_end, z, "K goes to KW's odd words");
    set_from(
        asm,
        6,
        9,
        kw_end,
        z + F_AT,
        "the square roots: H(0) first, where the window ends",
    );
    asm.i(
        &mov_reg(13, 6),
        "mov sp, r6 ; the window's end, H(0) there for the first add",
    )
    .i(&movs_imm(4, 1), "movs r4, #1 ; n")
    .label("next")
    .i(&adds_imm(4, 1), "adds r4, #1 ; the next n")
    .i(&mov_reg(1, 4), "mov r1, r4")
    .label("trial")
    .i(&subs_imm(1, 1), "subs r1, #1 ; divisors n-1 down to 1")
    .i(&mov_reg(2, 4), "mov r2, r4")
    .label("rem")
    .i(&subs_reg(2, 2, 1), "subs r2, r2, r1")
    .b(HI, "rem", "left more than 0: subtract again")
    .b(NE, "trial", "a borrow: not a divisor")
    .i(
        &cmp_imm(1, 1),
        "cmp r1, #1 ; a divisor: 1 means n is a prime",
    )
    .b(NE, "next", "")
    .i(&vmov_s_r(0, 4), "vmov s0, r4")
    .i(&vcvt_f64_int(1, 0, false), "vcvt.f64.u32 d1, s0 ; p")
    .i(&vmov_f64(2, 1), "vmov.f64 d2, d1 ; x = p")
    .i(&movs_imm(3, 32), "movs r3, #32")
    .label("root")
    .i(&vmul_f64(2, 2, 1), "vmul.f64 d2, d2, d1")
    .i(&vsqrt_f64(2, 2), "vsqrt.f64 d2, d2")
    .i(&vsqrt_f64(2, 2), "vsqrt.f64 d2, d2 ; x = (x p)^(1/4)")
    .i(
        &vcvt_s32_f64(6, 2),
        "vcvt.s32.f64 s6, d2 ; its integer part",
    )
    .i(&vcvt_f64_int(3, 6, true), "vcvt.f64.s32 d3, s6")
    .i(&vsub_f64(3, 2, 3), "vsub.f64 d3, d2, d3 ; its fraction")
    .i(
        &vcvt_u32_f64_fix32(3),
        "vcvt.u32.f64 d3, d3, #32 ; times 2^32",
    )
    .i(&vmov_r_s(0, 6), "vmov r0, s6")
    .i(&cmp_imm(3, 32), "cmp r3, #32")
    .b(NE, "root_next", "")
    .stm(6, 1, "the first step: the square root")
    .label("root_next")
    .i(&subs_imm(3, 1), "subs r3, #1")
    .b(NE, "root", "")
    .i(&str_imm(0, 5, 4), "str r0, [r5, #4] ; the cube root: K")
    .i(&adds_imm(5, 8), "adds r5, #8")
    .i(&cmp_reg(5, 9), "cmp r5, sb")
    .b(NE, "next", "64 primes?");
    set_from(asm, 8, 9, kw_end, a.layer, "r8: the message");
    set_from(asm, 10, 9, kw_end, a.sha_end, "sl: its end");
    asm.b(ALWAYS, "addh", "H = H(0) + 0, into H and the window");
    // A block: W[0..16] from the message, big-endian.
    asm.label("block");
    set_from(asm, 7, 9, kw_end, z, "KW");
    asm.i(&mov_reg(0, 8), "mov r0, r8")
        .i(&movs_imm(1, 16), "movs r1, #16")
        .label("load")
        .ldm(0, 1 << 2, "")
        .i(&rev(2, 2), "rev r2, r2")
        .i(&str_imm(2, 7, 0), "str r2, [r7]")
        .i(&adds_imm(7, 8), "adds r7, #8")
        .i(&subs_imm(1, 1), "subs r1, #1")
        .b(NE, "load", "")
        .i(&mov_reg(8, 0), "mov r8, r0")
        .i(&subs_imm(7, 128), "subs r7, #128");
    // The 64 rounds: the window a..h at sp, a lowest; each round reads it, writes d + T1
    // over d (the new e) and T1 + T2 below a (the new a), and slides down one word.
    // Σ1(e) = ROTR6(e ⊕ ROTR5(e ⊕ ROTR14 e)), Σ0(a) = ROTR2(a ⊕ ROTR11(a ⊕ ROTR9 a)),
    // Ch(e,f,g) = g ⊕ (e ∧ (f ⊕ g)), Maj(a,b,c) = b ⊕ ((a ⊕ b) ∧ (b ⊕ c)).
    asm.label("round")
        .pop(0x7f, "a b c d e f g, h at sp")
        .i(&dp(EOR, 5, 6), "eors r5, r6")
        .i(&dp(AND, 5, 4), "ands r5, r4")
        .i(&dp(EOR, 5, 6), "eors r5, r6 ; Ch")
        .i(&ldr_sp(6, 0), "ldr r6, [sp] ; h")
        .i(&add_reg(6, 5), "add r6, r5")
        .i(&dp_ror(EOR_W, 5, 4, 4, 14), "eor.w r5, r4, r4, ror #14")
        .i(&dp_ror(EOR_W, 5, 4, 5, 5), "eor.w r5, r4, r5, ror #5")
        .i(
            &dp_ror(ADD_W, 6, 6, 5, 6),
            "add.w r6, r6, r5, ror #6 ; + Σ1(e)",
        )
        .ldm(7, 0x30, "W[i], K[i]")
        .i(&add_reg(6, 5), "add r6, r5")
        .i(&add_reg(6, 4), "add r6, r4 ; T1")
        .i(&add_reg(3, 6), "add r3, r6 ; the new e")
        .i(&dp_ror(EOR_W, 5, 0, 0, 9), "eor.w r5, r0, r0, ror #9")
        .i(&dp_ror(EOR_W, 5, 0, 5, 11), "eor.w r5, r0, r5, ror #11")
        .i(
            &dp_ror(ADD_W, 6, 6, 5, 2),
            "add.w r6, r6, r5, ror #2 ; + Σ0(a)",
        )
        .i(&dp(EOR, 0, 1), "eors r0, r1")
        .i(&dp(EOR, 2, 1), "eors r2, r1")
        .i(&dp(AND, 0, 2), "ands r0, r2")
        .i(&dp(EOR, 0, 1), "eors r0, r1 ; Maj")
        .i(&add_reg(6, 0), "add r6, r0 ; the new a")
        .i(&sub_sp(32), "sub sp, #32 ; the window, one word down")
        .i(&str_sp(3, 16), "str r3, [sp, #16]")
        .i(&str_sp(6, 0), "str r6, [sp]")
        // The schedule, 16 rounds ahead: W[i+16] = W[i] + σ0(W[i+1]) + W[i+9] +
        // σ1(W[i+14]) (r7 at pair i+1); σ0(x) = ROTR7(x ⊕ ROTR11 x) ⊕ x≫3,
        // σ1(x) = ROTR17(x ⊕ ROTR2 x) ⊕ x≫10. Rounds 48 to 63 write W[64..80], unused.
        .i(&ldr_imm(0, 7, 0), "ldr r0, [r7] ; W[i+1]")
        .i(&dp_ror(EOR_W, 1, 0, 0, 11), "eor.w r1, r0, r0, ror #11")
        .i(&lsrs_imm(0, 0, 3), "lsrs r0, r0, #3")
        .i(&dp_ror(EOR_W, 0, 0, 1, 7), "eor.w r0, r0, r1, ror #7")
        .i(&add_reg(4, 0), "add r4, r0")
        .i(&ldr_imm(0, 7, 64), "ldr r0, [r7, #64] ; W[i+9]")
        .i(&add_reg(4, 0), "add r4, r0")
        .i(&ldr_imm(0, 7, 104), "ldr r0, [r7, #104] ; W[i+14]")
        .i(&dp_ror(EOR_W, 1, 0, 0, 2), "eor.w r1, r0, r0, ror #2")
        .i(&lsrs_imm(0, 0, 10), "lsrs r0, r0, #10")
        .i(&dp_ror(EOR_W, 0, 0, 1, 17), "eor.w r0, r0, r1, ror #17")
        .i(&add_reg(4, 0), "add r4, r0")
        .i(&str_imm(4, 7, 120), "str r4, [r7, #120] ; W[i+16]")
        .i(&cmp_reg(7, 9), "cmp r7, sb")
        .b(NE, "round", "");
    // H += the window (at sp), into H (sp + 288 ahead) and into the next block's window
    // (sp + 256 ahead); the first time the window holds H(0) and H zeros.
    asm.label("addh")
        .i(&movs_imm(3, 8), "movs r3, #8")
        .label("addh_word")
        .pop(1, "")
        .i(&ldr_sp(1, 284), "ldr r1, [sp, #284]")
        .i(&add_reg(0, 1), "add r0, r1")
        .i(&str_sp(0, 284), "str r0, [sp, #284] ; H")
        .i(&str_sp(0, 252), "str r0, [sp, #252] ; the window")
        .i(&subs_imm(3, 1), "subs r3, #1")
        .b(NE, "addh_word", "")
        .i(&add_sp(224), "add sp, #224 ; the window's start")
        .i(&cmp_reg(8, 10), "cmp r8, sl")
        .b(NE, "block", "past the last block?");
    // 4. The digest's hex, H0 first, each word's nibbles from the top.
    asm.i(&add_rd_sp(0, 32), "add r0, sp, #32 ; H");
    set_from(asm, 1, 9, kw_end, a.hex, "the hex's place");
    asm.i(&movs_imm(3, 64), "movs r3, #64 ; nibbles")
        .label("nib")
        .i(&lsls_imm(4, 3, 29), "lsls r4, r3, #29")
        .b(NE, "same", "not a multiple of 8: the same word")
        .ldm(0, 1 << 2, "the next word")
        .label("same")
        .i(&lsrs_imm(4, 2, 28), "lsrs r4, r2, #28")
        .i(&lsls_imm(2, 2, 4), "lsls r2, r2, #4")
        .i(&cmp_imm(4, 10), "cmp r4, #10")
        .b(LO, "digit", "")
        .i(&adds_imm(4, 39), "adds r4, #39 ; to 'a' for 10")
        .label("digit")
        .i(&adds_imm(4, 48), "adds r4, #48 ; '0'")
        .i(&strb_imm(4, 1, 0), "strb r4, [r1]")
        .i(&adds_imm(1, 1), "adds r1, #1")
        .i(&subs_imm(3, 1), "subs r3, #1")
        .b(NE, "nib", "");
}

#[cfg(test)]
mod tests {
    use super::super::encode::tests::read;
    use super::*;
    use capstone::prelude::*;

    /// Every instruction of both listings decodes (capstone, Thumb) as listed: branches
    /// and `adr` by mnemonic (their operands are labels, or offsets capstone prints as
    /// addresses), the table not at all.
    #[test]
    fn listings_decode_as_listed() {
        let cs = Capstone::new()
            .arm()
            .mode(capstone::arch::arm::ArchMode::Thumb)
            .extra_mode([capstone::arch::arm::ArchExtraMode::V8].into_iter())
            .build()
            .unwrap();
        let a = Addresses {
            template: 0x10200,
            runs: 40,
            out: 0x11000,
            base: 0x10000,
            program: 0x11c00,
            program_len: 700,
            layer: 0x11a00,
            sha_end: 0x12040,
            hex: 0x11678,
            out_len: 4096,
            scratch: 0x12040,
        };
        for code in [listing(&a), sha256_test(&a)] {
            for i in code.iter().filter(|i| !i.asm.starts_with(".word")) {
                let (m, ops, len) = read(&cs, &i.bytes, 0x10000);
                assert_eq!(len, i.len(), "{}", i.asm);
                let listed = i.asm.split(" ;").next().unwrap();
                if m.starts_with('b') || m == "adr" {
                    assert!(listed.starts_with(&format!("{m} ")), "{m} {ops} / {listed}");
                } else {
                    assert_eq!(format!("{m} {ops}"), listed);
                }
            }
        }
    }
}
