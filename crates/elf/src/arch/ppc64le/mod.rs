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

// The signal constants (super::signal) in the type of this file's encoders.
const SIGCHLD: u32 = signal::SIGCHLD as u32;
const STOP_SIGNALS: u32 = signal::STOP_SIGNALS as u32;
const SIG_IGN: u32 = signal::SIG_IGN as u32;
const SIGSET_SIZE: u32 = signal::SIGSET_SIZE as u32;
const SIG_BLOCK: u32 = signal::SIG_BLOCK as u32;
const SIGINT: u32 = signal::SIGINT as u32;
const SIGTERM: u32 = signal::SIGTERM as u32;

pub struct Ppc64le;

programs!(Ppc64le);

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
