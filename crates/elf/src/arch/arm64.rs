//! AArch64 (linux/arm64, v8): `svc #0` with the number in x8, arguments in x0..x3, the
//! result in x0 (every other register survives the call). Instructions are 32-bit words,
//! stored little-endian, at 4-byte aligned addresses; the listing gives each word as the
//! Arm ARM prints it (bit 31 first), then its assembly as capstone reads it.
//!
//! Registers at the entry point: x0..x30 are all zero, under both loaders this crate
//! targets, and the code relies on it (x0 for `exit 0`, x2 for the NULL arguments of
//! `pause` and the length of an empty message):
//! - Linux: `start_thread` → `start_thread_common` (arch/arm64/include/asm/processor.h)
//!   does `memset(regs, 0, sizeof(*regs))` before setting pc, and `ELF_PLAT_INIT`
//!   (arch/arm64/include/asm/elf.h) is `(_r)->regs[0] = 0`; execve's own return value
//!   is 0 too.
//! - qemu-user: `init_thread` for aarch64 (linux-user/elfload.c, qemu 7.2) does
//!   `memset(regs, 0, sizeof(*regs))` and sets only pc and sp, which
//!   `target_cpu_copy_regs` (linux-user/aarch64/target_cpu.h) copies into x0..x30; newer
//!   qemu (`init_main_thread`, linux-user/aarch64/cpu_loop.c) sets only pc and sp of a
//!   freshly reset (zeroed) CPU.
//!
//! The stack: AAPCS64 has no red zone on Linux, and sp must stay 16-byte aligned for an
//! sp-based access (Linux sets SCTLR_EL1.SA0), so `pause` moves sp down by 32 with a
//! pre-indexed store before it uses the space.

use super::{Addressing, Code, Fixup, Insn, Isa, Target};
use crate::Program;

/// include/uapi/asm-generic/unistd.h (arm64 has no table of its own).
pub const SYS_WRITE: u16 = 64;
pub const SYS_EXIT: u16 = 93;
pub const SYS_RT_SIGACTION: u16 = 134;
pub const SYS_RT_SIGPROCMASK: u16 = 135;
pub const SYS_RT_SIGTIMEDWAIT: u16 = 137;
pub const SYS_CLOSE: u16 = 57;
pub const SYS_EXIT_GROUP: u16 = 94;
pub const SYS_SOCKET: u16 = 198;
pub const SYS_BIND: u16 = 200;
pub const SYS_LISTEN: u16 = 201;
pub const SYS_ACCEPT: u16 = 202;
pub const SYS_SENDTO: u16 = 206;
pub const SYS_RECVFROM: u16 = 207;
pub const SYS_SETSOCKOPT: u16 = 208;
pub const SYS_SHUTDOWN: u16 = 210;
pub const SYS_CLONE: u16 = 220;

use super::net;
use super::signal;
use crate::program::Serve;

// The signal constants (super::signal) in the type of this file's encoders.
const SIGCHLD: u16 = signal::SIGCHLD as u16;
const STOP_SIGNALS: u16 = signal::STOP_SIGNALS;
const SIG_IGN: u16 = signal::SIG_IGN as u16;
const SIGSET_SIZE: u16 = signal::SIGSET_SIZE as u16;
const SIGINT: u16 = signal::SIGINT as u16;
const SIGTERM: u16 = signal::SIGTERM as u16;

// The socket constants (super::net) likewise.
const AF_INET: u16 = net::AF_INET as u16;
const SOCK_STREAM: u16 = net::SOCK_STREAM as u16;
const SO_REUSEADDR: u16 = net::SO_REUSEADDR as u16;
const SO_RCVTIMEO: u16 = net::SO_RCVTIMEO as u16;
const SOCKADDR_IN_SIZE: u16 = net::SOCKADDR_IN_SIZE as u16;
/// `sizeof(struct timeval)` on a 64-bit platform: SO_RCVTIMEO's optlen.
const TIMEVAL_SIZE: u16 = 16;
const SHUT_WR: u16 = net::SHUT_WR as u16;
const RECV_SEND_FLAGS: u16 = (net::MSG_NOSIGNAL | net::MSG_TRUNC) as u16;
const CLONE_LOW: u16 = net::CLONE_THREAD_FLAGS as u16;
const CLONE_HIGH: u16 = (net::CLONE_THREAD_FLAGS >> 16) as u16;

