//! 64-bit PowerPC, little-endian, ELFv2 ABI (linux/ppc64le): `sc` with the number in r0,
//! arguments in r3..r8; the result comes back in r3, and an error as a *positive* errno in
//! r3 with CR0.SO set (Documentation/arch/powerpc/syscall64-abi.rst). `sc` follows the ELF
//! ABI's preservation rules: r0 and r3..r12 are volatile, so every argument is set again
//! before each call; r1, r2 and r13..r31 survive.
//!
//! Every instruction is one 32-bit word, stored little-endian; the listing writes the word
//! as the Power ISA manual does (primary opcode in the top 6 bits), e.g. `0x3800_0004` is
//! `addi r0, 0, 4` = `li r0, 4` (opcode 14, RT 0, RA 0, SI 4).
//!
//! Registers at the entry point, relied on only where Linux and qemu-user agree:
//! - r12 = the entry point's address. Linux `start_thread` (arch/powerpc/kernel/process.c)
//!   for an ELFv2 task (e_flags & 3 == 2, which [`crate::elf::machine`] sets):
//!   `regs->gpr[12] = start;` ("the caller must ensure r12 holds the entry point address"),
//!   with TIF_RESTOREALL so it reaches user space. qemu-user (linux-user/elfload.c
//!   `init_thread`, ppc64, `get_ppc64_abi(infop) >= 2`): `_regs->gpr[12] = infop->entry;`.
//!   `hello` builds the message's address from it, so its first instruction (the one at the
//!   entry point) is `addi r4, r12, message - entry`.
//! - r14 = 0. Linux `start_thread`: `memset(&regs->gpr[1], 0, ...)` clears r1..r31 before
//!   setting r1 (and r2 for ELFv1, r12 for ELFv2); qemu-user zeroes the registers
//!   (linux-user/main.c: `memset(regs, 0, sizeof(struct target_pt_regs))`), and
//!   `init_thread` sets only r1 and r12 (older releases also set r3..r5 to argc, argv
//!   and envp, so r3..r5 are not trusted here). r14 is non-volatile, so it is still zero
//!   after any syscall: `pause` stores it as `sa_flags = 0`.
//! - r1 = the stack pointer (16-byte aligned). `pause` keeps its structs in the 288-byte
//!   protected zone the ELFv2 ABI reserves below it, which signal delivery skips; no handler
//!   ever runs anyway.
//!
//! r0 is not trusted: recent Linux clears r1..r31 only.

use super::{Addressing, Code, Fixup, Insn, Isa, Target};
use crate::Program;

/// arch/powerpc/kernel/syscalls/syscall.tbl
pub const SYS_EXIT: u32 = 1;
pub const SYS_WRITE: u32 = 4;
pub const SYS_RT_SIGACTION: u32 = 173;
pub const SYS_RT_SIGPROCMASK: u32 = 174;
pub const SYS_RT_SIGTIMEDWAIT: u32 = 176;

use super::signal;

// The signal constants (super::signal) in the type of this file's encoders.
const SIGCHLD: u32 = signal::SIGCHLD as u32;
const STOP_SIGNALS: u32 = signal::STOP_SIGNALS as u32;
const SIG_IGN: u32 = signal::SIG_IGN as u32;
const SIGSET_SIZE: u32 = signal::SIGSET_SIZE as u32;
const SIG_BLOCK: u32 = signal::SIG_BLOCK as u32;

pub struct Ppc64le;

const WAIT: u8 = 0;

/// One instruction word, stored little-endian.
fn word(w: u32, asm: impl Into<String>) -> Insn {
    Insn::new(&w.to_le_bytes(), asm)
}

/// r5 = `len` (up to 2 GiB): `li r5, len` below 32 KiB, else `lis r5, len >> 16`
/// (`addis`, opcode 15) and, if the low half is not zero, `ori r5, r5, len & 0xffff`
/// (opcode 24).
fn set_length(len: usize) -> Vec<Insn> {
    assert!(len < 1 << 31, "message too long");
    if len < 0x8000 {
        return vec![word(
            0x38a0_0000 | len as u32,
            format!("li r5, {len} ; length"),
        )];
    }
    let (hi, lo) = ((len >> 16) as u32, (len & 0xffff) as u32);
    let mut v = vec![word(0x3ca0_0000 | hi, format!("lis r5, {hi} ; length"))];
    if lo != 0 {
        v.push(word(0x60a5_0000 | lo, format!("ori r5, r5, {lo}")));
    }
    v
}

