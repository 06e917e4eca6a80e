//! 64-bit PowerPC, little-endian, ELFv2 ABI (linux/ppc64le): `sc` with the number in r0,
//! arguments in r3..r8; the result comes back in r3, and an error as a *positive* errno in
//! r3 with CR0.SO set (Documentation/arch/powerpc/syscall64-abi.rst). `sc` follows the ELF
//! ABI's preservation rules: r0 and r3..r12 are volatile, so every argument is set again
//! before each call; r1, r2 and r13..r31 survive.
//!
//! Every instruction is one 32-bit word, stored little-endian; the listing writes the word
//! as the Power ISA manual does (primary opcode in the top 6 bits), e.g. `0x3800_0004` is
//! `addi r0, 0, 4` = `li r0, 4` (opcode 14, RT 0, RA 0, SI 4).
//!
//! Registers at the entry point, relied on only where Linux and qemu-user agree:
//! - r12 = the entry point's address. Linux `start_thread` (arch/powerpc/kernel/process.c)
//!   for an ELFv2 task (e_flags & 3 == 2, which [`crate::elf::machine`] sets):
//!   `regs->gpr[12] = start;` ("the caller must ensure r12 holds the entry point address"),
//!   with TIF_RESTOREALL so it reaches user space. qemu-user (linux-user/elfload.c
//!   `init_thread`, ppc64, `get_ppc64_abi(infop) >= 2`): `_regs->gpr[12] = infop->entry;`.
//!   `hello` builds the message's address from it, so its first instruction (the one at the
//!   entry point) is `addi r4, r12, message - entry`.
//! - r14..r31 = 0. Linux `start_thread`: `memset(&regs->gpr[1], 0, ...)` clears r1..r31
//!   before setting r1 (and r2 for ELFv1, r12 for ELFv2); qemu-user zeroes the registers
//!   (linux-user/main.c: `memset(regs, 0, sizeof(struct target_pt_regs))`), and
//!   `init_thread` sets only r1 and r12 (older releases also set r3..r5 to argc, argv
//!   and envp, so r3..r5 are not trusted here). They are non-volatile, so r14 is still zero
//!   after any syscall: `pause` stores it as `sa_flags = 0`; `serve` counts on r22 = 0 too.
//! - r1 = the stack pointer (16-byte aligned). `pause` keeps its structs in the 288-byte
//!   protected zone the ELFv2 ABI reserves below it, which signal delivery skips; no handler
//!   ever runs anyway (`serve`'s structs are there too; its handler never returns).
//!
//! r0 is not trusted: recent Linux clears r1..r31 only.

use super::{Addressing, Code, Fixup, Insn, Isa, Target};
use crate::Program;

/// arch/powerpc/kernel/syscalls/syscall.tbl
pub const SYS_EXIT: u32 = 1;
pub const SYS_WRITE: u32 = 4;
pub const SYS_RT_SIGACTION: u32 = 173;
pub const SYS_RT_SIGPROCMASK: u32 = 174;
pub const SYS_RT_SIGTIMEDWAIT: u32 = 176;
pub const SYS_CLOSE: u32 = 6;
pub const SYS_CLONE: u32 = 120;
pub const SYS_EXIT_GROUP: u32 = 234;
pub const SYS_SOCKET: u32 = 326;
pub const SYS_BIND: u32 = 327;
pub const SYS_LISTEN: u32 = 329;
pub const SYS_ACCEPT: u32 = 330;
pub const SYS_SENDTO: u32 = 335;
pub const SYS_RECVFROM: u32 = 337;
pub const SYS_SHUTDOWN: u32 = 338;
pub const SYS_SETSOCKOPT: u32 = 339;

use super::{net, signal};
use crate::program::Serve;

// The signal constants (super::signal) in the type of this file's encoders.
const SIGCHLD: u32 = signal::SIGCHLD as u32;
const STOP_SIGNALS: u32 = signal::STOP_SIGNALS as u32;
const SIG_IGN: u32 = signal::SIG_IGN as u32;
const SIGSET_SIZE: u32 = signal::SIGSET_SIZE as u32;
const SIG_BLOCK: u32 = signal::SIG_BLOCK as u32;
const SIGINT: u32 = signal::SIGINT as u32;
const SIGTERM: u32 = signal::SIGTERM as u32;

pub struct Ppc64le;