pub struct Arm64;

const WAIT: u8 = 0;
// serve's labels
const EXIT: u8 = 1;
const SPAWN: u8 = 2;
const ACCEPT: u8 = 3;
const READ: u8 = 4;
const CLOSE: u8 = 5;

/// Registers by number (31 is xzr or sp, depending on the instruction).
const X0: u32 = 0;
const X2: u32 = 2;

/// One instruction word.
fn a64(word: u32, asm: impl Into<String>) -> Insn {
    Insn::new(&word.to_le_bytes(), asm)
}

/// `movz xd, #imm16, lsl #(16 * hw)`: 1 10 100101 hw:2 imm16:16 Rd:5.
const fn movz(rd: u32, imm16: u16, hw: u32) -> u32 {
    0xd280_0000 | hw << 21 | (imm16 as u32) << 5 | rd
}

/// `movk xd, #imm16, lsl #(16 * hw)`: 1 11 100101 hw:2 imm16:16 Rd:5.
const fn movk(rd: u32, imm16: u16, hw: u32) -> u32 {
    0xf280_0000 | hw << 21 | (imm16 as u32) << 5 | rd
}

// The literal words of the listing are the encodings of the constants they name.
const _: () = {
    const X8: u32 = 8;
    assert!(movz(X8, SYS_WRITE, 0) == 0xd280_0808);
    assert!(movz(X8, SYS_EXIT, 0) == 0xd280_0ba8);
    assert!(movz(X8, SYS_RT_SIGACTION, 0) == 0xd280_10c8);
    assert!(movz(X8, SYS_RT_SIGPROCMASK, 0) == 0xd280_10e8);
    assert!(movz(X8, SYS_RT_SIGTIMEDWAIT, 0) == 0xd280_1128);
    assert!(movz(X0, SIGCHLD, 0) == 0xd280_0220);
    assert!(movz(3, SIGSET_SIZE, 0) == 0xd280_0103);
    assert!(movz(4, SIG_IGN, 0) == 0xd280_0024);
    assert!(movz(4, STOP_SIGNALS, 0) == 0xd288_0044);
    assert!(movz(X0, 1, 0) == 0xd280_0020);
    assert!(movz(X0, 0, 0) == 0xd280_0000);
    // serve
    assert!(movz(X0, SIGINT, 0) == 0xd280_0040);
    assert!(movz(X0, SIGTERM, 0) == 0xd280_01e0);
    assert!(movz(X0, AF_INET, 0) == 0xd280_0040);
    assert!(movz(1, SOCK_STREAM, 0) == 0xd280_0021);
    assert!(movz(2, SO_REUSEADDR, 0) == 0xd280_0042);
    assert!(movz(2, SO_RCVTIMEO, 0) == 0xd280_0282);
    assert!(movz(4, TIMEVAL_SIZE, 0) == 0xd280_0204);
    assert!(movz(1, SHUT_WR, 0) == 0xd280_0021);
    assert!(movz(3, RECV_SEND_FLAGS, 0) == 0xd288_0403);
    assert!(movz(X0, CLONE_LOW, 0) == 0xd281_e000);
    assert!(movk(X0, CLONE_HIGH, 1) == 0xf2a0_00a0);
    assert!(movz(X8, SYS_SOCKET, 0) == 0xd280_18c8);
    assert!(movz(X8, SYS_SETSOCKOPT, 0) == 0xd280_1a08);
    assert!(movz(X8, SYS_BIND, 0) == 0xd280_1908);
    assert!(movz(X8, SYS_LISTEN, 0) == 0xd280_1928);
    assert!(movz(X8, SYS_CLONE, 0) == 0xd280_1b88);
    assert!(movz(X8, SYS_ACCEPT, 0) == 0xd280_1948);
    assert!(movz(X8, SYS_RECVFROM, 0) == 0xd280_19e8);
    assert!(movz(X8, SYS_SENDTO, 0) == 0xd280_19c8);
    assert!(movz(X8, SYS_SHUTDOWN, 0) == 0xd280_1a48);
    assert!(movz(X8, SYS_CLOSE, 0) == 0xd280_0728);
    assert!(movz(X8, SYS_EXIT_GROUP, 0) == 0xd280_0bc8);
};