/// `addi r4, r12, message - entry`: r12 holds the entry address, and this instruction is
/// the first one, at the entry point, so `pc` is that address.
fn encode_message(bytes: &mut [u8], pc: u64, target: u64) -> Result<(), String> {
    let d = i16::try_from(target.wrapping_sub(pc) as i64)
        .map_err(|_| format!("message {target:#x} out of reach of r12 = {pc:#x}"))?;
    let w = 0x388c_0000 | d as u16 as u32; // addi (D-form: opcode 14, RT 4, RA 12, SI d)
    bytes.copy_from_slice(&w.to_le_bytes());
    Ok(())
}

/// A branch displacement: a multiple of 4 in `bits` signed bits.
fn displacement(pc: u64, target: u64, bits: u32) -> Result<u32, String> {
    let d = target.wrapping_sub(pc) as i64;
    let half = 1i64 << (bits - 1);
    if d % 4 != 0 || d < -half || d >= half {
        return Err(format!("branch from {pc:#x} to {target:#x} out of range"));
    }
    Ok(d as u32 & ((1 << bits) - 1))
}

/// I-form `b target` (opcode 18, AA = LK = 0): ±32 MiB.
fn encode_b(bytes: &mut [u8], pc: u64, target: u64) -> Result<(), String> {
    let w = 0x4800_0000 | displacement(pc, target, 26)?;
    bytes.copy_from_slice(&w.to_le_bytes());
    Ok(())
}

/// B-form `bso target` = `bc 12, 3, target` (opcode 16, BO 12 = branch if CR bit BI set,
/// BI 3 = CR0.SO): ±32 KiB.
fn encode_bso(bytes: &mut [u8], pc: u64, target: u64) -> Result<(), String> {
    let w = 0x4183_0000 | displacement(pc, target, 16)?;
    bytes.copy_from_slice(&w.to_le_bytes());
    Ok(())
}

