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
//! r14 = 0 is guaranteed by both too, but nothing here needs it: every register the code
//! reads it sets first, with the full 64 bits wherever the kernel reads a pointer or a
//! `size_t` (`lghi`, `la`, `larl`, `llilf` all write the whole register; `lhi` would not).
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

use super::signal::{SIGCHLD, SIGSET_SIZE, SIG_IGN, STOP_SIGNALS};

/// `struct sigaction` as rt_sigaction reads it on s390x (include/linux/signal_types.h with
/// `__ARCH_HAS_SA_RESTORER`; qemu's `target_sigaction` for TARGET_S390X agrees):
/// sa_handler at 0, sa_flags at 8, sa_restorer at 16, sa_mask at 24, all 8 bytes.
const SA_HANDLER: u8 = 0;
const SA_FLAGS: u8 = 8;
// `stmg` stores act's two words from consecutive registers (r3, r4).
const _: () = assert!(SA_FLAGS == SA_HANDLER + 8);

pub struct S390x;

const WAIT: u8 = 0;

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

impl Isa for S390x {
    fn lower(&self, program: &Program, _addressing: Addressing) -> Code {
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
            Program::Serve(_) => unimplemented!("serve on s390x"),
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
