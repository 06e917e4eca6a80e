//! The quine on x86-64 ([`crate::quine`], [`crate::arch::quine`]): the listing, and
//! SHA-256 (FIPS 180-4) as its own listing.
//!
//! Addresses are below 4 GiB, so 32-bit registers address memory (a write to a 32-bit
//! register clears the upper half). Linux starts the program with every register but rsp
//! zero (see [`super`]), which the first loop relies on: eax and ecx are zero.
//!
//! The scratch memory: W[0..64] and the working variables ([`SCRATCH`]), then K, then the
//! square roots [`k_table`] computes down from H.

use crate::arch::quine::Addresses;
use crate::arch::Insn;

/// W[0..64] and the working variables (72 words) [`sha256`] needs, at the scratch memory.
pub const SCRATCH: u32 = 64 * 4 + 72 * 4;
/// The length of K, which [`k_table`] computes into the scratch memory after [`SCRATCH`].
pub const K_LEN: u32 = 64 * 4;
/// Where [`k_table`] puts H(0), from K: after K, the 224 bytes between take the square roots of
/// the 56 primes after the first 8.
pub const H_AT: u32 = K_LEN + 56 * 4;

/// W, K and H in the scratch memory at `scratch`.
fn wkh(scratch: u32) -> (u32, u32, u32) {
    (scratch, scratch + SCRATCH, scratch + SCRATCH + H_AT)
}

fn code_len(code: &[Insn]) -> usize {
    code.iter().map(Insn::len).sum()
}

/// An instruction ending in a 32-bit immediate (or absolute address) `v`.
fn imm(op: &[u8], v: u32, asm: impl Fn(u32) -> String) -> Insn {
    let mut bytes = op.to_vec();
    bytes.extend_from_slice(&v.to_le_bytes());
    Insn::new(&bytes, asm(v))
}

/// The quine: the template into the output, our own bytes into the layer, SHA-256 of the
/// layer, its hex into the config, then write and exit.
pub fn listing(a: &Addresses) -> Vec<Insn> {
    let mut code = body(a, false);
    code.extend(write_exit(a.out, a.out_len));
    code
}

/// Everything but the write: the same bytes mean the same in 32-bit mode, where
/// `arch/i386/quine.rs` uses them (with `bits32`, the one difference: [`k_table`]'s stack).
pub fn body(a: &Addresses, bits32: bool) -> Vec<Insn> {
    let mut code = vec![
        imm(&[0xbe], a.template, |v| {
            format!("mov esi, {v:#x} ; the template: (skip, count, bytes)...")
        }),
        imm(&[0xbf], a.out, |v| {
            format!("mov edi, {v:#x} ; the output, zero-filled")
        }),
        Insn::new(
            &[0xb2, a.runs as u8],
            format!("mov dl, {} ; the template's runs (edx is 0)", a.runs),
        ),
        // tmpl:
        Insn::new(&[0xac], "lodsb"),
        Insn::new(&[0x01, 0xc7], "add edi, eax"),
        Insn::new(&[0xac], "lodsb"),
        Insn::new(&[0x91], "xchg ecx, eax"),
        Insn::new(&[0xf3, 0xa4], "rep movsb"),
        Insn::new(&[0xfe, 0xca], "dec dl"),
        Insn::new(&[0x75, 0xf5], "jne tmpl"),
        imm(&[0xbe], a.base, |v| {
            format!("mov esi, {v:#x} ; our own bytes, as the loader mapped them")
        }),
        imm(&[0xbf], a.program, |v| {
            format!("mov edi, {v:#x} ; their place in the layer")
        }),
        {
            let [l0, l1, ..] = a.program_len.to_le_bytes();
            let v = a.program_len;
            Insn::new(
                &[0x66, 0xb9, l0, l1],
                format!("mov cx, {v} ; the program's length (ecx is 0 after rep movsb)"),
            )
        },
        Insn::new(&[0xf3, 0xa4], "rep movsb"),
    ];
    code.extend(digest(a, bits32));
    code
}

