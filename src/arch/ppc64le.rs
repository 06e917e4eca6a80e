//! 64-bit PowerPC, little-endian, ELFv2 ABI (linux/ppc64le): `sc` with the number in r0,
//! arguments in r3..r8; the result comes back in r3, and an error as a *positive* errno in
//! r3 with CR0.SO set (Documentation/arch/powerpc/syscall64-abi.rst). Across `sc` only
//! r1, r2, r13..r31 survive (r0, r3..r12, CR0 are volatile), so every argument is set
//! again before each call.
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
//!   setting r1 (and r2 for ELFv1, r12 for ELFv2); qemu-user starts from a zeroed
//!   `target_pt_regs` and sets only r1, r12 (and, in versions before 2.x, r3..r5 = argc,
//!   argv, envp, which is why r3..r5 are not trusted here). r14 is non-volatile, so it is
//!   still zero after any syscall: `pause` stores it as `sa_flags = 0`.
//! - r1 = the stack pointer (16-byte aligned). `pause` keeps its structs in the 288-byte
//!   protected zone below it (ELFv2 ABI §2.2.2.4), which signal delivery skips; no handler
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

/// Signal numbers (arch/powerpc/include/uapi/asm/signal.h) and the `sigset_t` bits for them
/// (bit `n - 1` for signal `n`).
pub const SIGINT: u32 = 2;
pub const SIGTERM: u32 = 15;
pub const SIGCHLD: u32 = 17;
pub const STOP_SIGNALS: u32 = (1 << (SIGINT - 1)) | (1 << (SIGTERM - 1));
/// `SIG_IGN` as a handler value; `SIG_BLOCK` for rt_sigprocmask.
pub const SIG_IGN: u32 = 1;
pub const SIG_BLOCK: u32 = 0;
/// The kernel's sigset_t is 64 bits: rt_* syscalls insist on sigsetsize == 8.
pub const SIGSET_SIZE: u32 = 8;

/// The kernel's `struct sigaction` on ppc64 (include/linux/signal_types.h; the same order
/// in arch/powerpc/include/uapi/asm/signal.h): handler, flags, restorer, mask, 8 bytes
/// each. `pause` lays it at r1 - 32, so its `sa_mask` is the set at r1 - 8.
pub const SA_HANDLER: i16 = 0;
pub const SA_FLAGS: i16 = 8;
const ACT: i16 = -32;
const SET: i16 = -8;

pub struct Ppc64le;

const WAIT: u8 = 0;

/// One instruction word, stored little-endian.
fn word(w: u32, asm: impl Into<String>) -> Insn {
    Insn::new(&w.to_le_bytes(), asm)
}

/// D-form `addi rt, ra, si` (opcode 14); with ra = 0 it is `li rt, si`.
const fn addi(rt: u32, ra: u32, si: i16) -> u32 {
    (14 << 26) | (rt << 21) | (ra << 16) | (si as u16 as u32)
}

/// `li rt, si`: the register set to a sign-extended 16-bit value.
fn li(rt: u32, si: i16, comment: &str) -> Insn {
    word(addi(rt, 0, si), format!("li r{rt}, {si}{comment}"))
}

/// r5 = `len` (up to 2 GiB): `li`, or `lis` (opcode 15) and `ori` (opcode 24).
fn set_r5(len: usize) -> Vec<Insn> {
    assert!(len < 1 << 31, "message too long");
    if len < 0x8000 {
        return vec![li(5, len as i16, " ; length")];
    }
    let (hi, lo) = ((len >> 16) as u32, (len & 0xffff) as u32);
    let mut v = vec![word(
        (15 << 26) | (5 << 21) | hi,
        format!("lis r5, {hi} ; length"),
    )];
    if lo != 0 {
        v.push(word(
            (24 << 26) | (5 << 21) | (5 << 16) | lo,
            format!("ori r5, r5, {lo}"),
        ));
    }
    v
}

/// DS-form `std rs, ds(ra)` (opcode 62, XO 0).
fn std(rs: u32, ds: i16, ra: u32, comment: &str) -> Insn {
    assert_eq!(ds % 4, 0);
    word(
        (62 << 26) | (rs << 21) | (ra << 16) | (ds as u16 as u32 & 0xfffc),
        format!("std r{rs}, {ds}(r{ra}){comment}"),
    )
}

