//! `serve` on ppc64le (see [`crate::program::Serve`] for what it does).

use super::*;

// serve's labels
const EXIT: u8 = 1;
const EXIT_STATUS: u8 = 2;
const SPREAD: u8 = 3;
const PAST_EXIT: u8 = 4;
const SPAWN: u8 = 5;
const CLOSE: u8 = 6;
const ACCEPT: u8 = 7;
const READ: u8 = 8;

/// `serve`'s argument registers: `spread` copies r19 into r0 and r20..r24 into r3..r7
/// before each `sc`. They are non-volatile, so a value stays set for every later call until
/// it changes, and each call sets only the arguments that differ from the previous one.
const NR: u32 = 19;
const A1: u32 = 20;
const A2: u32 = 21;
const A3: u32 = 22;
const A4: u32 = 23;
const A5: u32 = 24;

/// The `serve` listing (see [`crate::program::Serve`] for what it does).
///
/// `sc` clobbers r0 and r4..r12 (Linux zeroes them on the way out, qemu keeps them),
/// so the arguments live in the non-volatile r19..r24 and the subroutine `spread` (`bl`;
/// `sc` keeps lr) copies them into r0, r3..r7 and makes the call. Every thread keeps
/// r30 = the listening socket, r31 = &response, r14 = 0 (zero at entry, never written).
/// The structs sit in the protected zone below r1: at -24 act = {exit, sa_flags = 1},
/// at -16 {1, 0} (the SIGCHLD act, the timeval {1 s, 0} and the int 1), at -32 the
/// sockaddr_in. The workers share r1 but never touch memory.
pub(super) fn serve(serve: &Serve, _addressing: Addressing) -> Code {
    let sc = || word(0x4400_0002, "sc");
    let spread = |what: &str| {
        let asm = format!("bl spread ; {what}");
        branch(0x4800_0001, &asm, SPREAD)
    };
    let nr = |n: u32, name: &str| li(NR, n as i16, &format!("SYS_{name}"));
    // sockaddr_in's first 8 bytes, stored little-endian: AF_INET (u16), the port
    // (big-endian), INADDR_ANY. `oris` puts the port over A1 = AF_INET.
    let port = u32::from(serve.port.swap_bytes());
    let flags = net::CLONE_THREAD_FLAGS;
    let workers_log2 = Serve::WORKERS.trailing_zeros();
    assert_eq!(1 << workers_log2, Serve::WORKERS);
    // The optlen A5 = 16 is also the spawn counter: shifted left by 10 until 0.
    assert!(4 + 10 * (workers_log2 - 1) < 64 && 4 + 10 * workers_log2 >= 64);
    // The SIGCHLD action's handler word is also the timeout's seconds, the int 1, and
    // the other act's sa_flags (SA_NOCLDSTOP: it means nothing for SIGINT/SIGTERM).
    const _: () = assert!(Serve::TIMEOUT_SECS == SIG_IGN);
    const _: () = assert!(net::SOCK_STREAM == signal::SIG_IGN);
    const _: () = assert!(net::SOL_SOCKET == net::SOCK_STREAM);
    const _: () = assert!(net::AF_INET as u32 == SIGINT);
    let mut v = vec![
        // PC-relative with no branch-and-link: r12 holds the entry address, and this is
        // the instruction at the entry point.
        word(0x3bec_0000, "addi r31, r12, response ; r31 = &response").fixup(Fixup::Encode {
            target: Target::Data,
            encode: encode_message,
        }),
        branch(
            0x4800_0001,
            "bl past_exit ; lr = exit, the handler's address",
            PAST_EXIT,
        ),
        // SIGINT/SIGTERM handler (entered with r3 = the signal): exit_group(0); a failed
        // bind enters at exit_status with r3 = the errno.
        li(3, 0, "status 0").label(EXIT),
        li(0, SYS_EXIT_GROUP as i16, "SYS_exit_group").label(EXIT_STATUS),
        sc(),
        // spread: the call r19(r20, r21, r22, r23, r24).
        mr(0, NR, "the number").label(SPREAD),
        mr(3, A1, "the arguments"),
        mr(4, A2, ""),
        mr(5, A3, ""),
        mr(6, A4, ""),
        mr(7, A5, ""),
        sc(),
        word(0x4e80_0020, "blr"),
        // act = {handler = exit, sa_flags = 1} at r1 - 24.
        word(0x7d28_02a6, "mflr r9 ; exit").label(PAST_EXIT),
        std_sp(9, -24, "act.sa_handler = exit"),
        // socket(AF_INET, SOCK_STREAM, 0): A3 = 0 from the entry. r3 = the socket.
        nr(SYS_SOCKET, "socket"),
        li(A1, net::AF_INET.into(), "AF_INET (SIGINT next)"),
        li(
            A2,
            net::SOCK_STREAM.into(),
            "SOCK_STREAM (the 1 stored next)",
        ),
        spread("socket"),
        word(
            0x6680_0000 | A1 << 21 | 9 << 16 | port,
            format!("oris r9, r20, {port} ; AF_INET, port {}", serve.port),
        ),
        std_sp(9, -32, "sockaddr_in (sin_zero: what follows)"),
        std_sp(A2, -16, "1: act.sa_flags, SIG_IGN, tv_sec, int"),
        std_sp(14, -8, "0: tv_usec"),
        mr(30, 3, "r30 = the socket"),
        // rt_sigaction(SIGINT, then SIGTERM, &{exit, 1}, NULL, 8); SIGCHLD: &{SIG_IGN, 0}.
        // No restorer: the kernel and qemu return through the vdso's trampoline, and
        // the handler never returns anyway.
        nr(SYS_RT_SIGACTION, "rt_sigaction"),
        addi_sp(A2, -24, "&act"),
        li(A4, SIGSET_SIZE as i16, "sigsetsize (A3 = 0: no old action)"),
        spread("rt_sigaction(SIGINT)"),
        li(A1, SIGTERM as i16, "SIGTERM"),
        spread("rt_sigaction(SIGTERM)"),
        li(A1, SIGCHLD as i16, "SIGCHLD"),
        addi_sp(A2, -16, "&{SIG_IGN, 0}"),
        spread("rt_sigaction(SIGCHLD): the kernel reaps children"),
        // setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &1, 16), then SO_RCVTIMEO, &{1 s, 0}
        // (qemu insists on optlen = sizeof(struct timeval) exactly).
        nr(SYS_SETSOCKOPT, "setsockopt"),
        mr(A1, 30, "the socket"),
        li(A2, net::SOL_SOCKET.into(), "SOL_SOCKET"),
        li(A3, net::SO_REUSEADDR.into(), "SO_REUSEADDR"),
        addi_sp(A4, -16, "&{1, 0}"),
        li(A5, 16, "optlen (and the spawn counter)"),
        spread("setsockopt"),
        li(A3, net::SO_RCVTIMEO_PPC.into(), "SO_RCVTIMEO (powerpc)"),
        spread("setsockopt"),
        // bind(fd, &sockaddr_in, 16); on failure exit_group(errno).
        nr(SYS_BIND, "bind"),
        addi_sp(A2, -32, "&sockaddr_in"),
        li(A3, net::SOCKADDR_IN_SIZE.into(), "addrlen"),
        spread("bind"),
        branch(
            0x4183_0000,
            "bso exit_status ; CR0.SO: r3 = the errno",
            EXIT_STATUS,
        ),
        // listen(fd, A2): a stack address, far above somaxconn, which caps it.
        nr(SYS_LISTEN, "listen"),
        spread("listen(fd, &sockaddr_in)"),
        // clone(thread flags, no new stack) six times, every thread cloning again: 64
        // threads. The workers use no memory, so they can share the stack pointer.
        nr(SYS_CLONE, "clone"),
        word(
            0x3c00_0000 | A1 << 21 | flags >> 16,
            format!(
                "lis r20, {} ; CLONE_VM|FS|FILES|SIGHAND|THREAD|SYSVSEM",
                flags >> 16
            ),
        ),
        word(
            0x6000_0000 | A1 << 21 | A1 << 16 | (flags & 0xffff),
            format!("ori r20, r20, {}", flags & 0xffff),
        ),
        li(A2, 0, "same stack"),
        spread("clone").label(SPAWN),
        // sldi. (shift left 10, set CR0): 2^4 becomes 2^14, .. 2^54, then 2^64 = 0 in the
        // sixth round, and A5 = 0 = NULL.
        word(
            0x7b18_5565,
            format!("rldicr. r24, r24, 10, 53 ; sldi. by 10: {workers_log2} rounds"),
        ),
        branch(0x4082_0000, "bne spawn", SPAWN),
    ];
    // Every thread: A3 = the response length (also how much one read discards), A4 =
    // MSG_NOSIGNAL | MSG_TRUNC (send: EPIPE instead of SIGPIPE; recv: discard); A5 = 0
    // (no address) from the spawn counter.
    v.extend(load(A3, serve.response.len(), "length"));
    v.extend([
        li(
            A4,
            (net::MSG_NOSIGNAL | net::MSG_TRUNC) as i16,
            "MSG_NOSIGNAL | MSG_TRUNC",
        ),
        // close(conn); the first time A1 is the clone flags, no descriptor (EBADF).
        nr(SYS_CLOSE, "close").label(CLOSE),
        spread("close(conn)"),
        // accept(fd, NULL = A2, A3 unread); the timeout (EAGAIN) or an error: again (the
        // errno in r3 is positive, it could name another thread's connection).
        nr(SYS_ACCEPT, "accept").label(ACCEPT),
        mr(A1, 30, "the socket"),
        spread("accept"),
        branch(0x4183_0000, "bso accept ; CR0.SO: no connection", ACCEPT),
        mr(A1, 3, "r20 = the connection"),
        // recvfrom(conn, NULL, len, MSG_NOSIGNAL | MSG_TRUNC, NULL, r8 unread): waits for
        // bytes and discards them. End of file, an error or the timeout: close.
        nr(SYS_RECVFROM, "recvfrom").label(READ),
        li(A2, 0, "NULL"),
        spread("recvfrom"),
        branch(0x4183_0000, "bso close ; CR0.SO: error or timeout", CLOSE),
        word(0x2c23_0000, "cmpdi r3, 0"),
        branch(0x4182_0000, "beq close ; end of file", CLOSE),
        // sendto(conn, response, len, MSG_NOSIGNAL, NULL, 0): after the first time the
        // socket is shut for sending, so later ones fail with EPIPE and send nothing.
        nr(SYS_SENDTO, "sendto"),
        mr(A2, 31, "&response"),
        spread("sendto"),
        // shutdown(conn, SHUT_WR): the client reads end of file after the response.
        nr(SYS_SHUTDOWN, "shutdown"),
        li(A2, net::SHUT_WR.into(), "SHUT_WR"),
        spread("shutdown"),
        branch(0x4800_0000, "b read ; until the client closes", READ),
    ]);
    Code {
        insns: v,
        data: serve.response.to_vec(),
    }
}
