//! The quine on z/Architecture ([`crate::quine`], [`crate::arch::quine`]): the listing, and
//! SHA-256 (FIPS 180-4) as its own listing.
//!
//! s390x is big-endian, as SHA-256 is: the message's words load as they are (`mvc`), and
//! 32-bit `rll` (rotate left, three operands) does every rotation in one instruction.
//! Addresses are below 4 GiB: `llilf` sets a whole register to one, and 32-bit
//! arithmetic (`ar`, `ahi`, `brxle`) on an address leaves its zero high word alone.
//! Nothing is assumed of the registers at entry (not even r15: the stack goes unused).
//!
//! The scratch memory (`scratch`, [`crate::arch::quine::SCRATCH_LEN`] bytes, zero-filled):
//! K at 0 (256 bytes), the working variables as the rounds rotate them at 256 (32), H at
//! 288 (32), W[0..80] at 320 (320: every round also computes W[i+16], 16 more words than
//! SHA-256 uses). [`k_table`] stores the square roots of all 64 primes from 288 up: the
//! first 8 are H(0), the other 56 land where W goes later.

use super::encode::*;
use super::{svc, Insn, SYS_EXIT, SYS_WRITE};
use crate::arch::quine::Addresses;

/// Where K, H and W are in the scratch memory (see the module's text).
const K_AT: u16 = 0;
const TMP_AT: u16 = 256;
const H_AT: u16 = 288;
const W_AT: u16 = 320;
/// K's last word, `brxle`'s limit (in r1) for the K table and the rounds.
const K_LAST: u16 = K_AT + 252;

