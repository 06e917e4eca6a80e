//! `serve` on IA-32 (see [`crate::program::Serve`] for what it does).

use super::*;
use crate::arch::net::*;
use crate::arch::signal::{SIGCHLD, SIGINT, SIGSET_SIZE, SIGTERM, SIG_IGN};

// serve's labels
const EXIT: u8 = 1;
const EXIT_ERRNO: u8 = 2;
const SPAWN: u8 = 3;
const ACCEPT: u8 = 4;
const READ: u8 = 5;
const CLOSE: u8 = 6;

/// The `serve` listing (see [`crate::program::Serve`] for what it does). Registers: ebp
/// holds SYS_accept4 (364) from the first instruction on, so every socket call number
/// (359..373) and exit_group (252) is `lea eax, [ebp + disp8]`; edx holds the response
/// length (also how much one read discards), esi the send/recv flags, edi stays 0 (no
/// address). The listening socket is the word at [esp], pushed before the threads
/// start: the workers share the stack pointer, so they only read memory, never write it
/// (no push or pop after the clones).
pub(super) fn serve(serve: &Serve, _addressing: Addressing) -> Code {
    let [p0, p1] = serve.port.to_be_bytes();
    let [c0, c1, c2, c3] = CLONE_THREAD_FLAGS.to_le_bytes();
    let [m0, m1] = u16::try_from(MSG_NOSIGNAL | MSG_TRUNC)
        .unwrap()
        .to_le_bytes();
    let [a0, a1] = SYS_ACCEPT4.to_le_bytes();
    // lea eax, [ebp + disp8] (8D /r, mod 01 r/m 101): a syscall number near SYS_accept4.
    let call = |number: u16, name: &str| {
        let d = i8::try_from(i32::from(number) - i32::from(SYS_ACCEPT4)).unwrap();
        let sign = if d < 0 { '-' } else { '+' };
        Insn::new(
            &[0x8d, 0x45, d as u8],
            format!("lea eax, [ebp {sign} {}] ; SYS_{name}", d.unsigned_abs()),
        )
    };
    let int80 = || Insn::new(&[0xcd, 0x80], "int 0x80");
    let workers_log2 = Serve::WORKERS.trailing_zeros() as u8;
    assert_eq!(1 << workers_log2, Serve::WORKERS);
    // The clone counter starts from edi = 8 (the timeval's optlen) counted down.
    assert!(workers_log2 <= SIGSET_SIZE);
    // The SIGCHLD action's handler word is also the timeout's seconds and the int 1.
    const _: () = assert!(Serve::TIMEOUT_SECS == SIG_IGN as u32);
    const _: () = assert!(SOCK_STREAM == SOL_SOCKET && SOL_SOCKET == SIG_IGN);
    const _: () = assert!(SHUT_WR == 1 && SIGSET_SIZE == 8);
    let mut v = vec![
        // rt_sigaction(SIGINT and SIGTERM, &{handler = exit, flags 0}, NULL, 8). No
        // SA_RESTORER: a 32-bit x86 frame returns through the vdso without one
        // (arch/x86/kernel/signal_32.c), and the handler never returns anyway. (The
        // order fills the header holes: 2 bytes, then 9.)
        Insn::new(&[0xb3, SIGINT], "mov bl, 2 ; SIGINT"),
        Insn::new(&[0x66, 0xbd, a0, a1], "mov bp, 0x16c ; SYS_accept4"),
        Insn::new(&[0x50], "push eax ; sa_flags = 0"),
        Insn::new(&[0xb0, SYS_RT_SIGACTION], "mov al, 174 ; SYS_rt_sigaction"),
        Insn::new(&[0x68, 0, 0, 0, 0], "push exit ; sa_handler").fixup(Fixup::Abs32 {
            at: 1,
            target: Target::Label(EXIT),
        }),
        Insn::new(&[0x89, 0xe1], "mov ecx, esp ; ecx = &act"),
        Insn::new(&[0x6a, SIGSET_SIZE], "push 8"),
        Insn::new(&[0x5e], "pop esi ; sigsetsize"),
        int80(),
        Insn::new(&[0xb3, SIGTERM], "mov bl, 15 ; SIGTERM"),
        Insn::new(&[0xb0, SYS_RT_SIGACTION], "mov al, 174 ; SYS_rt_sigaction"),
        int80(),
        // rt_sigaction(SIGCHLD, &{SIG_IGN, flags 0}, NULL, 8): the kernel reaps children.
        // The same 8 bytes are later the timeval {1 s, 0} and the int 1 of setsockopt.
        Insn::new(&[0x50], "push eax ; 0: sa_flags, tv_usec"),
        Insn::new(&[0x6a, SIG_IGN], "push 1 ; SIG_IGN, tv_sec = 1, int 1"),
        Insn::new(&[0x89, 0xe1], "mov ecx, esp ; ecx = &act"),
        Insn::new(&[0xb3, SIGCHLD], "mov bl, 17 ; SIGCHLD"),
        Insn::new(&[0xb0, SYS_RT_SIGACTION], "mov al, 174 ; SYS_rt_sigaction"),
        int80(),
        // socket(AF_INET, SOCK_STREAM, 0)
        Insn::new(&[0x89, 0xf7], "mov edi, esi ; optlen 8 = sizeof(timeval)"),
        Insn::new(&[0x89, 0xce], "mov esi, ecx ; esi = &{1, 0}"),
        Insn::new(
            &[0x8b, 0x09],
            "mov ecx, dword ptr [ecx] ; 1 = SOCK_STREAM (= SOL_SOCKET next)",
        ),
        Insn::new(&[0xb3, AF_INET], "mov bl, 2 ; AF_INET"),
        call(SYS_SOCKET, "socket"),
        int80(),
        // setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &1, 8), then SO_RCVTIMEO, &{1 s, 0}
        // (32-bit: the old timeval, two 32-bit words; qemu wants optlen exactly 8).
        Insn::new(&[0x93], "xchg ebx, eax ; ebx = the socket, eax = 2"),
        Insn::new(&[0x92], "xchg edx, eax ; edx = 2 = SO_REUSEADDR, eax = 0"),
        call(SYS_SETSOCKOPT, "setsockopt"),
        int80(),
        Insn::new(&[0xb2, SO_RCVTIMEO], "mov dl, 20 ; SO_RCVTIMEO"),
        call(SYS_SETSOCKOPT, "setsockopt"),
        int80(),
        // bind(fd, &{AF_INET, htons(port), INADDR_ANY}, edx = 20): the kernel takes any
        // length from sizeof(sockaddr_in) = 16 to sizeof(sockaddr_storage) = 128 and
        // reads no more than 16 of them; on failure exit(errno).
        Insn::new(
            &[0x50],
            "push eax ; sin_addr = INADDR_ANY (sin_zero: what follows)",
        ),
        Insn::new(
            &[0x68, AF_INET, 0, p0, p1],
            format!(
                "push {:#x} ; AF_INET, port {}",
                u32::from_le_bytes([AF_INET, 0, p0, p1]),
                serve.port
            ),
        ),
        Insn::new(&[0x89, 0xe1], "mov ecx, esp ; ecx = &sockaddr"),
        call(SYS_BIND, "bind"),
        int80(),
        Insn::new(&[0x85, 0xc0], "test eax, eax"),
        Insn::new(&[0x75, 0], "jne exit_errno")
            .fixup(Fixup::Rel8 {
                at: 1,
                target: Target::Label(EXIT_ERRNO),
            })
            .reads_flags(),
        // listen(fd, ecx): a stack address, far above somaxconn (as unsigned), which caps
        // it.
        call(SYS_LISTEN, "listen"),
        int80(),
        // clone(thread flags, no new stack) six times, every thread cloning again: 64
        // threads. The listening socket goes on the stack first; from here on no thread
        // writes memory.
        Insn::new(&[0x53], "push ebx ; [esp] = the socket"),
        Insn::new(
            &[0xbb, c0, c1, c2, c3],
            "mov ebx, 0x50f00 ; CLONE_VM|FS|FILES|SIGHAND|THREAD|SYSVSEM",
        ),
        Insn::new(&[0x31, 0xc9], "xor ecx, ecx ; same stack"),
    ];
    for _ in workers_log2..SIGSET_SIZE {
        v.push(Insn::new(&[0x4f], "dec edi"));
    }
    v.last_mut().unwrap().asm += &format!(" ; {workers_log2} rounds");
    v.extend([
        Insn::new(&[0x8d, 0x41, SYS_CLONE], "lea eax, [ecx + 120] ; SYS_clone").label(SPAWN),
        int80(),
        Insn::new(&[0x4f], "dec edi"),
        Insn::new(&[0x75, 0], "jne spawn ; edi ends at 0: no address")
            .fixup(Fixup::Rel8 {
                at: 1,
                target: Target::Label(SPAWN),
            })
            .reads_flags(),
        x86::set_edx(serve.response.len()),
        // accept4(fd, NULL, NULL, 0); an error (the timeout) flows on as a bad descriptor.
        Insn::new(&[0x8b, 0x1c, 0x24], "mov ebx, dword ptr [esp] ; the socket").label(ACCEPT),
        Insn::new(&[0x31, 0xf6], "xor esi, esi ; flags 0"),
        Insn::new(&[0x89, 0xe8], "mov eax, ebp ; SYS_accept4"),
        int80(),
        Insn::new(&[0x93], "xchg ebx, eax ; ebx = the connection"),
        // esi = MSG_NOSIGNAL | MSG_TRUNC (send: EPIPE instead of SIGPIPE; recv: discard).
        Insn::new(
            &[0x66, 0xbe, m0, m1],
            "mov si, 0x4020 ; MSG_NOSIGNAL | MSG_TRUNC",
        ),
        // recvfrom(conn, NULL, len, MSG_TRUNC, NULL, ebp): waits for bytes, discards them
        // (the address length is not read when the address is NULL).
        call(SYS_RECVFROM, "recvfrom").label(READ),
        int80(),
        Insn::new(&[0x85, 0xc0], "test eax, eax"),
        Insn::new(&[0x7e, 0], "jle close ; end of file, error or timeout")
            .fixup(Fixup::Rel8 {
                at: 1,
                target: Target::Label(CLOSE),
            })
            .reads_flags(),
        // sendto(conn, response, len, MSG_NOSIGNAL, NULL, ebp): after the first time the
        // socket is shut for sending, so later ones fail with EPIPE and send nothing.
        Insn::new(&[0xb9, 0, 0, 0, 0], "mov ecx, response").fixup(Fixup::Abs32 {
            at: 1,
            target: Target::Data,
        }),
        call(SYS_SENDTO, "sendto"),
        int80(),
        // shutdown(conn, SHUT_WR): the client reads end of file after the response.
        Insn::new(&[0x31, 0xc9], "xor ecx, ecx"),
        Insn::new(&[0x41], "inc ecx ; SHUT_WR"),
        call(SYS_SHUTDOWN, "shutdown"),
        int80(),
        Insn::new(&[0x49], "dec ecx ; NULL again"),
        Insn::new(&[0xeb, 0], "jmp read ; until the client closes").fixup(Fixup::Rel8 {
            at: 1,
            target: Target::Label(READ),
        }),
        // close(conn)
        Insn::new(&[0x8d, 0x41, SYS_CLOSE], "lea eax, [ecx + 6] ; SYS_close").label(CLOSE),
        int80(),
        Insn::new(&[0xeb, 0], "jmp accept").fixup(Fixup::Rel8 {
            at: 1,
            target: Target::Label(ACCEPT),
        }),
        // The SIGINT/SIGTERM handler (entered with eax = the signal): exit_group(0); or,
        // after a failed bind (eax = -errno), exit_group(errno).
        Insn::new(&[0x31, 0xc0], "xor eax, eax").label(EXIT),
        Insn::new(&[0xf7, 0xd8], "neg eax").label(EXIT_ERRNO),
        Insn::new(&[0x93], "xchg ebx, eax ; status"),
        call(SYS_EXIT_GROUP, "exit_group"),
        int80(),
    ]);
    Code {
        insns: v,
        data: serve.response.to_vec(),
    }
}