/// K (FIPS 180-4 §4.2.2: the first 32 bits of the fractional parts of the cube roots of
/// the first 64 primes) into `k`, and H(0) (§5.3.3: the same of the square roots of the
/// first 8 primes) into `h`, H7 first as [`sha256`] keeps H, computed rather than carried:
/// the code is shorter than the 288 bytes of tables, and compresses better than they do.
/// Primes by trial division (the division by 1 ends the trial; `loop` then tells a prime,
/// ecx 1, from a divisor found). ∛n = ((2^(log₂n / 12))²)² on the x87 (f2xm1 takes
/// |x| ≤ 1, and log₂n / 12 < 0.7 for n ≤ 311), √n by fsqrt, each times 2³² by fscale, and
/// fisttp (truncating) to a quadword whose low half is the fraction. The square roots of
/// all 64 primes go down from `h`+28: the first 8 are H(0) reversed, the other 56 land in
/// the 224 bytes below `h` (scratch). The tests check all 64 K words against [`crate::arch::quine::K`]
/// and H(0) through the digest, natively and under qemu. Uses eax, ebx (0 on entry), ecx,
/// edx, edi, ebp and 16 bytes of stack it leaves there; ends with ecx = 0.
///
/// In 32-bit mode a push is 4 bytes, so n is pushed twice: fisttp's quadword then covers
/// two copies of n and 12 stays at [esp+8].
pub fn k_table(k: u32, h: u32, bits32: bool) -> Vec<Insn> {
    assert_eq!(
        h,
        k + H_AT,
        "the loop ends where K and the square roots cross"
    );
    let push_n = |code: &mut Vec<Insn>, what: &str| {
        if bits32 {
            code.push(Insn::new(&[0x53], "push rbx"));
        }
        code.push(Insn::new(&[0x53], format!("push rbx ; {what}")));
    };
    let pop_fraction = |code: &mut Vec<Insn>| {
        code.push(Insn::new(
            &[0x58],
            "pop rax ; eax = the fraction's first 32 bits",
        ));
        if bits32 {
            code.push(Insn::new(&[0x5a], "pop rdx"));
        }
    };
    let mut code = vec![
        Insn::new(&[0x6a, 0x0c], "push 12 ; [rsp] = 12 from here on"),
        Insn::new(&[0x6a, 0x20], "push 32"),
        Insn::new(
            &[0xdb, 0x04, 0x24],
            "fild dword [rsp] ; st0 = 32, the stack's floor",
        ),
        Insn::new(&[0x58], "pop rax"),
        imm(&[0xbf], k, |v| format!("mov edi, {v:#x} ; K")),
        imm(&[0xbd], h + 28, |v| {
            format!("mov ebp, {v:#x} ; H7 of H(0) reversed, then down")
        }),
        Insn::new(&[0xff, 0xc3], "inc ebx ; n = 1"),
    ];
    let next = code_len(&code);
    code.extend([
        // next:
        Insn::new(&[0xff, 0xc3], "inc ebx ; the next n"),
        Insn::new(&[0x89, 0xd9], "mov ecx, ebx"),
        // trial:
        Insn::new(&[0xff, 0xc9], "dec ecx ; divisors n-1 down to 1"),
        Insn::new(&[0x89, 0xd8], "mov eax, ebx"),
        Insn::new(&[0x99], "cdq ; edx = 0"),
        Insn::new(&[0xf7, 0xf1], "div ecx"),
        Insn::new(&[0x85, 0xd2], "test edx, edx"),
        Insn::new(&[0x75, 0xf5], "jne trial"),
        Insn::new(
            &[0xe2, 0xef],
            "loop next ; ecx > 1: not a prime; ecx = 1: a prime, ecx = 0",
        ),
        // prime:
    ]);
    push_n(&mut code, "[rsp] = n, [rsp+8] = 12");
    code.extend([
        Insn::new(&[0xd9, 0xe8], "fld1"),
        Insn::new(&[0xdb, 0x04, 0x24], "fild dword [rsp]"),
        Insn::new(&[0xd9, 0xf1], "fyl2x ; log2 n"),
        Insn::new(&[0xda, 0x74, 0x24, 0x08], "fidiv dword [rsp+8] ; / 12"),
        Insn::new(&[0xd9, 0xf0], "f2xm1"),
        Insn::new(&[0xd9, 0xe8], "fld1"),
        Insn::new(&[0xde, 0xc1], "faddp ; n^(1/12)"),
        Insn::new(&[0xdc, 0xc8], "fmul st0, st0 ; n^(1/6)"),
        Insn::new(&[0xdc, 0xc8], "fmul st0, st0 ; n^(1/3)"),
        Insn::new(&[0xd9, 0xfd], "fscale ; * 2^32"),
        Insn::new(&[0xdd, 0x0c, 0x24], "fisttp qword [rsp]"),
    ]);
    pop_fraction(&mut code);
    code.push(Insn::new(&[0xab], "stosd ; K"));
    push_n(&mut code, "[rsp] = n again");
    code.extend([
        Insn::new(&[0xdb, 0x04, 0x24], "fild dword [rsp]"),
        Insn::new(&[0xd9, 0xfa], "fsqrt"),
        Insn::new(&[0xd9, 0xfd], "fscale ; * 2^32"),
        Insn::new(&[0xdd, 0x0c, 0x24], "fisttp qword [rsp]"),
    ]);
    pop_fraction(&mut code);
    code.extend([
        Insn::new(&[0x89, 0x45, 0x00], "mov [rbp], eax ; H(0), reversed"),
        Insn::new(&[0x83, 0xed, 0x04], "sub ebp, 4"),
        Insn::new(
            &[0x39, 0xef],
            "cmp edi, ebp ; 64 words? (K goes up from k, H down from k+508: they cross)",
        ),
    ]);
    let back = next as i64 - (code_len(&code) + 2) as i64;
    code.push(Insn::new(&[0x72, back as i8 as u8], "jb next"));
    code
}

