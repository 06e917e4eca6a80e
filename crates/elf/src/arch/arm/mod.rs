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
//! Every instruction of `exit`, `hello`, `pause` and `serve` is a 16-bit Thumb-1 encoding (`movs`, `adds`, `subs`, `lsls`, `lsrs`,
//! `mov` of a high register, `add rd, sp`, `adr`, `push`, `svc`, `b`, `bne`), message
//! lengths of every size included (built with `movs`/`lsls`/`adds`, never `movw`), so the
//! programs run on every ARM Linux CPU with Thumb: ARMv4T/v5TE, ARMv6 (ARM1176 in the
//! Raspberry Pi 1 and Zero, which have no Thumb-2), ARMv7, and ARMv8/v9 cores that still
//! execute AArch32 at EL0 (Cortex-A53/A72 do; Apple M-series and several recent cores are
//! AArch64-only and cannot run linux/arm/v7 at all). The nop is `mov r8, r8`, not the
//! Thumb-2 hint `nop` (0xbf00).
//!
//! The quine is the exception: it is Thumb-2 (32-bit `eor.w`/`add.w` with a rotated
//! operand carry SHA-256's rotations) and computes K and H(0) in double precision on the
//! FPU (VFPv3-D16, which linux/arm/v7 hard-float assumes), so it needs ARMv7.
//!
//! The listings: [`exit`], [`hello`], [`pause`], [`serve`], [`quine`], one file each; the
//! instructions and the patches of their PC-relative operands are in [`encode`].

mod encode;
mod exit;
mod hello;
mod pause;
mod quine;
mod serve;

use super::{Addressing, Code, Encoder, Fixup, Insn, Isa, Target};
use crate::arch::net::*;
use crate::arch::signal::{SIGCHLD, SIGINT, SIGSET_SIZE, SIGTERM, SIG_IGN, STOP_SIGNALS};
use crate::program::Serve;
use encode::*;

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

pub struct ArmV7;

// The listing writes these numbers into literal instruction halfwords.
const _: () = assert!(SYS_EXIT == 1 && SYS_WRITE == 4 && SYS_RT_SIGACTION == 174);
const _: () = assert!(SYS_RT_SIGPROCMASK == 175 && SYS_RT_SIGTIMEDWAIT == 177);
const _: () = assert!(STOP_SIGNALS == (1 << 14) | 2 && SIG_IGN == 1 && SIGCHLD == 17);
const _: () = assert!(SIGSET_SIZE == 8);

programs!(ArmV7);

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
    use super::encode::tests::{read, thumb};
    use super::*;
    use crate::arch::Programs;

    /// Every fixed instruction of every program decodes (capstone, Thumb) as listed.
    #[test]
    fn listing_matches_capstone() {
        let cs = thumb();
        let serve = Serve::new(65_534, &crate::program::Response::default()).unwrap();
        for code in [
            ArmV7.pause(),
            ArmV7.exit(0),
            ArmV7.exit(255),
            ArmV7.hello(b"Hello, world!\n", Addressing::Abs32),
            ArmV7.serve(&serve, Addressing::Abs32),
        ] {
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
}
