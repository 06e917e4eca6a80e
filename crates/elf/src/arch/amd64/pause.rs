//! `pause` on x86-64: block SIGINT and SIGTERM, ignore SIGCHLD, wait for one of the two.

use super::{SYS_EXIT, SYS_RT_SIGACTION, SYS_RT_SIGPROCMASK, SYS_RT_SIGTIMEDWAIT};
use crate::arch::signal::{SIGCHLD, SIGSET_SIZE, SIG_IGN, STOP_SIGNALS};
use crate::arch::{Code, Fixup, Insn, Target};

/// The label of the rt_sigtimedwait loop.
const WAIT: u8 = 0;

pub(super) fn pause() -> Code {
    let [s0, s1, s2, s3] = u32::from(STOP_SIGNALS).to_le_bytes();
    let insns = vec![
        // rt_sigprocmask(SIG_BLOCK = rdi = 0, &set, NULL = rdx, 8): a blocked
        // signal is never "ignored", so the kernel queues SIGTERM/SIGINT even for a
        // PID-namespace init whose handler is SIG_DFL.
        Insn::new(
            &[0x68, s0, s1, s2, s3],
            "push 0x4002 ; set = {SIGINT, SIGTERM}",
        ),
        Insn::new(&[0x54], "push rsp"),
        Insn::new(&[0x5e], "pop rsi ; rsi = &set"),
        Insn::new(&[0x41, 0xb2, SIGSET_SIZE], "mov r10b, 8 ; sigsetsize"),
        Insn::new(
            &[0xb0, SYS_RT_SIGPROCMASK],
            "mov al, 14 ; SYS_rt_sigprocmask",
        ),
        Insn::new(&[0x0f, 0x05], "syscall"),
        // rt_sigaction(SIGCHLD, &{SIG_IGN, flags 0}, NULL, 8): children (and
        // orphans handed to us as PID 1) are reaped by the kernel, zombies never stay.
        Insn::new(&[0x50], "push rax ; act.sa_flags = 0"),
        Insn::new(&[0x6a, SIG_IGN], "push 1 ; act.sa_handler = SIG_IGN"),
        Insn::new(&[0x54], "push rsp"),
        Insn::new(&[0x5e], "pop rsi ; rsi = &act"),
        Insn::new(&[0x40, 0xb7, SIGCHLD], "mov dil, 17 ; SIGCHLD"),
        Insn::new(&[0xb0, SYS_RT_SIGACTION], "mov al, 13 ; SYS_rt_sigaction"),
        Insn::new(&[0x0f, 0x05], "syscall"),
        // rt_sigtimedwait(&set, NULL, NULL = no timeout, 8), again if interrupted.
        Insn::new(
            &[0x48, 0x8d, 0x7e, 0x10],
            "lea rdi, [rsi + 16] ; rdi = &set",
        ),
        Insn::new(&[0x31, 0xf6], "xor esi, esi ; no siginfo"),
        Insn::new(&[0x31, 0xc0], "xor eax, eax").label(WAIT),
        Insn::new(
            &[0xb0, SYS_RT_SIGTIMEDWAIT],
            "mov al, 128 ; SYS_rt_sigtimedwait",
        ),
        Insn::new(&[0x0f, 0x05], "syscall"),
        Insn::new(&[0x85, 0xc0], "test eax, eax"),
        Insn::new(&[0x78, 0x00], "js wait ; -EINTR (stopped and continued)")
            .fixup(Fixup::Rel8 {
                at: 1,
                target: Target::Label(WAIT),
            })
            .reads_flags(),
        // A signal arrived: exit(0). rax = its number, small and positive.
        Insn::new(&[0xb0, SYS_EXIT], "mov al, 60 ; SYS_exit"),
        Insn::new(&[0x31, 0xff], "xor edi, edi ; status 0"),
        Insn::new(&[0x0f, 0x05], "syscall"),
    ];
    Code {
        insns,
        data: Vec::new(),
    }
}
