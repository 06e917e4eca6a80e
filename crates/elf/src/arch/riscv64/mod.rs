//! RISC-V 64 (linux/riscv64, RV64GC): `ecall` with the number in a7, arguments in a0..a5,
//! the result in a0 (every other register survives the call).
//!
//! Every Linux riscv64 system is RV64GC, so the code uses the C extension: most of it is
//! 16-bit compressed instructions (`c.li`, `c.addi`, `c.j`, ...), the rest 32-bit; both are
//! stored little-endian, as 16-bit parcels, at even addresses ([`Isa::align`] is 2).
//!
//! Registers at the ELF entry point: only sp is relied on. Linux's `start_thread`
//! (arch/riscv/kernel/process.c) sets `regs->epc = pc; regs->sp = sp;` and nothing else,
//! and arch/riscv/include/asm/elf.h defines no `ELF_PLAT_INIT`, so the other registers keep
//! whatever the caller of execve had in them (a0 is execve's own return value). qemu-user
//! zeroes its `target_pt_regs` (linux-user/main.c) but `init_thread` for riscv
//! (linux-user/elfload.c) sets only `regs->sepc = infop->entry; regs->sp =
//! infop->start_stack;` too. So every register the code reads it sets first; `zero` (x0)
//! is zero by the ISA.
//!
//! qemu-user reads e_flags: with EF_RISCV_RVE (0x8) set it takes the syscall number from t0
//! instead of a7 (linux-user/riscv/cpu_loop.c), so that bit must stay clear; the header
//! field cannot be a free hole for code or data on this platform.
//!
//! The message is addressed PC-relatively, in four instructions that each stand alone
//! (see [`encode::message_address`]), because the planner may put a jump between any two of
//! them.
//!
//! The listings: [`exit`], [`hello`], [`pause`], [`serve`], [`quine`], one file each; the instructions
//! (and the address sequences built of them) and the patches of their PC-relative operands
//! are in [`encode`].

mod encode;
mod exit;
mod hello;
mod pause;
mod quine;
mod serve;

use super::{net, signal, Addressing, Code, Fixup, Insn, Isa, Target};
use crate::program::Serve;
use encode::*;

/// include/uapi/asm-generic/unistd.h (riscv64 uses the generic table).
pub const SYS_WRITE: i32 = 64;
pub const SYS_EXIT: i32 = 93;
pub const SYS_RT_SIGACTION: i32 = 134;
pub const SYS_RT_SIGPROCMASK: i32 = 135;
pub const SYS_RT_SIGTIMEDWAIT: i32 = 137;
pub const SYS_CLOSE: i32 = 57;
pub const SYS_EXIT_GROUP: i32 = 94;
pub const SYS_SOCKET: i32 = 198;
pub const SYS_BIND: i32 = 200;
pub const SYS_LISTEN: i32 = 201;
pub const SYS_ACCEPT: i32 = 202;
pub const SYS_SENDTO: i32 = 206;
pub const SYS_RECVFROM: i32 = 207;
pub const SYS_SETSOCKOPT: i32 = 208;
pub const SYS_SHUTDOWN: i32 = 210;
pub const SYS_CLONE: i32 = 220;

// The signal constants (super::signal) in the type of this file's encoders.
const SIGCHLD: i32 = signal::SIGCHLD as i32;
const STOP_SIGNALS: i32 = signal::STOP_SIGNALS as i32;
const SIG_IGN: i32 = signal::SIG_IGN as i32;
const SIGSET_SIZE: i32 = signal::SIGSET_SIZE as i32;
const SIG_BLOCK: i32 = signal::SIG_BLOCK as i32;
const SIGINT: i32 = signal::SIGINT as i32;
const SIGTERM: i32 = signal::SIGTERM as i32;

// The socket constants (super::net) likewise.
const AF_INET: i32 = net::AF_INET as i32;
const SOCK_STREAM: i32 = net::SOCK_STREAM as i32;
const SO_REUSEADDR: i32 = net::SO_REUSEADDR as i32;
const SO_RCVTIMEO: i32 = net::SO_RCVTIMEO as i32;
const SOCKADDR_IN_SIZE: i32 = net::SOCKADDR_IN_SIZE as i32;
const SHUT_WR: i32 = net::SHUT_WR as i32;
const RECV_SEND_FLAGS: i32 = (net::MSG_NOSIGNAL | net::MSG_TRUNC) as i32;
const CLONE_THREAD_FLAGS: i32 = net::CLONE_THREAD_FLAGS as i32;
/// `sizeof(struct timeval)` on a 64-bit platform: SO_RCVTIMEO's optlen.
const TIMEVAL_SIZE: i32 = 16;

pub struct Riscv64;

// Register numbers (x0..x31) under their ABI names.
const ZERO: u32 = 0;
const SP: u32 = 2;
const A0: u32 = 10;
const A1: u32 = 11;
const A2: u32 = 12;
const A3: u32 = 13;
const A4: u32 = 14;
const A5: u32 = 15;
const A6: u32 = 16;
const A7: u32 = 17;
const S0: u32 = 8;
const S1: u32 = 9;

programs!(Riscv64);

impl Isa for Riscv64 {
    /// `c.j target` (CJ, funct3 101, op 01), ±2 KiB; the offset is filled in by
    /// `encode_c_j`.
    fn jump(&self, target: Target) -> Insn {
        Insn::new(&[0x01, 0xa0], "c.j target").fixup(Fixup::Encode {
            target,
            encode: encode_c_j,
        })
    }

    /// `c.nop` (`c.addi zero, 0`).
    fn nop(&self) -> Insn {
        Insn::new(&[0x01, 0x00], "c.nop")
    }

    /// The C extension's 16-bit instructions: 2-byte alignment.
    fn align(&self) -> usize {
        2
    }
}
