//! `serve` on s390x (see [`crate::program::Serve`] for what it does).

use super::*;
use crate::arch::signal::{SIGCHLD, SIGINT, SIGSET_SIZE, SIGTERM, SIG_IGN};

// serve's labels
const EXIT: u8 = 1;
const EXIT_STATUS: u8 = 2;
const SPAWN: u8 = 3;
const CLOSE: u8 = 4;
const ACCEPT: u8 = 5;
const READ: u8 = 6;
const PAST_EXIT: u8 = 7;

/// The `serve` listing (see [`crate::program::Serve`] for what it does).
///
/// `svc` keeps every register but r2, so each argument is set once and stays until a
/// call needs another value. The whole program keeps r8 = the listening socket, r13 = 1
/// and r14 = 0 (Linux `ELF_PLAT_INIT`, qemu's zeroed registers); each worker keeps r9 =
/// its connection, r4 = the response length, r6 = NULL. The structs are stored over the
/// process's own argc and argv at r15 (nothing below it: no red zone) with one `stmg`:
/// at 0 the sockaddr_in, at 8 act = {exit, sa_flags = 1}, at 16 {1, 0} (the SIGCHLD
/// act and the timeval {1 s, 0}; its low word, at 20, is the int 1). The workers share
/// r15 but never touch memory.
pub(super) fn serve(serve: &Serve, addressing: Addressing) -> Code {
    let [p0, p1] = serve.port.to_be_bytes();
    // sockaddr_in's first 8 bytes, big-endian: AF_INET, the port, INADDR_ANY.
    let sockaddr = u32::from_be_bytes([0, net::AF_INET, p0, p1]);
    let [s0, s1, s2, s3] = sockaddr.to_be_bytes();
    let [c0, c1, c2, c3] = net::CLONE_THREAD_FLAGS.to_be_bytes();
    let workers_log2 = Serve::WORKERS.trailing_zeros();
    assert_eq!(1 << workers_log2, Serve::WORKERS);
    // The spawn counter: the optlen 16 = 2^4 shifted left 5 a round overflows a 32-bit
    // signed word in the sixth.
    const OPTLEN: u32 = 16;
    assert!(
        OPTLEN.trailing_zeros() + 5 * (workers_log2 - 1) < 31
            && OPTLEN.trailing_zeros() + 5 * workers_log2 >= 31
    );
    // r13 = 1 is SIG_IGN, the timeout's seconds, the int 1, SOCK_STREAM and SHUT_WR;
    // as the other act's sa_flags it is SA_NOCLDSTOP, which means nothing for SIGINT
    // and SIGTERM.
    const _: () = assert!(Serve::TIMEOUT_SECS == SIG_IGN as u32);
    const _: () = assert!(net::SOCK_STREAM == SIG_IGN && net::SHUT_WR == SIG_IGN);
    const _: () = assert!(net::SOL_SOCKET == SIG_IGN);
    let flags = (net::MSG_NOSIGNAL | net::MSG_TRUNC) as i16;
    let mut v = vec![
        lghi(13, 1, "1"),
        lghi(4, 0, "no old action; the protocol"),
        // r12 = exit: `bras` (branch relative and save) jumps over the handler and leaves
        // the address of what follows it.
        Insn::new(
            &[0xa7, 0xc5, 0, 0],
            "bras %r12, past_exit ; r12 = exit, the handler",
        )
        .fixup(Fixup::Encode {
            target: Target::Label(PAST_EXIT),
            encode: encode_ri16,
        }),
        // exit_group(0) as the SIGINT/SIGTERM handler (entered with r2 = the signal), or
        // exit_group(errno) after a failed bind (r2 = -errno).
        rr(0x17, "xr", 2, 2, "status 0").label(EXIT),
        rr(0x13, "lcr", 2, 2, "errno").label(EXIT_STATUS),
        svc(SYS_EXIT_GROUP, "SYS_exit_group"),
        // The structs: r11 = the sockaddr_in's first 8 bytes, r12 = exit, r13 = 1,
        // r14 = 0, stored at 0, 8, 16 and 24 of r15.
        Insn::new(
            &[0xc0, 0xbe, s0, s1, s2, s3],
            format!("llihf %r11, {sockaddr:#x} ; AF_INET, port {}", serve.port),
        )
        .label(PAST_EXIT),
        Insn::new(
            &[0xeb, 0xbe, 0xf0, 0x00, 0x00, 0x24],
            "stmg %r11, %r14, 0(%r15) ; sockaddr_in, act, {1, 0}",
        ),
        // rt_sigaction(SIGINT, then SIGTERM, &{exit, 1}, NULL, 8); SIGCHLD: &{SIG_IGN, 0}.
        // No restorer: the kernel and qemu return through their own trampoline, and the
        // handler never returns anyway.
        la_sp(3, 8, "&act"),
        lghi(5, SIGSET_SIZE.into(), "sigsetsize"),
        lhi(2, SIGINT.into(), "SIGINT"),
        svc(SYS_RT_SIGACTION, "SYS_rt_sigaction"),
        lhi(2, SIGTERM.into(), "SIGTERM"),
        svc(SYS_RT_SIGACTION, "SYS_rt_sigaction"),
        la_sp(3, 16, "&{SIG_IGN, 0}"),
        lhi(2, SIGCHLD.into(), "SIGCHLD: the kernel reaps children"),
        svc(SYS_RT_SIGACTION, "SYS_rt_sigaction"),
        // socket(AF_INET, SOCK_STREAM, 0)
        lhi(2, net::AF_INET.into(), "AF_INET"),
        rr(0x18, "lr", 3, 13, "SOCK_STREAM (SOL_SOCKET next)"),
    ];
    v.extend(svc0(SYS_SOCKET, "socket"));
    v.push(rr(0x18, "lr", 8, 2, "r8 = the socket"));
    // setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &1, 16), then SO_RCVTIMEO, &{1 s, 0}
    // (qemu insists on optlen = sizeof(struct timeval) exactly).
    v.extend([
        lghi(1, SYS_SETSOCKOPT as i16, "SYS_setsockopt"),
        lhi(4, net::SO_REUSEADDR.into(), "SO_REUSEADDR"),
        la_sp(5, 20, "&1 (the low word)"),
        lghi(6, OPTLEN as i16, "optlen (and the spawn counter)"),
        svc(0, "the number in r1"),
        rr(0x18, "lr", 2, 8, "the socket"),
        lhi(4, net::SO_RCVTIMEO.into(), "SO_RCVTIMEO"),
        la_sp(5, 16, "&{1 s, 0}"),
        svc(0, "the number in r1"),
    ]);
    // bind(fd, &sockaddr_in, 16); on failure exit_group(errno).
    v.extend([
        lghi(1, SYS_BIND as i16, "SYS_bind"),
        rr(0x18, "lr", 2, 8, "the socket"),
        la_sp(3, 0, "&sockaddr_in"),
        rr(0x18, "lr", 4, 6, "16"),
        svc(0, "the number in r1"),
        rr(0x12, "ltr", 2, 2, ""),
        brc(7, "jne exit_status ; -errno", EXIT_STATUS),
        // listen(fd, r3): a stack address, far above somaxconn, which caps it.
        lghi(1, SYS_LISTEN as i16, "SYS_listen"),
        rr(0x18, "lr", 2, 8, "the socket"),
        svc(0, "the number in r1"),
    ]);
    // Every thread inherits r4 = the response length (also how much one read discards).
    v.push(set_r4(serve.response.len()));
    v.extend([
        // clone(NULL = same stack, thread flags): s390 takes the stack first
        // (CLONE_BACKWARDS2). Six rounds, every thread cloning again: 64 threads. The
        // workers use no memory, so they can share the stack pointer.
        Insn::new(
            &[0xc0, 0x3f, c0, c1, c2, c3],
            format!(
                "llilf %r3, {:#x} ; CLONE_VM|FS|FILES|SIGHAND|THREAD|SYSVSEM",
                net::CLONE_THREAD_FLAGS
            ),
        ),
        rr(
            0x17,
            "xr",
            2,
            2,
            "NULL (listen returned 0; the parent has the tid)",
        )
        .label(SPAWN),
        svc(SYS_CLONE, "SYS_clone"),
        // The counter is the optlen r6 = 16 = 2^4, shifted left 5 bits a round (`sla`:
        // the low word, arithmetic, CC 3 when a bit leaves the value; user space runs
        // with the fixed-point-overflow interruption masked): 2^9 .. 2^29, then the
        // sixth round overflows, which leaves 0 (the high word is 0 since `lghi`):
        // r6 = NULL (no address) in every worker.
        Insn::new(&[0x8b, 0x60, 0x00, 0x05], "sla %r6, 5"),
        brc(14, "jno spawn", SPAWN),
        // No connection yet: the flags (331520) name no descriptor, and r3 (its high
        // word 0 since `llilf`) becomes accept4's NULL.
        rr(0x18, "lr", 9, 3, "r9 = no descriptor"),
        rr(0x17, "xr", 3, 3, "NULL"),
        // close(conn); accept4 takes no flags.
        rr(0x18, "lr", 2, 9, "the connection").label(CLOSE),
        svc(SYS_CLOSE, "SYS_close"),
        rr(0x17, "xr", 5, 5, "no flags"),
        // accept4(fd, NULL, r4 unread, 0); an error (the timeout) flows on as a bad
        // descriptor.
        rr(0x18, "lr", 2, 8, "the socket").label(ACCEPT),
    ]);
    v.extend(svc0(SYS_ACCEPT4, "accept4"));
    v.extend([
        rr(0x18, "lr", 9, 2, "r9 = the connection"),
        lhi(5, flags, "MSG_NOSIGNAL | MSG_TRUNC"),
        // recvfrom(conn, NULL, len, MSG_TRUNC, NULL, r7 unread): waits for bytes and
        // discards them. End of file, an error or the timeout: close.
        lghi(1, SYS_RECVFROM as i16, "SYS_recvfrom").label(READ),
        svc(0, "the number in r1"),
        rr(0x12, "ltr", 2, 2, ""),
        brc(12, "jle close ; end of file, error or timeout", CLOSE),
        // sendto(conn, response, len, MSG_NOSIGNAL, NULL, r7 unread): after the first
        // time the socket is shut for sending, so later ones fail with EPIPE.
        larl(3, Target::Data, "response"),
        lghi(1, SYS_SENDTO as i16, "SYS_sendto"),
        rr(0x18, "lr", 2, 9, "the connection"),
        svc(0, "the number in r1"),
        // shutdown(conn, SHUT_WR): the client reads end of file after the response.
        rr(0x18, "lr", 3, 13, "SHUT_WR"),
        lghi(1, SYS_SHUTDOWN as i16, "SYS_shutdown"),
        rr(0x18, "lr", 2, 9, "the connection"),
        svc(0, "the number in r1"),
    ]);
    // Back to reading with a NULL buffer: below 4 GiB the response's address (r3's high
    // word) is 0.
    v.push(match addressing {
        Addressing::Abs32 => rr(0x17, "xr", 3, 3, "NULL"),
        Addressing::PcRelative => lghi(3, 0, "NULL"),
    });
    v.extend([
        rr(0x18, "lr", 2, 9, "the connection"),
        brc(15, "j read ; until the client closes", READ),
    ]);
    Code {
        insns: v,
        data: serve.response.to_vec(),
    }
}
