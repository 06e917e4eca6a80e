//! `serve` on riscv64 (see [`crate::program::Serve`] for what it does).

use super::*;

// serve's labels
const EXIT: u8 = 1;
const EXIT_ERRNO: u8 = 2;
const SPAWN: u8 = 3;
const ACCEPT: u8 = 4;
const READ: u8 = 5;
const CLOSE: u8 = 6;

/// The `serve` listing (see [`crate::program::Serve`] for what it does). Registers: s0
/// holds the listening socket, s1 the connection, a2 the response length (also how much
/// one read discards), a3 the send/recv flags, a4 ends up 0 (no addresses) and a5 holds
/// the clone flags (positive: qemu-user's sendto rejects a negative address length even
/// with no address); a7 keeps the last syscall number, so nearby ones are a `c.addi`
/// away. Nothing is assumed about the registers at the entry point.
pub(super) fn serve(serve: &Serve, addressing: Addressing) -> Code {
    // The clone loop shifts a4 (the optlen 16 of setsockopt) left by 10 each time: zero
    // after exactly log2(WORKERS) shifts (every thread clones again: 2^rounds threads),
    // and then a4 is the NULL that recvfrom and sendto want.
    const fn rounds(mut a4: u64) -> u32 {
        let mut n = 0;
        while a4 != 0 {
            a4 <<= 10;
            n += 1;
        }
        n
    }
    const _: () = assert!(1 << rounds(TIMEVAL_SIZE as u64) == Serve::WORKERS);
    // The SIGCHLD action's handler word is also the timeout's seconds and the int 1.
    const _: () = assert!(Serve::TIMEOUT_SECS == SIG_IGN as u32);
    // bind's address length.
    const _: () = assert!(SOCKADDR_IN_SIZE <= SO_RCVTIMEO && SO_RCVTIMEO <= 128);
    const _: () = assert!(CLONE_THREAD_FLAGS == 0x50f << 8);
    // sockaddr_in's first 4 bytes as a little-endian word: sin_family, then sin_port
    // (big endian); `lui` sets bits 31..12 (the port), `c.addi` adds AF_INET.
    let port = u32::from(u16::from_le_bytes(serve.port.to_be_bytes()));
    let len = i32::try_from(serve.response.len()).expect("the response length is checked");
    // rt_sigaction(SIGINT, then SIGTERM, &act, NULL, 8), act = {sa_handler = exit,
    // sa_flags = 0, sa_mask} (riscv has no sa_restorer: the kernel returns through the
    // vdso's sigreturn) written over argc and argv: the mask is what argv[1] held, and
    // only matters while the handler runs, which exits at once.
    let mut v = address(A1, Target::Label(EXIT), "exit", addressing);
    v.extend([
        listed(
            &[0x2e, 0xe0],
            c_sdsp(A1, 0),
            "c.sdsp a1, 0(sp) ; act.sa_handler",
        ),
        listed(
            &[0x02, 0xe4],
            c_sdsp(ZERO, 8),
            "c.sdsp zero, 8(sp) ; act.sa_flags = 0",
        ),
        listed(&[0x8a, 0x85], c_mv(A1, SP), "c.mv a1, sp ; &act"),
        listed(&[0x01, 0x46], c_li(A2, 0), "c.li a2, 0 ; no old action"),
        listed(
            &[0xa1, 0x46],
            c_li(A3, SIGSET_SIZE),
            "c.li a3, 8 ; sigsetsize",
        ),
        listed(&[0x09, 0x45], c_li(A0, SIGINT), "c.li a0, 2 ; SIGINT"),
        listed(
            &[0x93, 0x08, 0x60, 0x08],
            addi(A7, ZERO, SYS_RT_SIGACTION),
            "addi a7, zero, 134 ; SYS_rt_sigaction",
        ),
        ecall(),
        listed(&[0x3d, 0x45], c_li(A0, SIGTERM), "c.li a0, 15 ; SIGTERM"),
        ecall(),
        // rt_sigaction(SIGCHLD, &{SIG_IGN, flags 0}, NULL, 8): the kernel reaps children.
        // The same 16 bytes are later the timeval {1 s, 0} and the int 1 of setsockopt.
        listed(
            &[0x05, 0x47],
            c_li(A4, SIG_IGN),
            "c.li a4, 1 ; SIG_IGN, tv_sec = 1, int 1",
        ),
        listed(
            &[0x3a, 0xe0],
            c_sdsp(A4, 0),
            "c.sdsp a4, 0(sp) ; act.sa_handler",
        ),
        listed(&[0x45, 0x45], c_li(A0, SIGCHLD), "c.li a0, 17 ; SIGCHLD"),
        ecall(),
        // socket(AF_INET, SOCK_STREAM, 0 = a2)
        listed(&[0x09, 0x45], c_li(A0, AF_INET), "c.li a0, 2 ; AF_INET"),
        listed(
            &[0x85, 0x45],
            c_li(A1, SOCK_STREAM),
            "c.li a1, 1 ; SOCK_STREAM (= SOL_SOCKET next)",
        ),
        listed(
            &[0x93, 0x08, 0x60, 0x0c],
            addi(A7, ZERO, SYS_SOCKET),
            "addi a7, zero, 198 ; SYS_socket",
        ),
        ecall(),
        listed(&[0x2a, 0x84], c_mv(S0, A0), "c.mv s0, a0 ; s0 = the socket"),
        // setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &1, 16), then SO_RCVTIMEO, &{1 s, 0}
        // (qemu-user wants optlen to be exactly sizeof(struct timeval) for that one).
        listed(
            &[0x09, 0x46],
            c_li(A2, SO_REUSEADDR),
            "c.li a2, 2 ; SO_REUSEADDR",
        ),
        listed(&[0x8a, 0x86], c_mv(A3, SP), "c.mv a3, sp ; &{1, 0}"),
        listed(
            &[0x41, 0x47],
            c_li(A4, TIMEVAL_SIZE),
            "c.li a4, 16 ; optlen",
        ),
        listed(
            &[0xa9, 0x08],
            c_addi(A7, SYS_SETSOCKOPT - SYS_SOCKET),
            "c.addi a7, 10 ; SYS_setsockopt",
        ),
        ecall(),
        listed(&[0x22, 0x85], c_mv(A0, S0), "c.mv a0, s0"),
        listed(
            &[0x51, 0x46],
            c_li(A2, SO_RCVTIMEO),
            "c.li a2, 20 ; SO_RCVTIMEO",
        ),
        ecall(),
        // bind(fd, &{AF_INET, htons(port), INADDR_ANY}, 20); on failure exit(errno). The
        // word goes over the low half of the 1 at sp (the high half is INADDR_ANY); the
        // length is SO_RCVTIMEO's 20, which bind takes as well as 16 (it wants at least
        // sizeof(struct sockaddr_in) and at most sizeof(struct sockaddr_storage)).
        listed(&[0x22, 0x85], c_mv(A0, S0), "c.mv a0, s0"),
        Insn::new(
            &lui(A6, port << 4),
            format!("lui a6, {} ; port {}", port << 4, serve.port),
        ),
        listed(&[0x09, 0x08], c_addi(A6, AF_INET), "c.addi a6, 2 ; AF_INET"),
        listed(
            &[0x42, 0xc0],
            c_swsp(A6, 0),
            "c.swsp a6, 0(sp) ; sockaddr_in (sin_zero: what follows)",
        ),
        listed(&[0x8a, 0x85], c_mv(A1, SP), "c.mv a1, sp"),
        listed(
            &[0xe1, 0x18],
            c_addi(A7, SYS_BIND - SYS_SETSOCKOPT),
            "c.addi a7, -8 ; SYS_bind",
        ),
        ecall(),
        listed(&[0x01, 0xe1], c_bnez(A0), "c.bnez a0, exit_errno").fixup(Fixup::Encode {
            target: Target::Label(EXIT_ERRNO),
            encode: encode_c_bnez,
        }),
        // listen(fd, a1): a stack address, far above somaxconn, which caps it.
        listed(&[0x22, 0x85], c_mv(A0, S0), "c.mv a0, s0"),
        listed(
            &[0x85, 0x08],
            c_addi(A7, SYS_LISTEN - SYS_BIND),
            "c.addi a7, 1 ; SYS_listen, backlog = a1",
        ),
        ecall(),
        // clone(thread flags, a1 = sp: the same stack) six times, every thread cloning
        // again: 64 threads. The workers use no memory, so they can share the stack.
        listed(
            &[0x93, 0x07, 0xf0, 0x50],
            addi(A5, ZERO, CLONE_THREAD_FLAGS >> 8),
            "addi a5, zero, 1295",
        ),
        listed(
            &[0xa2, 0x07],
            c_slli(A5, 8),
            "c.slli a5, 8 ; CLONE_VM|FS|FILES|SIGHAND|THREAD|SYSVSEM",
        ),
        listed(
            &[0xcd, 0x08],
            c_addi(A7, SYS_CLONE - SYS_LISTEN),
            "c.addi a7, 19 ; SYS_clone",
        ),
        listed(&[0x3e, 0x85], c_mv(A0, A5), "c.mv a0, a5").label(SPAWN),
        ecall(),
        listed(
            &[0x2a, 0x07],
            c_slli(A4, 10),
            "c.slli a4, 10 ; 16 << 60 = 0",
        ),
        listed(&[0x01, 0xe3], c_bnez(A4), "c.bnez a4, spawn").fixup(Fixup::Encode {
            target: Target::Label(SPAWN),
            encode: encode_c_bnez,
        }),
        // Every thread: a1 = NULL, a3 = MSG_NOSIGNAL | MSG_TRUNC (send: EPIPE instead of
        // SIGPIPE; recv: discard), a2 = the response length.
        listed(
            &[0x81, 0x45],
            c_li(A1, 0),
            "c.li a1, 0 ; accept's NULL address",
        ),
        listed(
            &[0x91, 0x66],
            c_lui(A3, RECV_SEND_FLAGS >> 12),
            "c.lui a3, 4 ; MSG_NOSIGNAL",
        ),
        listed(
            &[0x93, 0x86, 0x06, 0x02],
            addi(A3, A3, RECV_SEND_FLAGS & 0xfff),
            "addi a3, a3, 32 ; | MSG_TRUNC",
        ),
    ]);
    v.extend(li(A2, len, "length"));
    v.extend([
        // accept(fd, NULL, a2); an error (the timeout) flows on as a bad descriptor.
        listed(&[0x22, 0x85], c_mv(A0, S0), "c.mv a0, s0").label(ACCEPT),
        listed(
            &[0x93, 0x08, 0xa0, 0x0c],
            addi(A7, ZERO, SYS_ACCEPT),
            "addi a7, zero, 202 ; SYS_accept",
        ),
        ecall(),
        listed(
            &[0xaa, 0x84],
            c_mv(S1, A0),
            "c.mv s1, a0 ; s1 = the connection",
        ),
        // recvfrom(conn, NULL, len, MSG_TRUNC, NULL, a5): waits for bytes, discards them.
        listed(&[0x26, 0x85], c_mv(A0, S1), "c.mv a0, s1").label(READ),
        listed(&[0x81, 0x45], c_li(A1, 0), "c.li a1, 0 ; no buffer"),
        listed(
            &[0x93, 0x08, 0xf0, 0x0c],
            addi(A7, ZERO, SYS_RECVFROM),
            "addi a7, zero, 207 ; SYS_recvfrom",
        ),
        ecall(),
        listed(
            &[0x63, 0x50, 0xa0, 0x00],
            bge(ZERO, A0),
            "blez a0, close ; end of file, error or timeout (bge zero, a0)",
        )
        .fixup(Fixup::Encode {
            target: Target::Label(CLOSE),
            encode: encode_bltz,
        }),
        // sendto(conn, response, len, MSG_NOSIGNAL, NULL, a5): after the first time the
        // socket is shut for sending, so later ones fail with EPIPE and send nothing.
        listed(&[0x26, 0x85], c_mv(A0, S1), "c.mv a0, s1"),
    ]);
    v.extend(address(A1, Target::Data, "response", addressing));
    v.extend([
        listed(
            &[0xfd, 0x18],
            c_addi(A7, SYS_SENDTO - SYS_RECVFROM),
            "c.addi a7, -1 ; SYS_sendto",
        ),
        ecall(),
        // shutdown(conn, SHUT_WR): the client reads end of file after the response.
        listed(&[0x26, 0x85], c_mv(A0, S1), "c.mv a0, s1"),
        listed(&[0x85, 0x45], c_li(A1, SHUT_WR), "c.li a1, 1 ; SHUT_WR"),
        listed(
            &[0x91, 0x08],
            c_addi(A7, SYS_SHUTDOWN - SYS_SENDTO),
            "c.addi a7, 4 ; SYS_shutdown",
        ),
        ecall(),
        Insn::new(&[0x01, 0xa0], "c.j read ; until the client closes").fixup(Fixup::Encode {
            target: Target::Label(READ),
            encode: encode_c_j,
        }),
        // close(conn)
        listed(&[0x26, 0x85], c_mv(A0, S1), "c.mv a0, s1").label(CLOSE),
        listed(
            &[0x93, 0x08, 0x90, 0x03],
            addi(A7, ZERO, SYS_CLOSE),
            "addi a7, zero, 57 ; SYS_close",
        ),
        ecall(),
        Insn::new(&[0x01, 0xa0], "c.j accept").fixup(Fixup::Encode {
            target: Target::Label(ACCEPT),
            encode: encode_c_j,
        }),
        // exit_group(0) as the SIGINT/SIGTERM handler (entered with a0 = the signal), or
        // exit_group(errno) after a failed bind (a0 = -errno).
        listed(&[0x01, 0x45], c_li(A0, 0), "c.li a0, 0").label(EXIT),
        listed(
            &[0x33, 0x05, 0xa0, 0x40],
            sub(A0, ZERO, A0),
            "neg a0, a0 ; status",
        )
        .label(EXIT_ERRNO),
        listed(
            &[0x93, 0x08, 0xe0, 0x05],
            addi(A7, ZERO, SYS_EXIT_GROUP),
            "addi a7, zero, 94 ; SYS_exit_group",
        ),
        ecall(),
    ]);
    Code {
        insns: v,
        data: serve.response.to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serve_addresses_either_way() {
        let serve = Serve::new(8080, &Default::default()).unwrap();
        let listing = |addressing| {
            super::serve(&serve, addressing)
                .insns
                .iter()
                .map(|i| i.asm.split_whitespace().next().unwrap().to_string())
                .collect::<Vec<_>>()
        };
        let abs = listing(Addressing::Abs32);
        let rel = listing(Addressing::PcRelative);
        assert_eq!(abs.iter().filter(|m| *m == "c.lui").count(), 3);
        assert!(!abs.contains(&"auipc".to_string()));
        assert_eq!(rel.iter().filter(|m| *m == "auipc").count(), 2);
        assert_eq!(rel.len(), abs.len() + 4);
    }
}
