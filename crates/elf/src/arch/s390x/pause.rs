//! `pause` on s390x: block SIGINT and SIGTERM, ignore SIGCHLD, wait for one of the two.

use super::*;
use crate::arch::signal::{SIGCHLD, SIGSET_SIZE, SIG_IGN, STOP_SIGNALS};

/// The label of the rt_sigtimedwait loop.
const WAIT: u8 = 0;

pub(super) fn pause() -> Code {
    let [s0, s1] = STOP_SIGNALS.to_be_bytes();
    let insns = vec![
        // The three doublewords at r15 (argc, argv[0], argv[1]: the process's own
        // initial stack, never read here) become set = {SIGINT, SIGTERM} at 0 and
        // act = {sa_handler = SIG_IGN, sa_flags = 0} at 8. Nothing is stored below
        // r15: s390x has no red zone (signal frames go right below it).
        Insn::new(
            &[0xa7, 0x29, s0, s1],
            "lghi %r2, 0x4002 ; set = {SIGINT, SIGTERM}",
        ),
        lghi(3, SIG_IGN.into(), "act.sa_handler = SIG_IGN"),
        lghi(4, 0, "act.sa_flags = 0; NULL"),
        lghi(5, SIGSET_SIZE.into(), "sigsetsize"),
        Insn::new(
            &[0xeb, 0x24, 0xf0, 0x00, 0x00, 0x24],
            "stmg %r2, %r4, 0(%r15) ; set at 0(%r15), act at 8(%r15)",
        ),
        // rt_sigprocmask(SIG_BLOCK, &set, NULL, 8): a blocked signal is never
        // "ignored", so the kernel queues SIGTERM/SIGINT even for a PID-namespace
        // init whose handler is SIG_DFL.
        la_sp(3, 0, "&set"),
        Insn::new(&[0x17, 0x22], "xr %r2, %r2 ; SIG_BLOCK"),
        svc(SYS_RT_SIGPROCMASK, "SYS_rt_sigprocmask"),
        // rt_sigaction(SIGCHLD, &act, NULL, 8): children (and orphans handed to us
        // as PID 1) are reaped by the kernel, zombies never stay.
        la_sp(3, 8 + SA_HANDLER, "&act"),
        lghi(2, SIGCHLD.into(), "SIGCHLD"),
        svc(SYS_RT_SIGACTION, "SYS_rt_sigaction"),
        // rt_sigtimedwait(&set, NULL, NULL = no timeout, 8), again if interrupted.
        Insn::new(&[0xb9, 0x04, 0x00, 0x34], "lgr %r3, %r4 ; no siginfo"),
        la_sp(2, 0, "&set").label(WAIT),
        svc(SYS_RT_SIGTIMEDWAIT, "SYS_rt_sigtimedwait"),
        Insn::new(&[0x12, 0x22], "ltr %r2, %r2"),
        Insn::new(
            &[0xa7, 0x44, 0, 0],
            "jl wait ; -EINTR (stopped and continued)",
        )
        .fixup(Fixup::Encode {
            target: Target::Label(WAIT),
            encode: encode_ri16,
        })
        .reads_flags(),
        // A signal arrived: exit(0). r2 = its number.
        Insn::new(&[0x17, 0x22], "xr %r2, %r2 ; status 0"),
        svc(SYS_EXIT, "SYS_exit"),
    ];
    Code {
        insns,
        data: Vec::new(),
    }
}
