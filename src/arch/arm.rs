//! 32-bit ARM (linux/arm/v7), A32 instructions, EABI: `svc #0` with the number in r7,
//! arguments in r0..r3, the result in r0; every other register survives the call.
//! Instructions are 4 bytes, stored little-endian, at 4-byte-aligned addresses.
//!
//! Registers at the ELF entry point. Linux clears them all but sp and pc
//! (arch/arm/include/asm/processor.h `start_thread`: `memset(regs->uregs, 0, ...)`, then
//! only r10 on no-MMU kernels and r7..r10 for FDPIC binaries; `ELF_PLAT_INIT` sets r0 = 0;
//! a 32-bit process on arm64 gets `compat_start_thread` → `start_thread_common`:
//! `memset(regs, 0, sizeof(*regs))`). The CPSR is USR mode with N, Z, C, V clear in both.
//! qemu-user (linux-user/elfload.c `init_thread` for ARM) memsets the registers to zero,
//! then sets r1 = [sp + 4] and r2 = [sp + 8] (argv[0] and what follows), r10 = start_data
//! and r0 = 0. So the code relies on r0, r4..r7 being zero and on nothing else: r1, r2 and
//! r10 are always set before use.
//!
//! Everything here is ARMv4 (`mov`, `orr`, `add`, `sub`, `push`, `svc`, `b`), except
//! `movw`/`movt` (ARMv6T2/v7), used only for a message length that two `mov`/`orr`
//! immediates cannot build. So the programs run on ARMv5TE/v6 (armel and Raspberry Pi 1)
//! for every message whose length is at most 16 significant bits or so, on every v7, and on
//! v8 cores that can run AArch32 at EL0 (not all can: e.g. Apple M1, Neoverse V1/V2 are
//! AArch64-only).

use super::{Addressing, Code, Fixup, Insn, Isa, Target};
use crate::Program;

/// arch/arm/tools/syscall.tbl (EABI: the number goes in r7, `svc #0`).
pub const SYS_EXIT: u8 = 1;
pub const SYS_WRITE: u8 = 4;
pub const SYS_RT_SIGACTION: u8 = 174;
pub const SYS_RT_SIGPROCMASK: u8 = 175;
pub const SYS_RT_SIGTIMEDWAIT: u8 = 177;

/// arch/arm/include/uapi/asm/signal.h, and the `sigset_t` bits for them (bit `n - 1` for
/// signal `n`).
pub const SIGINT: u8 = 2;
pub const SIGTERM: u8 = 15;
pub const SIGCHLD: u8 = 17;
pub const STOP_SIGNALS: u32 = (1 << (SIGINT - 1)) | (1 << (SIGTERM - 1));
/// `SIG_IGN` as a handler value (`SIG_BLOCK` for rt_sigprocmask is 0).
pub const SIG_IGN: u8 = 1;
/// The kernel's sigset_t is 64 bits: rt_* syscalls insist on sigsetsize == 8.
pub const SIGSET_SIZE: u8 = 8;

pub struct ArmV7;

const WAIT: u8 = 0;

/// Registers by number (sp = r13, pc = r15).
const R0: u32 = 0;
const R1: u32 = 1;
const R2: u32 = 2;
const R3: u32 = 3;
const R4: u32 = 4;
const R5: u32 = 5;
const R6: u32 = 6;
const R7: u32 = 7;
const SP: u32 = 13;
const PC: u32 = 15;

/// Condition fields (bits 31..28).
const EQ: u32 = 0x0;
const NE: u32 = 0x1;
const AL: u32 = 0xe;

fn insn(word: u32, asm: impl Into<String>) -> Insn {
    Insn::new(&word.to_le_bytes(), asm)
}

/// The 12-bit "modified immediate" of a data-processing instruction for `value`: an 8-bit
/// value rotated right by twice the 4-bit rotation field.
fn imm12(value: u32) -> Option<u32> {
    (0..16).find_map(|rot| {
        let imm8 = value.rotate_left(2 * rot);
        (imm8 < 0x100).then_some((rot << 8) | imm8)
    })
}

