//! `pause` on IA-32: block SIGINT and SIGTERM, ignore SIGCHLD, wait for one of the two.

use super::*;
use crate::arch::signal::{SIGCHLD, SIGSET_SIZE, SIG_IGN, STOP_SIGNALS};

/// The label of the rt_sigtimedwait loop.
const WAIT: u8 = 0;

pub(super) fn pause() -> Code {
    let [s0, s1, s2, s3] = u32::from(STOP_SIGNALS).to_le_bytes();
    let insns = vec![
        // rt_sigprocmask(SIG_BLOCK = ebx = 0, &set, NULL = edx, 8): a blocked
        // signal is never "ignored", so a PID-namespace init still receives it.
        Insn::new(&[0x50], "push eax ; set[1] = 0"),
        Insn::new(
            &[0x68, s0, s1, s2, s3],
            "push 0x4002 ; set[0] = {SIGINT, SIGTERM}",
        ),
        Insn::new(&[0x89, 0xe1], "mov ecx, esp ; ecx = &set"),
        Insn::new(&[0x6a, SIGSET_SIZE], "push 8"),
        Insn::new(&[0x5e], "pop esi ; sigsetsize"),
        Insn::new(
            &[0xb0, SYS_RT_SIGPROCMASK],
            "mov al, 175 ; SYS_rt_sigprocmask",
        ),
        Insn::new(&[0xcd, 0x80], "int 0x80"),
        // rt_sigaction(SIGCHLD, &{SIG_IGN, flags 0}, NULL, 8): the kernel reaps
        // our children and the orphans handed to us as PID 1.
        Insn::new(&[0x50], "push eax ; act.sa_flags = 0"),
        Insn::new(&[0x6a, SIG_IGN], "push 1 ; act.sa_handler = SIG_IGN"),
        Insn::new(&[0x89, 0xe1], "mov ecx, esp ; ecx = &act"),
        Insn::new(&[0xb3, SIGCHLD], "mov bl, 17 ; SIGCHLD"),
        Insn::new(&[0xb0, SYS_RT_SIGACTION], "mov al, 174 ; SYS_rt_sigaction"),
        Insn::new(&[0xcd, 0x80], "int 0x80"),
        // rt_sigtimedwait(&set, NULL, NULL = no timeout, 8), again if interrupted.
        Insn::new(&[0x8d, 0x59, 0x08], "lea ebx, [ecx + 8] ; ebx = &set"),
        Insn::new(&[0x31, 0xc9], "xor ecx, ecx ; no siginfo"),
        Insn::new(&[0x31, 0xc0], "xor eax, eax").label(WAIT),
        Insn::new(
            &[0xb0, SYS_RT_SIGTIMEDWAIT],
            "mov al, 177 ; SYS_rt_sigtimedwait",
        ),
        Insn::new(&[0xcd, 0x80], "int 0x80"),
        Insn::new(&[0x85, 0xc0], "test eax, eax"),
        Insn::new(&[0x78, 0x00], "js wait ; -EINTR (stopped and continued)")
            .fixup(Fixup::Rel8 {
                at: 1,
                target: Target::Label(WAIT),
            })
            .reads_flags(),
        // A signal arrived: exit(0). eax = its number, small and positive.
        Insn::new(&[0x31, 0xdb], "xor ebx, ebx ; status 0"),
        Insn::new(&[0xb0, SYS_EXIT], "mov al, 1 ; SYS_exit"),
        Insn::new(&[0xcd, 0x80], "int 0x80"),
    ];
    Code {
        insns,
        data: Vec::new(),
    }
}
