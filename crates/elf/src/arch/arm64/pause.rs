//! `pause` on AArch64: ignore SIGCHLD, block SIGINT and SIGTERM, wait for one of the two.

use super::*;

/// The label of the rt_sigtimedwait loop.
const WAIT: u8 = 0;

pub(super) fn pause() -> Code {
    let insns = vec![
        // The stack, 32 bytes: act = {sa_handler, sa_flags, sa_restorer,
        // sa_mask} (include/linux/signal_types.h; arm64 has SA_RESTORER), with
        // the set stored in act.sa_restorer, which the kernel never uses without
        // SA_RESTORER in sa_flags (and never for SIG_IGN).
        a64(0xd280_0024, "mov x4, #1 ; SIG_IGN"),
        a64(
            0xa9be_7fe4,
            "stp x4, xzr, [sp, #-32]! ; act.sa_handler = SIG_IGN, act.sa_flags = 0",
        ),
        // rt_sigaction(SIGCHLD, &act, NULL = x2, 8): children (and orphans
        // handed to us as PID 1) are reaped by the kernel, zombies never stay.
        a64(0x9100_03e1, "mov x1, sp ; &act"),
        a64(0xd280_0220, "mov x0, #17 ; SIGCHLD"),
        a64(0xd280_0103, "mov x3, #8 ; sigsetsize"),
        a64(0xd280_10c8, "mov x8, #134 ; SYS_rt_sigaction"),
        a64(0xd400_0001, "svc #0"),
        // rt_sigprocmask(SIG_BLOCK = x0 = 0 (what rt_sigaction returned), &set,
        // NULL = x2, 8): a blocked signal is never "ignored", so the kernel
        // queues SIGTERM/SIGINT even for a PID-namespace init whose handler is
        // SIG_DFL.
        a64(0xd288_0044, "mov x4, #16386 ; set = {SIGINT, SIGTERM}"),
        a64(
            0xf801_0c24,
            "str x4, [x1, #16]! ; act.sa_restorer = set, x1 = &set",
        ),
        a64(0xd280_10e8, "mov x8, #135 ; SYS_rt_sigprocmask"),
        a64(0xd400_0001, "svc #0"),
        // rt_sigtimedwait(&set, NULL, NULL = no timeout, 8), again if it fails
        // (-EINTR after SIGSTOP and SIGCONT).
        a64(0xd280_0001, "mov x1, #0 ; no siginfo"),
        a64(0xd280_1128, "mov x8, #137 ; SYS_rt_sigtimedwait"),
        a64(0x9100_43e0, "add x0, sp, #16 ; &set").label(WAIT),
        a64(0xd400_0001, "svc #0"),
        a64(0xb7f8_0000, "tbnz x0, #63, wait ; negative: an error").fixup(Fixup::Encode {
            target: Target::Label(WAIT),
            encode: encode_tbnz,
        }),
        // A signal arrived (x0 = its number): exit(0).
        a64(0xd280_0000, "mov x0, #0 ; status 0"),
        a64(0xd280_0ba8, "mov x8, #93 ; SYS_exit"),
        a64(0xd400_0001, "svc #0"),
    ];
    Code {
        insns,
        data: Vec::new(),
    }
}
