//! z/Architecture (linux/s390x): `svc N` with the syscall number in the instruction (N < 256),
//! arguments in r2..r6, the result in r2; every other register survives the call.
//!
//! Instructions are 2, 4 or 6 bytes, big-endian, at even addresses. The listing uses
//! capstone's syntax (`%rN`, `D(X,B)` operands). PC-relative operands (`larl`, `j`, `jl`)
//! count halfwords from the instruction's own address, so data addressed with `larl` must
//! start at an even address.
//!
//! Registers at entry: only r15 (the stack pointer, pointing at argc) is relied on.
//! - Linux: `start_thread` (arch/s390/include/asm/processor.h) sets
//!   `regs->gprs[15] = new_stackp` and `ELF_PLAT_INIT` (arch/s390/include/asm/elf.h) sets
//!   `_r->gprs[14] = 0`; every other general register keeps what the caller of execve had.
//! - qemu-user: `init_thread` (linux-user/elfload.c, TARGET_S390X) sets
//!   `regs->gprs[15] = infop->start_stack` on a zeroed register file.
//!
//! r14 = 0 is guaranteed by both too; only `serve` relies on it (it stores r14 as a zero).
//! Every other register the code reads it sets first, with the full 64 bits wherever the
//! kernel reads a pointer or a `size_t` (`lghi`, `la`, `larl`, `llilf`, `bras` all write
//! the whole register; `lhi`, `lr`, `xr` write only the low word, so `serve` uses them on a
//! pointer only where it knows the high word is 0).
//! Arguments of C type `int` (fd, how, signal number, exit status) are truncated to 32 bits
//! by the kernel's syscall wrappers, so the 2-byte 32-bit `xr` is enough to zero them.
//!
//! The listings: [`exit`], [`hello`], [`pause`], [`serve`], [`quine`], one file each; the instructions
//! and the patches of their PC-relative operands are in [`encode`].

mod encode;
mod exit;
mod hello;
mod pause;
mod quine;
mod serve;

use super::{net, Addressing, Code, Fixup, Insn, Isa, Target};
use crate::program::Serve;
use encode::*;

/// arch/s390/kernel/syscalls/syscall.tbl (`svc N` carries the number).
pub const SYS_EXIT: u8 = 1;
pub const SYS_WRITE: u8 = 4;
pub const SYS_RT_SIGACTION: u8 = 174;
pub const SYS_RT_SIGPROCMASK: u8 = 175;
pub const SYS_RT_SIGTIMEDWAIT: u8 = 177;
pub const SYS_CLOSE: u8 = 6;
pub const SYS_CLONE: u8 = 120;
pub const SYS_EXIT_GROUP: u8 = 248;
// The socket calls (Linux 4.3 and later) are above 255: `svc 0` with the number in r1.
// s390x has no plain accept, only accept4.
pub const SYS_SOCKET: u16 = 359;
pub const SYS_BIND: u16 = 361;
pub const SYS_LISTEN: u16 = 363;
pub const SYS_ACCEPT4: u16 = 364;
pub const SYS_SETSOCKOPT: u16 = 366;
pub const SYS_SENDTO: u16 = 369;
pub const SYS_RECVFROM: u16 = 371;
pub const SYS_SHUTDOWN: u16 = 373;

/// `struct sigaction` as rt_sigaction reads it on s390x (include/linux/signal_types.h with
/// `__ARCH_HAS_SA_RESTORER`; qemu's `target_sigaction` for TARGET_S390X agrees):
/// sa_handler at 0, sa_flags at 8, sa_restorer at 16, sa_mask at 24, all 8 bytes.
const SA_HANDLER: u8 = 0;
const SA_FLAGS: u8 = 8;
// `stmg` stores act's two words from consecutive registers (r3, r4).
const _: () = assert!(SA_FLAGS == SA_HANDLER + 8);

pub struct S390x;

programs!(S390x);

impl Isa for S390x {
    /// `j` (BRC 15, A7 F4 ri2): ±64 KiB.
    fn jump(&self, target: Target) -> Insn {
        Insn::new(&[0xa7, 0xf4, 0, 0], "j target").fixup(Fixup::Encode {
            target,
            encode: encode_ri16,
        })
    }

    /// `bcr 0, %r0` (07 00), the assemblers' `nopr`.
    fn data_align(&self) -> usize {
        2
    }

    fn nop(&self) -> Insn {
        Insn::new(&[0x07, 0x00], "bcr 0, %r0 ; nop")
    }

    fn align(&self) -> usize {
        2
    }
}