const WAIT: u8 = 0;
// serve's labels
const EXIT: u8 = 1;
const EXIT_STATUS: u8 = 2;
const SPREAD: u8 = 3;
const PAST_EXIT: u8 = 4;
const SPAWN: u8 = 5;
const CLOSE: u8 = 6;
const ACCEPT: u8 = 7;
const READ: u8 = 8;

/// One instruction word, stored little-endian.
fn word(w: u32, asm: impl Into<String>) -> Insn {
    Insn::new(&w.to_le_bytes(), asm)
}

/// r5 = `len` (up to 2 GiB): see [`load`].
fn set_length(len: usize) -> Vec<Insn> {
    load(5, len, "length")
}

/// rN = `value` (up to 2 GiB), all 64 bits: `li rN, value` below 32 KiB, else
/// `lis rN, value >> 16` (`addis`, opcode 15) and, if the low half is not zero,
/// `ori rN, rN, value & 0xffff` (opcode 24).
fn load(r: u32, value: usize, what: &str) -> Vec<Insn> {
    assert!(value < 1 << 31, "{what} too large");
    if value < 0x8000 {
        return vec![word(
            0x3800_0000 | r << 21 | value as u32,
            format!("li r{r}, {value} ; {what}"),
        )];
    }
    let (hi, lo) = ((value >> 16) as u32, (value & 0xffff) as u32);
    let mut v = vec![word(
        0x3c00_0000 | r << 21 | hi,
        format!("lis r{r}, {hi} ; {what}"),
    )];
    if lo != 0 {
        v.push(word(
            0x6000_0000 | r << 21 | r << 16 | lo,
            format!("ori r{r}, r{r}, {lo}"),
        ));
    }
    v
}

/// `li rN, imm` (`addi rN, 0, imm`, D-form: opcode 14): the whole register = the
/// sign-extended immediate.
fn li(r: u32, imm: i16, comment: &str) -> Insn {
    word(
        0x3800_0000 | r << 21 | u32::from(imm as u16),
        format!("li r{r}, {imm} ; {comment}"),
    )
}

/// `addi rN, r1, d`: an address in the protected zone below the stack pointer.
fn addi_sp(r: u32, d: i16, comment: &str) -> Insn {
    word(
        0x3801_0000 | r << 21 | u32::from(d as u16),
        format!("addi r{r}, r1, {d} ; {comment}"),
    )
}

/// `std rS, d(r1)` (DS-form: opcode 62, d a multiple of 4).
fn std_sp(s: u32, d: i16, comment: &str) -> Insn {
    assert_eq!(d % 4, 0);
    word(
        0xf801_0000 | s << 21 | u32::from(d as u16),
        format!("std r{s}, {d}(r1) ; {comment}"),
    )
}

/// `mr rA, rS` = `or rA, rS, rS` (X-form: opcode 31, XO 444).
fn mr(a: u32, s: u32, comment: &str) -> Insn {
    let asm = format!("mr r{a}, r{s}");
    let asm = if comment.is_empty() {
        asm
    } else {
        format!("{asm} ; {comment}")
    };
    word(0x7c00_0378 | s << 21 | a << 16 | s << 11, asm)
}

/// A branch to a label: `b`/`bl` (I-form) or a conditional `bc` (B-form, `word` says
/// which condition), its displacement filled in by the planner.
fn branch(w: u32, asm: &str, label: u8) -> Insn {
    let encode = if w >> 26 == 18 { encode_b } else { encode_bc };
    let insn = word(w, asm).fixup(Fixup::Encode {
        target: Target::Label(label),
        encode,
    });
    if w >> 26 == 18 {
        insn
    } else {
        insn.reads_flags()
    }
}

/// `addi rN, r12, target - entry`: r12 holds the entry address, and this instruction is
/// the first one, at the entry point, so `pc` is that address. Patches the immediate.
fn encode_message(bytes: &mut [u8], pc: u64, target: u64) -> Result<(), String> {
    let d = i16::try_from(target.wrapping_sub(pc) as i64)
        .map_err(|_| format!("{target:#x} out of reach of r12 = {pc:#x}"))?;
    bytes[..2].copy_from_slice(&d.to_le_bytes()); // SI: the low half of the word
    Ok(())
}

/// A branch displacement: a multiple of 4 in `bits` signed bits.
fn displacement(pc: u64, target: u64, bits: u32) -> Result<u32, String> {
    let d = target.wrapping_sub(pc) as i64;
    let half = 1i64 << (bits - 1);
    if d % 4 != 0 || d < -half || d >= half {
        return Err(format!("branch from {pc:#x} to {target:#x} out of range"));
    }
    Ok(d as u32 & ((1 << bits) - 1))
}

