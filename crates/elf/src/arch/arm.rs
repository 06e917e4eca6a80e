//! 32-bit ARM (linux/arm/v7) in Thumb state, EABI: `svc #0` with the number in r7,
//! arguments in r0..r3, the result in r0; every other register survives the call.
//! Instructions are 16-bit Thumb-1 halfwords, stored little-endian at 2-byte-aligned
//! addresses; e_entry has bit 0 set ([`Isa::entry_bits`]) so the process starts in Thumb
//! state (Linux arch/arm/include/asm/processor.h `start_thread`: `if (elf_hwcap &
//! HWCAP_THUMB && pc & 1) regs->ARM_cpsr |= PSR_T_BIT`, and arch/arm/kernel/elf.c
//! `elf_check_arch` accepts an odd e_entry when the CPU has Thumb; arm64's
//! `compat_start_thread` sets PSR_AA32_T_BIT for `pc & 1`; qemu-user linux-user/elfload.c
//! `init_thread`: `if (infop->entry & 1) regs->uregs[16] |= CPSR_T`). A 32-bit ARM kernel
//! needs CONFIG_ARM_THUMB for that (arch/arm/kernel/setup.c clears HWCAP_THUMB without it);
//! distribution kernels and arm64's compat layer have it. A 2-byte branch lets every 4-byte
//! header hole hold one instruction and the branch out of it.
//!
//! The message is addressed with `adr` (forward only, word-aligned target), so it must come
//! after the code at a word boundary: [`Isa::data_align`] is 4 and [`Isa::data_in_holes`]
//! false.
//!
//! Registers at the ELF entry point. Linux clears them all but sp and pc
//! (arch/arm/include/asm/processor.h `start_thread`: `memset(regs->uregs, 0, ...)`, then
//! r10 only on no-MMU kernels and r7..r10 only for FDPIC binaries; arch/arm/include/asm/elf.h
//! `ELF_PLAT_INIT` sets r0 = 0; a 32-bit process on an arm64 kernel gets
//! arch/arm64/include/asm/processor.h `compat_start_thread` → `start_thread_common`:
//! `memset(regs, 0, sizeof(*regs))`). qemu-user (linux-user/elfload.c `init_thread` for 32-bit
//! ARM) memsets the registers to zero, then sets r1 = [sp + 4] and r2 = [sp + 8] (argv[0]
//! and argv[1] or the NULL after argv), r10 = start_data and r0 = 0 (r7..r9 only for
//! FDPIC). So the code relies on r0, r5 and r7 being zero (`exit 0`'s status, SIG_BLOCK, the
//! zero words of `pause`'s structs) and on nothing else: r1 and r2 are always set before
//! use, and the flags the loop of `pause` tests are set by the code itself.
//!
//! Every instruction is a 16-bit Thumb-1 encoding (`movs`, `adds`, `subs`, `lsls`, `lsrs`,
//! `mov` of a high register, `add rd, sp`, `adr`, `push`, `svc`, `b`, `bne`), message
//! lengths of every size included (built with `movs`/`lsls`/`adds`, never `movw`), so the
//! programs run on every ARM Linux CPU with Thumb: ARMv4T/v5TE, ARMv6 (ARM1176 in the
//! Raspberry Pi 1 and Zero, which have no Thumb-2), ARMv7, and ARMv8/v9 cores that still
//! execute AArch32 at EL0 (Cortex-A53/A72 do; Apple M-series and several recent cores are
//! AArch64-only and cannot run linux/arm/v7 at all). The nop is `mov r8, r8`, not the
//! Thumb-2 hint `nop` (0xbf00).

use super::{Addressing, Code, Encoder, Fixup, Insn, Isa, Target};
use crate::Program;

/// arch/arm/tools/syscall.tbl (EABI: the number goes in r7, `svc #0`).
pub const SYS_EXIT: u8 = 1;
pub const SYS_WRITE: u8 = 4;
pub const SYS_RT_SIGACTION: u8 = 174;
pub const SYS_RT_SIGPROCMASK: u8 = 175;
pub const SYS_RT_SIGTIMEDWAIT: u8 = 177;
pub const SYS_CLOSE: u8 = 6;
pub const SYS_CLONE: u8 = 120;
pub const SYS_EXIT_GROUP: u8 = 248;
pub const SYS_SOCKET: u16 = 281;
pub const SYS_BIND: u16 = 282;
pub const SYS_LISTEN: u16 = 284;
pub const SYS_ACCEPT: u16 = 285;
pub const SYS_SEND: u16 = 289;
pub const SYS_RECV: u16 = 291;
pub const SYS_SHUTDOWN: u16 = 293;
pub const SYS_SETSOCKOPT: u16 = 294;

