//! x86-64 (linux/amd64): `syscall` with the number in rax, arguments in rdi, rsi, rdx, r10.
//!
//! At the ELF entry point Linux clears every general register but rsp
//! (`ELF_PLAT_INIT` → `elf_common_init` in arch/x86), and qemu-user starts from zeroed
//! registers too, so the code only sets the bytes it needs (`mov al, 1` rather than
//! `mov eax, 1`).
//!
//! The listings: [`exit`], [`hello`], [`pause`], [`serve`], [`quine`], one file each; the jump, skip and
//! nop the planner links them with are IA-32's too ([`super::x86`]).

mod exit;
mod hello;
mod pause;
pub(crate) mod quine;
mod serve;

use super::{x86, Addressing, Code, Insn, Isa, Target};
use crate::program::Serve;

/// arch/x86/entry/syscalls/syscall_64.tbl
pub const SYS_WRITE: u8 = 1;
pub const SYS_RT_SIGACTION: u8 = 13;
pub const SYS_RT_SIGPROCMASK: u8 = 14;
pub const SYS_EXIT: u8 = 60;
pub const SYS_RT_SIGTIMEDWAIT: u8 = 128;
pub const SYS_CLOSE: u8 = 3;
pub const SYS_CLONE: u8 = 56;
pub const SYS_SOCKET: u8 = 41;
pub const SYS_ACCEPT: u8 = 43;
pub const SYS_SENDTO: u8 = 44;
pub const SYS_RECVFROM: u8 = 45;
pub const SYS_SHUTDOWN: u8 = 48;
pub const SYS_BIND: u8 = 49;
pub const SYS_LISTEN: u8 = 50;
pub const SYS_SETSOCKOPT: u8 = 54;
pub const SYS_EXIT_GROUP: u8 = 231;

pub struct Amd64;

programs!(Amd64);

impl Isa for Amd64 {
    fn jump(&self, target: Target) -> Insn {
        x86::jump(target)
    }

    fn skip(&self, fixed: usize) -> Option<Insn> {
        x86::skip(fixed)
    }

    fn nop(&self) -> Insn {
        x86::nop()
    }

    fn tolerates_prefix(&self, insn: &Insn, prefix: &[u8]) -> bool {
        x86::tolerates_rex_prefix(insn, prefix)
    }
}