/// SHA-256 (FIPS 180-4 §6.2.2) of the padded message from esi to `end` (whole 64-byte
/// blocks) into H at ebp: eight words in reverse order (H7 first), initially
/// [`crate::arch::quine::H0`] reversed; K (64 words) at `k`, 544 bytes of scratch at `w`; ecx is 0 on entry
/// and on exit.
///
/// W is computed for the block first. The working variables live in a window that slides
/// up one word a round (a at ebx, b at ebx-4, …, h at ebx-28): a round writes the new `a`
/// above the window and adds T1 to `d` in place, which becomes the new `e`; nothing else
/// moves. That is why H is kept in reverse order: it is the window's first position.
/// Σ1(e) = ROTR6(e ⊕ ROTR5(e ⊕ ROTR14 e)), Σ0(a) = ROTR2(a ⊕ ROTR11(a ⊕ ROTR9 a)),
/// σ1(x) = ROTR17(x ⊕ ROTR2 x) ⊕ x≫10, σ0(x) = ROTR7(x ⊕ ROTR11 x) ⊕ x≫3,
/// Ch(e,f,g) = g ⊕ (e ∧ (f ⊕ g)), Maj(a,b,c) = b ⊕ ((a ⊕ b) ∧ (b ⊕ c)).
pub fn sha256(w: u32, k: u32, end: u32) -> Vec<Insn> {
    vec![
        // block:
        imm(&[0xbf], w, |v| {
            format!("mov edi, {v:#x} ; W[0..64], then the working variables")
        }),
        Insn::new(&[0xb1, 0x10], "mov cl, 16"),
        // load:
        Insn::new(&[0xad], "lodsd"),
        Insn::new(&[0x0f, 0xc8], "bswap eax"),
        Insn::new(&[0xab], "stosd"),
        Insn::new(&[0xe2, 0xfa], "loop load"),
        Insn::new(&[0x56], "push rsi"),
        Insn::new(&[0xb1, 0x30], "mov cl, 48"),
        // sched:
        Insn::new(&[0x8b, 0x47, 0xf8], "mov eax, [rdi-8]"),
        Insn::new(&[0x89, 0xc2], "mov edx, eax"),
        Insn::new(&[0xc1, 0xca, 0x02], "ror edx, 2"),
        Insn::new(&[0x31, 0xc2], "xor edx, eax"),
        Insn::new(&[0xc1, 0xca, 0x11], "ror edx, 17"),
        Insn::new(&[0xc1, 0xe8, 0x0a], "shr eax, 10"),
        Insn::new(&[0x31, 0xd0], "xor eax, edx"),
        Insn::new(&[0x03, 0x47, 0xe4], "add eax, [rdi-28]"),
        Insn::new(&[0x03, 0x47, 0xc0], "add eax, [rdi-64]"),
        Insn::new(&[0x8b, 0x57, 0xc4], "mov edx, [rdi-60]"),
        Insn::new(&[0x89, 0xd6], "mov esi, edx"),
        Insn::new(&[0xc1, 0xce, 0x0b], "ror esi, 11"),
        Insn::new(&[0x31, 0xd6], "xor esi, edx"),
        Insn::new(&[0xc1, 0xce, 0x07], "ror esi, 7"),
        Insn::new(&[0xc1, 0xea, 0x03], "shr edx, 3"),
        Insn::new(&[0x31, 0xf2], "xor edx, esi"),
        Insn::new(&[0x01, 0xd0], "add eax, edx"),
        Insn::new(&[0xab], "stosd"),
        Insn::new(&[0xe2, 0xd1], "loop sched"),
        Insn::new(&[0x89, 0xee], "mov esi, ebp"),
        Insn::new(&[0xb1, 0x08], "mov cl, 8"),
        Insn::new(&[0xf3, 0xa5], "rep movsd"),
        Insn::new(&[0x8d, 0x5f, 0xfc], "lea ebx, [rdi-4]"),
        imm(&[0xbe], k, |v| format!("mov esi, {v:#x} ; K")),
        Insn::new(&[0xb1, 0x40], "mov cl, 64"),
        // round:
        Insn::new(&[0xad], "lodsd"),
        Insn::new(&[0x03, 0x83, 0xe4, 0xfe, 0xff, 0xff], "add eax, [rbx-284]"),
        Insn::new(&[0x03, 0x43, 0xe4], "add eax, [rbx-28]"),
        Insn::new(&[0x8b, 0x53, 0xf0], "mov edx, [rbx-16]"),
        Insn::new(&[0x8b, 0x7b, 0xec], "mov edi, [rbx-20]"),
        Insn::new(&[0x33, 0x7b, 0xe8], "xor edi, [rbx-24]"),
        Insn::new(&[0x21, 0xd7], "and edi, edx"),
        Insn::new(&[0x33, 0x7b, 0xe8], "xor edi, [rbx-24]"),
        Insn::new(&[0x01, 0xf8], "add eax, edi"),
        Insn::new(&[0x89, 0xd7], "mov edi, edx"),
        Insn::new(&[0xc1, 0xcf, 0x0e], "ror edi, 14"),
        Insn::new(&[0x31, 0xd7], "xor edi, edx"),
        Insn::new(&[0xc1, 0xcf, 0x05], "ror edi, 5"),
        Insn::new(&[0x31, 0xd7], "xor edi, edx"),
        Insn::new(&[0xc1, 0xcf, 0x06], "ror edi, 6"),
        Insn::new(&[0x01, 0xf8], "add eax, edi"),
        Insn::new(&[0x01, 0x43, 0xf4], "add [rbx-12], eax"),
        Insn::new(&[0x8b, 0x13], "mov edx, [rbx]"),
        Insn::new(&[0x89, 0xd7], "mov edi, edx"),
        Insn::new(&[0xc1, 0xcf, 0x09], "ror edi, 9"),
        Insn::new(&[0x31, 0xd7], "xor edi, edx"),
        Insn::new(&[0xc1, 0xcf, 0x0b], "ror edi, 11"),
        Insn::new(&[0x31, 0xd7], "xor edi, edx"),
        Insn::new(&[0xc1, 0xcf, 0x02], "ror edi, 2"),
        Insn::new(&[0x01, 0xf8], "add eax, edi"),
        Insn::new(&[0x8b, 0x7b, 0xfc], "mov edi, [rbx-4]"),
        Insn::new(&[0x31, 0xfa], "xor edx, edi"),
        Insn::new(&[0x33, 0x7b, 0xf8], "xor edi, [rbx-8]"),
        Insn::new(&[0x21, 0xfa], "and edx, edi"),
        Insn::new(&[0x33, 0x53, 0xfc], "xor edx, [rbx-4]"),
        Insn::new(&[0x01, 0xd0], "add eax, edx"),
        Insn::new(&[0x83, 0xc3, 0x04], "add ebx, 4"),
        Insn::new(&[0x89, 0x03], "mov [rbx], eax"),
        Insn::new(&[0xe2, 0xa9], "loop round"),
        Insn::new(&[0x8d, 0x73, 0xe4], "lea esi, [rbx-28]"),
        Insn::new(&[0x89, 0xef], "mov edi, ebp"),
        Insn::new(&[0xb1, 0x08], "mov cl, 8"),
        // addh:
        Insn::new(&[0xad], "lodsd"),
        Insn::new(&[0x01, 0x07], "add [rdi], eax"),
        Insn::new(&[0xaf], "scasd"),
        Insn::new(&[0xe2, 0xfa], "loop addh"),
        Insn::new(&[0x5e], "pop rsi"),
        imm(&[0x81, 0xfe], end, |v| {
            format!("cmp esi, {v:#x} ; past the last block?")
        }),
        Insn::new(&[0x0f, 0x82, 0x40, 0xff, 0xff, 0xff], "jb block"),
    ]
}