use super::net::*;
use super::signal::{SIGCHLD, SIGINT, SIGSET_SIZE, SIGTERM, SIG_IGN, STOP_SIGNALS};
use crate::program::Serve;

pub struct ArmV7;

// The listing writes these numbers into literal instruction halfwords.
const _: () = assert!(SYS_EXIT == 1 && SYS_WRITE == 4 && SYS_RT_SIGACTION == 174);
const _: () = assert!(SYS_RT_SIGPROCMASK == 175 && SYS_RT_SIGTIMEDWAIT == 177);
const _: () = assert!(STOP_SIGNALS == (1 << 14) | 2 && SIG_IGN == 1 && SIGCHLD == 17);
const _: () = assert!(SIGSET_SIZE == 8);

const WAIT: u8 = 0;
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

/// One 16-bit Thumb instruction, written as the manual draws the halfword.
fn t16(half: u16, asm: impl Into<String>) -> Insn {
    Insn::new(&half.to_le_bytes(), asm)
}

fn half(bytes: &[u8]) -> u16 {
    u16::from_le_bytes([bytes[0], bytes[1]])
}

/// `movs rd, #imm8` (T1: 00100 Rd imm8).
fn movs(rd: u16, imm: u8, comment: &str) -> Insn {
    t16(
        0x2000 | (rd << 8) | u16::from(imm),
        format!("movs r{rd}, #{imm}{comment}"),
    )
}

/// `adr r1, message` (T1: 10100 Rd imm8) = r1 = Align(pc + 4, 4) + 4 * imm8: forward only,
/// to a word-aligned target within 1020 bytes ([`Isa::data_align`] is 4, and the message
/// comes right after the code, which is under 100 bytes).
fn adr_r1_message() -> Insn {
    t16(0xa100, "adr r1, message").fixup(Fixup::Encode {
        target: Target::Data,
        encode: encode_adr,
    })
}

fn encode_adr(bytes: &mut [u8], pc: u64, target: u64) -> Result<(), String> {
    encode_adr_at(bytes, pc, target)
}

/// `adr rd, response`: serve's response comes [`POOL`] bytes after the start of its data.
fn encode_adr_response(bytes: &mut [u8], pc: u64, target: u64) -> Result<(), String> {
    encode_adr_at(bytes, pc, target + POOL as u64)
}

fn encode_adr_at(bytes: &mut [u8], pc: u64, target: u64) -> Result<(), String> {
    let distance = target as i64 - ((pc as i64 + 4) & !3);
    if distance % 4 != 0 || !(0..=1020).contains(&distance) {
        return Err(format!("adr distance {distance} out of range"));
    }
    let h = (half(bytes) & 0xff00) | (distance / 4) as u16;
    bytes[..2].copy_from_slice(&h.to_le_bytes());
    Ok(())
}

/// `b target` (T2: 11100 imm11): pc + 4 + 2 * imm11, within ±2 KiB.
fn branch(target: Target, asm: &str) -> Insn {
    t16(0xe000, asm).fixup(Fixup::Encode {
        target,
        encode: encode_branch,
    })
}

fn encode_branch(bytes: &mut [u8], pc: u64, target: u64) -> Result<(), String> {
    let distance = target as i64 - (pc as i64 + 4);
    if distance % 2 != 0 || !(-2048..2048).contains(&distance) {
        return Err(format!("branch distance {distance} out of range"));
    }
    let h = 0xe000 | ((distance >> 1) as u16 & 0x07ff);
    bytes[..2].copy_from_slice(&h.to_le_bytes());
    Ok(())
}

/// `bne target` (T1: 1101 cond=0001 imm8): pc + 4 + 2 * imm8, within -256..254.
fn bne(target: Target, asm: &str) -> Insn {
    t16(0xd100, asm)
        .fixup(Fixup::Encode {
            target,
            encode: encode_bcond,
        })
        .reads_flags()
}

fn encode_bcond(bytes: &mut [u8], pc: u64, target: u64) -> Result<(), String> {
    let distance = target as i64 - (pc as i64 + 4);
    if distance % 2 != 0 || !(-256..256).contains(&distance) {
        return Err(format!(
            "conditional branch distance {distance} out of range"
        ));
    }
    let h = (half(bytes) & 0xff00) | ((distance >> 1) as u16 & 0xff);
    bytes[..2].copy_from_slice(&h.to_le_bytes());
    Ok(())
}