/// Data-processing with an immediate: cond 001 opcode S Rn Rd imm12.
fn dp_imm(cond: u32, opcode: u32, s: bool, rn: u32, rd: u32, value: u32) -> u32 {
    let imm = imm12(value).expect("encodable immediate");
    (cond << 28) | (1 << 25) | (opcode << 21) | (u32::from(s) << 20) | (rn << 16) | (rd << 12) | imm
}

const OP_SUB: u32 = 0b0010;
const OP_ADD: u32 = 0b0100;
const OP_ORR: u32 = 0b1100;
const OP_MOV: u32 = 0b1101;

/// `mov rd, #value` (cond 0011101 S 0000 Rd imm12).
fn mov(rd: u32, value: u32, comment: &str) -> Insn {
    let word = dp_imm(AL, OP_MOV, false, 0, rd, value);
    insn(word, with_comment(format!("mov r{rd}, #{value}"), comment))
}

/// `mov rd, rm` (cond 0001101 0 0000 Rd 00000000 Rm), with `sp` for r13.
fn mov_reg(rd: u32, rm: u32, comment: &str) -> Insn {
    let word = (AL << 28) | (OP_MOV << 21) | (rd << 12) | rm;
    insn(
        word,
        with_comment(format!("mov r{rd}, {}", reg(rm)), comment),
    )
}

fn reg(r: u32) -> String {
    match r {
        SP => "sp".into(),
        PC => "pc".into(),
        _ => format!("r{r}"),
    }
}

fn with_comment(asm: String, comment: &str) -> String {
    if comment.is_empty() {
        asm
    } else {
        format!("{asm} ; {comment}")
    }
}

/// `svc #0`: the system call numbered r7 (EABI).
fn svc() -> Insn {
    insn(0xef00_0000, "svc #0")
}

/// Data shorter than this could go into a header hole before the code (the largest hole
/// of the 32-bit layouts is e_ident[7..16] in the kernel fit, 9 bytes).
const MIN_DATA: usize = 10;

/// `adr rd, message` = `add rd, pc, #imm`, where pc reads as the instruction's address + 8
/// (the message comes after the code). The encoder would write `sub rd, pc, #imm` for a
/// message before it.
fn adr(rd: u32) -> Insn {
    let asm = format!("add r{rd}, pc, #message ; adr r{rd}, message");
    insn(dp_imm(AL, OP_ADD, false, PC, rd, 0), asm).fixup(Fixup::Encode {
        target: Target::Data,
        encode: encode_adr,
    })
}

fn encode_adr(bytes: &mut [u8], pc: u64, target: u64) -> Result<(), String> {
    let word = u32::from_le_bytes(bytes[..4].try_into().unwrap());
    let distance = target as i64 - (pc as i64 + 8);
    let (opcode, magnitude) = if distance >= 0 {
        (OP_ADD, distance)
    } else {
        (OP_SUB, -distance)
    };
    let value = u32::try_from(magnitude).map_err(|_| format!("{distance} out of range"))?;
    let imm = imm12(value).ok_or_else(|| format!("{distance} is no rotated 8-bit immediate"))?;
    let word = (word & 0xf00f_f000) | (1 << 25) | (opcode << 21) | imm;
    bytes[..4].copy_from_slice(&word.to_le_bytes());
    Ok(())
}

/// `b<cond> target` (cond 1010 imm24): pc + 8 + 4 * imm24, within ±32 MiB.
fn branch(cond: u32, target: Target, asm: &str) -> Insn {
    insn((cond << 28) | (0b1010 << 24), asm).fixup(Fixup::Encode {
        target,
        encode: encode_branch,
    })
}

fn encode_branch(bytes: &mut [u8], pc: u64, target: u64) -> Result<(), String> {
    let word = u32::from_le_bytes(bytes[..4].try_into().unwrap());
    let distance = target as i64 - (pc as i64 + 8);
    if distance % 4 != 0 || !(-(1 << 25)..(1 << 25)).contains(&distance) {
        return Err(format!("branch distance {distance} out of range"));
    }
    let word = (word & 0xff00_0000) | ((distance >> 2) as u32 & 0x00ff_ffff);
    bytes[..4].copy_from_slice(&word.to_le_bytes());
    Ok(())
}