/// `mov xd, #value`: a `movz` of the lowest non-zero 16-bit chunk, then a `movk` per other
/// non-zero chunk (a 64 MiB length takes two). Nothing for zero: every register is zero
/// at the entry point.
fn set(rd: u32, value: u64, what: &str) -> Vec<Insn> {
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
fn patch_offset(bytes: &mut [u8], pc: u64, target: u64, lsb: u32, bits: u32) -> Result<(), String> {
    let delta = target.wrapping_sub(pc) as i64;
    if delta % 4 != 0 {
        return Err(format!("target {target:#x} is not 4-byte aligned"));
    }
    let words = delta / 4;
    let limit = 1i64 << (bits - 1);
    if !(-limit..limit).contains(&words) {
        return Err(format!(
            "target {target:#x} is {delta} bytes away, out of range (±{} bytes)",
            limit * 4
        ));
    }
    let mask = ((1u64 << bits) - 1) as u32;
    let word = u32::from_le_bytes(bytes[..4].try_into().unwrap());
    let word = word & !(mask << lsb) | ((words as u32) & mask) << lsb;
    bytes[..4].copy_from_slice(&word.to_le_bytes());
    Ok(())
}

/// `b`: 000101 imm26, the word offset from the branch itself (±128 MiB).
fn encode_b(bytes: &mut [u8], pc: u64, target: u64) -> Result<(), String> {
    patch_offset(bytes, pc, target, 0, 26)
}

/// `tbnz`: b5 011011 1 b40:5 imm14 Rt:5, the word offset from the branch (±32 KiB).
fn encode_tbnz(bytes: &mut [u8], pc: u64, target: u64) -> Result<(), String> {
    patch_offset(bytes, pc, target, 5, 14)
}

/// `cbnz` and `b.cond`: imm19 at bit 5, the word offset from the branch (±1 MiB).
fn encode_imm19(bytes: &mut [u8], pc: u64, target: u64) -> Result<(), String> {
    patch_offset(bytes, pc, target, 5, 19)
}

/// `adr`: 0 immlo:2 10000 immhi:19 Rd:5, the byte offset from the instruction (±1 MiB).
fn encode_adr(bytes: &mut [u8], pc: u64, target: u64) -> Result<(), String> {
    let delta = target.wrapping_sub(pc) as i64;
    if !(-(1 << 20)..1 << 20).contains(&delta) {
        return Err(format!(
            "target {target:#x} is {delta} bytes away, out of range (±1 MiB)"
        ));
    }
    let imm = delta as u32 & 0x1f_ffff;
    let word = u32::from_le_bytes(bytes[..4].try_into().unwrap());
    let word = word & !(0x6000_0000 | 0x00ff_ffe0) | (imm & 3) << 29 | (imm >> 2) << 5;
    bytes[..4].copy_from_slice(&word.to_le_bytes());
    Ok(())
}

/// `adr` to the response: `serve`'s data starts with the 8 bytes of [`sockaddr_in`].
fn encode_adr_response(bytes: &mut [u8], pc: u64, target: u64) -> Result<(), String> {
    encode_adr(bytes, pc, target + SOCKADDR_IN_HEAD as u64)
}

/// The bytes of `serve`'s data before the response.
const SOCKADDR_IN_HEAD: usize = 8;

/// What bind reads of a `struct sockaddr_in` for 0.0.0.0:port: sin_family (native endian),
/// sin_port (big endian), sin_addr = INADDR_ANY (zero); sin_zero is whatever follows.
fn sockaddr_in(port: u16) -> [u8; SOCKADDR_IN_HEAD] {
    let [f0, f1] = AF_INET.to_le_bytes();
    let [p0, p1] = port.to_be_bytes();
    [f0, f1, p0, p1, 0, 0, 0, 0]
}

impl Arm64 {
    fn lower_program(&self, program: &Program, _addressing: Addressing) -> Code {
        // Always PC-relative: `adr` reaches ±1 MiB around itself wherever the image loads.
        let mut insns = Vec::new();
        let mut data = Vec::new();
        match program {
            Program::Exit(code) => {
                insns.extend(set(X0, u64::from(*code), "status"));
                insns.push(a64(0xd280_0ba8, "mov x8, #93 ; SYS_exit"));
                insns.push(a64(0xd400_0001, "svc #0"));
            }
            Program::Hello(message) => {
                data.extend_from_slice(message);
                insns.push(a64(0xd280_0020, "mov x0, #1 ; fd 1 = stdout"));
                insns.push(a64(0x1000_0001, "adr x1, message").fixup(Fixup::Encode {
                    target: Target::Data,
                    encode: encode_adr,
                }));
                insns.extend(set(X2, message.len() as u64, "length"));
                insns.push(a64(0xd280_0808, "mov x8, #64 ; SYS_write"));
                insns.push(a64(0xd400_0001, "svc #0"));
                // x0 now holds what write returned (possibly a negative errno).
                insns.push(a64(0xd280_0000, "mov x0, #0 ; status 0"));
                insns.push(a64(0xd280_0ba8, "mov x8, #93 ; SYS_exit"));
                insns.push(a64(0xd400_0001, "svc #0"));
            }
            Program::Serve(serve) => {
                data.extend_from_slice(&sockaddr_in(serve.port));
                data.extend_from_slice(&serve.response);
                insns = self.serve(serve);
            }
            Program::Pause => {
                insns.extend([
                    // The stack, 32 bytes: act = {sa_handler, sa_flags, sa_restorer,
                    // sa_mask} (include/linux/signal_types.h; arm64 has SA_RESTORER), with
                    // the set stored in act.sa_restorer, which the kernel never uses without
                    // SA_RESTORER in sa_flags (and never for SIG_IGN).
                    a64(0xd280_0024, "mov x4, #1 ; SIG_IGN"),
                    a64(
                        0xa9be_7fe4,
                        "stp x4, xzr, [sp, #-32]! ; act.sa_handler = SIG_IGN, act.sa_flags = 0",
                    ),
                    // rt_sigaction(SIGCHLD, &act, NULL = x2, 8): children (and orphans
                    // handed to us as PID 1) are reaped by the kernel, zombies never stay.
                    a64(0x9100_03e1, "mov x1, sp ; &act"),
                    a64(0xd280_0220, "mov x0, #17 ; SIGCHLD"),
                    a64(0xd280_0103, "mov x3, #8 ; sigsetsize"),
                    a64(0xd280_10c8, "mov x8, #134 ; SYS_rt_sigaction"),
                    a64(0xd400_0001, "svc #0"),
                    // rt_sigprocmask(SIG_BLOCK = x0 = 0 (what rt_sigaction returned), &set,
                    // NULL = x2, 8): a blocked signal is never "ignored", so the kernel
                    // queues SIGTERM/SIGINT even for a PID-namespace init whose handler is
                    // SIG_DFL.
                    a64(0xd288_0044, "mov x4, #16386 ; set = {SIGINT, SIGTERM}"),
                    a64(
                        0xf801_0c24,
                        "str x4, [x1, #16]! ; act.sa_restorer = set, x1 = &set",
                    ),
                    a64(0xd280_10e8, "mov x8, #135 ; SYS_rt_sigprocmask"),
                    a64(0xd400_0001, "svc #0"),
                    // rt_sigtimedwait(&set, NULL, NULL = no timeout, 8), again if it fails
                    // (-EINTR after SIGSTOP and SIGCONT).
                    a64(0xd280_0001, "mov x1, #0 ; no siginfo"),
                    a64(0xd280_1128, "mov x8, #137 ; SYS_rt_sigtimedwait"),
                    a64(0x9100_43e0, "add x0, sp, #16 ; &set").label(WAIT),
                    a64(0xd400_0001, "svc #0"),
                    a64(0xb7f8_0000, "tbnz x0, #63, wait ; negative: an error").fixup(
                        Fixup::Encode {
                            target: Target::Label(WAIT),
                            encode: encode_tbnz,
                        },
                    ),
                    // A signal arrived (x0 = its number): exit(0).
                    a64(0xd280_0000, "mov x0, #0 ; status 0"),
                    a64(0xd280_0ba8, "mov x8, #93 ; SYS_exit"),
                    a64(0xd400_0001, "svc #0"),
                ]);
            }
        }
        Code { insns, data }
    }
}

super::programs_via_lower!(Arm64);

impl Isa for Arm64 {
    fn jump(&self, target: Target) -> Insn {
        a64(0x1400_0000, "b target").fixup(Fixup::Encode {
            target,
            encode: encode_b,
        })
    }

    fn nop(&self) -> Insn {
        a64(0xd503_201f, "nop")
    }

    fn align(&self) -> usize {
        4
    }
}

impl Arm64 {
    /// The `serve` listing (see [`crate::program::Serve`] for what it does). Registers: x9
    /// holds the listening socket, x10 the connection, x2 the response length (also how much
    /// one read discards), x3 the send/recv flags, x4 ends up 0 (no addresses) and x5 stays 0
    /// (the address length: qemu-user's sendto rejects a negative one even with no address);
    /// x8 is set before every `svc`, x0 after every one (each returns its result there).
    fn serve(&self, serve: &Serve) -> Vec<Insn> {
        // The clone loop shifts x4 (the optlen 16 of setsockopt) left by 10 each time: zero
        // after exactly log2(WORKERS) shifts (every thread clones again: 2^rounds threads),
        // and then x4 is the NULL that recvfrom and sendto want.
        const fn rounds(mut x4: u64) -> u32 {
            let mut n = 0;
            while x4 != 0 {
                x4 <<= 10;
                n += 1;
            }
            n
        }
        const _: () = assert!(1 << rounds(TIMEVAL_SIZE as u64) == Serve::WORKERS);
        // The SIGCHLD action's handler word is also the timeout's seconds and the int 1.
        const _: () = assert!(Serve::TIMEOUT_SECS == SIG_IGN as u32);
        // bind's address length.
        const _: () = assert!(SOCKADDR_IN_SIZE <= SO_RCVTIMEO && SO_RCVTIMEO <= 128);
        let mut v = vec![
            // rt_sigaction(SIGINT, then SIGTERM, &act, NULL = x2, 8), act = {sa_handler =
            // exit, sa_flags = 0, sa_restorer, sa_mask}: the last two are what the stack
            // held (argc and argv[0]): no SA_RESTORER flag, and a mask only matters while
            // the handler runs, which exits at once. arm64 needs no SA_RESTORER: the kernel
            // returns through the vdso's sigreturn trampoline.
            a64(0x1000_0004, "adr x4, exit").fixup(Fixup::Encode {
                target: Target::Label(EXIT),
                encode: encode_adr,
            }),
            a64(
                0xa9bf_7fe4,
                "stp x4, xzr, [sp, #-16]! ; act.sa_handler = exit, act.sa_flags = 0",
            ),
            a64(0x9100_03e1, "mov x1, sp ; &act"),
            a64(0xd280_0103, "mov x3, #8 ; sigsetsize"),
            a64(0xd280_0040, "mov x0, #2 ; SIGINT"),
            a64(0xd280_10c8, "mov x8, #134 ; SYS_rt_sigaction"),
            a64(0xd400_0001, "svc #0"),
            a64(0xd280_01e0, "mov x0, #15 ; SIGTERM"),
            a64(0xd400_0001, "svc #0"),
            // rt_sigaction(SIGCHLD, &{SIG_IGN, flags 0}, NULL, 8): the kernel reaps children.
            // The same 16 bytes are later the timeval {1 s, 0} and the int 1 of setsockopt.
            a64(0xd280_0024, "mov x4, #1 ; SIG_IGN, tv_sec = 1, int 1"),
            a64(0xf900_03e4, "str x4, [sp] ; act.sa_handler"),
            a64(0xd280_0220, "mov x0, #17 ; SIGCHLD"),
            a64(0xd400_0001, "svc #0"),
            // socket(AF_INET, SOCK_STREAM, 0)
            a64(0xd280_0040, "mov x0, #2 ; AF_INET"),
            a64(0xd280_0021, "mov x1, #1 ; SOCK_STREAM (= SOL_SOCKET next)"),
            a64(0xd280_18c8, "mov x8, #198 ; SYS_socket"),
            a64(0xd400_0001, "svc #0"),
            a64(0xaa00_03e9, "mov x9, x0 ; x9 = the socket"),
            // setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &1, 16), then SO_RCVTIMEO, &{1 s, 0}
            // (qemu-user wants optlen to be exactly sizeof(struct timeval) for that one).
            a64(0xd280_0042, "mov x2, #2 ; SO_REUSEADDR"),
            a64(0x9100_03e3, "mov x3, sp ; &{1, 0}"),
            a64(0xd280_0204, "mov x4, #16 ; optlen"),
            a64(0xd280_1a08, "mov x8, #208 ; SYS_setsockopt"),
            a64(0xd400_0001, "svc #0"),
            a64(0xaa09_03e0, "mov x0, x9"),
            a64(0xd280_0282, "mov x2, #20 ; SO_RCVTIMEO"),
            a64(0xd400_0001, "svc #0"),
            // bind(fd, &sockaddr_in, 20); on failure exit(errno). The sockaddr_in is the
            // data's first 8 bytes (sin_zero: the response that follows); the length is
            // SO_RCVTIMEO's 20, which bind takes as well as 16 (it wants at least
            // sizeof(struct sockaddr_in) and at most sizeof(struct sockaddr_storage)).
            a64(0xaa09_03e0, "mov x0, x9"),
            a64(0x1000_0001, "adr x1, response - 8 ; &sockaddr_in").fixup(Fixup::Encode {
                target: Target::Data,
                encode: encode_adr,
            }),
            a64(0xd280_1908, "mov x8, #200 ; SYS_bind"),
            a64(0xd400_0001, "svc #0"),
            a64(0xb500_0000, "cbnz x0, exit ; with the errno").fixup(Fixup::Encode {
                target: Target::Label(EXIT),
                encode: encode_imm19,
            }),
            // listen(fd, x1): an address in the image (above 64 KiB), far above somaxconn,
            // which caps it.
            a64(0xaa09_03e0, "mov x0, x9"),
            a64(0xd280_1928, "mov x8, #201 ; SYS_listen, backlog = x1"),
            a64(0xd400_0001, "svc #0"),
            // clone(thread flags, no new stack) six times, every thread cloning again: 64
            // threads. The workers use no memory, so they can share the stack pointer.
            a64(
                0xd280_0001,
                "mov x1, #0 ; same stack (and accept's NULL address)",
            ),
            a64(0xd280_1b88, "mov x8, #220 ; SYS_clone"),
            a64(0xd281_e000, "mov x0, #3840").label(SPAWN),
            a64(
                0xf2a0_00a0,
                "movk x0, #5, lsl #16 ; CLONE_VM|FS|FILES|SIGHAND|THREAD|SYSVSEM",
            ),
            a64(0xd400_0001, "svc #0"),
            a64(0xd376_d484, "lsl x4, x4, #10 ; 16 << 60 = 0"),
            a64(0xb500_0004, "cbnz x4, spawn").fixup(Fixup::Encode {
                target: Target::Label(SPAWN),
                encode: encode_imm19,
            }),
            // Every thread: x3 = MSG_NOSIGNAL | MSG_TRUNC (send: EPIPE instead of SIGPIPE;
            // recv: discard), x2 = the response length.
            a64(0xd288_0403, "mov x3, #16416 ; MSG_NOSIGNAL | MSG_TRUNC"),
        ];
        v.extend(set(X2, serve.response.len() as u64, "length"));
        v.extend([
            // accept(fd, NULL, x2); an error (the timeout) flows on as a bad descriptor.
            a64(0xaa09_03e0, "mov x0, x9").label(ACCEPT),
            a64(0xd280_1948, "mov x8, #202 ; SYS_accept"),
            a64(0xd400_0001, "svc #0"),
            a64(0xaa00_03ea, "mov x10, x0 ; x10 = the connection"),
            // recvfrom(conn, NULL, len, MSG_TRUNC, NULL, 0): waits for bytes, discards them.
            a64(0xaa0a_03e0, "mov x0, x10").label(READ),
            a64(0xd280_0001, "mov x1, #0 ; no buffer"),
            a64(0xd280_19e8, "mov x8, #207 ; SYS_recvfrom"),
            a64(0xd400_0001, "svc #0"),
            a64(0xf100_001f, "cmp x0, #0"),
            a64(0xaa0a_03e0, "mov x0, x10"),
            a64(0x5400_000d, "b.le close ; end of file, error or timeout")
                .fixup(Fixup::Encode {
                    target: Target::Label(CLOSE),
                    encode: encode_imm19,
                })
                .reads_flags(),
            // sendto(conn, response, len, MSG_NOSIGNAL, NULL, 0): after the first time the
            // socket is shut for sending, so later ones fail with EPIPE and send nothing.
            a64(0x1000_0001, "adr x1, response").fixup(Fixup::Encode {
                target: Target::Data,
                encode: encode_adr_response,
            }),
            a64(0xd280_19c8, "mov x8, #206 ; SYS_sendto"),
            a64(0xd400_0001, "svc #0"),
            // shutdown(conn, SHUT_WR): the client reads end of file after the response.
            a64(0xaa0a_03e0, "mov x0, x10"),
            a64(0xd280_0021, "mov x1, #1 ; SHUT_WR"),
            a64(0xd280_1a48, "mov x8, #210 ; SYS_shutdown"),
            a64(0xd400_0001, "svc #0"),
            a64(0x1400_0000, "b read ; until the client closes").fixup(Fixup::Encode {
                target: Target::Label(READ),
                encode: encode_b,
            }),
            // close(conn)
            a64(0xd280_0728, "mov x8, #57 ; SYS_close").label(CLOSE),
            a64(0xd400_0001, "svc #0"),
            a64(0x1400_0000, "b accept").fixup(Fixup::Encode {
                target: Target::Label(ACCEPT),
                encode: encode_b,
            }),
            // exit_group(errno) after a failed bind (x0 = -errno), or exit_group(0) as the
            // SIGINT/SIGTERM handler (entered with x0 = the signal, positive).
            a64(
                0x8a80_fc00,
                "and x0, x0, x0, asr #63 ; a negative errno stays, a signal becomes 0",
            )
            .label(EXIT),
            a64(0xcb00_03e0, "neg x0, x0 ; status"),
            a64(0xd280_0bc8, "mov x8, #94 ; SYS_exit_group"),
            a64(0xd400_0001, "svc #0"),
        ]);
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let mut r = 0x1000_0001u32.to_le_bytes();
        encode_adr_response(&mut r, 0x10000, 0x10000).unwrap();
        assert_eq!(u32::from_le_bytes(r), 0x1000_0041);
    }

    #[test]
    fn sockaddr_in_is_family_then_big_endian_port() {
        assert_eq!(sockaddr_in(8080), [2, 0, 0x1f, 0x90, 0, 0, 0, 0]);
    }
}
