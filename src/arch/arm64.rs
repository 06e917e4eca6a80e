//! AArch64 (linux/arm64, v8): `svc #0` with the number in x8, arguments in x0..x3, the
//! result in x0 (every other register survives the call). Instructions are 32-bit words,
//! stored little-endian, at 4-byte aligned addresses; the listing gives each word as the
//! Arm ARM prints it (bit 31 first), then its assembly as capstone reads it.
//!
//! Registers at the entry point: x0..x30 are all zero, under both loaders this crate
//! targets, and the code relies on it (x0 for `exit 0`, x2 for the NULL arguments of
//! `pause` and the length of an empty message):
//! - Linux: `start_thread` → `start_thread_common` (arch/arm64/include/asm/processor.h)
//!   does `memset(regs, 0, sizeof(*regs))` before setting pc, and `ELF_PLAT_INIT`
//!   (arch/arm64/include/asm/elf.h) is `(_r)->regs[0] = 0`; execve's own return value
//!   is 0 too.
//! - qemu-user: `init_thread` for aarch64 (linux-user/elfload.c, qemu 7.2) does
//!   `memset(regs, 0, sizeof(*regs))` and sets only pc and sp, which
//!   `target_cpu_copy_regs` (linux-user/aarch64/target_cpu.h) copies into x0..x30; newer
//!   qemu (`init_main_thread`, linux-user/aarch64/cpu_loop.c) sets only pc and sp of a
//!   freshly reset (zeroed) CPU.
//!
//! The stack: AAPCS64 has no red zone on Linux, and sp must stay 16-byte aligned for an
//! sp-based access (Linux sets SCTLR_EL1.SA0), so `pause` moves sp down by 32 with a
//! pre-indexed store before it uses the space.

use super::{Addressing, Code, Fixup, Insn, Isa, Target};
use crate::Program;

/// include/uapi/asm-generic/unistd.h (arm64 has no table of its own).
pub const SYS_WRITE: u16 = 64;
pub const SYS_EXIT: u16 = 93;
pub const SYS_RT_SIGACTION: u16 = 134;
pub const SYS_RT_SIGPROCMASK: u16 = 135;
pub const SYS_RT_SIGTIMEDWAIT: u16 = 137;

use super::signal;

// The signal constants (super::signal) in the type of this file's encoders.
const SIGCHLD: u16 = signal::SIGCHLD as u16;
const STOP_SIGNALS: u16 = signal::STOP_SIGNALS;
const SIG_IGN: u16 = signal::SIG_IGN as u16;
const SIGSET_SIZE: u16 = signal::SIGSET_SIZE as u16;

pub struct Arm64;

const WAIT: u8 = 0;

/// Registers by number (31 is xzr or sp, depending on the instruction).
const X0: u32 = 0;
const X2: u32 = 2;

/// One instruction word.
fn a64(word: u32, asm: impl Into<String>) -> Insn {
    Insn::new(&word.to_le_bytes(), asm)
}

/// `movz xd, #imm16, lsl #(16 * hw)`: 1 10 100101 hw:2 imm16:16 Rd:5.
const fn movz(rd: u32, imm16: u16, hw: u32) -> u32 {
    0xd280_0000 | hw << 21 | (imm16 as u32) << 5 | rd
}

/// `movk xd, #imm16, lsl #(16 * hw)`: 1 11 100101 hw:2 imm16:16 Rd:5.
const fn movk(rd: u32, imm16: u16, hw: u32) -> u32 {
    0xf280_0000 | hw << 21 | (imm16 as u32) << 5 | rd
}

// The literal words of the listing are the encodings of the constants they name.
const _: () = {
    const X8: u32 = 8;
    assert!(movz(X8, SYS_WRITE, 0) == 0xd280_0808);
    assert!(movz(X8, SYS_EXIT, 0) == 0xd280_0ba8);
    assert!(movz(X8, SYS_RT_SIGACTION, 0) == 0xd280_10c8);
    assert!(movz(X8, SYS_RT_SIGPROCMASK, 0) == 0xd280_10e8);
    assert!(movz(X8, SYS_RT_SIGTIMEDWAIT, 0) == 0xd280_1128);
    assert!(movz(X0, SIGCHLD, 0) == 0xd280_0220);
    assert!(movz(3, SIGSET_SIZE, 0) == 0xd280_0103);
    assert!(movz(4, SIG_IGN, 0) == 0xd280_0024);
    assert!(movz(4, STOP_SIGNALS, 0) == 0xd288_0044);
    assert!(movz(X0, 1, 0) == 0xd280_0020);
    assert!(movz(X0, 0, 0) == 0xd280_0000);
};

