//! `pause` on riscv64: block SIGINT and SIGTERM, ignore SIGCHLD, wait for one of the two.

use super::*;

/// The label of the rt_sigtimedwait loop.
const WAIT: u8 = 0;

pub(super) fn pause() -> Code {
    let insns = vec![
        // 32 bytes of stack (sp stays 16-byte aligned; the psABI has no red
        // zone): act = {sa_handler, sa_flags, sa_mask} at sp (the struct sigaction
        // of include/uapi/asm-generic/signal.h: riscv has no sa_restorer), and
        // set at sp + 16, which is also act.sa_mask.
        listed(&[0x3d, 0x71], c_addi16sp(-32), "c.addi16sp sp, -32"),
        listed(
            &[0x0c, 0x08],
            c_addi4spn(A1, 16),
            "c.addi4spn a1, sp, 16 ; a1 = &set",
        ),
        listed(
            &[0x11, 0x66],
            c_lui(A2, STOP_SIGNALS >> 12),
            "c.lui a2, 4 ; a2 = 0x4000",
        ),
        listed(
            &[0x09, 0x06],
            c_addi(A2, STOP_SIGNALS & 0xfff),
            "c.addi a2, 2 ; a2 = 0x4002 = {SIGINT, SIGTERM}",
        ),
        listed(&[0x90, 0xe1], c_sd(A2, 0, A1), "c.sd a2, 0(a1) ; set"),
        listed(&[0x05, 0x45], c_li(A0, SIG_IGN), "c.li a0, 1 ; SIG_IGN"),
        listed(
            &[0x2a, 0xe0],
            c_sdsp(A0, 0),
            "c.sdsp a0, 0(sp) ; act.sa_handler",
        ),
        listed(
            &[0x02, 0xe4],
            c_sdsp(ZERO, 8),
            "c.sdsp zero, 8(sp) ; act.sa_flags = 0",
        ),
        // rt_sigprocmask(SIG_BLOCK, &set, NULL, 8): a blocked signal is never
        // "ignored", so the kernel queues SIGTERM/SIGINT even for a
        // PID-namespace init whose handler is SIG_DFL.
        listed(&[0x01, 0x45], c_li(A0, SIG_BLOCK), "c.li a0, 0 ; SIG_BLOCK"),
        listed(&[0x01, 0x46], c_li(A2, 0), "c.li a2, 0 ; no old set"),
        listed(
            &[0xa1, 0x46],
            c_li(A3, SIGSET_SIZE),
            "c.li a3, 8 ; sigsetsize",
        ),
        listed(
            &[0x93, 0x08, 0x70, 0x08],
            addi(A7, ZERO, SYS_RT_SIGPROCMASK),
            "addi a7, zero, 135 ; SYS_rt_sigprocmask",
        ),
        ecall(),
        // rt_sigaction(SIGCHLD, &{SIG_IGN, flags 0}, NULL, 8): children (and
        // orphans handed to us as PID 1) are reaped by the kernel.
        listed(&[0x45, 0x45], c_li(A0, SIGCHLD), "c.li a0, 17 ; SIGCHLD"),
        listed(&[0x8a, 0x85], c_mv(A1, SP), "c.mv a1, sp ; &act"),
        listed(
            &[0xfd, 0x18],
            c_addi(A7, SYS_RT_SIGACTION - SYS_RT_SIGPROCMASK),
            "c.addi a7, -1 ; SYS_rt_sigaction",
        ),
        ecall(),
        // rt_sigtimedwait(&set, NULL, NULL = no timeout, 8), again if
        // interrupted (-EINTR after SIGSTOP/SIGCONT).
        listed(
            &[0x8d, 0x08],
            c_addi(A7, SYS_RT_SIGTIMEDWAIT - SYS_RT_SIGACTION),
            "c.addi a7, 3 ; SYS_rt_sigtimedwait",
        ),
        listed(&[0x81, 0x45], c_li(A1, 0), "c.li a1, 0 ; no siginfo"),
        listed(
            &[0x08, 0x08],
            c_addi4spn(A0, 16),
            "c.addi4spn a0, sp, 16 ; &set",
        )
        .label(WAIT),
        ecall(),
        listed(&[0x63, 0x40, 0x05, 0x00], bltz(A0), "bltz a0, wait").fixup(Fixup::Encode {
            target: Target::Label(WAIT),
            encode: encode_bltz,
        }),
        // A signal arrived (a0 = its number): exit(0).
        listed(&[0x01, 0x45], c_li(A0, 0), "c.li a0, 0 ; status 0"),
        listed(
            &[0x93, 0x08, 0xd0, 0x05],
            addi(A7, ZERO, SYS_EXIT),
            "addi a7, zero, 93 ; SYS_exit",
        ),
        ecall(),
    ];
    Code {
        insns,
        data: Vec::new(),
    }
}
