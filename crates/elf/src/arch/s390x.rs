//! z/Architecture (linux/s390x): `svc N` with the syscall number in the instruction (N < 256),
//! arguments in r2..r6, the result in r2; every other register survives the call.
//!
//! Instructions are 2, 4 or 6 bytes, big-endian, at even addresses. The listing uses
//! capstone's syntax (`%rN`, `D(X,B)` operands). PC-relative operands (`larl`, `j`, `jl`)
//! count halfwords from the instruction's own address, so data addressed with `larl` must
//! start at an even address.
//!
//! Registers at entry: only r15 (the stack pointer, pointing at argc) is relied on.
//! - Linux: `start_thread` (arch/s390/include/asm/processor.h) sets
//!   `regs->gprs[15] = new_stackp` and `ELF_PLAT_INIT` (arch/s390/include/asm/elf.h) sets
//!   `_r->gprs[14] = 0`; every other general register keeps what the caller of execve had.
//! - qemu-user: `init_thread` (linux-user/elfload.c, TARGET_S390X) sets
//!   `regs->gprs[15] = infop->start_stack` on a zeroed register file.
//!
//! r14 = 0 is guaranteed by both too; only `serve` relies on it (it stores r14 as a zero).
//! Every other register the code reads it sets first, with the full 64 bits wherever the
//! kernel reads a pointer or a `size_t` (`lghi`, `la`, `larl`, `llilf`, `bras` all write
//! the whole register; `lhi`, `lr`, `xr` write only the low word, so `serve` uses them on a
//! pointer only where it knows the high word is 0).
//! Arguments of C type `int` (fd, how, signal number, exit status) are truncated to 32 bits
//! by the kernel's syscall wrappers, so the 2-byte 32-bit `xr` is enough to zero them.

use super::{Addressing, Code, Fixup, Insn, Isa, Target};
use crate::Program;

/// arch/s390/kernel/syscalls/syscall.tbl (`svc N` carries the number).
pub const SYS_EXIT: u8 = 1;
pub const SYS_WRITE: u8 = 4;
pub const SYS_RT_SIGACTION: u8 = 174;
pub const SYS_RT_SIGPROCMASK: u8 = 175;
pub const SYS_RT_SIGTIMEDWAIT: u8 = 177;
pub const SYS_CLOSE: u8 = 6;
pub const SYS_CLONE: u8 = 120;
pub const SYS_EXIT_GROUP: u8 = 248;
// The socket calls (Linux 4.3 and later) are above 255: `svc 0` with the number in r1.
// s390x has no plain accept, only accept4.
pub const SYS_SOCKET: u16 = 359;
pub const SYS_BIND: u16 = 361;
pub const SYS_LISTEN: u16 = 363;
pub const SYS_ACCEPT4: u16 = 364;
pub const SYS_SETSOCKOPT: u16 = 366;
pub const SYS_SENDTO: u16 = 369;
pub const SYS_RECVFROM: u16 = 371;
pub const SYS_SHUTDOWN: u16 = 373;

use super::net;
use super::signal::{SIGCHLD, SIGINT, SIGSET_SIZE, SIGTERM, SIG_IGN, STOP_SIGNALS};
use crate::program::Serve;

/// `struct sigaction` as rt_sigaction reads it on s390x (include/linux/signal_types.h with
/// `__ARCH_HAS_SA_RESTORER`; qemu's `target_sigaction` for TARGET_S390X agrees):
/// sa_handler at 0, sa_flags at 8, sa_restorer at 16, sa_mask at 24, all 8 bytes.
const SA_HANDLER: u8 = 0;
const SA_FLAGS: u8 = 8;
// `stmg` stores act's two words from consecutive registers (r3, r4).
const _: () = assert!(SA_FLAGS == SA_HANDLER + 8);

pub struct S390x;

const WAIT: u8 = 0;
// serve's labels
const EXIT: u8 = 1;
const EXIT_STATUS: u8 = 2;
const SPAWN: u8 = 3;
const CLOSE: u8 = 4;
const ACCEPT: u8 = 5;
const READ: u8 = 6;
const PAST_EXIT: u8 = 7;

/// `svc N` (0A NN): the system call whose number is the immediate byte.
fn svc(n: u8, name: &str) -> Insn {
    Insn::new(&[0x0a, n], format!("svc {n} ; {name}"))
}

/// `lghi %rN, imm` (A7 N9 imm16): the whole register = the sign-extended immediate.
fn lghi(r: u8, imm: i16, comment: &str) -> Insn {
    let [i0, i1] = imm.to_be_bytes();
    Insn::new(
        &[0xa7, r << 4 | 0x9, i0, i1],
        format!("lghi %r{r}, {imm} ; {comment}"),
    )
}

/// `la %rN, D(%r15)` (41 N0 FD DD): the whole register = r15 + D (D < 4096).
fn la_sp(r: u8, d: u8, comment: &str) -> Insn {
    Insn::new(
        &[0x41, r << 4, 0xf0, d],
        format!("la %r{r}, {d}(%r15) ; {comment}"),
    )
}