/// A listing under construction: instructions, and branches to labels resolved at the end
/// (every branch here is relative, with its 16-bit halfword offset at bytes 2..4).
#[derive(Default)]
struct Asm {
    code: Vec<Insn>,
    labels: Vec<(&'static str, usize)>,
    branches: Vec<(usize, &'static str)>,
}

impl Asm {
    fn push(&mut self, insn: Insn) {
        self.code.push(insn);
    }

    fn extend(&mut self, insns: impl IntoIterator<Item = Insn>) {
        self.code.extend(insns);
    }

    /// The next instruction is `name`.
    fn label(&mut self, name: &'static str) {
        assert!(self.labels.iter().all(|&(l, _)| l != name), "{name} twice");
        self.labels.push((name, self.code.len()));
    }

    /// A relative branch to `label` (its offset bytes are patched by [`Asm::finish`]).
    fn branch(&mut self, bytes: &[u8], asm: String, label: &'static str) {
        self.branches.push((self.code.len(), label));
        self.code.push(Insn::new(bytes, asm));
    }

    fn offset(&self, index: usize) -> usize {
        self.code[..index].iter().map(Insn::len).sum()
    }

    fn finish(mut self) -> Vec<Insn> {
        for &(at, label) in &self.branches {
            let (_, target) = *self
                .labels
                .iter()
                .find(|&&(l, _)| l == label)
                .unwrap_or_else(|| panic!("no label {label}"));
            let d = self.offset(target) as i64 - self.offset(at) as i64;
            let d = i16::try_from(d / 2).expect("a branch within ±64 KiB");
            self.code[at].bytes[2..4].copy_from_slice(&d.to_be_bytes());
        }
        self.code
    }

    // Relative branches: `brc` (as capstone names its masks), `brct`, `brxle`.
    fn brc(&mut self, mask: u8, mnemonic: &str, label: &'static str, note: &str) {
        let asm = with_note(format!("{mnemonic} {label}"), note);
        self.branch(&ri(0xa74, mask, 0), asm, label);
    }

    /// `brct r, label`: r -= 1 (32 bits), and branch if not zero.
    fn brct(&mut self, r: u8, label: &'static str, note: &str) {
        let asm = with_note(format!("brct %r{r}, {label}"), note);
        self.branch(&ri(0xa76, r, 0), asm, label);
    }

    /// `brxle r1, r3, label` (r3 even): r1 += r3, and branch if r1 <= r3 + 1 (32 bits).
    fn brxle(&mut self, r1: u8, r3: u8, label: &'static str, note: &str) {
        assert!(r3.is_multiple_of(2), "brxle steps by an even register");
        let asm = with_note(format!("brxle %r{r1}, %r{r3}, {label}"), note);
        self.branch(&rsi(0x85, r1, r3, 0), asm, label);
    }

    /// `cijl r, i, label` (compare immediate and branch relative, mask 4): branch if
    /// r < i (32 bits, signed).
    fn cijl(&mut self, r: u8, i: i8, label: &'static str, note: &str) {
        let asm = with_note(format!("cijl %r{r}, {i}, {label}"), note);
        self.branch(&rie_c(0xec, r, 4, i as u8, 0x7e), asm, label);
    }
}

fn with_note(asm: String, note: &str) -> String {
    if note.is_empty() {
        asm
    } else {
        format!("{asm} ; {note}")
    }
}

/// An instruction and its comment.
fn insn(bytes: &[u8], asm: String, note: &str) -> Insn {
    Insn::new(bytes, with_note(asm, note))
}

/// RR instructions on the low words (`lr` 18, `xr` 17, `ar` 1A, `sr` 1B, `nr` 14, `ltr`
/// 12, `dr` 1D, `bctr` 06, `mvcl` 0E) and `ldr` 28 on floating-point registers.
fn rr(mnemonic: &str, r1: u8, r2: u8, note: &str) -> Insn {
    let (op, f) = match mnemonic {
        "lr" => (0x18, "r"),
        "xr" => (0x17, "r"),
        "ar" => (0x1a, "r"),
        "sr" => (0x1b, "r"),
        "nr" => (0x14, "r"),
        "ltr" => (0x12, "r"),
        "dr" => (0x1d, "r"),
        "bctr" => (0x06, "r"),
        "mvcl" => (0x0e, "r"),
        "ldr" => (0x28, "f"),
        _ => unreachable!("{mnemonic}"),
    };
    let asm = format!("{mnemonic} %{f}{r1}, %{f}{r2}");
    insn(&rr_bytes(op, r1, r2), asm, note)
}

/// RX instructions `op r, d(b)` (`l` 58, `st` 50, `a` 5A, `la` 41, `ic` 43, `stc` 42).
fn rx_(mnemonic: &str, r: u8, d: u16, b: u8, note: &str) -> Insn {
    let op = match mnemonic {
        "l" => 0x58,
        "st" => 0x50,
        "a" => 0x5a,
        "la" => 0x41,
        "ic" => 0x43,
        "stc" => 0x42,
        _ => unreachable!("{mnemonic}"),
    };
    insn(
        &rx(op, r, d, 0, b),
        format!("{mnemonic} %r{r}, {d}(%r{b})"),
        note,
    )
}

/// `lm` (98) and `stm` (90): registers r1 to r3, 32-bit words at d(b).
fn lm_stm(mnemonic: &str, r1: u8, r3: u8, d: u16, b: u8, note: &str) -> Insn {
    let op = if mnemonic == "lm" { 0x98 } else { 0x90 };
    let asm = format!("{mnemonic} %r{r1}, %r{r3}, {d}(%r{b})");
    insn(&rs(op, r1, r3, d, b), asm, note)
}

/// `rll r1, r3, n`: r1 = r3 rotated left n bits (32 bits), i.e. right 32 - n.
fn rll(r1: u8, r3: u8, n: u8, note: &str) -> Insn {
    let asm = format!("rll %r{r1}, %r{r3}, {n}");
    insn(&rsy(0x1d, r1, r3, n.into(), 0), asm, note)
}

/// `srl r, n` (88): the low word shifted right n bits.
fn srl(r: u8, n: u16, note: &str) -> Insn {
    insn(&rs(0x88, r, 0, n, 0), format!("srl %r{r}, {n}"), note)
}

/// `sldl r, n` (8D): the pair r (even), r + 1 as one 64-bit value shifted left n bits.
fn sldl(r: u8, n: u16, note: &str) -> Insn {
    insn(&rs(0x8d, r, 0, n, 0), format!("sldl %r{r}, {n}"), note)
}

/// RI instructions with a signed immediate (`lhi` A78, `ahi` A7A, `chi` A7E, `lghi` A79).
fn ri_(mnemonic: &str, r: u8, i: i16, note: &str) -> Insn {
    let op = match mnemonic {
        "lhi" => 0xa78,
        "ahi" => 0xa7a,
        "chi" => 0xa7e,
        "lghi" => 0xa79,
        _ => unreachable!("{mnemonic}"),
    };
    insn(&ri(op, r, i as u16), format!("{mnemonic} %r{r}, {i}"), note)
}

/// The whole register = `v`: `lghi` (4 bytes) up to 32767, else `llilh` (4 bytes) for a
/// multiple of 65536, else `llilf` (6 bytes).
fn set(r: u8, v: u32, note: &str) -> Insn {
    if let Ok(i) = i16::try_from(v) {
        ri_("lghi", r, i, note)
    } else if v & 0xffff == 0 {
        let h = (v >> 16) as u16;
        insn(&ri(0xa5e, r, h), format!("llilh %r{r}, {h}"), note)
    } else {
        insn(&ril(0xc0f, r, v), format!("llilf %r{r}, {v:#x}"), note)
    }
}

/// RRE floating-point instructions: `cdgbr` B3A5 and `cdfbr` B395 (f1 = the 64- or 32-bit
/// integer r2), `sqdbr` B315 and `mdbr` B31C (f1 = √f2, f1 *= f2).
fn fp(mnemonic: &str, r1: u8, r2: u8, note: &str) -> Insn {
    let (op, second) = match mnemonic {
        "cdgbr" => (0xb3a5, "r"),
        "cdfbr" => (0xb395, "r"),
        "sqdbr" => (0xb315, "f"),
        "mdbr" => (0xb31c, "f"),
        _ => unreachable!("{mnemonic}"),
    };
    let asm = format!("{mnemonic} %f{r1}, %{second}{r2}");
    insn(&rre(op, r1, r2), asm, note)
}

/// The quine: the template into the output, our own bytes into the layer, SHA-256 of the
/// layer, its hex into the config, then write and exit.
pub fn listing(a: &Addresses) -> Vec<Insn> {
    let mut asm = Asm::default();
    template(&mut asm, a);
    digest(&mut asm, a);
    write_exit(&mut asm, a.out, a.out_len);
    asm.finish()
}

/// The SHA-256 test program ([`crate::arch::Programs::sha256_test`]): the digest of the
/// padded message at `a.layer`, its hex at `a.hex`, written.
pub fn sha256_test(a: &Addresses) -> Vec<Insn> {
    let mut asm = Asm::default();
    digest(&mut asm, a);
    write_exit(&mut asm, a.hex, 64);
    asm.finish()
}

/// The template's runs (skip, count, bytes) into the zero-filled output, then the
/// program's own bytes into the layer: both with `mvcl` (move long: r4 = destination, r5 =
/// its length, r2 = source, r3 = its length, low 24 bits; both advance).
fn template(asm: &mut Asm, a: &Addresses) {
    asm.extend([
        set(2, a.template, "the template: (skip, count, bytes)..."),
        set(4, a.out, "the output, zero-filled"),
        ri_("lhi", 6, a.runs as i16, "the template's runs"),
        rr("xr", 1, 1, "the skip's high bytes"),
        rr("xr", 5, 5, "the count's high bytes"),
    ]);
    asm.label("tmpl");
    asm.extend([
        rx_("ic", 1, 0, 2, "skip"),
        rr("ar", 4, 1, ""),
        rx_("ic", 5, 1, 2, "count: the destination's length"),
        rr("lr", 3, 5, "and the source's (the pad byte is 0)"),
        rx_("la", 2, 2, 2, "the bytes"),
        rr("mvcl", 4, 2, "copied; r4 and r2 move past them"),
    ]);
    asm.brct(6, "tmpl", "");
    asm.extend([
        set(2, a.base, "our own bytes, as the loader mapped them"),
        set(4, a.program, "their place in the layer"),
        ri_(
            "lhi",
            5,
            i16::try_from(a.program_len).unwrap(),
            "the program's length",
        ),
        rr("lr", 3, 5, ""),
        rr("mvcl", 4, 2, ""),
    ]);
}

/// K and H(0), the digest of the padded message at `a.layer`, and its hex at `a.hex`.
fn digest(asm: &mut Asm, a: &Addresses) {
    k_table(asm, a.scratch);
    sha256(asm, a.layer, a.sha_end);
    hex(asm, a.hex);
}

/// K (FIPS 180-4 §4.2.2: the first 32 bits of the fractional parts of the cube roots of
/// the first 64 primes) at `scratch` + [`K_AT`], and the same of the square roots of the
/// 64 primes at + [`H_AT`], whose first 8 are H(0) (§5.3.3), computed rather than carried.
///
/// Primes by trial division (`brct` tells a prime, divisor 1, from a divisor found). √n by
/// `sqdbr` (binary floating point, double); ∛n as the fixed point of x ← √√(n·x), from
/// x = √n: each step divides the error of log x by 4, 32 steps are more than double's 53
/// bits. Each root times 2³² (exact), converted to a 64-bit integer rounding toward zero
/// (`cgdbr` mode 5): its low word is the fraction's first 32 bits.
///
/// Leaves r4 at K + 256, r0 = 4 and r1 = K + 252 for [`sha256`]'s `brxle`.
fn k_table(asm: &mut Asm, scratch: u32) {
    asm.extend([
        set(4, scratch + u32::from(K_AT), "K, then the next word"),
        ri_("lhi", 0, 4, "brxle's step"),
        rx_("la", 1, K_LAST - K_AT, 4, "and its last K word"),
        ri_("lhi", 7, 1, "n = 1"),
        insn(&ri(0xa5d, 2, 1), "llihl %r2, 1".into(), "2^32"),
        fp("cdgbr", 8, 2, "f8 = 2^32"),
    ]);
    asm.label("next");
    asm.extend([ri_("ahi", 7, 1, "the next n"), rr("lr", 9, 7, "")]);
    asm.label("trial");
    asm.extend([
        rr("bctr", 9, 0, "divisors n-1 down to 1"),
        rr("xr", 2, 2, ""),
        rr("lr", 3, 7, ""),
        rr("dr", 2, 9, "r2 = n mod divisor"),
        rr("ltr", 2, 2, ""),
    ]);
    asm.brc(7, "jne", "trial", "");
    asm.brct(9, "next", "divisor > 1: not a prime");
    asm.extend([
        fp("cdfbr", 6, 7, "a prime: f6 = n"),
        fp("sqdbr", 4, 6, "f4 = √n"),
        rr("ldr", 0, 4, "x = √n"),
        ri_("lhi", 5, 32, "32 steps"),
    ]);
    asm.label("cube");
    asm.extend([
        fp("mdbr", 0, 6, "n·x"),
        fp("sqdbr", 0, 0, ""),
        fp("sqdbr", 0, 0, "x = √√(n·x)"),
    ]);
    asm.brct(5, "cube", "");
    asm.extend([
        fp("mdbr", 0, 8, "∛n · 2^32"),
        insn(
            &rrf_e(0xb3a9, 2, 5, 0),
            "cgdbr %r2, 5, %f0".into(),
            "toward 0",
        ),
        rx_("st", 2, K_AT, 4, "K"),
        fp("mdbr", 4, 8, "√n · 2^32"),
        insn(&rrf_e(0xb3a9, 2, 5, 4), "cgdbr %r2, 5, %f4".into(), ""),
        rx_("st", 2, H_AT, 4, "H(0), then the 56 others"),
    ]);
    asm.brxle(4, 0, "next", "64 primes");
}

/// SHA-256 (FIPS 180-4 §6.2.2) of the padded message from `message` to `end` (whole
/// 64-byte blocks) into H, with K and H(0) as [`k_table`] leaves them (r4 = K + 256, r0 =
/// 4, r1 = K + 252); leaves r4 at K + 256 again.
///
/// The working variables a..h live in r7..r14. A round computes the new a in r6 and adds
/// T1 to d (r10) in place; `stm %r6, %r13` then `lm %r7, %r14` (through the 32 bytes
/// after K, at r1 + 4, as r1 holds still for `brxle`) shifts them all by one register. r4
/// walks K (and, 320 bytes on, W) a word a round, up to those 32 bytes, where the last
/// round left a..h for H += a..h. Each round also computes W[i+16] (the last 16 are never
/// used).
/// Σ1(e) = ROTR6(e ⊕ ROTR5(e ⊕ ROTR14 e)), Σ0(a) = ROTR2(a ⊕ ROTR11(a ⊕ ROTR9 a)),
/// σ1(x) = ROTR17(x ⊕ ROTR2 x) ⊕ x≫10, σ0(x) = ROTR7(x ⊕ ROTR11 x) ⊕ x≫3,
/// Ch(e,f,g) = g ⊕ (e ∧ (f ⊕ g)), Maj(a,b,c) = b ⊕ ((a ⊕ b) ∧ (b ⊕ c)).
fn sha256(asm: &mut Asm, message: u32, end: u32) {
    let w = |i: u16| W_AT + 4 * i;
    asm.push(set(5, message, "the layer, then its padding"));
    asm.label("block");
    asm.extend([
        ri_("ahi", 4, -(TMP_AT as i16), "K"),
        insn(
            &ss(0xd2, w(0), 64, 4, 0, 5),
            format!("mvc {}(64, %r4), 0(%r5)", w(0)),
            "W[0..16]: the block",
        ),
        rx_("la", 5, 64, 5, ""),
        lm_stm("lm", 7, 14, H_AT, 4, "a..h = H"),
    ]);
    asm.label("round");
    asm.extend([
        rx_("l", 2, w(14), 4, "W[i+14]"),
        rll(3, 2, 30, ""),
        rr("xr", 3, 2, ""),
        rll(3, 3, 15, ""),
        srl(2, 10, ""),
        rr("xr", 2, 3, "σ1"),
        rx_("a", 2, w(9), 4, "+ W[i+9]"),
        rx_("a", 2, w(0), 4, "+ W[i]"),
        rx_("l", 3, w(1), 4, "W[i+1]"),
        rll(6, 3, 21, ""),
        rr("xr", 6, 3, ""),
        rll(6, 6, 25, ""),
        srl(3, 3, ""),
        rr("xr", 3, 6, "σ0"),
        rr("ar", 2, 3, ""),
        rx_("st", 2, w(16), 4, "W[i+16]"),
        rll(2, 11, 18, "e"),
        rr("xr", 2, 11, ""),
        rll(2, 2, 27, ""),
        rr("xr", 2, 11, ""),
        rll(2, 2, 26, "Σ1(e)"),
        rr("lr", 3, 12, "f"),
        rr("xr", 3, 13, "g"),
        rr("nr", 3, 11, ""),
        rr("xr", 3, 13, "Ch(e, f, g)"),
        rr("ar", 2, 3, ""),
        rr("ar", 2, 14, "+ h"),
        rx_("a", 2, K_AT, 4, "+ K[i]"),
        rx_("a", 2, w(0), 4, "+ W[i]: T1"),
        rr("ar", 10, 2, "d + T1: the new e"),
        rll(6, 7, 23, "a"),
        rr("xr", 6, 7, ""),
        rll(6, 6, 21, ""),
        rr("xr", 6, 7, ""),
        rll(6, 6, 30, "Σ0(a)"),
        rr("ar", 6, 2, ""),
        rr("lr", 3, 7, ""),
        rr("xr", 3, 8, "a ^ b"),
        rr("lr", 2, 8, ""),
        rr("xr", 2, 9, "b ^ c"),
        rr("nr", 3, 2, ""),
        rr("xr", 3, 8, "Maj(a, b, c)"),
        rr("ar", 6, 3, "the new a"),
        lm_stm(
            "stm",
            6,
            13,
            TMP_AT - K_LAST,
            1,
            "new a, a..g (r1 + 4 = K + 256)",
        ),
        lm_stm("lm", 7, 14, TMP_AT - K_LAST, 1, "the new a..h"),
    ]);
    asm.brxle(4, 0, "round", "64 rounds");
    // r4 = K + 256 (the 32 bytes stm and lm go through, then H): back 8 words, and the
    // same brxle (step 4, up to K + 252) walks them.
    const BACK: u16 = 32;
    asm.push(ri_("ahi", 4, -(BACK as i16), "8 words"));
    asm.label("addh");
    asm.extend([
        rx_("l", 6, BACK, 4, "a..h"),
        rx_("a", 6, BACK + H_AT - TMP_AT, 4, ""),
        rx_("st", 6, BACK + H_AT - TMP_AT, 4, "H += a..h"),
    ]);
    asm.brxle(4, 0, "addh", "");
    asm.push(insn(
        &ril(0xc2f, 5, end),
        format!("clfi %r5, {end:#x}"),
        "past the last block?",
    ));
    asm.brc(4, "jl", "block", "");
}

/// The 64 lowercase hex digits of H (at r4 + 32) to `dst`: `sldl` shifts each digit out of r1
/// (the next word of H every 8 digits) into r0 = 3, which makes it an ASCII digit.
fn hex(asm: &mut Asm, dst: u32) {
    asm.extend([
        set(3, dst, "the digest's place in the config"),
        ri_("lhi", 5, 64, "64 digits"),
    ]);
    asm.label("hexd");
    asm.push(insn(
        &ri(0xa71, 5, 7),
        "tmll %r5, 7".into(),
        "a multiple of 8 left?",
    ));
    asm.brc(7, "jne", "nib", "");
    asm.extend([
        rx_("l", 1, H_AT - TMP_AT, 4, "the next word of H"),
        rx_("la", 4, 4, 4, ""),
    ]);
    asm.label("nib");
    asm.extend([
        ri_("lhi", 0, 3, ""),
        sldl(0, 4, "r0 = 0x30 + the next digit"),
    ]);
    asm.cijl(0, 0x3a, "digit", "");
    asm.push(ri_("ahi", 0, 39, "to 'a' for 10"));
    asm.label("digit");
    asm.extend([rx_("stc", 0, 0, 3, ""), rx_("la", 3, 1, 3, "")]);
    asm.brct(5, "hexd", "");
}

/// write(1, out, len), again after a short write, then exit(0) (exit(-errno) if write
/// fails; exit(0) too if it writes nothing, which a pipe or a file never does).
fn write_exit(asm: &mut Asm, out: u32, len: u32) {
    asm.extend([set(3, out, "the output"), set(4, len, "its length")]);
    asm.label("write");
    asm.extend([
        ri_("lghi", 2, 1, "stdout"),
        svc(SYS_WRITE, "SYS_write"),
        rr("ltr", 2, 2, ""),
    ]);
    asm.brc(12, "jle", "exit", "");
    asm.extend([rr("ar", 3, 2, ""), rr("sr", 4, 2, "")]);
    asm.brc(7, "jne", "write", "");
    asm.push(rr("xr", 2, 2, "status 0"));
    asm.label("exit");
    asm.push(svc(SYS_EXIT, "SYS_exit"));
}