/// r2 = `len` (r2 is not zero at entry under qemu-user): one `mov` when the length is a
/// rotated 8-bit immediate, `mov` + `orr` when it splits into two, else `movw` (+ `movt`).
fn set_r2(len: usize) -> Vec<Insn> {
    let n = u32::try_from(len).expect("message length is checked by Program");
    if imm12(n).is_some() {
        return vec![mov(R2, n, "length")];
    }
    for rot in 0..16 {
        let low = n & 0xffu32.rotate_right(2 * rot);
        let high = n & !low;
        if low != 0 && imm12(low).is_some() && imm12(high).is_some() {
            let orr = dp_imm(AL, OP_ORR, false, R2, R2, high);
            return vec![
                mov(R2, low, ""),
                insn(orr, format!("orr r2, r2, #{high} ; length {n}")),
            ];
        }
    }
    // movw rd, #imm16 (cond 0011 0000 imm4 Rd imm12); movt: the same with 0100.
    let (lo, hi) = (n & 0xffff, n >> 16);
    let movw =
        |op: u32, v: u32| (AL << 28) | (op << 20) | ((v >> 12) << 16) | (R2 << 12) | (v & 0xfff);
    let mut out = vec![insn(movw(0x30, lo), format!("movw r2, #{lo}"))];
    if hi != 0 {
        out.push(insn(movw(0x34, hi), format!("movt r2, #{hi} ; length {n}")));
    }
    out
}

impl Isa for ArmV7 {
    fn lower(&self, program: &Program, _addressing: Addressing) -> Code {
        let mut insns = Vec::new();
        let mut data = Vec::new();
        match program {
            Program::Exit(code) => {
                if *code != 0 {
                    insns.push(mov(R0, u32::from(*code), "status"));
                }
                insns.push(mov(R7, SYS_EXIT.into(), "SYS_exit"));
                insns.push(svc());
            }
            Program::Hello(message) => {
                data.extend_from_slice(message);
                // A message short enough for a header hole would land before the code, and
                // `add r1, pc` would have to become `sub r1, pc`, which the listing cannot
                // follow: pad it (the padding is never written) so it always comes last.
                if !message.is_empty() && message.len() < MIN_DATA {
                    data.resize(MIN_DATA, 0);
                }
                insns.push(mov(R7, SYS_WRITE.into(), "SYS_write"));
                insns.push(mov(R0, 1, "fd 1 = stdout"));
                insns.push(adr(R1));
                insns.extend(set_r2(message.len()));
                insns.push(svc());
                // r0 now holds what write returned (possibly a negative errno).
                insns.push(mov(R7, SYS_EXIT.into(), "SYS_exit"));
                insns.push(mov(R0, 0, "status 0"));
                insns.push(svc());
            }
            Program::Pause => {
                let set = STOP_SIGNALS;
                let (low, high) = (set & 0xff, set & !0xff);
                insns.extend([
                    // Both structs on the stack in one push (sp stays 8-byte aligned, nothing
                    // is written below it): sp -> act = {sa_handler = SIG_IGN, sa_flags = 0},
                    // sp + 8 -> set = {SIGINT, SIGTERM} (64 bits). r5 and r7 are 0 at entry.
                    mov(R4, SIG_IGN.into(), "act.sa_handler = SIG_IGN"),
                    mov(R6, low, "SIGINT"),
                    insn(
                        dp_imm(AL, OP_ORR, false, R6, R6, high),
                        format!("orr r6, r6, #{high} ; | SIGTERM: set = {set:#x}"),
                    ),
                    insn(
                        0xe92d_0000 | (1 << R4) | (1 << R5) | (1 << R6) | (1 << R7),
                        "push {r4, r5, r6, r7} ; stmdb sp!: act, then set",
                    ),
                    // rt_sigprocmask(SIG_BLOCK = r0 = 0, &set, NULL, 8): a blocked signal is
                    // never "ignored", so the kernel queues SIGTERM/SIGINT even for a
                    // PID-namespace init whose handler is SIG_DFL.
                    insn(
                        dp_imm(AL, OP_ADD, false, SP, R1, 8),
                        "add r1, sp, #8 ; &set",
                    ),
                    mov(R2, 0, "oldset = NULL"),
                    mov(R3, SIGSET_SIZE.into(), "sigsetsize"),
                    mov(R7, SYS_RT_SIGPROCMASK.into(), "SYS_rt_sigprocmask"),
                    svc(),
                    // rt_sigaction(SIGCHLD, &act, NULL = r2, 8 = r3): children (and orphans
                    // handed to us as PID 1) are reaped by the kernel, zombies never stay.
                    // The kernel's struct sigaction here is {handler, flags, restorer, mask}.
                    mov(R0, SIGCHLD.into(), "SIGCHLD"),
                    mov_reg(R1, SP, "&act"),
                    mov(R7, SYS_RT_SIGACTION.into(), "SYS_rt_sigaction"),
                    svc(),
                    // rt_sigtimedwait(&set, NULL, NULL = r2, 8 = r3), again if interrupted.
                    mov(R1, 0, "no siginfo"),
                    insn(
                        dp_imm(AL, OP_MOV, true, 0, R7, SYS_RT_SIGTIMEDWAIT.into()),
                        "movs r7, #177 ; SYS_rt_sigtimedwait, and Z = 0 (ne)",
                    ),
                    insn(
                        dp_imm(NE, OP_ADD, false, SP, R0, 8),
                        "addne r0, sp, #8 ; &set (unless exiting)",
                    )
                    .label(WAIT)
                    .reads_flags(),
                    svc(),
                    // r0 = a signal number (> 0) or -errno (-EINTR after SIGSTOP/SIGCONT).
                    insn(
                        0xe1b0_0000 | (R0 << 12) | (31 << 7) | (0b01 << 5) | R0,
                        "lsrs r0, r0, #31 ; r0 = 1 and ne if negative, r0 = 0 and eq if not",
                    ),
                    insn(
                        dp_imm(EQ, OP_MOV, false, 0, R7, SYS_EXIT.into()),
                        "moveq r7, #1 ; a signal arrived: SYS_exit, status r0 = 0",
                    )
                    .reads_flags(),
                    // Back to wait again, or (eq) straight to the svc: exit(0).
                    branch(AL, Target::Label(WAIT), "b wait"),
                ]);
            }
        }
        Code { insns, data }
    }