/// I-form `b target` or `bl target` (opcode 18, AA = 0, LK kept): ±32 MiB.
fn encode_b(bytes: &mut [u8], pc: u64, target: u64) -> Result<(), String> {
    let w = u32::from_le_bytes(bytes[..4].try_into().unwrap()) & !0x03ff_fffc;
    let w = w | displacement(pc, target, 26)?;
    bytes.copy_from_slice(&w.to_le_bytes());
    Ok(())
}

/// B-form `bc BO, BI, target` (opcode 16, BO and BI kept: `bso`, `beq`, `bne`): ±32 KiB.
fn encode_bc(bytes: &mut [u8], pc: u64, target: u64) -> Result<(), String> {
    let w = u32::from_le_bytes(bytes[..4].try_into().unwrap()) & !0xfffc;
    let w = w | displacement(pc, target, 16)?;
    bytes.copy_from_slice(&w.to_le_bytes());
    Ok(())
}

impl Ppc64le {
    fn lower_program(&self, program: &Program, _addressing: Addressing) -> Code {
        let mut insns = Vec::new();
        let mut data = Vec::new();
        match program {
            Program::Exit(code) => {
                insns.push(word(0x3800_0000 | SYS_EXIT, "li r0, 1 ; SYS_exit"));
                insns.push(word(0x3860_0000 | *code as u32, format!("li r3, {code}")));
                insns.push(word(0x4400_0002, "sc"));
            }
            Program::Hello(message) => {
                data.extend_from_slice(message);
                // PC-relative with no branch-and-link: r12 holds the entry address, and this is
                // the instruction at the entry point.
                insns.push(
                    word(0x388c_0000, "addi r4, r12, message ; r4 = &message").fixup(
                        Fixup::Encode {
                            target: Target::Data,
                            encode: encode_message,
                        },
                    ),
                );
                insns.push(word(0x3800_0000 | SYS_WRITE, "li r0, 4 ; SYS_write"));
                insns.push(word(0x3860_0001, "li r3, 1 ; fd 1 = stdout"));
                insns.extend(set_length(message.len()));
                insns.push(word(0x4400_0002, "sc"));
                // r3 now holds what write returned (or an errno): set it again.
                insns.push(word(0x3800_0000 | SYS_EXIT, "li r0, 1 ; SYS_exit"));
                insns.push(word(0x3860_0000, "li r3, 0 ; status 0"));
                insns.push(word(0x4400_0002, "sc"));
            }
            Program::Serve(serve) => {
                data.extend_from_slice(&serve.response);
                insns = self.serve(serve);
            }
            Program::Pause => {
                insns.extend([
                    // rt_sigprocmask(SIG_BLOCK, &set, NULL, 8): a blocked signal is never
                    // "ignored", so the kernel queues SIGTERM/SIGINT even for a PID-namespace
                    // init whose handler is SIG_DFL. The set lives at r1 - 8, in the
                    // protected zone (and is also the sigaction's sa_mask below).
                    word(
                        0x3920_0000 | STOP_SIGNALS,
                        "li r9, 16386 ; 0x4002 = {SIGINT, SIGTERM}",
                    ),
                    word(0xf921_fff8, "std r9, -8(r1) ; set"),
                    word(0x3860_0000 | SIG_BLOCK, "li r3, 0 ; SIG_BLOCK"),
                    word(0x3881_fff8, "addi r4, r1, -8 ; r4 = &set"),
                    word(0x38a0_0000, "li r5, 0 ; no old set"),
                    word(0x38c0_0000 | SIGSET_SIZE, "li r6, 8 ; sigsetsize"),
                    word(
                        0x3800_0000 | SYS_RT_SIGPROCMASK,
                        "li r0, 174 ; SYS_rt_sigprocmask",
                    ),
                    word(0x4400_0002, "sc"),
                    // rt_sigaction(SIGCHLD, &{SIG_IGN, flags 0}, NULL, 8): children (and
                    // orphans handed to us as PID 1) are reaped by the kernel, zombies never
                    // stay. sa_restorer is not read without SA_RESTORER, nor sa_mask without a
                    // handler.
                    word(0x3860_0000 | SIGCHLD, "li r3, 17 ; SIGCHLD"),
                    // The kernel's struct sigaction on ppc64 (include/linux/signal_types.h,
                    // arch/powerpc/include/uapi/asm/signal.h): sa_handler, sa_flags,
                    // sa_restorer, sa_mask, 8 bytes each; at r1 - 32 its sa_mask is the set.
                    word(0x3881_ffe0, "addi r4, r1, -32 ; r4 = &act"),
                    word(0x3920_0000 | SIG_IGN, "li r9, 1 ; SIG_IGN"),
                    word(0xf924_0000, "std r9, 0(r4) ; act.sa_handler"),
                    word(0xf9c4_0008, "std r14, 8(r4) ; act.sa_flags = r14 = 0"),
                    word(0x38a0_0000, "li r5, 0 ; no old action"),
                    word(0x38c0_0000 | SIGSET_SIZE, "li r6, 8 ; sigsetsize"),
                    word(
                        0x3800_0000 | SYS_RT_SIGACTION,
                        "li r0, 173 ; SYS_rt_sigaction",
                    ),
                    word(0x4400_0002, "sc"),
                    // rt_sigtimedwait(&set, NULL, NULL = no timeout, 8), again if interrupted.
                    word(0x3861_fff8, "addi r3, r1, -8 ; r3 = &set").label(WAIT),
                    word(0x3880_0000, "li r4, 0 ; no siginfo"),
                    word(0x38a0_0000, "li r5, 0 ; no timeout"),
                    word(0x38c0_0000 | SIGSET_SIZE, "li r6, 8 ; sigsetsize"),
                    word(
                        0x3800_0000 | SYS_RT_SIGTIMEDWAIT,
                        "li r0, 176 ; SYS_rt_sigtimedwait",
                    ),
                    word(0x4400_0002, "sc"),
                    word(
                        0x4183_0000,
                        "bso wait ; CR0.SO: EINTR (stopped and continued)",
                    )
                    .fixup(Fixup::Encode {
                        target: Target::Label(WAIT),
                        encode: encode_bc,
                    })
                    .reads_flags(),
                    // A signal arrived: exit(0).
                    word(0x3800_0000 | SYS_EXIT, "li r0, 1 ; SYS_exit"),
                    word(0x3860_0000, "li r3, 0 ; status 0"),
                    word(0x4400_0002, "sc"),
                ]);
            }
        }
        Code { insns, data }
    }
}