/// The 64 lowercase hex digits of the digest in H (reversed words, at ebp) to `dst`.
pub fn hex(dst: u32) -> Vec<Insn> {
    vec![
        imm(&[0xbf], dst, |v| {
            format!("mov edi, {v:#x} ; the digest's place in the config")
        }),
        Insn::new(&[0xb1, 0x08], "mov cl, 8"),
        // hexw:
        Insn::new(&[0x8b, 0x54, 0x8d, 0xfc], "mov edx, [rbp+rcx*4-4]"),
        Insn::new(&[0x51], "push rcx"),
        Insn::new(&[0xb1, 0x08], "mov cl, 8"),
        // nib:
        Insn::new(&[0xc1, 0xc2, 0x04], "rol edx, 4"),
        Insn::new(&[0x88, 0xd0], "mov al, dl"),
        Insn::new(&[0x24, 0x0f], "and al, 15"),
        Insn::new(&[0x3c, 0x0a], "cmp al, 10"),
        Insn::new(&[0x72, 0x02], "jb digit"),
        Insn::new(&[0x04, 0x27], "add al, 39 ; to 'a' for 10"),
        // digit:
        Insn::new(&[0x04, 0x30], "add al, 48 ; '0'"),
        Insn::new(&[0xaa], "stosb"),
        Insn::new(&[0xe2, 0xee], "loop nib"),
        Insn::new(&[0x59], "pop rcx"),
        Insn::new(&[0xe2, 0xe4], "loop hexw"),
    ]
}