    fn jump(&self, target: Target) -> Insn {
        branch(AL, target, "b target")
    }

    fn nop(&self) -> Insn {
        mov_reg(R0, R0, "nop")
    }

    fn align(&self) -> usize {
        4
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modified_immediates() {
        assert_eq!(imm12(14), Some(14));
        assert_eq!(imm12(0x4000), Some(0x901));
        assert_eq!(imm12(1 << 20), Some(0x601));
        assert_eq!(imm12(0x101), None);
        assert_eq!(imm12(0xf000_000f), Some(0x2ff));
    }

    #[test]
    fn lengths_of_every_size_build() {
        for len in [
            0usize,
            255,
            256,
            257,
            1020,
            0x4002,
            0xffff,
            0x1_0001,
            (1 << 26) - 1,
        ] {
            let insns = set_r2(len);
            assert!(insns.len() <= 2, "{len}");
        }
    }

    #[test]
    fn branches_and_adr() {
        let mut b = branch(AL, Target::Data, "b target").bytes;
        encode_branch(&mut b, 0x10000, 0x10008).unwrap();
        assert_eq!(b, 0xea00_0000u32.to_le_bytes());
        encode_branch(&mut b, 0x10000, 0x10000).unwrap();
        assert_eq!(b, 0xeaff_fffeu32.to_le_bytes());
        assert!(encode_branch(&mut b, 0, 1 << 26).is_err());
        let mut a = adr(R1).bytes;
        encode_adr(&mut a, 0x10000, 0x10018).unwrap();
        assert_eq!(a, 0xe28f_1010u32.to_le_bytes());
        encode_adr(&mut a, 0x10000, 0x10000).unwrap();
        assert_eq!(a, 0xe24f_1008u32.to_le_bytes());
    }
}
