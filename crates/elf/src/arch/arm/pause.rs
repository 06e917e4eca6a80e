//! `pause` on 32-bit ARM (Thumb): block SIGINT and SIGTERM, ignore SIGCHLD, wait for one of
//! the two.

use super::*;

/// The label of the rt_sigtimedwait loop.
const WAIT: u8 = 0;

pub(super) fn pause() -> Code {
    let insns = vec![
        // Both structs on the stack in one push (sp stays 8-byte aligned; AAPCS
        // has no red zone, so nothing is written below sp):
        //   sp     -> act = {sa_handler = SIG_IGN (r4), sa_flags = 0 (r5)}
        //   sp + 8 -> set = {SIGINT | SIGTERM (r6), 0 (r7)} (64 bits)
        // r5 and r7 are 0 at entry. The kernel's struct sigaction here is
        // {handler, flags, restorer, mask}: restorer and mask are not read for
        // SIG_IGN without SA_RESTORER.
        t16(0x2401, "movs r4, #1 ; SIG_IGN"),
        t16(0x03a6, "lsls r6, r4, #14 ; SIGTERM: 0x4000"),
        t16(0x3602, "adds r6, #2 ; | SIGINT: 0x4002"),
        t16(0xb4f0, "push {r4, r5, r6, r7} ; act, set"),
        // rt_sigprocmask(SIG_BLOCK = r0 = 0, &set, NULL, 8): a blocked signal is
        // never "ignored", so the kernel queues SIGTERM/SIGINT even for a
        // PID-namespace init whose handler is SIG_DFL.
        t16(0xa902, "add r1, sp, #8 ; &set"),
        t16(0x2200, "movs r2, #0 ; oldset = NULL"),
        t16(0x2308, "movs r3, #8 ; sigsetsize"),
        t16(0x27af, "movs r7, #175 ; SYS_rt_sigprocmask"),
        t16(0xdf00, "svc #0"),
        // rt_sigaction(SIGCHLD, &act, NULL = r2, 8 = r3): children (and orphans
        // handed to us as PID 1) are reaped by the kernel, zombies never stay.
        t16(0x2011, "movs r0, #17 ; SIGCHLD"),
        t16(0x4669, "mov r1, sp ; &act"),
        t16(0x3f01, "subs r7, #1 ; SYS_rt_sigaction"),
        t16(0xdf00, "svc #0"),
        // rt_sigtimedwait(&set, info = r1 = &act, NULL = r2, 8 = r3), again if
        // interrupted. The kernel (and qemu) write the siginfo (128 bytes from
        // sp, all stack) only when a signal is returned, and then we exit; a
        // failed wait writes nothing, so `set` is intact for the next one.
        t16(0x27b1, "movs r7, #177 ; SYS_rt_sigtimedwait"),
        t16(0xa802, "add r0, sp, #8 ; &set").label(WAIT),
        t16(0xdf00, "svc #0"),
        // r0 = a signal number (> 0), or -errno (-EINTR after SIGSTOP/SIGCONT).
        t16(
            0x0fc0,
            "lsrs r0, r0, #31 ; negative: r0 = 1, ne; else r0 = 0, eq",
        ),
        bne(Target::Label(WAIT), "bne wait"),
        t16(0x2701, "movs r7, #1 ; SYS_exit, status r0 = 0"),
        t16(0xdf00, "svc #0"),
    ];
    Code {
        insns,
        data: Vec::new(),
    }
}
