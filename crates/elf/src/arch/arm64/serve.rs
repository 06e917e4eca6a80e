//! `serve` on AArch64 (see [`crate::program::Serve`] for what it does).

use super::*;

// serve's labels
const EXIT: u8 = 1;
const SPAWN: u8 = 2;
const ACCEPT: u8 = 3;
const READ: u8 = 4;
const CLOSE: u8 = 5;

/// `adr` to the response: `serve`'s data starts with the 8 bytes of [`sockaddr_in`].
fn encode_adr_response(bytes: &mut [u8], pc: u64, target: u64) -> Result<(), String> {
    encode_adr(bytes, pc, target + SOCKADDR_IN_HEAD as u64)
}

/// The bytes of `serve`'s data before the response.
const SOCKADDR_IN_HEAD: usize = 8;

/// What bind reads of a `struct sockaddr_in` for 0.0.0.0:port: sin_family (native endian),
/// sin_port (big endian), sin_addr = INADDR_ANY (zero); sin_zero is whatever follows.
fn sockaddr_in(port: u16) -> [u8; SOCKADDR_IN_HEAD] {
    let [f0, f1] = AF_INET.to_le_bytes();
    let [p0, p1] = port.to_be_bytes();
    [f0, f1, p0, p1, 0, 0, 0, 0]
}