/// r2 = `len` (r2 is not zero at entry under qemu-user) in Thumb-1 only: `movs r2, #imm8`
/// for the top (up to) 8 bits, then for each further run of up to 8 bits that holds a one,
/// `lsls r2, r2, #shift` to make room for it and `adds r2, #imm8`, and a last `lsls` for
/// trailing zeros. One instruction below 256, two for `imm8 << n`, at most seven (14 bytes)
/// for 26 bits.
fn set_r2(len: usize) -> Vec<Insn> {
    let n = u32::try_from(len).expect("message length is checked by Program");
    if n < 0x100 {
        return vec![movs(2, n as u8, " ; length")];
    }
    // lsls r2, r2, #k (T1: 00000 imm5 Rm=2 Rd=2); adds r2, #imm8 (T2: 00110 Rdn=2 imm8).
    let lsls = |k: u32| t16(((k << 6) | 0x12) as u16, format!("lsls r2, r2, #{k}"));
    let adds = |v: u32| t16(0x3200 | v as u16, format!("adds r2, #{v}"));
    // Bits below `low` are still to come; r2 holds n >> low.
    let mut low = 31 - n.leading_zeros() - 7;
    let mut out = vec![movs(2, (n >> low) as u8, "")];
    while low > 0 {
        let rest = n & ((1 << low) - 1);
        if rest == 0 {
            out.push(lsls(low));
            break;
        }
        let top = 31 - rest.leading_zeros();
        let next = top.saturating_sub(7);
        out.push(lsls(low - next));
        out.push(adds(rest >> next));
        low = next;
    }
    let last = out.last_mut().unwrap();
    last.asm = format!("{} ; length {n}", last.asm);
    out
}

impl ArmV7 {
    /// The `serve` listing (see [`crate::program::Serve`] for what it does). The workers
    /// keep the listening socket in r6, the connection in r5, the response length in r2 and
    /// the recv/send flags in r3 (accept takes three arguments and ignores r3); r1 is NULL
    /// but for the send and the shutdown. r7 moves between the socket calls' numbers by
    /// adding the differences. They share one stack pointer, so they never write memory (no
    /// push) and read only what was pushed before the clones.
    fn serve(&self, serve: &Serve) -> Vec<Insn> {
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
        v
    }
}

impl ArmV7 {
    fn lower_program(&self, program: &Program, _addressing: Addressing) -> Code {
        let mut insns = Vec::new();
        let mut data = Vec::new();
        match program {
            Program::Exit(code) => {
                if *code != 0 {
                    insns.push(movs(0, *code, " ; status"));
                }
                insns.push(t16(0x2701, "movs r7, #1 ; SYS_exit"));
                insns.push(t16(0xdf00, "svc #0"));
            }
            Program::Hello(message) => {
                data.extend_from_slice(message);
                insns.push(t16(0x2704, "movs r7, #4 ; SYS_write"));
                insns.push(t16(0x2001, "movs r0, #1 ; fd 1 = stdout"));
                insns.push(adr_r1_message());
                insns.extend(set_r2(message.len()));
                insns.push(t16(0xdf00, "svc #0"));
                // r0 now holds what write returned (possibly a negative errno).
                insns.push(t16(0x2701, "movs r7, #1 ; SYS_exit"));
                insns.push(t16(0x2000, "movs r0, #0 ; status 0"));
                insns.push(t16(0xdf00, "svc #0"));
            }
            Program::Serve(serve) => {
                let [p0, p1] = serve.port.to_be_bytes();
                data.extend_from_slice(&[AF_INET, 0, p0, p1, 0, 0, 0, 0]);
                data.extend_from_slice(&CLONE_THREAD_FLAGS.to_le_bytes());
                assert_eq!(data.len(), POOL);
                data.extend_from_slice(&serve.response);
                insns = self.serve(serve);
            }
            Program::Pause => {
                insns.extend([
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
                ]);
            }
        }
        Code { insns, data }
    }
}

super::programs_via_lower!(ArmV7);

impl Isa for ArmV7 {
    fn jump(&self, target: Target) -> Insn {
        branch(target, "b target")
    }

    fn nop(&self) -> Insn {
        t16(0x46c0, "mov r8, r8 ; nop")
    }

    fn align(&self) -> usize {
        2
    }

    fn data_align(&self) -> usize {
        4
    }

    fn data_in_holes(&self) -> bool {
        false
    }

