//! The quine on riscv64 ([`crate::quine`], [`crate::arch::quine`]): the listing, and
//! SHA-256 (FIPS 180-4) as its own listing.
//!
//! Addresses are below 4 GiB and fit `c.lui` and `addi` ([`li`]). The code sets every
//! register it reads (see [`super`]: only sp is known at the entry point).
//!
//! 32-bit words live in the upper half of 64-bit registers and memory slots ("upper form":
//! x << 32, the low half zero), so 64-bit adds wrap modulo 2³² for free and a rotation is
//! a shift: with Z = x (zero-extended) and D = X + Z (x in both halves), D >> n holds
//! ROTR n x in its low half. Shifts distribute over xor, so Σ and σ are one chain of
//! compressed shifts and xors on D ([`sigma`]), shifted back up at the end.
//!
//! K and H(0) are computed, not carried: primes by trial division (`rem`), cube roots by
//! iterating x = √√(n·x) (the fixed point of x⁴ = n·x is ∛n; the error shrinks fourfold
//! per step), square roots by `fsqrt.d`, each times 2³² and truncated by `fcvt.l.d` under
//! frm = round towards zero: the low 32 bits are the fraction's first 32 bits. K is
//! computed in each round from the next prime (no table).

use super::encode::*;
use super::{A0, A1, A2, A3, A4, A5, A7, S0, S1, ZERO};
use crate::arch::quine::Addresses;
use crate::arch::Insn;

const RA: u32 = 1;
const T0: u32 = 5;
const T1: u32 = 6;
const T2: u32 = 7;
const T3: u32 = 28;
/// Floating-point registers: n, the root, 2³², the root times 2³².
const FN: u32 = 0;
const FX: u32 = 1;
const FC: u32 = 2;
const FS: u32 = 3;

/// The CA-format funct2 values.
const SUB: u32 = 0b00;
const XOR: u32 = 0b01;
const AND: u32 = 0b11;

fn r(x: u32) -> &'static str {
    reg_name(x)
}

fn f(x: u32) -> &'static str {
    freg_name(x)
}

/// `asm`, then `; comment` if there is one.
fn text(asm: String, comment: &str) -> String {
    if comment.is_empty() {
        asm
    } else {
        format!("{asm} ; {comment}")
    }
}