/// `mov xd, #value`: a `movz` of the lowest non-zero 16-bit chunk, then a `movk` per other
/// non-zero chunk (a 64 MiB length takes two). Nothing for zero: every register is zero
/// at the entry point.
fn set(rd: u32, value: u64, what: &str) -> Vec<Insn> {
    let mut out = Vec::new();
    for hw in 0..4u32 {
        let chunk = (value >> (16 * hw)) as u16;
        if chunk == 0 {
            continue;
        }
        out.push(if out.is_empty() {
            // capstone prints movz as `mov` with the shifted value.
            let v = (chunk as u64) << (16 * hw);
            a64(movz(rd, chunk, hw), format!("mov x{rd}, #{v} ; {what}"))
        } else {
            let shift = 16 * hw;
            a64(
                movk(rd, chunk, hw),
                format!("movk x{rd}, #{chunk}, lsl #{shift}"),
            )
        });
    }
    out
}

/// Patches the signed `bits`-bit word offset at bit `lsb` of an instruction, after
/// checking that `target - pc` is a multiple of 4 in range.
fn patch_offset(bytes: &mut [u8], pc: u64, target: u64, lsb: u32, bits: u32) -> Result<(), String> {
    let delta = target.wrapping_sub(pc) as i64;
    if delta % 4 != 0 {
        return Err(format!("target {target:#x} is not 4-byte aligned"));
    }
    let words = delta / 4;
    let limit = 1i64 << (bits - 1);
    if !(-limit..limit).contains(&words) {
        return Err(format!(
            "target {target:#x} is {delta} bytes away, out of range (±{} bytes)",
            limit * 4
        ));
    }
    let mask = ((1u64 << bits) - 1) as u32;
    let word = u32::from_le_bytes(bytes[..4].try_into().unwrap());
    let word = word & !(mask << lsb) | ((words as u32) & mask) << lsb;
    bytes[..4].copy_from_slice(&word.to_le_bytes());
    Ok(())
}

/// `b`: 000101 imm26, the word offset from the branch itself (±128 MiB).
fn encode_b(bytes: &mut [u8], pc: u64, target: u64) -> Result<(), String> {
    patch_offset(bytes, pc, target, 0, 26)
}

/// `tbnz`: b5 011011 1 b40:5 imm14 Rt:5, the word offset from the branch (±32 KiB).
fn encode_tbnz(bytes: &mut [u8], pc: u64, target: u64) -> Result<(), String> {
    patch_offset(bytes, pc, target, 5, 14)
}

/// `adr`: 0 immlo:2 10000 immhi:19 Rd:5, the byte offset from the instruction (±1 MiB).
fn encode_adr(bytes: &mut [u8], pc: u64, target: u64) -> Result<(), String> {
    let delta = target.wrapping_sub(pc) as i64;
    if !(-(1 << 20)..1 << 20).contains(&delta) {
        return Err(format!(
            "target {target:#x} is {delta} bytes away, out of range (±1 MiB)"
        ));
    }
    let imm = delta as u32 & 0x1f_ffff;
    let word = u32::from_le_bytes(bytes[..4].try_into().unwrap());
    let word = word & !(0x6000_0000 | 0x00ff_ffe0) | (imm & 3) << 29 | (imm >> 2) << 5;
    bytes[..4].copy_from_slice(&word.to_le_bytes());
    Ok(())
}

