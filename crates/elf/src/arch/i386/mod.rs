//! IA-32 (linux/386): `int 0x80` with the number in eax, arguments in ebx, ecx, edx, esi,
//! edi, ebp; every register but eax survives the call.
//!
//! Linux clears eax..edi and ebp at the ELF entry point (`ELF_PLAT_INIT` for i386, and
//! `elf_common_init` for a 32-bit process on a 64-bit kernel); qemu-user starts from zeroed
//! registers too.
//!
//! The listings: [`exit`], [`hello`], [`pause`], [`serve`], [`quine`], one file each; the jump, skip and
//! nop the planner links them with are x86-64's too ([`super::x86`]).

mod exit;
mod hello;
mod pause;
pub(crate) mod quine;
mod serve;

use super::{x86, Addressing, Code, Fixup, Insn, Isa, Target};
use crate::program::Serve;

/// arch/x86/entry/syscalls/syscall_32.tbl
pub const SYS_EXIT: u8 = 1;
pub const SYS_WRITE: u8 = 4;
pub const SYS_RT_SIGACTION: u8 = 174;
pub const SYS_RT_SIGPROCMASK: u8 = 175;
pub const SYS_RT_SIGTIMEDWAIT: u8 = 177;
pub const SYS_CLOSE: u8 = 6;
pub const SYS_CLONE: u8 = 120;
pub const SYS_EXIT_GROUP: u16 = 252;
// The socket calls of their own (Linux 4.3 and later; before, only socketcall).
pub const SYS_SOCKET: u16 = 359;
pub const SYS_BIND: u16 = 361;
pub const SYS_LISTEN: u16 = 363;
/// There is no plain accept: accept4 with flags 0 is the same call.
pub const SYS_ACCEPT4: u16 = 364;
pub const SYS_SETSOCKOPT: u16 = 366;
pub const SYS_SENDTO: u16 = 369;
pub const SYS_RECVFROM: u16 = 371;
pub const SYS_SHUTDOWN: u16 = 373;

pub struct I386;

programs!(I386);

impl Isa for I386 {
    fn jump(&self, target: Target) -> Insn {
        x86::jump(target)
    }

    fn skip(&self, fixed: usize) -> Option<Insn> {
        x86::skip(fixed)
    }

    fn nop(&self) -> Insn {
        x86::nop()
    }
}