/// A branch to a label, resolved by [`Asm::finish`].
enum Branch {
    CBnez(u32),
    CBeqz(u32),
    CJ,
    /// B-type: funct3, its mnemonic, rs1, rs2.
    B(u32, &'static str, u32, u32),
    Jal(u32),
}

enum Item {
    Insn(Insn),
    Label(&'static str),
    Branch(Branch, &'static str, String),
}

/// A listing with labels: instructions, then branches resolved once every length is known.
#[derive(Default)]
struct Asm(Vec<Item>);

impl Asm {
    fn i(&mut self, bytes: Vec<u8>, asm: String, comment: &str) {
        self.0
            .push(Item::Insn(Insn::new(&bytes, text(asm, comment))));
    }

    fn label(&mut self, name: &'static str) {
        self.0.push(Item::Label(name));
    }

    fn br(&mut self, b: Branch, label: &'static str, comment: &str) {
        self.0.push(Item::Branch(b, label, comment.to_string()));
    }

    fn li(&mut self, rd: u32, v: u32, comment: &str) {
        for insn in li(rd, v as i32, comment) {
            self.0.push(Item::Insn(insn));
        }
    }

    fn c_li(&mut self, rd: u32, imm: i32, c: &str) {
        self.i(c_li(rd, imm), format!("c.li {}, {imm}", r(rd)), c);
    }
    fn c_addi(&mut self, rd: u32, imm: i32, c: &str) {
        self.i(c_addi(rd, imm), format!("c.addi {}, {imm}", r(rd)), c);
    }
    fn addi(&mut self, rd: u32, rs1: u32, imm: i32, c: &str) {
        self.i(
            addi(rd, rs1, imm),
            format!("addi {}, {}, {imm}", r(rd), r(rs1)),
            c,
        );
    }
    fn c_mv(&mut self, rd: u32, rs: u32, c: &str) {
        self.i(c_mv(rd, rs), format!("c.mv {}, {}", r(rd), r(rs)), c);
    }
    fn c_add(&mut self, rd: u32, rs: u32, c: &str) {
        self.i(c_add(rd, rs), format!("c.add {}, {}", r(rd), r(rs)), c);
    }
    fn c_alu(&mut self, op: u32, rd: u32, rs: u32, c: &str) {
        let m = ["c.sub", "c.xor", "c.or", "c.and"][op as usize];
        self.i(c_alu(op, rd, rs), format!("{m} {}, {}", r(rd), r(rs)), c);
    }
    fn c_slli(&mut self, rd: u32, sh: i32, c: &str) {
        self.i(c_slli(rd, sh), format!("c.slli {}, {sh}", r(rd)), c);
    }
    fn c_srli(&mut self, rd: u32, sh: i32, c: &str) {
        self.i(c_srli(rd, sh), format!("c.srli {}, {sh}", r(rd)), c);
    }
    fn c_ld(&mut self, rd: u32, off: u32, rs1: u32, c: &str) {
        self.i(
            c_ld(rd, off, rs1),
            format!("c.ld {}, {off}({})", r(rd), r(rs1)),
            c,
        );
    }
    fn c_sd(&mut self, rs2: u32, off: u32, rs1: u32, c: &str) {
        self.i(
            c_sd(rs2, off, rs1),
            format!("c.sd {}, {off}({})", r(rs2), r(rs1)),
            c,
        );
    }
    fn sd(&mut self, rs2: u32, off: i32, rs1: u32, c: &str) {
        self.i(
            sd(rs2, rs1, off),
            format!("sd {}, {off}({})", r(rs2), r(rs1)),
            c,
        );
    }
    fn lbu(&mut self, rd: u32, off: i32, rs1: u32, c: &str) {
        self.i(
            lbu(rd, rs1, off),
            format!("lbu {}, {off}({})", r(rd), r(rs1)),
            c,
        );
    }
    fn sb(&mut self, rs2: u32, off: i32, rs1: u32, c: &str) {
        self.i(
            sb(rs2, rs1, off),
            format!("sb {}, {off}({})", r(rs2), r(rs1)),
            c,
        );
    }
    fn ecall(&mut self) {
        self.0.push(Item::Insn(ecall()));
    }

    /// The instructions, each branch encoded with its label's distance.
    fn finish(self) -> Vec<Insn> {
        let len = |item: &Item| match item {
            Item::Insn(i) => i.len(),
            Item::Label(_) => 0,
            Item::Branch(b, ..) => match b {
                Branch::CBnez(_) | Branch::CBeqz(_) | Branch::CJ => 2,
                Branch::B(..) | Branch::Jal(_) => 4,
            },
        };
        let mut labels = std::collections::HashMap::new();
        let mut at = 0u64;
        for item in &self.0 {
            if let Item::Label(name) = item {
                assert!(labels.insert(*name, at).is_none(), "label {name} twice");
            }
            at += len(item) as u64;
        }
        let mut out = Vec::new();
        let mut at = 0u64;
        for item in self.0 {
            let n = len(&item) as u64;
            match item {
                Item::Insn(i) => out.push(i),
                Item::Label(_) => {}
                Item::Branch(b, label, comment) => {
                    let target = *labels
                        .get(label)
                        .unwrap_or_else(|| panic!("no label {label}"));
                    // A backward branch is written with its offset, the label in the
                    // comment: capstone prints a negative offset (`-0x18`), which the
                    // decoding test cannot yet read as a label's target.
                    let (label, comment) = if target < at {
                        let off = target as i64 - at as i64;
                        let c = if comment.is_empty() {
                            label.to_string()
                        } else {
                            format!("{label}: {comment}")
                        };
                        (off.to_string(), c)
                    } else {
                        (label.to_string(), comment)
                    };
                    let (mut bytes, asm) = match b {
                        Branch::CBnez(rs) => (c_bnez(rs), format!("c.bnez {}, {label}", r(rs))),
                        Branch::CBeqz(rs) => (c_beqz(rs), format!("c.beqz {}, {label}", r(rs))),
                        Branch::CJ => (half(0b101 << 13 | 0b01), format!("c.j {label}")),
                        // capstone prints `bge zero, rs2` as `blez rs2`.
                        Branch::B(funct3, _, ZERO, rs2) if funct3 == BGE.0 => (
                            branch(funct3, ZERO, rs2),
                            format!("blez {}, {label}", r(rs2)),
                        ),
                        Branch::B(funct3, m, rs1, rs2) => (
                            branch(funct3, rs1, rs2),
                            format!("{m} {}, {}, {label}", r(rs1), r(rs2)),
                        ),
                        // capstone prints `jal ra, offset` as `jal offset`.
                        Branch::Jal(rd) => {
                            (jal(rd, target as i64 - at as i64), format!("jal {label}"))
                        }
                    };
                    let patched = match b {
                        Branch::CBnez(_) | Branch::CBeqz(_) => {
                            encode_c_bnez(&mut bytes, at, target)
                        }
                        Branch::CJ => encode_c_j(&mut bytes, at, target),
                        Branch::B(..) => encode_bltz(&mut bytes, at, target),
                        Branch::Jal(_) => Ok(()),
                    };
                    patched.unwrap_or_else(|e| panic!("{asm}: {e}"));
                    out.push(Insn::new(&bytes, text(asm, &comment)));
                }
            }
            at += n;
        }
        out
    }
}

const BNE: (u32, &str) = (0b001, "bne");
const BLT: (u32, &str) = (0b100, "blt");
const BGE: (u32, &str) = (0b101, "bge");
const BGEU: (u32, &str) = (0b111, "bgeu");

fn b(op: (u32, &'static str), rs1: u32, rs2: u32) -> Branch {
    Branch::B(op.0, op.1, rs1, rs2)
}

/// The quine: the template into the output, our own bytes into the layer, SHA-256 of the
/// layer, its hex into the config, then write and exit.
pub fn listing(a: &Addresses) -> Vec<Insn> {
    let mut s = Asm::default();
    s.li(S1, a.template, "the template: (skip, count, bytes)...");
    s.li(A0, a.out, "the output, zero-filled");
    s.li(A3, a.runs, "the template's runs");
    s.label("tmpl");
    s.lbu(A4, 0, S1, "zeros to skip");
    s.c_add(A0, A4, "");
    s.lbu(A5, 1, S1, "bytes to copy");
    s.c_addi(S1, 2, "");
    s.br(Branch::Jal(RA), "copy", "");
    s.c_addi(A3, -1, "");
    s.br(Branch::CBnez(A3), "tmpl", "");
    s.li(S1, a.base, "our own bytes, as the loader mapped them");
    s.li(A0, a.program, "their place in the layer");
    s.li(A5, a.program_len, "the program's length");
    s.br(Branch::Jal(RA), "copy", "");
    digest(&mut s, a);
    write_exit(&mut s, a.out, a.out_len);
    // copy: a5 bytes from s1 to a0 (a5 may be 0).
    s.label("copy");
    s.br(Branch::CBeqz(A5), "copied", "");
    s.lbu(A4, 0, S1, "");
    s.sb(A4, 0, A0, "");
    s.c_addi(S1, 1, "");
    s.c_addi(A0, 1, "");
    s.c_addi(A5, -1, "");
    s.br(Branch::CJ, "copy", "");
    s.label("copied");
    s.i(c_jr(RA), "c.jr ra".into(), "");
    prime(&mut s);
    s.finish()
}

/// The SHA-256 test program ([`crate::arch::Programs::sha256_test`]): the digest of the
/// padded message at `a.layer`, its hex at `a.hex`, written.
pub fn sha256_test(a: &Addresses) -> Vec<Insn> {
    let mut s = Asm::default();
    digest(&mut s, a);
    write_exit(&mut s, a.hex, 64);
    prime(&mut s);
    s.finish()
}

/// The subroutine `prime`: t0 = the next prime after t0, and ft0 = it as a double; uses a4
/// and a5. Trial division from t0-1 down: the first divisor found is 1 for a prime.
fn prime(s: &mut Asm) {
    s.label("prime");
    s.c_addi(T0, 1, "the next n");
    s.c_mv(A4, T0, "");
    s.label("trial");
    s.c_addi(A4, -1, "divisors n-1 down to 1");
    s.i(rem(A5, T0, A4), "rem a5, t0, a4".into(), "");
    s.br(Branch::CBnez(A5), "trial", "");
    s.c_addi(A4, -1, "a4 = 0: the divisor was 1, n is a prime");
    s.br(Branch::CBnez(A4), "prime", "");
    s.i(
        fcvt_d_lu(FN, T0),
        format!("fcvt.d.lu {}, {}", f(FN), r(T0)),
        "",
    );
    s.i(c_jr(RA), "c.jr ra".into(), "");
}

/// t = Σ or σ of the upper-form word in x (kept), shifted back to the upper form: D = x in
/// both halves (in d), then t = ((((D >> s0) ^ D) >> s1) ^ (D or Z)) >> s2, whose low half
/// is ROTR(s0+s1+s2) ^ ROTR(s1+s2) ^ (ROTR or SHR)(s2). With `z`, the last xor takes Z
/// (x zero-extended, its right shift a SHR): σ.
fn sigma(s: &mut Asm, x: u32, z: Option<u32>, d: u32, t: u32, sh: [i32; 3], what: &str) {
    match z {
        Some(z) => {
            s.c_mv(z, x, "");
            s.c_srli(z, 32, "Z = x");
            s.c_mv(d, z, "");
            s.c_add(d, x, "D = x in both halves");
        }
        None => {
            s.c_mv(d, x, "");
            s.c_srli(d, 32, "");
            s.c_add(d, x, "D = x in both halves");
        }
    }
    s.c_mv(t, d, "");
    s.c_srli(t, sh[0], "");
    s.c_alu(XOR, t, d, "");
    s.c_srli(t, sh[1], "");
    s.c_alu(XOR, t, z.unwrap_or(d), "");
    s.c_srli(t, sh[2], "");
    s.c_slli(t, 32, what);
}

/// SHA-256 of the padded message at `a.layer` (up to `a.sha_end`), its hex to `a.hex`.
///
/// The scratch memory V holds the working variables as a window of 8-byte slots that
/// slides up one slot a round (h at s0, g at s0+8, ..., a at s0+56): a round adds T1 to d
/// in place (the next e) and writes the new a above the window, over W[i], which it has
/// just read: W[i] is at V+64+8i (the schedule runs on to W[71], unused). After 64 rounds
/// the window is at V+512; H (H7 first) is at V+640, and adding the window to it also
/// copies it to V, the next block's window. The first block enters there too: the window
/// at V+512 is still zero then. Registers: s0 the window, s1 W (or H), t0 the prime n,
/// t1 the message, t2 = V+512, t3 the message's end, ra the return address.
fn digest(s: &mut Asm, a: &Addresses) {
    let v = a.scratch;
    s.i(
        csrrwi(ZERO, CSR_FRM, RM_RTZ),
        "fsrmi 1".into(),
        "csrrwi zero, frm, 1: round towards zero (fcvt truncates)",
    );
    s.c_li(A4, 1, "");
    s.c_slli(A4, 32, "");
    s.i(
        fcvt_d_lu(FC, A4),
        format!("fcvt.d.lu {}, {}", f(FC), r(A4)),
        "2^32",
    );
    s.li(S0, v + 512, "V+512: where the window ends, 64 rounds on");
    s.c_mv(T2, S0, "");
    // H(0): the square roots of the first 8 primes into H (at V+640), H0 at the top.
    s.c_li(T0, 1, "n");
    s.addi(S1, S0, 128 + 56, "");
    s.c_li(A3, 8, "");
    s.label("h0");
    s.br(Branch::Jal(RA), "prime", "");
    s.i(fsqrt_d(FX, FN), format!("fsqrt.d {}, {}", f(FX), f(FN)), "");
    s.i(
        fmul_d(FS, FX, FC),
        format!("fmul.d {}, {}, {}", f(FS), f(FX), f(FC)),
        "",
    );
    s.i(
        fcvt_l_d(A4, FS),
        format!("fcvt.l.d {}, {}", r(A4), f(FS)),
        "",
    );
    s.c_slli(A4, 32, "the fraction's first 32 bits");
    s.c_sd(A4, 0, S1, "");
    s.c_addi(S1, -8, "");
    s.c_addi(A3, -1, "");
    s.br(Branch::CBnez(A3), "h0", "");
    s.li(T1, a.layer, "the message");
    let len = a.sha_end - a.layer;
    if len < 2048 {
        s.addi(T3, T1, len as i32, "its end");
    } else {
        s.li(T3, a.sha_end, "its end");
    }
    s.br(
        Branch::CJ,
        "addh",
        "H into the window: the 8 slots at V+512 are still 0",
    );
    s.label("block");
    // W[0..16]: the block's big-endian words, accumulated a byte at a time.
    s.addi(S1, S0, -64, "s1+128 = W[0]");
    s.c_li(A5, 16, "");
    s.label("load");
    s.c_li(A2, 4, "");
    s.label("byte");
    s.lbu(A4, 0, T1, "");
    s.c_addi(T1, 1, "");
    s.c_slli(A3, 8, "");
    s.c_add(A3, A4, "");
    s.c_addi(A2, -1, "");
    s.br(Branch::CBnez(A2), "byte", "");
    s.c_slli(A3, 32, "the word, upper form");
    s.c_sd(A3, 128, S1, "");
    s.c_addi(S1, 8, "");
    s.c_addi(A5, -1, "");
    s.br(Branch::CBnez(A5), "load", "");
    // W[16..72] (the last 8 unused): s1 at W[i-16].
    s.label("sched");
    s.c_ld(A0, 112, S1, "W[i-2]");
    sigma(s, A0, Some(A1), A2, A3, [2, 7, 10], "σ1");
    s.c_ld(A0, 72, S1, "W[i-7]");
    s.c_add(A3, A0, "");
    s.c_ld(A0, 0, S1, "W[i-16]");
    s.c_add(A3, A0, "");
    s.c_ld(A0, 8, S1, "W[i-15]");
    sigma(s, A0, Some(A1), A2, A5, [11, 4, 3], "σ0");
    s.c_add(A3, A5, "");
    s.c_sd(A3, 128, S1, "W[i]");
    s.c_addi(S1, 8, "");
    s.br(b(BNE, S1, T2), "sched", "");
    // 64 rounds.
    s.c_li(T0, 1, "n: K from the first prime again");
    s.label("round");
    s.br(Branch::Jal(RA), "prime", "");
    s.c_li(A5, 31, "");
    s.label("cube");
    s.i(
        fmul_d(FX, FX, FN),
        format!("fmul.d {}, {}, {}", f(FX), f(FX), f(FN)),
        "",
    );
    s.i(fsqrt_d(FX, FX), format!("fsqrt.d {}, {}", f(FX), f(FX)), "");
    s.i(
        fsqrt_d(FX, FX),
        format!("fsqrt.d {}, {}", f(FX), f(FX)),
        "x = sqrt(sqrt(n x)): to the cube root",
    );
    s.c_addi(A5, -1, "");
    s.br(Branch::CBnez(A5), "cube", "");
    s.i(
        fmul_d(FS, FX, FC),
        format!("fmul.d {}, {}, {}", f(FS), f(FX), f(FC)),
        "",
    );
    s.i(
        fcvt_l_d(A0, FS),
        format!("fcvt.l.d {}, {}", r(A0), f(FS)),
        "",
    );
    s.c_slli(A0, 32, "K[i]");
    s.c_ld(A1, 0, S0, "h");
    s.c_add(A0, A1, "");
    s.c_ld(A1, 64, S0, "W[i]");
    s.c_add(A0, A1, "");
    s.c_ld(A1, 24, S0, "e");
    sigma(s, A1, None, A2, A3, [14, 5, 6], "Σ1");
    s.c_add(A0, A3, "");
    s.c_ld(A2, 16, S0, "f");
    s.c_ld(A3, 8, S0, "g");
    s.c_alu(XOR, A2, A3, "");
    s.c_alu(AND, A2, A1, "");
    s.c_alu(XOR, A2, A3, "Ch(e, f, g)");
    s.c_add(A0, A2, "T1");
    s.c_ld(A1, 32, S0, "d");
    s.c_add(A1, A0, "");
    s.c_sd(A1, 32, S0, "d + T1");
    s.c_ld(A1, 56, S0, "a");
    sigma(s, A1, None, A2, A3, [9, 11, 2], "Σ0");
    s.c_add(A0, A3, "");
    s.c_ld(A2, 48, S0, "b");
    s.c_ld(A3, 40, S0, "c");
    s.c_alu(XOR, A3, A2, "");
    s.c_alu(XOR, A1, A2, "");
    s.c_alu(AND, A1, A3, "");
    s.c_alu(XOR, A1, A2, "Maj(a, b, c)");
    s.c_add(A0, A1, "");
    s.c_sd(A0, 64, S0, "the new a");
    s.c_addi(S0, 8, "");
    s.br(b(BNE, S0, T2), "round", "");
    // H += the working variables, and H into the window's first position.
    s.label("addh");
    s.c_li(A5, 8, "");
    s.label("addw");
    s.c_ld(A0, 0, S0, "");
    s.c_ld(A1, 128, S0, "");
    s.c_add(A0, A1, "");
    s.c_sd(A0, 128, S0, "H");
    s.sd(A0, -512, S0, "the window");
    s.c_addi(S0, 8, "");
    s.c_addi(A5, -1, "");
    s.br(Branch::CBnez(A5), "addw", "");
    s.addi(S0, S0, -576, "");
    s.br(b(BNE, T1, T3), "block", "");
    // The 64 hex digits, H0 (at V+56) first.
    s.li(A0, a.hex, "the digest's place");
    s.addi(S1, S0, 56, "");
    s.label("hexw");
    s.c_ld(A1, 0, S1, "");
    s.c_li(A2, 8, "");
    s.label("nib");
    s.c_mv(A3, A1, "");
    s.c_srli(A3, 60, "");
    s.c_slli(A1, 4, "");
    s.c_li(A4, 10, "");
    s.br(b(BLT, A3, A4), "digit", "");
    s.addi(A3, A3, 39, "to 'a' for 10");
    s.label("digit");
    s.addi(A3, A3, 48, "'0'");
    s.sb(A3, 0, A0, "");
    s.c_addi(A0, 1, "");
    s.c_addi(A2, -1, "");
    s.br(Branch::CBnez(A2), "nib", "");
    s.c_addi(S1, -8, "");
    s.br(b(BGEU, S1, S0), "hexw", "");
}

/// write(1, out, len), again after a short write, then exit(0) (exit(-errno) if write
/// fails).
fn write_exit(s: &mut Asm, out: u32, len: u32) {
    s.li(A1, out, "the output");
    s.li(A2, len, "its length");
    s.addi(A7, ZERO, super::SYS_WRITE, "SYS_write");
    s.label("write");
    s.c_li(A0, 1, "stdout");
    s.ecall();
    s.br(
        b(BGE, ZERO, A0),
        "exit",
        "bge zero, a0: written nothing, or failed",
    );
    s.c_add(A1, A0, "");
    s.c_alu(SUB, A2, A0, "");
    s.br(Branch::CBnez(A2), "write", "");
    s.c_li(A0, 0, "");
    s.label("exit");
    s.c_addi(A7, super::SYS_EXIT - super::SYS_WRITE, "SYS_exit");
    s.ecall();
}