impl Isa for Ppc64le {
    fn lower(&self, program: &Program, _addressing: Addressing) -> Code {
        let mut insns = Vec::new();
        let mut data = Vec::new();
        match program {
            Program::Exit(code) => {
                insns.push(word(0x3800_0000 | SYS_EXIT, "li r0, 1 ; SYS_exit"));
                insns.push(word(0x3860_0000 | *code as u32, format!("li r3, {code}")));
                insns.push(word(0x4400_0002, "sc"));
            }
            Program::Hello(message) => {
                data.extend_from_slice(message);
                // PC-relative with no branch-and-link: r12 holds the entry address, and this is
                // the instruction at the entry point.
                insns.push(
                    word(0x388c_0000, "addi r4, r12, message ; r4 = &message").fixup(
                        Fixup::Encode {
                            target: Target::Data,
                            encode: encode_message,
                        },
                    ),
                );
                insns.push(word(0x3800_0000 | SYS_WRITE, "li r0, 4 ; SYS_write"));
                insns.push(word(0x3860_0001, "li r3, 1 ; fd 1 = stdout"));
                insns.extend(set_length(message.len()));
                insns.push(word(0x4400_0002, "sc"));
                // r3 now holds what write returned (or an errno): set it again.
                insns.push(word(0x3800_0000 | SYS_EXIT, "li r0, 1 ; SYS_exit"));
                insns.push(word(0x3860_0000, "li r3, 0 ; status 0"));
                insns.push(word(0x4400_0002, "sc"));
            }
            Program::Serve(_) => unimplemented!("serve on ppc64le"),
            Program::Pause => {
                insns.extend([
                    // rt_sigprocmask(SIG_BLOCK, &set, NULL, 8): a blocked signal is never
                    // "ignored", so the kernel queues SIGTERM/SIGINT even for a PID-namespace
                    // init whose handler is SIG_DFL. The set lives at r1 - 8, in the
                    // protected zone (and is also the sigaction's sa_mask below).
                    word(
                        0x3920_0000 | STOP_SIGNALS,
                        "li r9, 16386 ; 0x4002 = {SIGINT, SIGTERM}",
                    ),
                    word(0xf921_fff8, "std r9, -8(r1) ; set"),
                    word(0x3860_0000 | SIG_BLOCK, "li r3, 0 ; SIG_BLOCK"),
                    word(0x3881_fff8, "addi r4, r1, -8 ; r4 = &set"),
                    word(0x38a0_0000, "li r5, 0 ; no old set"),
                    word(0x38c0_0000 | SIGSET_SIZE, "li r6, 8 ; sigsetsize"),
                    word(
                        0x3800_0000 | SYS_RT_SIGPROCMASK,
                        "li r0, 174 ; SYS_rt_sigprocmask",
                    ),
                    word(0x4400_0002, "sc"),
                    // rt_sigaction(SIGCHLD, &{SIG_IGN, flags 0}, NULL, 8): children (and
                    // orphans handed to us as PID 1) are reaped by the kernel, zombies never
                    // stay. sa_restorer is not read without SA_RESTORER, nor sa_mask without a
                    // handler.
                    word(0x3860_0000 | SIGCHLD, "li r3, 17 ; SIGCHLD"),
                    // The kernel's struct sigaction on ppc64 (include/linux/signal_types.h,
                    // arch/powerpc/include/uapi/asm/signal.h): sa_handler, sa_flags,
                    // sa_restorer, sa_mask, 8 bytes each; at r1 - 32 its sa_mask is the set.
                    word(0x3881_ffe0, "addi r4, r1, -32 ; r4 = &act"),
                    word(0x3920_0000 | SIG_IGN, "li r9, 1 ; SIG_IGN"),
                    word(0xf924_0000, "std r9, 0(r4) ; act.sa_handler"),
                    word(0xf9c4_0008, "std r14, 8(r4) ; act.sa_flags = r14 = 0"),
                    word(0x38a0_0000, "li r5, 0 ; no old action"),
                    word(0x38c0_0000 | SIGSET_SIZE, "li r6, 8 ; sigsetsize"),
                    word(
                        0x3800_0000 | SYS_RT_SIGACTION,
                        "li r0, 173 ; SYS_rt_sigaction",
                    ),
                    word(0x4400_0002, "sc"),
                    // rt_sigtimedwait(&set, NULL, NULL = no timeout, 8), again if interrupted.
                    word(0x3861_fff8, "addi r3, r1, -8 ; r3 = &set").label(WAIT),
                    word(0x3880_0000, "li r4, 0 ; no siginfo"),
                    word(0x38a0_0000, "li r5, 0 ; no timeout"),
                    word(0x38c0_0000 | SIGSET_SIZE, "li r6, 8 ; sigsetsize"),
                    word(
                        0x3800_0000 | SYS_RT_SIGTIMEDWAIT,
                        "li r0, 176 ; SYS_rt_sigtimedwait",
                    ),
                    word(0x4400_0002, "sc"),
                    word(
                        0x4183_0000,
                        "bso wait ; CR0.SO: EINTR (stopped and continued)",
                    )
                    .fixup(Fixup::Encode {
                        target: Target::Label(WAIT),
                        encode: encode_bso,
                    })
                    .reads_flags(),
                    // A signal arrived: exit(0).
                    word(0x3800_0000 | SYS_EXIT, "li r0, 1 ; SYS_exit"),
                    word(0x3860_0000, "li r3, 0 ; status 0"),
                    word(0x4400_0002, "sc"),
                ]);
            }
        }
        Code { insns, data }
    }

    fn jump(&self, target: Target) -> Insn {
        word(0x4800_0000, "b target").fixup(Fixup::Encode {
            target,
            encode: encode_b,
        })
    }

    fn nop(&self) -> Insn {
        word(0x6000_0000, "nop ; ori r0, r0, 0")
    }

    fn align(&self) -> usize {
        4
    }
}
