//! The quine on ppc64le ([`crate::quine`], [`crate::arch::quine`]): the listing, and
//! SHA-256 (FIPS 180-4) as its own listing.
//!
//! Every address is formed from r12, which holds the entry point's address (see
//! [`super`]): `addi rN, r12, address - entry` (the whole program, its output and scratch
//! memory lie within 32 KiB of the entry). The listing is built twice: once to learn its
//! length, which tells where the entry is (the data follows the code), once for good.
//!
//! The scratch memory: K (64 words), W (64 words), then the square roots of the first 64
//! primes, whose first 8 are H ([`k_table`]). SHA-256 keeps a..h in r14..r21; W and K are
//! one pointer apart (K = W - 256). The program makes no call but `write` and `exit`, so
//! every register but r1 and r12 is free.

use super::encode::*;
use crate::arch::quine::Addresses;
use crate::arch::Insn;

/// Where K, W and H lie in the scratch memory.
const K_AT: u32 = 0;
const W_AT: u32 = 256;
const H_AT: u32 = 512;

/// a, b, …, h: r14..r21.
const A: u32 = 14;

/// A listing under construction: instructions, labels, and branches to them.
struct Asm {
    /// The entry point's address (in r12).
    entry: u32,
    code: Vec<Insn>,
    labels: Vec<(&'static str, usize)>,
    branches: Vec<(usize, &'static str)>,
}

impl Asm {
    fn new(entry: u32) -> Asm {
        Asm {
            entry,
            code: Vec::new(),
            labels: Vec::new(),
            branches: Vec::new(),
        }
    }

    /// One instruction word and its assembly (`; comment` optional).
    fn op(&mut self, w: u32, asm: impl Into<String>) {
        self.code.push(word(w, asm));
    }

    /// The next instruction carries `label`.
    fn label(&mut self, label: &'static str) {
        self.labels.push((label, self.code.len()));
    }

    /// A branch (`b`, `bl`, `bc`) to `label`; `comment` may be empty.
    fn branch(&mut self, w: u32, mnemonic: &str, label: &'static str, comment: &str) {
        self.branches.push((self.code.len(), label));
        let asm = format!("{mnemonic} {label}");
        self.op(w, with(asm, comment));
    }

    /// rT = `address`: `addi rT, r12, address - entry`.
    fn addr(&mut self, t: u32, address: u32, comment: &str) {
        // Wrapping: `sha256_test` is first asked with every address 0, to learn whether
        // the listing exists.
        let d = address.wrapping_sub(self.entry) as i32;
        let d = i16::try_from(d).expect("within 32 KiB of the entry");
        self.op(
            d_form(14, t, 12, d.into()),
            with(format!("addi r{t}, r12, {d}"), comment),
        );
    }

    /// The instructions, branches patched.
    fn finish(mut self) -> Vec<Insn> {
        for &(at, label) in &self.branches {
            let (_, to) = *self
                .labels
                .iter()
                .find(|(l, _)| *l == label)
                .unwrap_or_else(|| panic!("no label {label}"));
            let pc = u64::from(self.entry) + 4 * at as u64;
            let target = u64::from(self.entry) + 4 * to as u64;
            let insn = &mut self.code[at];
            let encode = if insn.bytes[3] >> 2 == 18 {
                encode_b
            } else {
                encode_bc
            };
            encode(&mut insn.bytes, pc, target).unwrap();
        }
        self.code
    }

    fn li(&mut self, t: u32, v: u32, comment: &str) {
        let v = i16::try_from(v).expect("li takes 15 bits");
        self.op(
            d_form(14, t, 0, v.into()),
            with(format!("li r{t}, {v}"), comment),
        );
    }

    fn addi(&mut self, t: u32, a: u32, v: i16, comment: &str) {
        self.op(
            d_form(14, t, a, v.into()),
            with(format!("addi r{t}, r{a}, {v}"), comment),
        );
    }

    /// A D-form load or store: `mnemonic rT, d(rA)` (`fT` for floating point).
    fn mem(&mut self, op: u32, mnemonic: &str, t: u32, d: i16, a: u32, comment: &str) {
        let f = if (48..56).contains(&op) { 'f' } else { 'r' };
        self.op(
            d_form(op, t, a, d.into()),
            with(format!("{mnemonic} {f}{t}, {d}(r{a})"), comment),
        );
    }

    /// An XO-form integer operation `mnemonic rT, rA, rB` (add, subf: RT first; Rc = 1
    /// if the mnemonic ends in `.`)…
    fn xo(&mut self, xo: u32, mnemonic: &str, [t, a, b]: [u32; 3], comment: &str) {
        self.op(
            x_form(31, t, a, b, xo, mnemonic.ends_with('.')),
            with(format!("{mnemonic} r{t}, r{a}, r{b}"), comment),
        );
    }

    /// … and a logical one `mnemonic rA, rS, rB` (xor, and: RS in the first field).
    fn logic(&mut self, xo: u32, mnemonic: &str, a: u32, s: u32, b: u32, comment: &str) {
        self.op(
            x_form(31, s, a, b, xo, false),
            with(format!("{mnemonic} r{a}, r{s}, r{b}"), comment),
        );
    }

    fn add(&mut self, t: u32, a: u32, b: u32, comment: &str) {
        self.xo(266, "add", [t, a, b], comment);
    }

    fn xor(&mut self, a: u32, s: u32, b: u32, comment: &str) {
        self.logic(316, "xor", a, s, b, comment);
    }

    fn and(&mut self, a: u32, s: u32, b: u32, comment: &str) {
        self.logic(28, "and", a, s, b, comment);
    }

    /// `mr rA, rS` = `or rA, rS, rS`.
    fn mr(&mut self, a: u32, s: u32, comment: &str) {
        self.op(
            x_form(31, s, a, s, 444, false),
            with(format!("mr r{a}, r{s}"), comment),
        );
    }

    /// `rotlwi rA, rS, n` = `rlwinm rA, rS, n, 0, 31`: ROTR(32 - n) of the low word.
    fn rotlwi(&mut self, a: u32, s: u32, n: u32, comment: &str) {
        self.op(
            rlwinm(a, s, n, 0, 31),
            with(format!("rotlwi r{a}, r{s}, {n}"), comment),
        );
    }

    /// `srwi rA, rS, n` = `rlwinm rA, rS, 32 - n, n, 31`.
    fn srwi(&mut self, a: u32, s: u32, n: u32, comment: &str) {
        self.op(
            rlwinm(a, s, 32 - n, n, 31),
            with(format!("srwi r{a}, r{s}, {n}"), comment),
        );
    }

    fn mtctr(&mut self, s: u32, comment: &str) {
        self.op(mtctr(s), with(format!("mtctr r{s}"), comment));
    }

    /// ctr = `n` (through r0).
    fn count(&mut self, n: u32, comment: &str) {
        self.li(0, n, comment);
        self.mtctr(0, "");
    }

    /// An A-form floating-point operation `mnemonic fT, fA, fB` (fadd, fsub, fdiv).
    fn fop(&mut self, xo: u32, mnemonic: &str, t: u32, a: u32, b: u32, comment: &str) {
        self.op(
            a_form(t, a, b, 0, xo),
            with(format!("{mnemonic} f{t}, f{a}, f{b}"), comment),
        );
    }

    /// `fmul fT, fA, fC`.
    fn fmul(&mut self, t: u32, a: u32, c: u32, comment: &str) {
        self.op(
            a_form(t, a, 0, c, 25),
            with(format!("fmul f{t}, f{a}, f{c}"), comment),
        );
    }

    /// A one-operand floating-point operation `mnemonic fT, fB`: fsqrt (A-form), fmr,
    /// friz, fctidz (X-form).
    fn fun(&mut self, xo: u32, mnemonic: &str, t: u32, b: u32, comment: &str) {
        self.op(
            x_form(63, t, 0, b, xo, false),
            with(format!("{mnemonic} f{t}, f{b}"), comment),
        );
    }

    fn sc(&mut self) {
        self.op(0x4400_0002, "sc");
    }
}

/// `asm ; comment`, or `asm` alone.
fn with(asm: String, comment: &str) -> String {
    if comment.is_empty() {
        asm
    } else {
        format!("{asm} ; {comment}")
    }
}

// D-form opcodes.
const LWZ: u32 = 32;
const LWZU: u32 = 33;
const STW: u32 = 36;
const STWU: u32 = 37;
const LBZU: u32 = 35;
const STBU: u32 = 39;
const LFD: u32 = 50;
const STFD: u32 = 54;
const STFDU: u32 = 55;
// bc's BO and BI: CR0's lt, gt, eq, so bits; branch if the bit is set or clear; bdnz.
const IF: u32 = 12;
const IF_NOT: u32 = 4;
const LT: u32 = 0;
const GT: u32 = 1;
const EQ: u32 = 2;
const SO: u32 = 3;
const BDNZ: u32 = 16;

/// Builds the listing `build` writes, for the data (which follows the code) at `data`:
/// once to learn the code's length, which places the entry point, then for good.
fn two_pass(data: u32, build: impl Fn(&mut Asm)) -> Vec<Insn> {
    let mut first = Asm::new(data);
    build(&mut first);
    let entry = data.wrapping_sub(4 * first.code.len() as u32);
    let mut asm = Asm::new(entry);
    build(&mut asm);
    assert_eq!(asm.code.len(), first.code.len());
    asm.finish()
}

/// The quine: the template into the output, our own bytes into the layer, SHA-256 of the
/// layer, its hex into the config, then write and exit.
pub fn listing(a: &Addresses) -> Vec<Insn> {
    two_pass(a.template, |asm| {
        asm.addr(
            4,
            a.template.wrapping_sub(1),
            "the template (skip, count, bytes)…, less 1: lbzu",
        );
        asm.addr(
            5,
            a.out.wrapping_sub(1),
            "the output, zero-filled, less 1: stbu",
        );
        asm.count(a.runs, "the template's runs");
        asm.label("tmpl");
        asm.mem(LBZU, "lbzu", 6, 1, 4, "zeros to skip");
        asm.add(5, 5, 6, "");
        asm.mem(LBZU, "lbzu", 6, 1, 4, "bytes to copy");
        asm.branch(0x4800_0001, "bl", "copy", "");
        asm.branch(bc(BDNZ, 0), "bdnz", "tmpl", "");
        asm.addr(
            4,
            a.base.wrapping_sub(1),
            "our own bytes, as the loader mapped them",
        );
        asm.addr(5, a.program.wrapping_sub(1), "their place in the layer");
        asm.li(6, a.program_len, "the program's length");
        asm.branch(0x4800_0001, "bl", "copy", "");
        digest(asm, a);
        write_exit(asm, a.out, a.out_len);
        // copy: r6 bytes from r4 + 1 to r5 + 1 (none if r6 is 0), returns.
        asm.label("copy");
        asm.op(d_form(13, 6, 6, -1), "addic. r6, r6, -1 ; below 0: done");
        asm.op(bclr(IF, LT), "bltlr");
        asm.mem(LBZU, "lbzu", 7, 1, 4, "");
        asm.mem(STBU, "stbu", 7, 1, 5, "");
        asm.branch(0x4800_0000, "b", "copy", "");
    })
}

/// The SHA-256 test program ([`crate::arch::Programs::sha256_test`]): K and H(0), the
/// digest of the padded message at `a.layer`, its hex at `a.hex`, written.
pub fn sha256_test(a: &Addresses) -> Vec<Insn> {
    two_pass(a.layer, |asm| {
        digest(asm, a);
        write_exit(asm, a.hex, 64);
    })
}

/// K, H(0), the digest of the layer and its hex.
fn digest(asm: &mut Asm, a: &Addresses) {
    k_table(asm, a.scratch);
    sha256(asm, a.layer, a.sha_end, a.scratch + H_AT);
    hex(asm, a.hex);
}

/// K (FIPS 180-4 §4.2.2: the first 32 bits of the fractional parts of the cube roots of
/// the first 64 primes) and H(0) (§5.3.3: the same of the square roots of the first 8),
/// computed in double precision rather than carried (288 bytes of tables).
///
/// Everything counts in units of 2⁶⁴ (f30), so that roots come out times 2³²: P = p·2⁶⁴
/// runs over the integers p = 2, 3, …; trial division by d = p-1 down to the first d
/// whose quotient P/D is an integer (`friz` leaves it alone): p is prime if that d is 1.
/// Then y = √P = √p·2³², and y ← √(p·2⁹⁶ / y) converges to ∛p·2³² (y³ = p·2⁹⁶ at the
/// fixed point; the error's logarithm halves each step: 64 steps). Each y truncated to a
/// doubleword (`fctidz`) and stored little-endian (`stfd`) puts its fraction's 32 bits
/// in the first word, the integer part in the next, which the next store covers. The
/// square roots of all 64 primes go to H (H(0) is the first 8), the cube roots to K; r23
/// walks K and ends at W - 4, which r22 holds. 2⁶⁴ comes from its high word (0x43f00000)
/// stored into zero-filled memory, 2³² = √2⁶⁴. The SHA-256 tests check K and H(0)
/// through the digest (every block uses all 64 K words), natively and under qemu.
fn k_table(asm: &mut Asm, scratch: u32) {
    let (k, w, h) = (scratch + K_AT, scratch + W_AT, scratch + H_AT);
    asm.addr(22, w - 4, "W, less 4: stwu (and K's end)");
    asm.addr(23, k.wrapping_sub(4), "K, less 4: stfdu");
    asm.op(
        d_form(15, 9, 0, 0x43f0),
        "lis r9, 17392 ; 0x43f00000: 2^64's high word",
    );
    asm.mem(STW, "stw", 9, 4, 22, "a double at W - 4, little-endian");
    asm.mem(LFD, "lfd", 30, 0, 22, "f30 = 2^64, the unit");
    asm.op(a_form(31, 0, 30, 0, 22), "fsqrt f31, f30 ; f31 = 2^32");
    asm.fun(72, "fmr", 1, 30, "P = 1");
    asm.label("next");
    asm.fop(21, "fadd", 1, 1, 30, "the next P = p·2^64");
    asm.fun(72, "fmr", 4, 1, "");
    asm.label("trial");
    asm.fop(20, "fsub", 4, 4, 30, "divisors D = d·2^64, d = p-1 down");
    asm.fop(18, "fdiv", 5, 1, 4, "");
    asm.fun(424, "friz", 6, 5, "P/D truncated");
    asm.op(x_form(63, 0, 5, 6, 0, false), "fcmpu cr0, f5, f6");
    asm.branch(bc(IF_NOT, EQ), "bne", "trial", "not a divisor");
    asm.op(x_form(63, 0, 4, 30, 0, false), "fcmpu cr0, f4, f30");
    asm.branch(
        bc(IF_NOT, EQ),
        "bne",
        "next",
        "a divisor above 1: not a prime",
    );
    asm.op(a_form(2, 0, 1, 0, 22), "fsqrt f2, f1 ; y = √p·2^32");
    asm.fun(815, "fctidz", 3, 2, "");
    let to_h = (h as i64 - k as i64 + 4) as i16;
    asm.mem(STFD, "stfd", 3, to_h, 23, "its fraction to H");
    asm.fmul(7, 1, 31, "p·2^96");
    asm.count(64, "");
    asm.label("cube");
    asm.fop(18, "fdiv", 3, 7, 2, "");
    asm.op(a_form(2, 0, 3, 0, 22), "fsqrt f2, f3 ; y = √(p·2^96 / y)");
    asm.branch(bc(BDNZ, 0), "bdnz", "cube", "");
    asm.fun(815, "fctidz", 3, 2, "");
    asm.mem(STFDU, "stfdu", 3, 4, 23, "its fraction to K");
    asm.op(
        x_form(31, 0, 23, 22, 32, false),
        "cmplw r23, r22 ; 64 words?",
    );
    asm.branch(bc(IF_NOT, EQ), "bne", "next", "");
}

/// SHA-256 (FIPS 180-4 §6.2.2) of the padded message from `message` to `end` (whole
/// 64-byte blocks) into H at `h` (initially H(0)); K and W at r22 = W - 4 (see
/// [`k_table`]).
///
/// a..h live in r14..r21, which are 0 at the entry. Each block begins with the H step:
/// eight times, a = h + H7 (then H6, …, H0), stored back to H, as the others shift down
/// one register (`shift`, the rounds' own tail, with T1 = 0): after eight, a..h are in
/// place again, and hold H. So the first step gives a..h = H(0), and the step after the
/// last block adds the last one's a..h to H: H is the digest. Then the 64 rounds, each
/// called (`round`, which ends in `shift`) right after W[t] is stored: W[0..16] loaded
/// big-endian (`lwbrx`), W[16..64] scheduled; K[t] lies 256 bytes below W[t]. Words are
/// the low halves of the registers: `rotlwi`, `srwi` and `stw` read only those (`lwz`
/// clears the upper ones), and the upper halves `add` leaves never reach them.
/// Σ1(e) = ROTR6 ⊕ ROTR11 ⊕ ROTR25, Σ0(a) = ROTR2 ⊕ ROTR13 ⊕ ROTR22,
/// σ0(x) = ROTR7 ⊕ ROTR18 ⊕ SHR3, σ1(x) = ROTR17 ⊕ ROTR19 ⊕ SHR10,
/// Ch(e,f,g) = g ⊕ (e ∧ (f ⊕ g)), Maj(a,b,c) = b ⊕ ((a ⊕ b) ∧ (b ⊕ c)).
fn sha256(asm: &mut Asm, message: u32, end: u32, h: u32) {
    let (a, b, c, d, e, f, g, hh) = (A, A + 1, A + 2, A + 3, A + 4, A + 5, A + 6, A + 7);
    asm.addr(3, message, "the layer tar, then its padding");
    asm.addr(24, h + 32, "past H7");
    asm.addr(25, end, "the end of the last block");
    asm.label("block");
    asm.count(8, "the H step");
    asm.label("hstep");
    asm.mem(LWZU, "lwzu", 7, -4, 24, "H7, …, H0");
    asm.add(7, 7, hh, "");
    asm.mem(STW, "stw", 7, 0, 24, "H += h");
    asm.li(6, 0, "T1 = 0: e = d");
    asm.branch(0x4800_0001, "bl", "shift", "a = H, the others down one");
    asm.branch(bc(BDNZ, 0), "bdnz", "hstep", "");
    asm.addi(24, 24, 32, "past H7 again");
    asm.op(
        x_form(31, 0, 3, 25, 32, false),
        "cmplw r3, r25 ; past the last block?",
    );
    asm.branch(bc(IF_NOT, LT), "bge", "done", "");
    asm.count(16, "");
    asm.label("load");
    asm.op(
        x_form(31, 6, 0, 3, 534, false),
        "lwbrx r6, 0, r3 ; big-endian",
    );
    asm.addi(3, 3, 4, "");
    asm.mem(STWU, "stwu", 6, 4, 22, "W[t], t < 16");
    asm.branch(0x4800_0001, "bl", "round", "");
    asm.branch(bc(BDNZ, 0), "bdnz", "load", "");
    asm.count(48, "");
    asm.label("sched");
    asm.mem(LWZ, "lwz", 6, -4, 22, "W[t-2]");
    asm.rotlwi(7, 6, 15, "");
    asm.rotlwi(8, 6, 13, "");
    asm.xor(7, 7, 8, "");
    asm.srwi(6, 6, 10, "");
    asm.xor(6, 6, 7, "σ1");
    asm.mem(LWZ, "lwz", 8, -56, 22, "W[t-15]");
    asm.rotlwi(7, 8, 25, "");
    asm.rotlwi(9, 8, 14, "");
    asm.xor(7, 7, 9, "");
    asm.srwi(8, 8, 3, "");
    asm.xor(8, 8, 7, "σ0");
    asm.add(6, 6, 8, "");
    asm.mem(LWZ, "lwz", 7, -24, 22, "W[t-7]");
    asm.add(6, 6, 7, "");
    asm.mem(LWZ, "lwz", 7, -60, 22, "W[t-16]");
    asm.add(6, 6, 7, "");
    asm.mem(STWU, "stwu", 6, 4, 22, "W[t]");
    asm.branch(0x4800_0001, "bl", "round", "");
    asm.branch(bc(BDNZ, 0), "bdnz", "sched", "");
    asm.addi(22, 22, -256, "W, less 4, for the next block");
    asm.branch(0x4800_0000, "b", "block", "");
    // round: W[t] in r6 and at r22.
    asm.label("round");
    asm.mem(LWZ, "lwz", 7, -256, 22, "K[t]");
    asm.add(6, 6, 7, "");
    asm.add(6, 6, hh, "");
    asm.rotlwi(7, e, 26, "");
    asm.rotlwi(8, e, 21, "");
    asm.xor(7, 7, 8, "");
    asm.rotlwi(8, e, 7, "");
    asm.xor(7, 7, 8, "Σ1(e)");
    asm.add(6, 6, 7, "");
    asm.xor(7, f, g, "");
    asm.and(7, 7, e, "");
    asm.xor(7, 7, g, "Ch(e, f, g)");
    asm.add(6, 6, 7, "T1");
    asm.rotlwi(7, a, 30, "");
    asm.rotlwi(8, a, 19, "");
    asm.xor(7, 7, 8, "");
    asm.rotlwi(8, a, 10, "");
    asm.xor(7, 7, 8, "Σ0(a)");
    asm.xor(8, a, b, "");
    asm.xor(9, b, c, "");
    asm.and(8, 8, 9, "");
    asm.xor(8, 8, b, "Maj(a, b, c)");
    asm.add(7, 7, 8, "T2");
    // shift: h = g, g = f, f = e, e = d + T1 (r6), d = c, c = b, b = a, a = T1 + T2 (r7).
    asm.label("shift");
    asm.mr(hh, g, "");
    asm.mr(g, f, "");
    asm.mr(f, e, "");
    asm.add(e, d, 6, "");
    asm.mr(d, c, "");
    asm.mr(c, b, "");
    asm.mr(b, a, "");
    asm.add(a, 6, 7, "");
    asm.op(0x4e80_0020, "blr");
    asm.label("done");
}

/// The 64 lowercase hex digits of the digest in H (below r24) to `dst`, last first.
fn hex(asm: &mut Asm, dst: u32) {
    asm.addr(4, dst + 64, "past the digest's place in the config");
    asm.li(9, 8, "words");
    asm.label("hexw");
    asm.mem(LWZU, "lwzu", 6, -4, 24, "H7, …, H0");
    asm.count(8, "digits");
    asm.label("nib");
    asm.op(
        d_form(28, 6, 7, 15),
        "andi. r7, r6, 15 ; the last digit first",
    );
    asm.addi(7, 7, 48, "'0'");
    asm.op(d_form(10, 0, 7, 57), "cmplwi r7, 57");
    asm.branch(bc(IF_NOT, GT), "ble", "digit", "");
    asm.addi(7, 7, 39, "to 'a' for 10");
    asm.label("digit");
    asm.mem(STBU, "stbu", 7, -1, 4, "");
    asm.srwi(6, 6, 4, "");
    asm.branch(bc(BDNZ, 0), "bdnz", "nib", "");
    asm.op(d_form(13, 9, 9, -1), "addic. r9, r9, -1");
    asm.branch(bc(IF_NOT, EQ), "bne", "hexw", "");
}

/// write(1, out, len), again after a short write, then exit(0) (exit(errno) if write
/// fails). `sc` clobbers r0 and r3..r12: the pointer and the count live in r30, r31.
fn write_exit(asm: &mut Asm, out: u32, len: u32) {
    asm.addr(30, out, "the output");
    asm.li(31, len, "its length");
    asm.label("write");
    asm.li(0, super::SYS_WRITE, "SYS_write");
    asm.li(3, 1, "stdout");
    asm.mr(4, 30, "");
    asm.mr(5, 31, "");
    asm.sc();
    asm.branch(bc(IF, SO), "bso", "exit", "an error: exit(errno)");
    asm.add(30, 30, 3, "");
    asm.xo(40, "subf.", [31, 3, 31], "what is left");
    asm.branch(bc(IF_NOT, EQ), "bne", "write", "");
    asm.li(3, 0, "status 0");
    asm.label("exit");
    asm.li(0, super::SYS_EXIT, "SYS_exit");
    asm.sc();
}