/// `addi r4, r12, message - entry`: r12 holds the entry address, and this instruction is
/// the first one, at the entry point, so `pc` is that address.
fn encode_message(bytes: &mut [u8], pc: u64, target: u64) -> Result<(), String> {
    let d = i16::try_from(target.wrapping_sub(pc) as i64)
        .map_err(|_| format!("message {target:#x} out of reach of r12 = {pc:#x}"))?;
    bytes.copy_from_slice(&addi(4, 12, d).to_le_bytes());
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

const SC: u32 = 0x4400_0002;

impl Isa for Ppc64le {
    fn lower(&self, program: &Program, _addressing: Addressing) -> Code {
        let mut insns = Vec::new();
        let mut data = Vec::new();
        match program {
            Program::Exit(code) => {
                insns.push(li(0, SYS_EXIT as i16, " ; SYS_exit"));
                insns.push(li(3, *code as i16, " ; status"));
                insns.push(word(SC, "sc"));
            }
            Program::Hello(message) => {
                data.extend_from_slice(message);
                // PC-relative without a branch-and-link: r12 is the entry address.
                insns.push(
                    word(addi(4, 12, 0), "addi r4, r12, message ; r4 = &message").fixup(
                        Fixup::Encode {
                            target: Target::Data,
                            encode: encode_message,
                        },
                    ),
                );
                insns.push(li(0, SYS_WRITE as i16, " ; SYS_write"));
                insns.push(li(3, 1, " ; fd 1 = stdout"));
                insns.extend(set_r5(message.len()));
                insns.push(word(SC, "sc"));
                // r3 now holds what write returned (or an errno), so set it again.
                insns.push(li(0, SYS_EXIT as i16, " ; SYS_exit"));
                insns.push(li(3, 0, " ; status 0"));
                insns.push(word(SC, "sc"));
            }
            Program::Pause => {
                insns.extend([
                    // rt_sigprocmask(SIG_BLOCK, &set, NULL, 8): a blocked signal is never
                    // "ignored", so the kernel queues SIGTERM/SIGINT even for a PID-namespace
                    // init whose handler is SIG_DFL. The set lives at r1 - 8 (and doubles as
                    // the sigaction's sa_mask below).
                    li(9, STOP_SIGNALS as i16, " ; {SIGINT, SIGTERM}"),
                    std(9, SET, 1, " ; set"),
                    li(3, SIG_BLOCK as i16, " ; SIG_BLOCK"),
                    word(addi(4, 1, SET), format!("addi r4, r1, {SET} ; &set")),
                    li(5, 0, " ; no old set"),
                    li(6, SIGSET_SIZE as i16, " ; sigsetsize"),
                    li(0, SYS_RT_SIGPROCMASK as i16, " ; SYS_rt_sigprocmask"),
                    word(SC, "sc"),
                    // rt_sigaction(SIGCHLD, &{SIG_IGN, flags 0}, NULL, 8): children (and
                    // orphans handed to us as PID 1) are reaped by the kernel, zombies never
                    // stay. The restorer is not read without SA_RESTORER, nor the mask
                    // without a handler.
                    li(3, SIGCHLD as i16, " ; SIGCHLD"),
                    word(addi(4, 1, ACT), format!("addi r4, r1, {ACT} ; &act")),
                    li(9, SIG_IGN as i16, " ; SIG_IGN"),
                    std(9, SA_HANDLER, 4, " ; act.sa_handler"),
                    std(14, SA_FLAGS, 4, " ; act.sa_flags = r14 = 0"),
                    li(5, 0, " ; no old action"),
                    li(6, SIGSET_SIZE as i16, " ; sigsetsize"),
                    li(0, SYS_RT_SIGACTION as i16, " ; SYS_rt_sigaction"),
                    word(SC, "sc"),
                    // rt_sigtimedwait(&set, NULL, NULL = no timeout, 8), again if interrupted.
                    word(addi(3, 1, SET), format!("addi r3, r1, {SET} ; &set")).label(WAIT),
                    li(4, 0, " ; no siginfo"),
                    li(5, 0, " ; no timeout"),
                    li(6, SIGSET_SIZE as i16, " ; sigsetsize"),
                    li(0, SYS_RT_SIGTIMEDWAIT as i16, " ; SYS_rt_sigtimedwait"),
                    word(SC, "sc"),
                    word(0x4183_0000, "bso wait ; EINTR (stopped and continued)")
                        .fixup(Fixup::Encode {
                            target: Target::Label(WAIT),
                            encode: encode_bso,
                        })
                        .reads_flags(),
                    // A signal arrived: exit(0).
                    li(0, SYS_EXIT as i16, " ; SYS_exit"),
                    li(3, 0, " ; status 0"),
                    word(SC, "sc"),
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