/// r4 = `len`, all 64 bits: the shortest of `lghi` (up to 32767), `llill` (up to 65535),
/// `llilf` (up to 4 GiB - 1).
fn set_r4(len: usize) -> Insn {
    let n = u32::try_from(len).expect("message length is checked by Program");
    if let Ok(n) = i16::try_from(n) {
        lghi(4, n, "length")
    } else if let Ok(n) = u16::try_from(n) {
        let [i0, i1] = n.to_be_bytes();
        Insn::new(&[0xa5, 0x4f, i0, i1], format!("llill %r4, {n} ; length"))
    } else {
        let [i0, i1, i2, i3] = n.to_be_bytes();
        Insn::new(
            &[0xc0, 0x4f, i0, i1, i2, i3],
            format!("llilf %r4, {n} ; length"),
        )
    }
}

/// The distance from `pc` to `target` in halfwords, as PC-relative operands count it.
fn halfwords(pc: u64, target: u64) -> Result<i64, String> {
    let d = target.wrapping_sub(pc) as i64;
    if d % 2 != 0 {
        return Err(format!("target {target:#x} is not at an even address"));
    }
    Ok(d / 2)
}

/// Patches the 16-bit halfword offset of a relative branch (RI-c: `j`, `jl`) at bytes 2..4.
fn encode_ri16(bytes: &mut [u8], pc: u64, target: u64) -> Result<(), String> {
    let d = i16::try_from(halfwords(pc, target)?)
        .map_err(|_| format!("target {target:#x} is beyond ±64 KiB"))?;
    bytes[2..4].copy_from_slice(&d.to_be_bytes());
    Ok(())
}

/// Patches the 32-bit halfword offset of `larl` (RIL-b) at bytes 2..6.
fn encode_ril32(bytes: &mut [u8], pc: u64, target: u64) -> Result<(), String> {
    let d = i32::try_from(halfwords(pc, target)?)
        .map_err(|_| format!("target {target:#x} is beyond ±4 GiB"))?;
    bytes[2..6].copy_from_slice(&d.to_be_bytes());
    Ok(())
}

/// `lhi %rN, imm` (A7 N8 imm16): the low word = the sign-extended immediate (enough for an
/// `int` argument).
fn lhi(r: u8, imm: i16, comment: &str) -> Insn {
    let [i0, i1] = imm.to_be_bytes();
    Insn::new(
        &[0xa7, r << 4 | 0x8, i0, i1],
        format!("lhi %r{r}, {imm} ; {comment}"),
    )
}

/// A 2-byte RR instruction on the low words: `lr` (18), `xr` (17), `ltr` (12), `lcr` (13).
fn rr(op: u8, mnemonic: &str, r1: u8, r2: u8, comment: &str) -> Insn {
    let asm = format!("{mnemonic} %r{r1}, %r{r2}");
    let asm = if comment.is_empty() {
        asm
    } else {
        format!("{asm} ; {comment}")
    };
    Insn::new(&[op, r1 << 4 | r2], asm)
}

/// The system call `nr` above 255: `lghi %r1, nr` and `svc 0`.
fn svc0(nr: u16, name: &str) -> [Insn; 2] {
    let n = i16::try_from(nr).unwrap();
    [
        lghi(1, n, &format!("SYS_{name}")),
        svc(0, "the number in r1"),
    ]
}

/// `larl %rN, target` (C0 N0 ri32): the whole register = the address of a label or the data.
fn larl(r: u8, target: Target, what: &str) -> Insn {
    Insn::new(&[0xc0, r << 4, 0, 0, 0, 0], format!("larl %r{r}, {what}")).fixup(Fixup::Encode {
        target,
        encode: encode_ril32,
    })
}

/// `brc mask, label` (A7 M4 ri16), as capstone names it (`j`, `jne`, `jnh`, …).
fn brc(mask: u8, asm: &str, label: u8) -> Insn {
    let insn = Insn::new(&[0xa7, mask << 4 | 0x4, 0, 0], asm).fixup(Fixup::Encode {
        target: Target::Label(label),
        encode: encode_ri16,
    });
    if mask == 15 {
        insn
    } else {
        insn.reads_flags()
    }
}

