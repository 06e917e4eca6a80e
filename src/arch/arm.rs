//! 32-bit ARM (linux/arm/v7), A32 instructions, EABI: `svc #0` with the number in r7,
//! arguments in r0..r3, the result in r0; every other register survives the call.
//! Instructions are 4 bytes, stored little-endian, at 4-byte-aligned addresses.
//!
//! Registers at the ELF entry point. Linux clears them all but sp and pc
//! (arch/arm/include/asm/processor.h `start_thread`: `memset(regs->uregs, 0, ...)`, then
//! r10 only on no-MMU kernels and r7..r10 only for FDPIC binaries; arch/arm/include/asm/elf.h
//! `ELF_PLAT_INIT` sets r0 = 0; a 32-bit process on an arm64 kernel gets
//! arch/arm64/include/asm/processor.h `compat_start_thread` → `start_thread_common`:
//! `memset(regs, 0, sizeof(*regs))`). qemu-user (linux-user/elfload.c `init_thread` for 32-bit
//! ARM) memsets the registers to zero, then sets r1 = [sp + 4] and r2 = [sp + 8] (argv[0]
//! and what follows it), r10 = start_data and r0 = 0 (r7..r9 only for FDPIC). So the code
//! relies on r0, r5 and r7 being zero (`exit 0`'s status, SIG_BLOCK, the zero words of
//! `pause`'s structs) and on nothing else: r1, r2 are always set before use, and the flags
//! the loop of `pause` tests are set by the code itself.
//!
//! Everything here is ARMv4 (`mov`, `orr`, `add`, `sub`, `push`, `svc`, `b`, conditional
//! execution), except `movw`/`movt` (ARMv6T2/v7), used only for a message length that is
//! neither a rotated 8-bit immediate nor the sum of two (so never below 64 KiB). The
//! programs therefore run on every EABI ARM Linux CPU (v5TE, v6 as in the Raspberry Pi 1 and
//! Zero, v7), and on ARMv8/v9 cores that still execute AArch32 at EL0 (Cortex-A53/A72 do;
//! Apple M-series and several recent cores are AArch64-only and cannot run linux/arm/v7).

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

/// Condition field (bits 31..28): always.
const AL: u32 = 0xe;

fn insn(word: u32, asm: impl Into<String>) -> Insn {
    Insn::new(&word.to_le_bytes(), asm)
}

/// The 12-bit "modified immediate" of a data-processing instruction for `value` (an 8-bit
/// value rotated right by twice the 4-bit rotation field), if there is one.
fn imm12(value: u32) -> Option<u32> {
    (0..16).find_map(|rot| {
        let imm8 = value.rotate_left(2 * rot);
        (imm8 < 0x100).then_some((rot << 8) | imm8)
    })
}

/// Data-processing opcodes (bits 24..21).
const OP_SUB: u32 = 0b0010;
const OP_ADD: u32 = 0b0100;

/// Data shorter than this could go into a header hole before the code (the largest hole
/// of the 32-bit layouts is e_ident[7..16] in the kernel fit, 9 bytes).
const MIN_DATA: usize = 10;

