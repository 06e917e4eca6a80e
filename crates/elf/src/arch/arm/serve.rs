//! `serve` on 32-bit ARM (Thumb; see [`crate::program::Serve`] for what it does).

use super::*;

// serve's labels
const EXIT_ERRNO: u8 = 1;
const SPAWN: u8 = 2;
const ACCEPT: u8 = 3;
const READ: u8 = 4;
const CLOSE: u8 = 5;

/// serve's data: a `sockaddr_in` whose `sin_zero` holds the clone flags, then the response.
/// The code reads the constants with `adr` and `ldr` (Thumb-1 has no wide immediates);
/// nothing writes them.
const POOL: usize = 12;

/// `adr rd, response`: serve's response comes [`POOL`] bytes after the start of its data.
fn encode_adr_response(bytes: &mut [u8], pc: u64, target: u64) -> Result<(), String> {
    encode_adr_at(bytes, pc, target + POOL as u64)
}

/// The `serve` listing (see [`crate::program::Serve`] for what it does). The workers
/// keep the listening socket in r6, the connection in r5, the response length in r2 and
/// the recv/send flags in r3 (accept takes three arguments and ignores r3); r1 is NULL
/// but for the send and the shutdown. r7 moves between the socket calls' numbers by
/// adding the differences. They share one stack pointer, so they never write memory (no
/// push) and read only what was pushed before the clones.
pub(super) fn serve(serve: &Serve, _addressing: Addressing) -> Code {
    let adr = |rd: u16, encode: Encoder, what: &str| {
        t16(0xa000 | (rd << 8), format!("adr r{rd}, {what}")).fixup(Fixup::Encode {
            target: Target::Data,
            encode,
        })
    };
    // adds/subs r7, #imm8 (T2: 00110/00111 Rdn=7 imm8): from one syscall to the next.
    let step = |from: u16, to: u16, name: &str| {
        let (op, d, sign) = if to > from {
            (0x3700, to - from, "adds")
        } else {
            (0x3f00, from - to, "subs")
        };
        assert!(d < 256);
        t16(op | d, format!("{sign} r7, #{d} ; SYS_{name}"))
    };
    let svc = || t16(0xdf00, "svc #0");
    let workers_log2 = Serve::WORKERS.trailing_zeros() as u16;
    assert_eq!(1 << workers_log2, Serve::WORKERS);
    let flags = MSG_NOSIGNAL | MSG_TRUNC;
    assert_eq!(flags, 0x40 << 8 | 0x20);
    // The SIGCHLD action's handler word is also the timeout's seconds and the int 1.
    const _: () = assert!(Serve::TIMEOUT_SECS == SIG_IGN as u32 && SIG_IGN == 1);
    const _: () = assert!(SOCK_STREAM == 1 && SIGINT == 2 && SIGTERM == 15);
    const _: () = assert!(SO_REUSEADDR == 2 && SO_RCVTIMEO == 20 && SHUT_WR == 1);
    const _: () = assert!(SYS_RT_SIGACTION as u16 + 107 == SYS_SOCKET);
    const _: () = assert!(SYS_ACCEPT == 255 + 30 && SYS_EXIT_GROUP == 248);
    let mut v = vec![
        // The handler's address, Thumb bit set: `exit` is the last 8 bytes of code, and
        // the data starts at the next word, 0 or 2 bytes later; the handler's first
        // two instructions are the same, so entering at either does the same.
        adr(6, encode_adr, "response - 12 ; the data"),
        t16(0x3e07, "subs r6, #7 ; exit | 1 (Thumb)"),
        // Both actions on the stack in one push (r5 and r7 are 0 at entry):
        //   sp     -> {SIG_IGN, 0}: SIGCHLD's action, later the timeval {1 s, 0} and
        //             the int 1 of setsockopt
        //   sp + 8 -> {exit | 1, 0}: SIGINT's and SIGTERM's
        // The kernel's struct sigaction here is {handler, flags, restorer, mask}; with
        // no SA_RESTORER the handler returns through the kernel's (or qemu's) sigpage,
        // and it never returns anyway.
        t16(0x2401, "movs r4, #1 ; SIG_IGN"),
        t16(0xb4f0, "push {r4, r5, r6, r7}"),
        // rt_sigaction(SIGINT, &act, NULL, 8), then SIGTERM, then SIGCHLD (SIG_IGN: the
        // kernel reaps every child).
        t16(0xa902, "add r1, sp, #8 ; &act"),
        movs(0, SIGINT, " ; SIGINT"),
        movs(2, 0, " ; oldact = NULL"),
        movs(3, SIGSET_SIZE, " ; sigsetsize"),
        movs(7, SYS_RT_SIGACTION, " ; SYS_rt_sigaction"),
        svc(),
        movs(0, SIGTERM, " ; SIGTERM"),
        svc(),
        t16(0x4669, "mov r1, sp ; &{SIG_IGN, 0}"),
        movs(0, SIGCHLD, " ; SIGCHLD"),
        svc(),
        // socket(AF_INET, SOCK_STREAM, 0)
        movs(0, AF_INET, " ; AF_INET"),
        movs(1, SOCK_STREAM, " ; SOCK_STREAM (= SOL_SOCKET next)"),
        step(SYS_RT_SIGACTION.into(), SYS_SOCKET, "socket"),
        svc(),
        t16(0x0006, "movs r6, r0 ; r6 = the socket"),
        // setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &1, 8), then SO_RCVTIMEO, &{1 s, 0}
        // (the old 32-bit timeval; qemu wants optlen exactly 8).
        movs(2, SO_REUSEADDR, " ; SO_REUSEADDR"),
        t16(0x466b, "mov r3, sp ; &{1, 0}"),
        movs(4, 8, " ; optlen"),
        step(SYS_SOCKET, SYS_SETSOCKOPT, "setsockopt"),
        svc(),
        t16(0x0030, "movs r0, r6"),
        movs(2, SO_RCVTIMEO, " ; SO_RCVTIMEO"),
        svc(),
        // bind(fd, &{AF_INET, htons(port), INADDR_ANY}, r2 = 20): the kernel takes any
        // length from sizeof(sockaddr_in) = 16 to 128 and reads 16; the sockaddr_in is the
        // data's first 16 bytes. On failure exit(errno).
        adr(1, encode_adr, "response - 12 ; sockaddr_in"),
        step(SYS_SETSOCKOPT, SYS_BIND, "bind"),
        t16(0x0030, "movs r0, r6"),
        svc(),
        t16(0x4240, "rsbs r0, r0, #0 ; errno, 0 if bound"),
        bne(Target::Label(EXIT_ERRNO), "bne exit_errno"),
        // listen(fd, r1): the data's address, above somaxconn, which caps it.
        step(SYS_BIND, SYS_LISTEN, "listen"),
        t16(0x0030, "movs r0, r6"),
        svc(),
        // clone(thread flags, no new stack) six times, every thread cloning again: 64
        // threads sharing the stack pointer.
        t16(
            0x688c,
            "ldr r4, [r1, #8] ; CLONE_VM|FS|FILES|SIGHAND|THREAD|SYSVSEM",
        ),
        movs(1, 0, " ; same stack (and NULL from here on)"),
        movs(5, workers_log2 as u8, " ; rounds"),
        movs(7, SYS_CLONE, " ; SYS_clone"),
        t16(0x0020, "movs r0, r4").label(SPAWN),
        svc(),
        t16(0x3d01, "subs r5, #1"),
        bne(Target::Label(SPAWN), "bne spawn"),
    ];
    v.extend(set_r2(serve.response.len()));
    v.extend([
        // r3 = MSG_NOSIGNAL | MSG_TRUNC (send: EPIPE instead of SIGPIPE; recv: discard).
        movs(3, 0x40, ""),
        t16(0x021b, "lsls r3, r3, #8"),
        t16(0x3320, "adds r3, #32 ; MSG_NOSIGNAL | MSG_TRUNC"),
        // accept(fd, NULL, NULL); an error (the timeout) flows on as a bad descriptor.
        t16(0x0030, "movs r0, r6").label(ACCEPT),
        movs(7, 255, ""),
        t16(0x371e, "adds r7, #30 ; SYS_accept"),
        svc(),
        t16(0x0005, "movs r5, r0 ; r5 = the connection"),
        step(SYS_ACCEPT, SYS_RECV, "recv"),
        // recv(conn, NULL, len, MSG_TRUNC): waits for bytes, discards them.
        t16(0x0028, "movs r0, r5").label(READ),
        svc(),
        t16(0x2800, "cmp r0, #0"),
        t16(0xdd00, "ble close ; end of file, error or timeout")
            .fixup(Fixup::Encode {
                target: Target::Label(CLOSE),
                encode: encode_bcond,
            })
            .reads_flags(),
        // send(conn, response, len, MSG_NOSIGNAL): after the first time the socket is
        // shut for sending, so later ones fail with EPIPE and send nothing.
        t16(0x0028, "movs r0, r5"),
        adr(1, encode_adr_response, "response"),
        step(SYS_RECV, SYS_SEND, "send"),
        svc(),
        // shutdown(conn, SHUT_WR): the client reads end of file after the response.
        t16(0x0028, "movs r0, r5"),
        movs(1, SHUT_WR, " ; SHUT_WR"),
        step(SYS_SEND, SYS_SHUTDOWN, "shutdown"),
        svc(),
        movs(1, 0, " ; NULL"),
        step(SYS_SHUTDOWN, SYS_RECV, "recv"),
        branch(Target::Label(READ), "b read ; until the client closes"),
        // close(conn)
        t16(0x0028, "movs r0, r5").label(CLOSE),
        movs(7, SYS_CLOSE, " ; SYS_close"),
        svc(),
        branch(Target::Label(ACCEPT), "b accept"),
        // The SIGINT/SIGTERM handler (entered at either of the first two: see the top):
        // exit_group(0); or, after a failed bind, exit_group(errno).
        movs(0, 0, " ; exit: status 0"),
        movs(0, 0, " ; status 0"),
        movs(7, SYS_EXIT_GROUP, " ; SYS_exit_group").label(EXIT_ERRNO),
        svc(),
    ]);
    let data = {
        let [p0, p1] = serve.port.to_be_bytes();
        let mut data = vec![AF_INET, 0, p0, p1, 0, 0, 0, 0];
        data.extend_from_slice(&CLONE_THREAD_FLAGS.to_le_bytes());
        assert_eq!(data.len(), POOL);
        data.extend_from_slice(&serve.response);
        data
    };
    Code { insns: v, data }
}