impl S390x {
    fn lower_program(&self, program: &Program, addressing: Addressing) -> Code {
        let mut insns = Vec::new();
        let mut data = Vec::new();
        match program {
            Program::Exit(code) => {
                insns.push(if *code == 0 {
                    Insn::new(&[0x17, 0x22], "xr %r2, %r2 ; status 0")
                } else {
                    lghi(2, (*code).into(), "status")
                });
                insns.push(svc(SYS_EXIT, "SYS_exit"));
            }
            Program::Hello(message) => {
                // `larl` reaches even addresses only: data_align() is 2.
                data.extend_from_slice(message);
                // larl first: 6 bytes + a 4-byte jump fill the 12-byte hole at e_shoff/e_flags,
                // and the two 4-byte loads then fit p_paddr and the code's own start.
                insns.extend([
                    Insn::new(&[0xc0, 0x30, 0, 0, 0, 0], "larl %r3, message").fixup(
                        Fixup::Encode {
                            target: Target::Data,
                            encode: encode_ril32,
                        },
                    ),
                    lghi(2, 1, "fd 1 = stdout"),
                    set_r4(message.len()),
                    svc(SYS_WRITE, "SYS_write"),
                    // r2 now holds what write returned (possibly a negative errno).
                    Insn::new(&[0x17, 0x22], "xr %r2, %r2 ; status 0"),
                    svc(SYS_EXIT, "SYS_exit"),
                ]);
            }
            Program::Serve(serve) => {
                data.extend_from_slice(&serve.response);
                insns = self.serve(serve, addressing);
            }
            Program::Pause => {
                let [s0, s1] = STOP_SIGNALS.to_be_bytes();
                insns.extend([
                    // The three doublewords at r15 (argc, argv[0], argv[1]: the process's own
                    // initial stack, never read here) become set = {SIGINT, SIGTERM} at 0 and
                    // act = {sa_handler = SIG_IGN, sa_flags = 0} at 8. Nothing is stored below
                    // r15: s390x has no red zone (signal frames go right below it).
                    Insn::new(
                        &[0xa7, 0x29, s0, s1],
                        "lghi %r2, 0x4002 ; set = {SIGINT, SIGTERM}",
                    ),
                    lghi(3, SIG_IGN.into(), "act.sa_handler = SIG_IGN"),
                    lghi(4, 0, "act.sa_flags = 0; NULL"),
                    lghi(5, SIGSET_SIZE.into(), "sigsetsize"),
                    Insn::new(
                        &[0xeb, 0x24, 0xf0, 0x00, 0x00, 0x24],
                        "stmg %r2, %r4, 0(%r15) ; set at 0(%r15), act at 8(%r15)",
                    ),
                    // rt_sigprocmask(SIG_BLOCK, &set, NULL, 8): a blocked signal is never
                    // "ignored", so the kernel queues SIGTERM/SIGINT even for a PID-namespace
                    // init whose handler is SIG_DFL.
                    la_sp(3, 0, "&set"),
                    Insn::new(&[0x17, 0x22], "xr %r2, %r2 ; SIG_BLOCK"),
                    svc(SYS_RT_SIGPROCMASK, "SYS_rt_sigprocmask"),
                    // rt_sigaction(SIGCHLD, &act, NULL, 8): children (and orphans handed to us
                    // as PID 1) are reaped by the kernel, zombies never stay.
                    la_sp(3, 8 + SA_HANDLER, "&act"),
                    lghi(2, SIGCHLD.into(), "SIGCHLD"),
                    svc(SYS_RT_SIGACTION, "SYS_rt_sigaction"),
                    // rt_sigtimedwait(&set, NULL, NULL = no timeout, 8), again if interrupted.
                    Insn::new(&[0xb9, 0x04, 0x00, 0x34], "lgr %r3, %r4 ; no siginfo"),
                    la_sp(2, 0, "&set").label(WAIT),
                    svc(SYS_RT_SIGTIMEDWAIT, "SYS_rt_sigtimedwait"),
                    Insn::new(&[0x12, 0x22], "ltr %r2, %r2"),
                    Insn::new(
                        &[0xa7, 0x44, 0, 0],
                        "jl wait ; -EINTR (stopped and continued)",
                    )
                    .fixup(Fixup::Encode {
                        target: Target::Label(WAIT),
                        encode: encode_ri16,
                    })
                    .reads_flags(),
                    // A signal arrived: exit(0). r2 = its number.
                    Insn::new(&[0x17, 0x22], "xr %r2, %r2 ; status 0"),
                    svc(SYS_EXIT, "SYS_exit"),
                ]);
            }
        }
        Code { insns, data }
    }
}

super::programs_via_lower!(S390x);

impl Isa for S390x {
    /// `j` (BRC 15, A7 F4 ri2): ±64 KiB.
    fn jump(&self, target: Target) -> Insn {
        Insn::new(&[0xa7, 0xf4, 0, 0], "j target").fixup(Fixup::Encode {
            target,
            encode: encode_ri16,
        })
    }

    /// `bcr 0, %r0` (07 00), the assemblers' `nopr`.
    fn data_align(&self) -> usize {
        2
    }

    fn nop(&self) -> Insn {
        Insn::new(&[0x07, 0x00], "bcr 0, %r0 ; nop")
    }

    fn align(&self) -> usize {
        2
    }
}

impl S390x {
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
    fn serve(&self, serve: &Serve, addressing: Addressing) -> Vec<Insn> {
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
        v
    }
}