/// `adr r1, message` = `add r1, pc, #imm` (cond 001 0100 0 Rn=1111 Rd imm12), where pc
/// reads as the instruction's address + 8 (the message comes after the code). The encoder
/// writes `sub r1, pc, #imm` (opcode 0010) for a message before it.
fn adr_r1_message() -> Insn {
    insn(0xe28f_1000, "add r1, pc, #message ; adr r1, message").fixup(Fixup::Encode {
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
/// rotated 8-bit immediate, `mov` + `orr` when it splits into two, else `movw` (+ `movt`),
/// ARMv6T2/v7 only.
fn set_r2(len: usize) -> Vec<Insn> {
    let n = u32::try_from(len).expect("message length is checked by Program");
    // mov r2, #imm (cond 0011 1010 0000 0010 imm12); orr r2, r2, #imm (0011 1000 0010 0010).
    if let Some(imm) = imm12(n) {
        return vec![insn(0xe3a0_2000 | imm, format!("mov r2, #{n} ; length"))];
    }
    for rot in 0..16 {
        let low = n & 0xffu32.rotate_right(2 * rot);
        let high = n & !low;
        if let (Some(l), Some(h)) = (imm12(low), imm12(high)) {
            return vec![
                insn(0xe3a0_2000 | l, format!("mov r2, #{low}")),
                insn(0xe382_2000 | h, format!("orr r2, r2, #{high} ; length {n}")),
            ];
        }
    }
    // movw r2, #imm16 (cond 0011 0000 imm4 0010 imm12); movt: the same with 0100.
    let (lo, hi) = (n & 0xffff, n >> 16);
    let imm16 = |v: u32| ((v >> 12) << 16) | (v & 0xfff);
    let mut out = vec![insn(0xe300_2000 | imm16(lo), format!("movw r2, #{lo}"))];
    if hi != 0 {
        out.push(insn(
            0xe340_2000 | imm16(hi),
            format!("movt r2, #{hi} ; length {n}"),
        ));
    }
    out
}

impl Isa for ArmV7 {
    fn lower(&self, program: &Program, _addressing: Addressing) -> Code {
        let mut insns = Vec::new();
        let mut data = Vec::new();
        // Words are written as the manual draws them (cond in the top nibble); the named
        // constants fill the low 8 bits of a `mov` immediate (rotation 0).
        match program {
            Program::Exit(code) => {
                if *code != 0 {
                    let code = u32::from(*code);
                    insns.push(insn(
                        0xe3a0_0000 | code,
                        format!("mov r0, #{code} ; status"),
                    ));
                }
                insns.push(insn(
                    0xe3a0_7000 | u32::from(SYS_EXIT),
                    "mov r7, #1 ; SYS_exit",
                ));
                insns.push(insn(0xef00_0000, "svc #0"));
            }
            Program::Hello(message) => {
                data.extend_from_slice(message);
                // A message short enough for a header hole would land before the code, and
                // `add r1, pc` would have to become `sub r1, pc`, which the listing cannot
                // follow: pad it (the padding is never written) so it always comes last.
                if !message.is_empty() && message.len() < MIN_DATA {
                    data.resize(MIN_DATA, 0);
                }
                insns.push(insn(
                    0xe3a0_7000 | u32::from(SYS_WRITE),
                    "mov r7, #4 ; SYS_write",
                ));
                insns.push(insn(0xe3a0_0001, "mov r0, #1 ; fd 1 = stdout"));
                insns.push(adr_r1_message());
                insns.extend(set_r2(message.len()));
                insns.push(insn(0xef00_0000, "svc #0"));
                // r0 now holds what write returned (possibly a negative errno).
                insns.push(insn(
                    0xe3a0_7000 | u32::from(SYS_EXIT),
                    "mov r7, #1 ; SYS_exit",
                ));
                insns.push(insn(0xe3a0_0000, "mov r0, #0 ; status 0"));
                insns.push(insn(0xef00_0000, "svc #0"));
            }
            Program::Pause => {
                const _: () = assert!(STOP_SIGNALS == 0x2 | 0x4000);
                insns.extend([
                    // Both structs on the stack in one push (sp stays 8-byte aligned; AAPCS
                    // has no red zone, so nothing is written below sp):
                    //   sp     -> act = {sa_handler = SIG_IGN (r4), sa_flags = 0 (r5)}
                    //   sp + 8 -> set = {SIGINT | SIGTERM (r6), 0 (r7)} (64 bits)
                    // r5 and r7 are 0 at entry. The kernel's struct sigaction here is
                    // {handler, flags, restorer, mask}: restorer and mask are not read for
                    // SIG_IGN without SA_RESTORER.
                    insn(0xe3a0_4000 | u32::from(SIG_IGN), "mov r4, #1 ; SIG_IGN"),
                    insn(0xe3a0_6002, "mov r6, #2 ; SIGINT"),
                    insn(0xe386_6901, "orr r6, r6, #16384 ; | SIGTERM: 0x4002"),
                    insn(0xe92d_00f0, "push {r4, r5, r6, r7} ; stmdb sp!: act, set"),
                    // rt_sigprocmask(SIG_BLOCK = r0 = 0, &set, NULL, 8): a blocked signal is
                    // never "ignored", so the kernel queues SIGTERM/SIGINT even for a
                    // PID-namespace init whose handler is SIG_DFL.
                    insn(0xe28d_1008, "add r1, sp, #8 ; &set"),
                    insn(0xe3a0_2000, "mov r2, #0 ; oldset = NULL"),
                    insn(
                        0xe3a0_3000 | u32::from(SIGSET_SIZE),
                        "mov r3, #8 ; sigsetsize",
                    ),
                    insn(
                        0xe3a0_7000 | u32::from(SYS_RT_SIGPROCMASK),
                        "mov r7, #175 ; SYS_rt_sigprocmask",
                    ),
                    insn(0xef00_0000, "svc #0"),
                    // rt_sigaction(SIGCHLD, &act, NULL = r2, 8 = r3): children (and orphans
                    // handed to us as PID 1) are reaped by the kernel, zombies never stay.
                    insn(0xe3a0_0000 | u32::from(SIGCHLD), "mov r0, #17 ; SIGCHLD"),
                    insn(0xe1a0_100d, "mov r1, sp ; &act"),
                    insn(
                        0xe3a0_7000 | u32::from(SYS_RT_SIGACTION),
                        "mov r7, #174 ; SYS_rt_sigaction",
                    ),
                    insn(0xef00_0000, "svc #0"),
                    // rt_sigtimedwait(&set, NULL, NULL = r2, 8 = r3), again if interrupted.
                    // movs sets Z = 0 (177 is not zero), so addne runs the first time.
                    insn(0xe3a0_1000, "mov r1, #0 ; no siginfo"),
                    insn(
                        0xe3b0_7000 | u32::from(SYS_RT_SIGTIMEDWAIT),
                        "movs r7, #177 ; SYS_rt_sigtimedwait, ne",
                    ),
                    insn(0x128d_0008, "addne r0, sp, #8 ; &set (eq: exiting)")
                        .label(WAIT)
                        .reads_flags(),
                    insn(0xef00_0000, "svc #0 ; rt_sigtimedwait, or (eq) exit(0)"),
                    // r0 = a signal number (> 0), or -errno (-EINTR after SIGSTOP/SIGCONT).
                    insn(
                        0xe1b0_0fa0,
                        "lsrs r0, r0, #31 ; negative: r0 = 1, ne; else r0 = 0, eq",
                    ),
                    insn(
                        0x03a0_7000 | u32::from(SYS_EXIT),
                        "moveq r7, #1 ; a signal arrived: SYS_exit, status r0 = 0",
                    )
                    .reads_flags(),
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
        insn(0xe1a0_0000, "mov r0, r0 ; nop")
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

    /// Every way of building the length decodes (capstone) as listed and computes it.
    #[test]
    fn lengths_of_every_size_build() {
        use capstone::prelude::*;
        let cs = Capstone::new()
            .arm()
            .mode(capstone::arch::arm::ArchMode::Arm)
            .build()
            .unwrap();
        for len in [
            0usize, 14, 255, 256, 257, 1020, 0x4002, 0xffff, 0x1_0001, 0x10_0003,
        ]
        .into_iter()
        .chain([0x12_3456, 0x3e8_0001, (1 << 26) - 1])
        {
            let insns = set_r2(len);
            assert!(insns.len() <= 2, "{len}");
            let mut r2 = 0u32;
            for i in &insns {
                let d = cs.disasm_count(&i.bytes, 0, 1).unwrap();
                let d = d.iter().next().unwrap();
                let text = format!("{} {}", d.mnemonic().unwrap(), d.op_str().unwrap());
                let listed = i.asm.split(" ;").next().unwrap();
                let (mnemonic, ops) = listed.split_once(' ').unwrap();
                let imm: u32 = ops.rsplit('#').next().unwrap().parse().unwrap();
                assert_eq!(text.split(' ').next(), Some(mnemonic), "{text} / {listed}");
                let read = text.rsplit('#').next().unwrap();
                let read = match read.strip_prefix("0x") {
                    Some(h) => u32::from_str_radix(h, 16).unwrap(),
                    None => read.parse().unwrap(),
                };
                assert_eq!(read, imm, "{text} / {listed}");
                r2 = match mnemonic {
                    "mov" | "movw" => imm,
                    "orr" => r2 | imm,
                    "movt" => (r2 & 0xffff) | (imm << 16),
                    _ => unreachable!("{listed}"),
                };
            }
            assert_eq!(r2 as usize, len);
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
        let mut a = adr_r1_message().bytes;
        encode_adr(&mut a, 0x10000, 0x10018).unwrap();
        assert_eq!(a, 0xe28f_1010u32.to_le_bytes());
        encode_adr(&mut a, 0x10000, 0x10000).unwrap();
        assert_eq!(a, 0xe24f_1008u32.to_le_bytes());
    }
}