impl Isa for Arm64 {
    fn lower(&self, program: &Program, _addressing: Addressing) -> Code {
        // Always PC-relative: `adr` reaches ±1 MiB around itself wherever the image loads.
        let mut insns = Vec::new();
        let mut data = Vec::new();
        match program {
            Program::Exit(code) => {
                insns.extend(set(X0, u64::from(*code), "status"));
                insns.push(a64(0xd280_0ba8, "mov x8, #93 ; SYS_exit"));
                insns.push(a64(0xd400_0001, "svc #0"));
            }
            Program::Hello(message) => {
                data.extend_from_slice(message);
                insns.push(a64(0xd280_0020, "mov x0, #1 ; fd 1 = stdout"));
                insns.push(a64(0x1000_0001, "adr x1, message").fixup(Fixup::Encode {
                    target: Target::Data,
                    encode: encode_adr,
                }));
                insns.extend(set(X2, message.len() as u64, "length"));
                insns.push(a64(0xd280_0808, "mov x8, #64 ; SYS_write"));
                insns.push(a64(0xd400_0001, "svc #0"));
                // x0 now holds what write returned (possibly a negative errno).
                insns.push(a64(0xd280_0000, "mov x0, #0 ; status 0"));
                insns.push(a64(0xd280_0ba8, "mov x8, #93 ; SYS_exit"));
                insns.push(a64(0xd400_0001, "svc #0"));
            }
            Program::Serve(_) => unimplemented!("serve on arm64"),
            Program::Pause => {
                insns.extend([
                    // The stack, 32 bytes: act = {sa_handler, sa_flags, sa_restorer,
                    // sa_mask} (include/linux/signal_types.h; arm64 has SA_RESTORER), with
                    // the set stored in act.sa_restorer, which the kernel never uses without
                    // SA_RESTORER in sa_flags (and never for SIG_IGN).
                    a64(0xd280_0024, "mov x4, #1 ; SIG_IGN"),
                    a64(
                        0xa9be_7fe4,
                        "stp x4, xzr, [sp, #-32]! ; act.sa_handler = SIG_IGN, act.sa_flags = 0",
                    ),
                    // rt_sigaction(SIGCHLD, &act, NULL = x2, 8): children (and orphans
                    // handed to us as PID 1) are reaped by the kernel, zombies never stay.
                    a64(0x9100_03e1, "mov x1, sp ; &act"),
                    a64(0xd280_0220, "mov x0, #17 ; SIGCHLD"),
                    a64(0xd280_0103, "mov x3, #8 ; sigsetsize"),
                    a64(0xd280_10c8, "mov x8, #134 ; SYS_rt_sigaction"),
                    a64(0xd400_0001, "svc #0"),
                    // rt_sigprocmask(SIG_BLOCK = x0 = 0 (what rt_sigaction returned), &set,
                    // NULL = x2, 8): a blocked signal is never "ignored", so the kernel
                    // queues SIGTERM/SIGINT even for a PID-namespace init whose handler is
                    // SIG_DFL.
                    a64(0xd288_0044, "mov x4, #16386 ; set = {SIGINT, SIGTERM}"),
                    a64(
                        0xf801_0c24,
                        "str x4, [x1, #16]! ; act.sa_restorer = set, x1 = &set",
                    ),
                    a64(0xd280_10e8, "mov x8, #135 ; SYS_rt_sigprocmask"),
                    a64(0xd400_0001, "svc #0"),
                    // rt_sigtimedwait(&set, NULL, NULL = no timeout, 8), again if it fails
                    // (-EINTR after SIGSTOP and SIGCONT).
                    a64(0xd280_0001, "mov x1, #0 ; no siginfo"),
                    a64(0xd280_1128, "mov x8, #137 ; SYS_rt_sigtimedwait"),
                    a64(0x9100_43e0, "add x0, sp, #16 ; &set").label(WAIT),
                    a64(0xd400_0001, "svc #0"),
                    a64(0xb7f8_0000, "tbnz x0, #63, wait ; negative: an error").fixup(
                        Fixup::Encode {
                            target: Target::Label(WAIT),
                            encode: encode_tbnz,
                        },
                    ),
                    // A signal arrived (x0 = its number): exit(0).
                    a64(0xd280_0000, "mov x0, #0 ; status 0"),
                    a64(0xd280_0ba8, "mov x8, #93 ; SYS_exit"),
                    a64(0xd400_0001, "svc #0"),
                ]);
            }
        }
        Code { insns, data }
    }

    fn jump(&self, target: Target) -> Insn {
        a64(0x1400_0000, "b target").fixup(Fixup::Encode {
            target,
            encode: encode_b,
        })
    }

    fn nop(&self) -> Insn {
        a64(0xd503_201f, "nop")
    }

    fn align(&self) -> usize {
        4
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_builds_any_length() {
        let asm = |v| {
            set(X2, v, "length")
                .iter()
                .map(|i| i.asm.clone())
                .collect::<Vec<_>>()
        };
        assert!(asm(0).is_empty());
        assert_eq!(asm(14), ["mov x2, #14 ; length"]);
        assert_eq!(asm(1 << 20), ["mov x2, #1048576 ; length"]);
        assert_eq!(
            asm((64 << 20) - 1),
            ["mov x2, #65535 ; length", "movk x2, #1023, lsl #16"]
        );
    }

    #[test]
    fn branches_are_range_checked() {
        let mut b = 0x1400_0000u32.to_le_bytes();
        encode_b(&mut b, 0x10000, 0x10010).unwrap();
        assert_eq!(u32::from_le_bytes(b), 0x1400_0004);
        encode_b(&mut b, 0x10010, 0x10000).unwrap();
        assert_eq!(u32::from_le_bytes(b), 0x17ff_fffc);
        assert!(encode_b(&mut b, 0, 128 << 20).is_err());
        assert!(encode_b(&mut b, 0, 2).is_err());
        let mut t = 0xb7f8_0000u32.to_le_bytes();
        encode_tbnz(&mut t, 0x10008, 0x10000).unwrap();
        assert_eq!(u32::from_le_bytes(t), 0xb7ff_ffc0);
        assert!(encode_tbnz(&mut t, 0, 32 << 10).is_err());
        let mut a = 0x1000_0001u32.to_le_bytes();
        encode_adr(&mut a, 0x10000, 0x10005).unwrap();
        assert_eq!(u32::from_le_bytes(a), 0x3000_0021);
        assert!(encode_adr(&mut a, 0, 1 << 20).is_err());
    }
}
