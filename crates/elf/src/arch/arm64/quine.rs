//! The quine on AArch64 ([`crate::quine`], [`crate::arch::quine`]): the listing, and
//! SHA-256 (FIPS 180-4) as its own listing.
//!
//! Every address the program uses is `adr` from the instruction itself (±1 MiB covers the
//! whole segment), so the listing is written first and placed afterwards: it ends where
//! the data begins (the template, or the SHA-256 test's message), which fixes the address
//! of every instruction. Branches name labels and are patched the same way.
//!
//! The scratch memory, from `scratch` (W is 80 words: round t computes W[t+16]):
//!
//! ```text
//!     0  W[0..80]; the square roots of the 64 primes go to 64..320 first
//!   320  the working variables: eight words that slide down one word a round, from
//!        576 (block start) to 320 (block end)
//!   608  K[0..64]
//!   864  (end)
//! ```
//!
//! H lives in v0 and v1 (four words each, H0 first); the working variables start as a
//! copy of it at 576 with `stp q0, q1`, and are added back with two vector adds. x9
//! points at the working variables' last place (320) before every block: K's pointer
//! ends there, and so do the rounds.
//!
//! Registers: Linux (and qemu-user) start the program with x0..x30 zero ([`super`]); the
//! listing relies on it for w14 alone (the cube root's step counter, which wraps back to
//! 0 each time). The SHA-256 part never touches the stack.

use super::encode::*;
use crate::arch::quine::{Addresses, SCRATCH_LEN};
use crate::arch::Insn;

/// W: 80 words (round t computes W[t+16], up to W[79]).
const W_LEN: u32 = 80 * 4;
/// Where the working variables start a block (they end it at [`W_LEN`], having slid
/// down one word in each of the 64 rounds).
const VARS: u32 = W_LEN + 64 * 4;
/// K, after the working variables' first place.
const K_AT: u32 = VARS + 8 * 4;
/// The square roots of the 64 primes (H(0) is the first 8), in W: they end where the
/// rounds leave the working variables, [`W_LEN`].
const ROOTS: u32 = W_LEN - 64 * 4;
/// The scratch memory this listing uses.
const USED: u32 = K_AT + 64 * 4;
const _: () = assert!(USED <= SCRATCH_LEN);

// Registers.
const X0: u32 = 0;
const X1: u32 = 1;
const X2: u32 = 2;
const X3: u32 = 3;
const X4: u32 = 4;
const X5: u32 = 5;
const X6: u32 = 6;
const X7: u32 = 7;
const X8: u32 = 8;
const X9: u32 = 9;
const X10: u32 = 10;
const X11: u32 = 11;
const X12: u32 = 12;
const X14: u32 = 14;
const X16: u32 = 16;
const X17: u32 = 17;
const X18: u32 = 18;
const X19: u32 = 19;

/// How a word is patched once its address is known.
enum Patch {
    None,
    /// A branch to a label: the word offset, imm19 at bit 5 (`b.cond`, `cbz`, `cbnz`).
    Imm19(&'static str),
    /// `adr` to this absolute address.
    Adr(u32),
}

/// A listing being written: instruction words, their assembly, and the labels.
#[derive(Default)]
struct Asm {
    words: Vec<(u32, String, Patch)>,
    labels: Vec<(&'static str, usize)>,
}

impl Asm {
    /// One instruction.
    fn op(&mut self, word: u32, asm: impl Into<String>) {
        self.words.push((word, asm.into(), Patch::None));
    }

    /// The next instruction is `name`.
    fn label(&mut self, name: &'static str) {
        self.labels.push((name, self.words.len()));
    }

    /// A conditional branch (`b.cond`, `cbz`, `cbnz`) to `label`, the asm naming it.
    fn branch(&mut self, word: u32, label: &'static str, asm: impl Into<String>) {
        self.words.push((word, asm.into(), Patch::Imm19(label)));
    }

    /// `adr xd, target ; what`.
    fn adr(&mut self, rd: u32, target: u32, what: &str) {
        let asm = format!("adr x{rd}, #{target:#x} ; {what}");
        self.words.push((adr(rd, 0), asm, Patch::Adr(target)));
    }