/// write(1, out, len), again after a short write, then exit(0) (exit(1) if write fails).
pub fn write_exit(out: u32, len: u32) -> Vec<Insn> {
    vec![
        imm(&[0xbe], out, |v| format!("mov esi, {v:#x} ; the output")),
        imm(&[0xba], len, |v| format!("mov edx, {v} ; its length")),
        // write:
        Insn::new(&[0x6a, 0x01], "push 1"),
        Insn::new(&[0x58], "pop rax"),
        Insn::new(&[0x89, 0xc7], "mov edi, eax"),
        Insn::new(&[0x0f, 0x05], "syscall"),
        Insn::new(&[0x85, 0xc0], "test eax, eax"),
        Insn::new(&[0x7e, 0x08], "jle exit"),
        Insn::new(&[0x01, 0xc6], "add esi, eax"),
        Insn::new(&[0x29, 0xc2], "sub edx, eax"),
        Insn::new(&[0x75, 0xef], "jne write"),
        Insn::new(&[0x31, 0xff], "xor edi, edi"),
        // exit:
        Insn::new(&[0x6a, 0x3c], "push 60"),
        Insn::new(&[0x58], "pop rax"),
        Insn::new(&[0x0f, 0x05], "syscall"),
    ]
}

/// The SHA-256 test program ([`crate::arch::Programs::sha256_test`]): K, the digest of
/// the padded message at `a.layer`, its hex at `a.hex`, written.
pub fn sha256_test(a: &Addresses) -> Vec<Insn> {
    let mut code = digest(a, false);
    code.extend(write_exit(a.hex, 64));
    code
}

/// K and H(0), the digest of the padded message at `a.layer`, and its hex at `a.hex`
/// (`bits32` as in [`body`]).
pub fn digest(a: &Addresses, bits32: bool) -> Vec<Insn> {
    let (w, k, h) = wkh(a.scratch);
    let mut code = k_table(k, h, bits32);
    code.extend(digest_head(a.layer, h));
    code.extend(sha256(w, k, a.sha_end));
    code.extend(hex(a.hex));
    code
}

/// esi at the padded message, ebp at H.
fn digest_head(message: u32, h: u32) -> Vec<Insn> {
    vec![
        imm(&[0xbe], message, |v| {
            format!("mov esi, {v:#x} ; the layer tar, then its padding")
        }),
        imm(&[0xbd], h, |v| {
            format!("mov ebp, {v:#x} ; H, words in reverse order")
        }),
    ]
}
