//! `pause` on ppc64le: block SIGINT and SIGTERM, ignore SIGCHLD, wait for one of the two.

use super::*;

/// The label of the rt_sigtimedwait loop.
const WAIT: u8 = 0;

pub(super) fn pause() -> Code {
    let insns = vec![
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
    ];
    Code {
        insns,
        data: Vec::new(),
    }
}
