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
//!
//! The listings: [`exit`], [`hello`], [`pause`], [`serve`], [`quine`], one file each; the instruction
//! words and the patches of their PC-relative operands are in [`encode`].

mod encode;
mod exit;
mod hello;
mod pause;
mod quine;
mod serve;

use super::{net, signal, Addressing, Code, Fixup, Insn, Isa, Target};
use crate::program::Serve;
use encode::*;

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

/// Registers by number (31 is xzr or sp, depending on the instruction).
const X0: u32 = 0;
const X2: u32 = 2;

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

programs!(Arm64);

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
