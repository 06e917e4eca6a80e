//! `serve` on x86-64 (see [`crate::program::Serve`] for what it does).

use super::*;
use crate::arch::net::*;
use crate::arch::signal::{SA_RESTORER, SIGCHLD, SIGINT, SIGSET_SIZE, SIGTERM, SIG_IGN};
use crate::arch::Fixup;

// serve's labels
const EXIT: u8 = 1;
const SPAWN: u8 = 2;
const READ: u8 = 4;
const CLOSE: u8 = 5;

/// The `serve` listing (see [`crate::program::Serve`] for what it does). Registers: rbp
/// holds the listening socket, rdx the response length (also how much one read
/// discards), r10 the send/recv flags, rbx 0 (the base of every syscall number:
/// `lea eax, [rbx + n]` is as short as `push n; pop rax` and touches no memory); r8 and r9
/// stay 0 (no addresses).
pub(super) fn serve(serve: &Serve, addressing: Addressing) -> Code {
    let [f0, f1, f2, f3] = SA_RESTORER.to_le_bytes();
    let [p0, p1] = serve.port.to_be_bytes();
    let [c0, c1, c2, c3] = CLONE_THREAD_FLAGS.to_le_bytes();
    let [m0, m1, m2, m3] = (MSG_NOSIGNAL | MSG_TRUNC).to_le_bytes();
    // The clone loop's counter is r8 = 16 (setsockopt's optlen) shifted left by 10 each
    // round: 2^4 · 2^60 wraps to 0 after six rounds, 2^6 = 64 threads, and leaves r8 =
    // NULL for recvfrom and sendto.
    const _: () = assert!(Serve::WORKERS == 64);
    // The address of `target` in a register: `mov r32, imm32` (B8+r id) below 4 GiB,
    // else `lea r64, [rip + rel32]` (REX.W 8D /r, mod 00 r/m 101).
    let address = |reg: u8, r32: &str, r64: &str, target: Target, what: &str| match addressing {
        Addressing::Abs32 => Insn::new(&[0xb8 + reg, 0, 0, 0, 0], format!("mov {r32}, {what}"))
            .fixup(Fixup::Abs32 { at: 1, target }),
        Addressing::PcRelative => Insn::new(
            &[0x48, 0x8d, 0x05 | reg << 3, 0, 0, 0, 0],
            format!("lea {r64}, [rip + {what}]"),
        )
        .fixup(Fixup::Rel32 { at: 3, target }),
    };
    // The SIGCHLD action's handler word is also the timeout's seconds.
    const _: () = assert!(Serve::TIMEOUT_SECS == SIG_IGN as u32);
    let mut v = vec![
        // rt_sigaction(SIGINT and SIGTERM, &{handler = exit, SA_RESTORER}, NULL, 8).
        Insn::new(
            &[0x68, f0, f1, f2, f3],
            "push 0x4000000 ; sa_flags = SA_RESTORER",
        ),
    ];
    v.extend(match addressing {
        Addressing::Abs32 => vec![
            Insn::new(&[0x68, 0, 0, 0, 0], "push exit ; sa_handler").fixup(Fixup::Abs32 {
                at: 1,
                target: Target::Label(EXIT),
            }),
        ],
        Addressing::PcRelative => vec![
            address(1, "ecx", "rcx", Target::Label(EXIT), "exit"),
            Insn::new(&[0x51], "push rcx ; sa_handler = exit"),
        ],
    });
    v.extend([
        Insn::new(&[0x54], "push rsp"),
        Insn::new(&[0x5e], "pop rsi ; rsi = &act"),
        Insn::new(&[0x41, 0xb2, SIGSET_SIZE], "mov r10b, 8 ; sigsetsize"),
        Insn::new(&[0x40, 0xb7, SIGINT], "mov dil, 2 ; SIGINT"),
        Insn::new(&[0xb0, SYS_RT_SIGACTION], "mov al, 13 ; SYS_rt_sigaction"),
        Insn::new(&[0x0f, 0x05], "syscall"),
        Insn::new(&[0x40, 0xb7, SIGTERM], "mov dil, 15 ; SIGTERM"),
        Insn::new(&[0xb0, SYS_RT_SIGACTION], "mov al, 13 ; SYS_rt_sigaction"),
        Insn::new(&[0x0f, 0x05], "syscall"),
        // rt_sigaction(SIGCHLD, &{SIG_IGN, flags 0}, NULL, 8): the kernel reaps children.
        // The same 16 bytes are later the timeval {1 s, 0} and the int 1 of setsockopt.
        Insn::new(&[0x50], "push rax ; 0: sa_flags, tv_usec"),
        Insn::new(&[0x6a, SIG_IGN], "push 1 ; SIG_IGN, tv_sec = 1, int 1"),
        Insn::new(&[0x54], "push rsp"),
        Insn::new(&[0x5e], "pop rsi ; rsi = &act"),
        Insn::new(&[0x40, 0xb7, SIGCHLD], "mov dil, 17 ; SIGCHLD"),
        Insn::new(&[0xb0, SYS_RT_SIGACTION], "mov al, 13 ; SYS_rt_sigaction"),
        Insn::new(&[0x0f, 0x05], "syscall"),
        // socket(AF_INET, SOCK_STREAM, 0)
        Insn::new(&[0x40, 0xb7, AF_INET], "mov dil, 2 ; AF_INET"),
        Insn::new(
            &[0x8b, 0x36],
            "mov esi, dword ptr [rsi] ; SOCK_STREAM = SIG_IGN (= SOL_SOCKET next)",
        ),
        Insn::new(&[0xb0, SYS_SOCKET], "mov al, 41 ; SYS_socket"),
        Insn::new(&[0x0f, 0x05], "syscall"),
        Insn::new(&[0x97], "xchg edi, eax ; rdi = the socket, eax = 2"),
        Insn::new(&[0x89, 0xfd], "mov ebp, edi ; kept in rbp"),
        // setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &1, 16), then SO_RCVTIMEO, &{1 s, 0}.
        Insn::new(
            &[0x92],
            "xchg edx, eax ; SO_REUSEADDR = AF_INET = 2, eax = 0",
        ),
        Insn::new(&[0x49, 0x89, 0xe2], "mov r10, rsp ; &{1, 0}"),
        Insn::new(&[0x41, 0xb0, 16], "mov r8b, 16 ; optlen"),
        Insn::new(&[0xb0, SYS_SETSOCKOPT], "mov al, 54 ; SYS_setsockopt"),
        Insn::new(&[0x0f, 0x05], "syscall"),
        Insn::new(&[0xb2, SO_RCVTIMEO], "mov dl, 20 ; SO_RCVTIMEO"),
        Insn::new(&[0xb0, SYS_SETSOCKOPT], "mov al, 54 ; SYS_setsockopt"),
        Insn::new(&[0x0f, 0x05], "syscall"),
        // bind(fd, &{AF_INET, htons(port), INADDR_ANY}, rdx = 20: any length from 16, the
        // size of a sockaddr_in, to 128 will do); on failure exit(errno).
        Insn::new(
            &[0xb9, AF_INET, 0, p0, p1],
            format!(
                "mov ecx, {:#x} ; AF_INET, port {}",
                u32::from_le_bytes([AF_INET, 0, p0, p1]),
                serve.port
            ),
        ),
        Insn::new(&[0x51], "push rcx ; sockaddr_in (sin_zero: what follows)"),
        Insn::new(&[0x54], "push rsp"),
        Insn::new(&[0x5e], "pop rsi"),
        Insn::new(&[0xb0, SYS_BIND], "mov al, 49 ; SYS_bind"),
        Insn::new(&[0x0f, 0x05], "syscall"),
        Insn::new(&[0x85, 0xc0], "test eax, eax"),
        Insn::new(&[0x75, 0], "jne exit ; with the errno")
            .fixup(Fixup::Rel8 {
                at: 1,
                target: Target::Label(EXIT),
            })
            .reads_flags(),
        // listen(fd, rsi): a stack address, far above somaxconn, which caps it.
        Insn::new(
            &[0xb0, SYS_LISTEN],
            "mov al, 50 ; SYS_listen, backlog = rsi",
        ),
        Insn::new(&[0x0f, 0x05], "syscall"),
        // clone(thread flags, the same stack) six times, every thread cloning again: 64
        // threads. From here on no instruction touches memory (no push or pop: the
        // threads share the stack pointer, so they would race for the same slot);
        // numbers come from rdx = 20 in this loop and from rbx (never set: 0) after it.
        Insn::new(
            &[0xbf, c0, c1, c2, c3],
            "mov edi, 0x50f00 ; CLONE_VM|FS|FILES|SIGHAND|THREAD|SYSVSEM",
        ),
        // newsp = rsi = rsp: the child starts on the parent's stack pointer.
        Insn::new(
            &[0x8d, 0x42, SYS_CLONE - SO_RCVTIMEO],
            "lea eax, [rdx + 36] ; SYS_clone (rdx = 20)",
        )
        .label(SPAWN),
        Insn::new(&[0x0f, 0x05], "syscall"),
        Insn::new(
            &[0x49, 0xc1, 0xe0, 10],
            "shl r8, 10 ; 16 << 60 = 0: six rounds",
        ),
        Insn::new(&[0x75, 0], "jne spawn")
            .fixup(Fixup::Rel8 {
                at: 1,
                target: Target::Label(SPAWN),
            })
            .reads_flags(),
        // Every thread: r10 = MSG_NOSIGNAL | MSG_TRUNC (send: EPIPE instead of SIGPIPE;
        // recv: discard), rdx = the response length.
        Insn::new(
            &[0x41, 0xba, m0, m1, m2, m3],
            "mov r10d, 0x4020 ; MSG_NOSIGNAL | MSG_TRUNC",
        ),
        x86::set_edx(serve.response.len()),
        // close(conn), then accept: the loop starts with a close of rdi = the clone flags,
        // no descriptor (EBADF), which saves a jump back to accept.
        Insn::new(&[0x8d, 0x43, SYS_CLOSE], "lea eax, [rbx + 3] ; SYS_close").label(CLOSE),
        Insn::new(&[0x0f, 0x05], "syscall"),
        // accept(fd, NULL, NULL); an error (the timeout) flows on as a bad descriptor.
        Insn::new(&[0x89, 0xef], "mov edi, ebp"),
        Insn::new(&[0x31, 0xf6], "xor esi, esi"),
        Insn::new(
            &[0x8d, 0x43, SYS_ACCEPT],
            "lea eax, [rbx + 43] ; SYS_accept",
        ),
        Insn::new(&[0x0f, 0x05], "syscall"),
        Insn::new(&[0x97], "xchg edi, eax ; rdi = the connection"),
        // recvfrom(conn, rsi, len, MSG_TRUNC, NULL, NULL): waits for bytes, discards them.
        Insn::new(
            &[0x8d, 0x43, SYS_RECVFROM],
            "lea eax, [rbx + 45] ; SYS_recvfrom",
        )
        .label(READ),
        Insn::new(&[0x0f, 0x05], "syscall"),
        Insn::new(&[0x85, 0xc0], "test eax, eax"),
        Insn::new(&[0x7e, 0], "jle close ; end of file, error or timeout")
            .fixup(Fixup::Rel8 {
                at: 1,
                target: Target::Label(CLOSE),
            })
            .reads_flags(),
        // sendto(conn, response, len, MSG_NOSIGNAL, NULL, 0): after the first time the
        // socket is shut for sending, so later ones fail with EPIPE and send nothing.
        address(6, "esi", "rsi", Target::Data, "response"),
        Insn::new(
            &[0x8d, 0x43, SYS_SENDTO],
            "lea eax, [rbx + 44] ; SYS_sendto",
        ),
        Insn::new(&[0x0f, 0x05], "syscall"),
        // shutdown(conn, SHUT_WR): the client reads end of file after the response.
        Insn::new(
            &[0x8d, 0x43, SYS_SHUTDOWN],
            "lea eax, [rbx + 48] ; SYS_shutdown",
        ),
        Insn::new(&[0x8d, 0x73, SHUT_WR], "lea esi, [rbx + 1] ; SHUT_WR"),
        Insn::new(&[0x0f, 0x05], "syscall"),
        Insn::new(&[0xeb, 0], "jmp read ; until the client closes").fixup(Fixup::Rel8 {
            at: 1,
            target: Target::Label(READ),
        }),
        // exit_group(errno) after a failed bind (eax = -errno), or exit_group(0) as the
        // SIGINT/SIGTERM handler (entered with eax = 0, edi = the signal).
        Insn::new(&[0xf7, 0xd8], "neg eax").label(EXIT),
        Insn::new(&[0x89, 0xc7], "mov edi, eax ; status"),
        // eax is the errno or 0 (upper half cleared by neg): mov al sets all of rax.
        Insn::new(&[0xb0, SYS_EXIT_GROUP], "mov al, 231 ; SYS_exit_group"),
        Insn::new(&[0x0f, 0x05], "syscall"),
    ]);
    Code {
        insns: v,
        data: serve.response.to_vec(),
    }
}