super::programs_via_lower!(Ppc64le);

impl Isa for Ppc64le {
    fn jump(&self, target: Target) -> Insn {
        word(0x4800_0000, "b target").fixup(Fixup::Encode {
            target,
            encode: encode_b,
        })
    }

    fn nop(&self) -> Insn {
        word(0x6000_0000, "nop ; ori r0, r0, 0")
    }

    fn align(&self) -> usize {
        4
    }
}

/// `serve`'s argument registers: `spread` copies r19 into r0 and r20..r24 into r3..r7
/// before each `sc`. They are non-volatile, so a value stays set for every later call until
/// it changes, and each call sets only the arguments that differ from the previous one.
const NR: u32 = 19;
const A1: u32 = 20;
const A2: u32 = 21;
const A3: u32 = 22;
const A4: u32 = 23;
const A5: u32 = 24;

impl Ppc64le {
    /// The `serve` listing (see [`crate::program::Serve`] for what it does).
    ///
    /// `sc` clobbers r0 and r4..r12 (Linux zeroes them on the way out, qemu keeps them),
    /// so the arguments live in the non-volatile r19..r24 and the subroutine `spread` (`bl`;
    /// `sc` keeps lr) copies them into r0, r3..r7 and makes the call. Every thread keeps
    /// r30 = the listening socket, r31 = &response, r14 = 0 (zero at entry, never written).
    /// The structs sit in the protected zone below r1: at -24 act = {exit, sa_flags = 1},
    /// at -16 {1, 0} (the SIGCHLD act, the timeval {1 s, 0} and the int 1), at -32 the
    /// sockaddr_in. The workers share r1 but never touch memory.
    fn serve(&self, serve: &Serve) -> Vec<Insn> {
        let sc = || word(0x4400_0002, "sc");
        let spread = |what: &str| {
            let asm = format!("bl spread ; {what}");
            branch(0x4800_0001, &asm, SPREAD)
        };
        let nr = |n: u32, name: &str| li(NR, n as i16, &format!("SYS_{name}"));
        // sockaddr_in's first 8 bytes, stored little-endian: AF_INET (u16), the port
        // (big-endian), INADDR_ANY. `oris` puts the port over A1 = AF_INET.
        let port = u32::from(serve.port.swap_bytes());
        let flags = net::CLONE_THREAD_FLAGS;
        let workers_log2 = Serve::WORKERS.trailing_zeros();
        assert_eq!(1 << workers_log2, Serve::WORKERS);
        // The optlen A5 = 16 is also the spawn counter: shifted left by 10 until 0.
        assert!(4 + 10 * (workers_log2 - 1) < 64 && 4 + 10 * workers_log2 >= 64);
        // The SIGCHLD action's handler word is also the timeout's seconds, the int 1, and
        // the other act's sa_flags (SA_NOCLDSTOP: it means nothing for SIGINT/SIGTERM).
        const _: () = assert!(Serve::TIMEOUT_SECS == SIG_IGN);
        const _: () = assert!(net::SOCK_STREAM == signal::SIG_IGN);
        const _: () = assert!(net::SOL_SOCKET == net::SOCK_STREAM);
        const _: () = assert!(net::AF_INET as u32 == SIGINT);
        let mut v = vec![
            // PC-relative with no branch-and-link: r12 holds the entry address, and this is
            // the instruction at the entry point.
            word(0x3bec_0000, "addi r31, r12, response ; r31 = &response").fixup(Fixup::Encode {
                target: Target::Data,
                encode: encode_message,
            }),
            branch(
                0x4800_0001,
                "bl past_exit ; lr = exit, the handler's address",
                PAST_EXIT,
            ),
            // SIGINT/SIGTERM handler (entered with r3 = the signal): exit_group(0); a failed
            // bind enters at exit_status with r3 = the errno.
            li(3, 0, "status 0").label(EXIT),
            li(0, SYS_EXIT_GROUP as i16, "SYS_exit_group").label(EXIT_STATUS),
            sc(),
            // spread: the call r19(r20, r21, r22, r23, r24).
            mr(0, NR, "the number").label(SPREAD),
            mr(3, A1, "the arguments"),
            mr(4, A2, ""),
            mr(5, A3, ""),
            mr(6, A4, ""),
            mr(7, A5, ""),
            sc(),
            word(0x4e80_0020, "blr"),
            // act = {handler = exit, sa_flags = 1} at r1 - 24.
            word(0x7d28_02a6, "mflr r9 ; exit").label(PAST_EXIT),
            std_sp(9, -24, "act.sa_handler = exit"),
            // socket(AF_INET, SOCK_STREAM, 0): A3 = 0 from the entry. r3 = the socket.
            nr(SYS_SOCKET, "socket"),
            li(A1, net::AF_INET.into(), "AF_INET (SIGINT next)"),
            li(
                A2,
                net::SOCK_STREAM.into(),
                "SOCK_STREAM (the 1 stored next)",
            ),
            spread("socket"),
            word(
                0x6680_0000 | A1 << 21 | 9 << 16 | port,
                format!("oris r9, r20, {port} ; AF_INET, port {}", serve.port),
            ),
            std_sp(9, -32, "sockaddr_in (sin_zero: what follows)"),
            std_sp(A2, -16, "1: act.sa_flags, SIG_IGN, tv_sec, int"),
            std_sp(14, -8, "0: tv_usec"),
            mr(30, 3, "r30 = the socket"),
            // rt_sigaction(SIGINT, then SIGTERM, &{exit, 1}, NULL, 8); SIGCHLD: &{SIG_IGN, 0}.
            // No restorer: the kernel and qemu return through the vdso's trampoline, and
            // the handler never returns anyway.
            nr(SYS_RT_SIGACTION, "rt_sigaction"),
            addi_sp(A2, -24, "&act"),
            li(A4, SIGSET_SIZE as i16, "sigsetsize (A3 = 0: no old action)"),
            spread("rt_sigaction(SIGINT)"),
            li(A1, SIGTERM as i16, "SIGTERM"),
            spread("rt_sigaction(SIGTERM)"),
            li(A1, SIGCHLD as i16, "SIGCHLD"),
            addi_sp(A2, -16, "&{SIG_IGN, 0}"),
            spread("rt_sigaction(SIGCHLD): the kernel reaps children"),
            // setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &1, 16), then SO_RCVTIMEO, &{1 s, 0}
            // (qemu insists on optlen = sizeof(struct timeval) exactly).
            nr(SYS_SETSOCKOPT, "setsockopt"),
            mr(A1, 30, "the socket"),
            li(A2, net::SOL_SOCKET.into(), "SOL_SOCKET"),
            li(A3, net::SO_REUSEADDR.into(), "SO_REUSEADDR"),
            addi_sp(A4, -16, "&{1, 0}"),
            li(A5, 16, "optlen (and the spawn counter)"),
            spread("setsockopt"),
            li(A3, net::SO_RCVTIMEO_PPC.into(), "SO_RCVTIMEO (powerpc)"),
            spread("setsockopt"),
            // bind(fd, &sockaddr_in, 16); on failure exit_group(errno).
            nr(SYS_BIND, "bind"),
            addi_sp(A2, -32, "&sockaddr_in"),
            li(A3, net::SOCKADDR_IN_SIZE.into(), "addrlen"),
            spread("bind"),
            branch(
                0x4183_0000,
                "bso exit_status ; CR0.SO: r3 = the errno",
                EXIT_STATUS,
            ),
            // listen(fd, A2): a stack address, far above somaxconn, which caps it.
            nr(SYS_LISTEN, "listen"),
            spread("listen(fd, &sockaddr_in)"),
            // clone(thread flags, no new stack) six times, every thread cloning again: 64
            // threads. The workers use no memory, so they can share the stack pointer.
            nr(SYS_CLONE, "clone"),
            word(
                0x3c00_0000 | A1 << 21 | flags >> 16,
                format!(
                    "lis r20, {} ; CLONE_VM|FS|FILES|SIGHAND|THREAD|SYSVSEM",
                    flags >> 16
                ),
            ),
            word(
                0x6000_0000 | A1 << 21 | A1 << 16 | (flags & 0xffff),
                format!("ori r20, r20, {}", flags & 0xffff),
            ),
            li(A2, 0, "same stack"),
            spread("clone").label(SPAWN),
            // sldi. (shift left 10, set CR0): 2^4 becomes 2^14, .. 2^54, then 2^64 = 0 in the
            // sixth round, and A5 = 0 = NULL.
            word(
                0x7b18_5565,
                format!("rldicr. r24, r24, 10, 53 ; sldi. by 10: {workers_log2} rounds"),
            ),
            branch(0x4082_0000, "bne spawn", SPAWN),
        ];
        // Every thread: A3 = the response length (also how much one read discards), A4 =
        // MSG_NOSIGNAL | MSG_TRUNC (send: EPIPE instead of SIGPIPE; recv: discard); A5 = 0
        // (no address) from the spawn counter.
        v.extend(load(A3, serve.response.len(), "length"));
        v.extend([
            li(
                A4,
                (net::MSG_NOSIGNAL | net::MSG_TRUNC) as i16,
                "MSG_NOSIGNAL | MSG_TRUNC",
            ),
            // close(conn); the first time A1 is the clone flags, no descriptor (EBADF).
            nr(SYS_CLOSE, "close").label(CLOSE),
            spread("close(conn)"),
            // accept(fd, NULL = A2, A3 unread); the timeout (EAGAIN) or an error: again (the
            // errno in r3 is positive, it could name another thread's connection).
            nr(SYS_ACCEPT, "accept").label(ACCEPT),
            mr(A1, 30, "the socket"),
            spread("accept"),
            branch(0x4183_0000, "bso accept ; CR0.SO: no connection", ACCEPT),
            mr(A1, 3, "r20 = the connection"),
            // recvfrom(conn, NULL, len, MSG_NOSIGNAL | MSG_TRUNC, NULL, r8 unread): waits for
            // bytes and discards them. End of file, an error or the timeout: close.
            nr(SYS_RECVFROM, "recvfrom").label(READ),
            li(A2, 0, "NULL"),
            spread("recvfrom"),
            branch(0x4183_0000, "bso close ; CR0.SO: error or timeout", CLOSE),
            word(0x2c23_0000, "cmpdi r3, 0"),
            branch(0x4182_0000, "beq close ; end of file", CLOSE),
            // sendto(conn, response, len, MSG_NOSIGNAL, NULL, 0): after the first time the
            // socket is shut for sending, so later ones fail with EPIPE and send nothing.
            nr(SYS_SENDTO, "sendto"),
            mr(A2, 31, "&response"),
            spread("sendto"),
            // shutdown(conn, SHUT_WR): the client reads end of file after the response.
            nr(SYS_SHUTDOWN, "shutdown"),
            li(A2, net::SHUT_WR.into(), "SHUT_WR"),
            spread("shutdown"),
            branch(0x4800_0000, "b read ; until the client closes", READ),
        ]);
        v
    }
}