    /// `mov xd, #value ; what` (`movz`, and a `movk` if the value needs one).
    fn mov(&mut self, rd: u32, value: u32, what: &str) {
        let (lo, hi) = (value as u16, (value >> 16) as u16);
        self.op(movz(rd, lo, 0), format!("mov x{rd}, #{lo} ; {what}"));
        if hi != 0 {
            self.op(movk(rd, hi, 1), format!("movk x{rd}, #{hi}, lsl #16"));
        }
    }

    fn extend(&mut self, other: Asm) {
        let at = self.words.len();
        self.words.extend(other.words);
        self.labels
            .extend(other.labels.into_iter().map(|(n, i)| (n, i + at)));
    }

    /// The instructions, placed to end at `end`.
    fn finish(self, end: u32) -> Vec<Insn> {
        let start = i64::from(end) - 4 * self.words.len() as i64;
        let at = |name: &str| {
            self.labels
                .iter()
                .find(|(n, _)| *n == name)
                .unwrap_or_else(|| panic!("no label {name}"))
                .1
        };
        let mut out = Vec::new();
        for (i, (word, asm, patch)) in self.words.iter().enumerate() {
            let pc = start + 4 * i as i64;
            let word = match *patch {
                Patch::None => *word,
                Patch::Imm19(label) => {
                    let delta = at(label) as i64 - i as i64;
                    assert!(delta.abs() < 1 << 18, "{asm}: too far");
                    word | ((delta as u32) & 0x7_ffff) << 5
                }
                Patch::Adr(target) => {
                    let delta = i64::from(target) - pc;
                    assert!(delta.abs() < 1 << 20, "{asm}: too far");
                    adr(*word & 0x1f, delta as i32)
                }
            };
            out.push(Insn::new(&word.to_le_bytes(), asm.clone()));
        }
        out
    }
}

/// The quine: the template into the output, our own bytes into the layer, SHA-256 of the
/// layer, its hex into the config, then write and exit.
pub fn listing(a: &Addresses) -> Vec<Insn> {
    assert!(
        a.base.is_multiple_of(0x1_0000) && a.program_len < 0x1_0000,
        "the copy loop stops at the 64 KiB boundary of base"
    );
    let mut s = Asm::default();
    // The template: runs of (zeros to skip, bytes to copy, the bytes). x1 reads it, x2
    // writes the output, w3 counts the runs.
    s.adr(X1, a.template, "the template: (skip, count, bytes)...");
    s.adr(X2, a.out, "the output, zero-filled");
    s.mov(X3, a.runs, "the template's runs");
    s.label("tmpl");
    s.op(
        ls9(LDRB, X4, X1, 1, POST),
        "ldrb w4, [x1], #1 ; zeros to skip",
    );
    s.op(shifted(ADD_X, X2, X2, X4, LSL, 0), "add x2, x2, x4");
    s.op(
        ls9(LDRB, X4, X1, 1, POST),
        "ldrb w4, [x1], #1 ; bytes to copy",
    );
    s.branch(cbz_w(X4), "next", "cbz w4, next ; (255, 0) runs skip only");
    s.label("copy");
    s.op(ls9(LDRB, X5, X1, 1, POST), "ldrb w5, [x1], #1");
    s.op(ls9(STRB, X5, X2, 1, POST), "strb w5, [x2], #1");
    s.op(addsub_imm(SUBS_W_IMM, X4, X4, 1, false), "subs w4, w4, #1");
    s.branch(b_cond(NE), "copy", "b.ne copy");
    s.label("next");
    s.op(addsub_imm(SUBS_W_IMM, X3, X3, 1, false), "subs w3, w3, #1");
    s.branch(b_cond(NE), "tmpl", "b.ne tmpl");
    // Our own bytes, backwards: the template ends the file, so x1 is now at its end.
    s.adr(
        X2,
        a.program + a.program_len,
        "the end of our bytes' place in the layer (x1: the end of the file)",
    );
    s.label("self");
    s.op(ls9(LDRB, X4, X1, -1, PRE), "ldrb w4, [x1, #-1]!");
    s.op(ls9(STRB, X4, X2, -1, PRE), "strb w4, [x2, #-1]!");
    s.op(
        tst_x_low(X1, 16),
        "tst x1, #0xffff ; at base (64 KiB aligned)?",
    );
    s.branch(b_cond(NE), "self", "b.ne self");
    s.extend(digest(a));
    s.extend(write_exit(a.out, a.out_len));
    s.finish(a.template)
}

/// The SHA-256 test program ([`crate::arch::Programs::sha256_test`]): K, the digest of
/// the padded message at `a.layer`, its hex at `a.hex`, written.
pub fn sha256_test(a: &Addresses) -> Vec<Insn> {
    let mut s = digest(a);
    s.extend(write_exit(a.hex, 64));
    // The message follows the code.
    s.finish(a.layer)
}

/// K and H(0), the digest of the padded message at `a.layer`, and its hex at `a.hex`.
fn digest(a: &Addresses) -> Asm {
    let mut s = k_table(a.scratch);
    s.extend(sha256(a));
    s.extend(hex(a.hex));
    s
}

/// K (FIPS 180-4 §4.2.2: the first 32 bits of the fractional parts of the cube roots of
/// the first 64 primes) to W + [`K_AT`], and the same of the square roots (§5.3.3: the
/// first 8 are H(0)) to W + [`ROOTS`], computed rather than carried: 23 instructions
/// instead of 288 bytes of tables. Primes by trial division (n-1 down to the first
/// divisor: a prime if that is 1), up to 311, the 64th. √n by `fsqrt`; ∛n as the fixed point of
/// x ↦ √√(n·x), from x = √n: each step quarters the error, and the iteration, monotone in
/// floating point, settles within 30 steps (512 are run: w14 += 2^23 until it wraps to
/// 0). `fcvtzu` to 32 fraction bits truncates x·2^32, whose low word is the fraction.
/// The tests check all 64 words of K against [`crate::arch::quine::K`] and H(0) through
/// the digest. Ends with H(0) in v0 and v1.
fn k_table(w: u32) -> Asm {
    let mut s = Asm::default();
    s.op(movz_w(X10, 1), "mov w10, #1 ; n");
    s.adr(X9, w + ROOTS, "the square roots, then K 544 bytes above");
    s.label("prime");
    s.op(
        addsub_imm(ADD_W_IMM, X10, X10, 1, false),
        "add w10, w10, #1 ; the next n",
    );
    s.op(
        addsub_imm(SUB_W_IMM, X11, X10, 1, false),
        "sub w11, w10, #1 ; d = n-1, down",
    );
    s.label("trial");
    s.op(udiv_w(X12, X10, X11), "udiv w12, w10, w11");
    s.op(
        msub_w(X12, X12, X11, X10),
        "msub w12, w12, w11, w10 ; n mod d",
    );
    s.op(
        addsub_imm(SUB_W_IMM, X11, X11, 1, false),
        "sub w11, w11, #1",
    );
    s.branch(cbnz_w(X12), "trial", "cbnz w12, trial");
    s.branch(
        cbnz_w(X11),
        "prime",
        "cbnz w11, prime ; the divisor was not 1",
    );
    s.op(ucvtf_d_w(0, X10), "ucvtf d0, w10");
    s.op(fsqrt_d(1, 0), "fsqrt d1, d0");
    s.op(
        fcvtzu_x_d_fixed(X12, 1, 32),
        "fcvtzu x12, d1, #32 ; √n · 2^32",
    );
    s.op(
        ls9(STR_W, X12, X9, 4, POST),
        "str w12, [x9], #4 ; the root's fraction",
    );
    s.label("cbrt");
    s.op(fmul_d(2, 0, 1), "fmul d2, d0, d1 ; n·x");
    s.op(fsqrt_d(2, 2), "fsqrt d2, d2");
    s.op(fsqrt_d(1, 2), "fsqrt d1, d2 ; x = √√(n·x)");
    s.op(
        addsub_imm(ADDS_W_IMM, X14, X14, 0x800, true),
        "adds w14, w14, #0x800, lsl #12 ; 512 times",
    );
    s.branch(b_cond(NE), "cbrt", "b.ne cbrt");
    s.op(
        fcvtzu_x_d_fixed(X12, 1, 32),
        "fcvtzu x12, d1, #32 ; ∛n · 2^32",
    );
    let k_off = K_AT - ROOTS - 4;
    s.op(
        ldr_str_w_uimm(STR_W_UIMM, X12, X9, k_off),
        format!("str w12, [x9, #{k_off}] ; K"),
    );
    s.op(
        addsub_imm(SUBS_W_IMM, 31, X10, 311, false),
        "cmp w10, #311 ; the 64th prime",
    );
    s.branch(b_cond(NE), "prime", "b.ne prime");
    s.op(
        pair(LDP_Q, 0, 1, X9, -256),
        "ldp q0, q1, [x9, #-256] ; H(0); x9 is where a block's rounds end",
    );
    s
}

/// SHA-256 (FIPS 180-4 §6.2.2) of the padded message from `a.layer` to `a.sha_end`
/// (whole 64-byte blocks), H in v0 and v1 (H(0) on entry), K at `a.scratch` + [`K_AT`].
///
/// A block: its 16 words byte-reversed into W[0..16] (until x10 is 64-byte aligned again:
/// W is); then 64 rounds, each computing W[t+16] first (x10 points at it; W[64..80] are
/// computed and never read) and reading K[t] at a fixed distance from x10. The working
/// variables are a window of eight words at x9 (a first) that slides down one word a
/// round: a round stores the new `e` over `d` and the new `a` below `a`; the others are
/// where the slide puts them. 64 rounds bring x9 (down 4 a round from W + 576) and x10
/// (up 4 a round from W + 64) together at W + 320, so no round counter.
/// Σ1(e) = ROTR6 ⊕ ROTR11 ⊕ ROTR25, Σ0(a) = ROTR2 ⊕ ROTR13 ⊕ ROTR22, σ0(x) = ROTR7 ⊕
/// ROTR18 ⊕ SHR3, σ1(x) = ROTR17 ⊕ ROTR19 ⊕ SHR10, Ch(e,f,g) = (e ∧ f) ∨ (¬e ∧ g),
/// Maj(a,b,c) = ((a ⊕ b) ∧ (b ⊕ c)) ⊕ b.
fn sha256(a: &Addresses) -> Asm {
    let w = a.scratch;
    assert!(
        w.is_multiple_of(64),
        "the scratch memory is 64-byte aligned"
    );
    let mut s = Asm::default();
    s.adr(X11, a.layer, "the layer tar, then its padding");
    s.adr(X10, w, "W");
    // The blocks end where W starts in the quine (x10 at W then); elsewhere at x12.
    let end = if a.sha_end == w {
        X10
    } else {
        s.adr(X12, a.sha_end, "the end of the blocks");
        X12
    };
    s.label("block");
    s.label("load");
    s.op(ls9(LDR_W, X16, X11, 4, POST), "ldr w16, [x11], #4");
    s.op(rev_w(X16, X16), "rev w16, w16 ; big-endian");
    s.op(
        ls9(STR_W, X16, X10, 4, POST),
        "str w16, [x10], #4 ; W[0..16]",
    );
    s.op(tst_x_low(X10, 6), "tst x10, #0x3f ; W is 64-byte aligned");
    s.branch(b_cond(NE), "load", "b.ne load");
    s.op(
        pair_pre(STP_Q, 0, 1, X9, 256),
        "stp q0, q1, [x9, #256]! ; a..h = H, from W + 576",
    );
    s.label("round");
    // W[t+16] = σ1(W[t+14]) + W[t+9] + σ0(W[t+1]) + W[t], x10 at W[t+16].
    s.op(
        pair(LDP_W, X16, X17, X10, -64),
        "ldp w16, w17, [x10, #-64] ; W[t], W[t+1]",
    );
    s.op(
        ls9(LDR_W, X18, X10, -28, UNSCALED),
        "ldur w18, [x10, #-28] ; W[t+9]",
    );
    s.op(shifted(ADD_W, X18, X18, X16, LSL, 0), "add w18, w18, w16");
    s.op(ror_w(X19, X17, 7), "ror w19, w17, #7");
    s.op(
        shifted(EOR_W, X19, X19, X17, ROR, 18),
        "eor w19, w19, w17, ror #18",
    );
    s.op(
        shifted(EOR_W, X19, X19, X17, LSR, 3),
        "eor w19, w19, w17, lsr #3 ; σ0",
    );
    s.op(shifted(ADD_W, X18, X18, X19, LSL, 0), "add w18, w18, w19");
    s.op(
        ls9(LDR_W, X17, X10, -8, UNSCALED),
        "ldur w17, [x10, #-8] ; W[t+14]",
    );
    s.op(ror_w(X19, X17, 17), "ror w19, w17, #17");
    s.op(
        shifted(EOR_W, X19, X19, X17, ROR, 19),
        "eor w19, w19, w17, ror #19",
    );
    s.op(
        shifted(EOR_W, X19, X19, X17, LSR, 10),
        "eor w19, w19, w17, lsr #10 ; σ1",
    );
    s.op(shifted(ADD_W, X18, X18, X19, LSL, 0), "add w18, w18, w19");
    s.op(
        ls9(STR_W, X18, X10, 4, POST),
        "str w18, [x10], #4 ; W[t+16]",
    );
    // x10 is now W + 68 + 4t: K[t] at K + 4t is a fixed distance above.
    let k_off = K_AT - 64 - 4;
    s.op(
        ldr_str_w_uimm(LDR_W_UIMM, X17, X10, k_off),
        format!("ldr w17, [x10, #{k_off}] ; K[t]"),
    );
    s.op(
        shifted(ADD_W, X16, X16, X17, LSL, 0),
        "add w16, w16, w17 ; W[t] + K[t]",
    );
    // Two words to a register, the second in the top half: logical and add
    // instructions read it shifted down by 32, and 32-bit ones read the first alone.
    s.op(pair(LDP_X, X0, X2, X9, 0), "ldp x0, x2, [x9] ; b:a, d:c");
    s.op(
        pair(LDP_X, X4, X6, X9, 16),
        "ldp x4, x6, [x9, #16] ; f:e, h:g",
    );
    s.op(
        shifted(ADD_X, X7, X16, X6, LSR, 32),
        "add x7, x16, x6, lsr #32 ; + h",
    );
    s.op(ror_w(X16, X4, 6), "ror w16, w4, #6");
    s.op(
        shifted(EOR_W, X16, X16, X4, ROR, 11),
        "eor w16, w16, w4, ror #11",
    );
    s.op(
        shifted(EOR_W, X16, X16, X4, ROR, 25),
        "eor w16, w16, w4, ror #25 ; Σ1(e)",
    );
    s.op(shifted(ADD_W, X7, X7, X16, LSL, 0), "add w7, w7, w16");
    s.op(
        shifted(AND_X, X16, X4, X4, LSR, 32),
        "and x16, x4, x4, lsr #32 ; e & f",
    );
    s.op(
        shifted(BIC_W, X17, X6, X4, LSL, 0),
        "bic w17, w6, w4 ; g & ~e",
    );
    s.op(
        shifted(ORR_W, X16, X16, X17, LSL, 0),
        "orr w16, w16, w17 ; Ch(e, f, g)",
    );
    s.op(shifted(ADD_W, X7, X7, X16, LSL, 0), "add w7, w7, w16 ; T1");
    s.op(
        shifted(ADD_X, X3, X7, X2, LSR, 32),
        "add x3, x7, x2, lsr #32 ; d + T1",
    );
    s.op(
        ls9(STR_W, X3, X9, 12, UNSCALED),
        "stur w3, [x9, #12] ; the new e, over d",
    );
    s.op(ror_w(X16, X0, 2), "ror w16, w0, #2");
    s.op(
        shifted(EOR_W, X16, X16, X0, ROR, 13),
        "eor w16, w16, w0, ror #13",
    );
    s.op(
        shifted(EOR_W, X16, X16, X0, ROR, 22),
        "eor w16, w16, w0, ror #22 ; Σ0(a)",
    );
    s.op(shifted(ADD_W, X7, X7, X16, LSL, 0), "add w7, w7, w16");
    s.op(
        shifted(EOR_X, X16, X0, X0, LSR, 32),
        "eor x16, x0, x0, lsr #32 ; a ^ b",
    );
    s.op(
        shifted(EOR_X, X17, X2, X0, LSR, 32),
        "eor x17, x2, x0, lsr #32 ; c ^ b",
    );
    s.op(shifted(AND_W, X16, X16, X17, LSL, 0), "and w16, w16, w17");
    s.op(
        shifted(EOR_X, X16, X16, X0, LSR, 32),
        "eor x16, x16, x0, lsr #32 ; Maj(a, b, c)",
    );
    s.op(
        shifted(ADD_W, X7, X7, X16, LSL, 0),
        "add w7, w7, w16 ; T1 + T2",
    );
    s.op(
        ls9(STR_W, X7, X9, -4, PRE),
        "str w7, [x9, #-4]! ; the new a; the window slides",
    );
    s.op(
        shifted(SUBS_X, 31, X10, X9, LSL, 0),
        "cmp x10, x9 ; 64 rounds?",
    );
    s.branch(b_cond(NE), "round", "b.ne round");
    s.op(pair(LDP_Q, 2, 3, X9, 0), "ldp q2, q3, [x9] ; a..h");
    s.op(add_4s(0, 0, 2), "add v0.4s, v0.4s, v2.4s ; H += a..h");
    s.op(add_4s(1, 1, 3), "add v1.4s, v1.4s, v3.4s");
    s.op(
        addsub_imm(SUB_X_IMM, X10, X10, W_LEN, false),
        format!("sub x10, x10, #{W_LEN} ; W again"),
    );
    s.op(
        shifted(SUBS_X, 31, X11, end, LSL, 0),
        format!("cmp x11, x{end} ; past the last block?"),
    );
    s.branch(b_cond(NE), "block", "b.ne block");
    s
}

/// The 64 lowercase hex digits of H (v0, v1) to `dst`: H is stored in the second half of
/// the digits' place first, the digits catching up with it word by word (word j's
/// digits end where word j ends): done when the two pointers meet.
fn hex(dst: u32) -> Asm {
    let mut s = Asm::default();
    s.adr(X0, dst, "the digest's place");
    s.op(pair(STP_Q, 0, 1, X0, 32), "stp q0, q1, [x0, #32] ; H");
    s.op(addsub_imm(ADD_X_IMM, X9, X0, 32, false), "add x9, x0, #32");
    s.label("word");
    s.op(ls9(LDR_W, X3, X9, 4, POST), "ldr w3, [x9], #4");
    s.op(movz_w(X4, 8), "mov w4, #8 ; digits");
    s.label("digit");
    s.op(
        ror_w(X3, X3, 28),
        "ror w3, w3, #28 ; the top nibble to the bottom",
    );
    s.op(and_w_low(X6, X3, 4), "and w6, w3, #0xf");
    s.op(
        addsub_imm(ADD_W_IMM, X6, X6, 48, false),
        "add w6, w6, #48 ; '0'",
    );
    s.op(
        addsub_imm(SUBS_W_IMM, 31, X6, 58, false),
        "cmp w6, #58 ; past '9'?",
    );
    s.branch(b_cond(LO), "store", "b.lo store");
    s.op(
        addsub_imm(ADD_W_IMM, X6, X6, 39, false),
        "add w6, w6, #39 ; to 'a' for 10",
    );
    s.label("store");
    s.op(ls9(STRB, X6, X0, 1, POST), "strb w6, [x0], #1");
    s.op(addsub_imm(SUBS_W_IMM, X4, X4, 1, false), "subs w4, w4, #1");
    s.branch(b_cond(NE), "digit", "b.ne digit");
    s.op(shifted(SUBS_X, 31, X0, X9, LSL, 0), "cmp x0, x9");
    s.branch(b_cond(NE), "word", "b.ne word");
    s
}

/// write(1, out, len), again after a short write, then exit(0) (exit(1) if write fails).
fn write_exit(out: u32, len: u32) -> Asm {
    let mut s = Asm::default();
    s.adr(X1, out, "the output");
    s.mov(X2, len, "its length");
    s.op(movz(X8, super::SYS_WRITE, 0), "mov x8, #64 ; SYS_write");
    s.label("write");
    s.op(movz(X0, 1, 0), "mov x0, #1 ; stdout");
    s.op(SVC0, "svc #0");
    s.op(shifted(ADD_X, X1, X1, X0, LSL, 0), "add x1, x1, x0");
    s.op(shifted(SUBS_X, X2, X2, X0, LSL, 0), "subs x2, x2, x0");
    s.branch(
        b_cond(HI),
        "write",
        "b.hi write ; 0 <= written < left: again (an error borrows)",
    );
    s.op(
        ngc_x(X0, 31),
        "ngc x0, xzr ; status 0 if all was written (no borrow), else -1",
    );
    s.op(movz(X8, super::SYS_EXIT, 0), "mov x8, #93 ; SYS_exit");
    s.op(SVC0, "svc #0");
    s
}