    fn entry_bits(&self) -> u64 {
        1
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use capstone::prelude::*;

    fn thumb() -> Capstone {
        Capstone::new()
            .arm()
            .mode(capstone::arch::arm::ArchMode::Thumb)
            .build()
            .unwrap()
    }

    /// Capstone's text for one instruction, numbers in decimal.
    fn read(cs: &Capstone, bytes: &[u8], pc: u64) -> (String, String, usize) {
        let d = cs.disasm_count(bytes, pc, 1).unwrap();
        let d = d.iter().next().expect("decodes");
        let ops = d.op_str().unwrap_or("").to_string();
        (d.mnemonic().unwrap().to_string(), decimal(&ops), d.len())
    }

    fn decimal(s: &str) -> String {
        let mut out = String::new();
        let mut rest = s;
        while let Some(i) = rest.find("0x") {
            out.push_str(&rest[..i]);
            let digits: String = rest[i + 2..]
                .chars()
                .take_while(|c| c.is_ascii_hexdigit())
                .collect();
            out.push_str(&u64::from_str_radix(&digits, 16).unwrap().to_string());
            rest = &rest[i + 2 + digits.len()..];
        }
        out.push_str(rest);
        out
    }

    /// Every fixed instruction of every program decodes (capstone, Thumb) as listed.
    #[test]
    fn listing_matches_capstone() {
        let cs = thumb();
        for program in [
            Program::Pause,
            Program::Exit(0),
            Program::Exit(255),
            Program::Hello(b"Hello, world!\n".to_vec()),
            Program::Serve(
                crate::program::Serve::new(65_534, &crate::program::Response::default()).unwrap(),
            ),
        ] {
            let code = ArmV7.lower_program(&program, Addressing::Abs32);
            for i in code.insns.iter().chain([&ArmV7.nop()]) {
                if i.fixup.is_some() {
                    continue;
                }
                let (m, ops, len) = read(&cs, &i.bytes, 0);
                assert_eq!(len, 2, "{}", i.asm);
                let listed = i.asm.split(" ;").next().unwrap();
                assert_eq!(format!("{m} {ops}"), listed);
            }
        }
    }

    /// Every way of building the length decodes as listed and computes it.
    #[test]
    fn lengths_of_every_size_build() {
        let cs = thumb();
        let lengths = [
            0usize, 14, 255, 256, 257, 300, 1020, 0x4002, 0xffff, 0x1_0001, 0x10_0000,
        ];
        let more = [0x10_0003, 0x12_3456, 0x3e8_0001, 0x3ff_ffff, (1 << 26) - 1];
        for len in lengths.into_iter().chain(more).chain(0..5000) {
            let insns = set_r2(len);
            assert!(insns.len() <= 7, "{len}");
            let mut r2 = 0u32;
            for i in &insns {
                let (m, ops, _) = read(&cs, &i.bytes, 0);
                let listed = i.asm.split(" ;").next().unwrap();
                assert_eq!(format!("{m} {ops}"), listed, "{len}");
                let imm: u32 = ops.rsplit('#').next().unwrap().parse().unwrap();
                r2 = match m.as_str() {
                    "movs" => imm,
                    "lsls" => r2 << imm,
                    "adds" => r2 + imm,
                    _ => unreachable!("{listed}"),
                };
            }
            assert_eq!(r2 as usize, len);
        }
    }

    #[test]
    fn branches_and_adr() {
        let cs = thumb();
        let mut b = branch(Target::Data, "b target").bytes;
        encode_branch(&mut b, 0x10000, 0x10004).unwrap();
        assert_eq!(b, 0xe000u16.to_le_bytes());
        encode_branch(&mut b, 0x10040, 0x10000).unwrap();
        assert_eq!(read(&cs, &b, 0x10040).1, format!("#{}", 0x10000));
        encode_branch(&mut b, 0x10000, 0x10802).unwrap();
        assert_eq!(read(&cs, &b, 0x10000).1, format!("#{}", 0x10802));
        assert!(encode_branch(&mut b, 0x10000, 0x10804).is_err());
        assert!(encode_branch(&mut b, 0x10000, 0x10005).is_err());
        let mut c = bne(Target::Data, "bne wait").bytes;
        encode_bcond(&mut c, 0x10060, 0x1005a).unwrap();
        assert_eq!(
            read(&cs, &c, 0x10060),
            ("bne".into(), format!("#{}", 0x1005a), 2)
        );
        assert!(encode_bcond(&mut c, 0x10000, 0x10104).is_err());
        let mut a = adr_r1_message().bytes;
        // pc = Align(0x10016 + 4, 4) = 0x10018.
        encode_adr(&mut a, 0x10016, 0x1004c).unwrap();
        assert_eq!(a, 0xa10du16.to_le_bytes());
        let (m, ops, _) = read(&cs, &a, 0x10016);
        assert_eq!(m, "adr");
        assert!(ops.starts_with("r1, "), "{ops}");
        assert!(encode_adr(&mut a, 0x10016, 0x10014).is_err());
        assert!(encode_adr(&mut a, 0x10016, 0x1004e).is_err());
    }
}