/// The `serve` listing (see [`crate::program::Serve`] for what it does). Registers: x9
/// holds the listening socket, x10 the connection, x2 the response length (also how much
/// one read discards), x3 the send/recv flags, x4 ends up 0 (no addresses) and x5 stays 0
/// (the address length: qemu-user's sendto rejects a negative one even with no address);
/// x8 is set before every `svc`, x0 after every one (each returns its result there).
pub(super) fn serve(serve: &Serve, _addressing: Addressing) -> Code {
    // The clone loop shifts x4 (the optlen 16 of setsockopt) left by 10 each time: zero
    // after exactly log2(WORKERS) shifts (every thread clones again: 2^rounds threads),
    // and then x4 is the NULL that recvfrom and sendto want.
    const fn rounds(mut x4: u64) -> u32 {
        let mut n = 0;
        while x4 != 0 {
            x4 <<= 10;
            n += 1;
        }
        n
    }
    const _: () = assert!(1 << rounds(TIMEVAL_SIZE as u64) == Serve::WORKERS);
    // The SIGCHLD action's handler word is also the timeout's seconds and the int 1.
    const _: () = assert!(Serve::TIMEOUT_SECS == SIG_IGN as u32);
    // bind's address length.
    const _: () = assert!(SOCKADDR_IN_SIZE <= SO_RCVTIMEO && SO_RCVTIMEO <= 128);
    let mut v = vec![
        // rt_sigaction(SIGINT, then SIGTERM, &act, NULL = x2, 8), act = {sa_handler =
        // exit, sa_flags = 0, sa_restorer, sa_mask}: the last two are what the stack
        // held (argc and argv[0]): no SA_RESTORER flag, and a mask only matters while
        // the handler runs, which exits at once. arm64 needs no SA_RESTORER: the kernel
        // returns through the vdso's sigreturn trampoline.
        a64(0x1000_0004, "adr x4, exit").fixup(Fixup::Encode {
            target: Target::Label(EXIT),
            encode: encode_adr,
        }),
        a64(
            0xa9bf_7fe4,
            "stp x4, xzr, [sp, #-16]! ; act.sa_handler = exit, act.sa_flags = 0",
        ),
        a64(0x9100_03e1, "mov x1, sp ; &act"),
        a64(0xd280_0103, "mov x3, #8 ; sigsetsize"),
        a64(0xd280_0040, "mov x0, #2 ; SIGINT"),
        a64(0xd280_10c8, "mov x8, #134 ; SYS_rt_sigaction"),
        a64(0xd400_0001, "svc #0"),
        a64(0xd280_01e0, "mov x0, #15 ; SIGTERM"),
        a64(0xd400_0001, "svc #0"),
        // rt_sigaction(SIGCHLD, &{SIG_IGN, flags 0}, NULL, 8): the kernel reaps children.
        // The same 16 bytes are later the timeval {1 s, 0} and the int 1 of setsockopt.
        a64(0xd280_0024, "mov x4, #1 ; SIG_IGN, tv_sec = 1, int 1"),
        a64(0xf900_03e4, "str x4, [sp] ; act.sa_handler"),
        a64(0xd280_0220, "mov x0, #17 ; SIGCHLD"),
        a64(0xd400_0001, "svc #0"),
        // socket(AF_INET, SOCK_STREAM, 0)
        a64(0xd280_0040, "mov x0, #2 ; AF_INET"),
        a64(0xd280_0021, "mov x1, #1 ; SOCK_STREAM (= SOL_SOCKET next)"),
        a64(0xd280_18c8, "mov x8, #198 ; SYS_socket"),
        a64(0xd400_0001, "svc #0"),
        a64(0xaa00_03e9, "mov x9, x0 ; x9 = the socket"),
        // setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &1, 16), then SO_RCVTIMEO, &{1 s, 0}
        // (qemu-user wants optlen to be exactly sizeof(struct timeval) for that one).
        a64(0xd280_0042, "mov x2, #2 ; SO_REUSEADDR"),
        a64(0x9100_03e3, "mov x3, sp ; &{1, 0}"),
        a64(0xd280_0204, "mov x4, #16 ; optlen"),
        a64(0xd280_1a08, "mov x8, #208 ; SYS_setsockopt"),
        a64(0xd400_0001, "svc #0"),
        a64(0xaa09_03e0, "mov x0, x9"),
        a64(0xd280_0282, "mov x2, #20 ; SO_RCVTIMEO"),
        a64(0xd400_0001, "svc #0"),
        // bind(fd, &sockaddr_in, 20); on failure exit(errno). The sockaddr_in is the
        // data's first 8 bytes (sin_zero: the response that follows); the length is
        // SO_RCVTIMEO's 20, which bind takes as well as 16 (it wants at least
        // sizeof(struct sockaddr_in) and at most sizeof(struct sockaddr_storage)).
        a64(0xaa09_03e0, "mov x0, x9"),
        a64(0x1000_0001, "adr x1, response - 8 ; &sockaddr_in").fixup(Fixup::Encode {
            target: Target::Data,
            encode: encode_adr,
        }),
        a64(0xd280_1908, "mov x8, #200 ; SYS_bind"),
        a64(0xd400_0001, "svc #0"),
        a64(0xb500_0000, "cbnz x0, exit ; with the errno").fixup(Fixup::Encode {
            target: Target::Label(EXIT),
            encode: encode_imm19,
        }),
        // listen(fd, x1): an address in the image (above 64 KiB), far above somaxconn,
        // which caps it.
        a64(0xaa09_03e0, "mov x0, x9"),
        a64(0xd280_1928, "mov x8, #201 ; SYS_listen, backlog = x1"),
        a64(0xd400_0001, "svc #0"),
        // clone(thread flags, no new stack) six times, every thread cloning again: 64
        // threads. The workers use no memory, so they can share the stack pointer.
        a64(
            0xd280_0001,
            "mov x1, #0 ; same stack (and accept's NULL address)",
        ),
        a64(0xd280_1b88, "mov x8, #220 ; SYS_clone"),
        a64(0xd281_e000, "mov x0, #3840").label(SPAWN),
        a64(
            0xf2a0_00a0,
            "movk x0, #5, lsl #16 ; CLONE_VM|FS|FILES|SIGHAND|THREAD|SYSVSEM",
        ),
        a64(0xd400_0001, "svc #0"),
        a64(0xd376_d484, "lsl x4, x4, #10 ; 16 << 60 = 0"),
        a64(0xb500_0004, "cbnz x4, spawn").fixup(Fixup::Encode {
            target: Target::Label(SPAWN),
            encode: encode_imm19,
        }),
        // Every thread: x3 = MSG_NOSIGNAL | MSG_TRUNC (send: EPIPE instead of SIGPIPE;
        // recv: discard), x2 = the response length.
        a64(0xd288_0403, "mov x3, #16416 ; MSG_NOSIGNAL | MSG_TRUNC"),
    ];
    v.extend(set(X2, serve.response.len() as u64, "length"));
    v.extend([
        // accept(fd, NULL, x2); an error (the timeout) flows on as a bad descriptor.
        a64(0xaa09_03e0, "mov x0, x9").label(ACCEPT),
        a64(0xd280_1948, "mov x8, #202 ; SYS_accept"),
        a64(0xd400_0001, "svc #0"),
        a64(0xaa00_03ea, "mov x10, x0 ; x10 = the connection"),
        // recvfrom(conn, NULL, len, MSG_TRUNC, NULL, 0): waits for bytes, discards them.
        a64(0xaa0a_03e0, "mov x0, x10").label(READ),
        a64(0xd280_0001, "mov x1, #0 ; no buffer"),
        a64(0xd280_19e8, "mov x8, #207 ; SYS_recvfrom"),
        a64(0xd400_0001, "svc #0"),
        a64(0xf100_001f, "cmp x0, #0"),
        a64(0xaa0a_03e0, "mov x0, x10"),
        a64(0x5400_000d, "b.le close ; end of file, error or timeout")
            .fixup(Fixup::Encode {
                target: Target::Label(CLOSE),
                encode: encode_imm19,
            })
            .reads_flags(),
        // sendto(conn, response, len, MSG_NOSIGNAL, NULL, 0): after the first time the
        // socket is shut for sending, so later ones fail with EPIPE and send nothing.
        a64(0x1000_0001, "adr x1, response").fixup(Fixup::Encode {
            target: Target::Data,
            encode: encode_adr_response,
        }),
        a64(0xd280_19c8, "mov x8, #206 ; SYS_sendto"),
        a64(0xd400_0001, "svc #0"),
        // shutdown(conn, SHUT_WR): the client reads end of file after the response.
        a64(0xaa0a_03e0, "mov x0, x10"),
        a64(0xd280_0021, "mov x1, #1 ; SHUT_WR"),
        a64(0xd280_1a48, "mov x8, #210 ; SYS_shutdown"),
        a64(0xd400_0001, "svc #0"),
        a64(0x1400_0000, "b read ; until the client closes").fixup(Fixup::Encode {
            target: Target::Label(READ),
            encode: encode_b,
        }),
        // close(conn)
        a64(0xd280_0728, "mov x8, #57 ; SYS_close").label(CLOSE),
        a64(0xd400_0001, "svc #0"),
        a64(0x1400_0000, "b accept").fixup(Fixup::Encode {
            target: Target::Label(ACCEPT),
            encode: encode_b,
        }),
        // exit_group(errno) after a failed bind (x0 = -errno), or exit_group(0) as the
        // SIGINT/SIGTERM handler (entered with x0 = the signal, positive).
        a64(
            0x8a80_fc00,
            "and x0, x0, x0, asr #63 ; a negative errno stays, a signal becomes 0",
        )
        .label(EXIT),
        a64(0xcb00_03e0, "neg x0, x0 ; status"),
        a64(0xd280_0bc8, "mov x8, #94 ; SYS_exit_group"),
        a64(0xd400_0001, "svc #0"),
    ]);
    Code {
        insns: v,
        data: [&sockaddr_in(serve.port)[..], &serve.response].concat(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adr_response_skips_the_sockaddr_in() {
        let mut r = 0x1000_0001u32.to_le_bytes();
        encode_adr_response(&mut r, 0x10000, 0x10000).unwrap();
        assert_eq!(u32::from_le_bytes(r), 0x1000_0041);
    }

    #[test]
    fn sockaddr_in_is_family_then_big_endian_port() {
        assert_eq!(sockaddr_in(8080), [2, 0, 0x1f, 0x90, 0, 0, 0, 0]);
    }
}
