//! What the ELF header says about each platform: class, byte order, e_machine, e_flags.

use super::spec::*;
use crate::Platform;

/// The ELF identity of a platform.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Machine {
    /// ELFCLASS32 or ELFCLASS64.
    pub class: u8,
    /// ELFDATA2LSB or ELFDATA2MSB.
    pub data: u8,
    pub e_machine: u16,
    /// The e_flags the kernel or qemu-user need, or None where neither reads them (the
    /// field is then free for code).
    pub e_flags: Option<u32>,
}

impl Machine {
    pub fn is_64(&self) -> bool {
        self.class == ELFCLASS64
    }
}

pub const fn machine(platform: Platform) -> Machine {
    match platform {
        Platform::Amd64 => Machine {
            class: ELFCLASS64,
            data: ELFDATA2LSB,
            e_machine: EM_X86_64,
            e_flags: None,
        },
        Platform::I386 => Machine {
            class: ELFCLASS32,
            data: ELFDATA2LSB,
            e_machine: EM_386,
            e_flags: None,
        },
        Platform::Arm64 => Machine {
            class: ELFCLASS64,
            data: ELFDATA2LSB,
            e_machine: EM_AARCH64,
            e_flags: None,
        },
        // qemu-user's arm loader insists on an EABI version 5 file; hard-float (armhf) is
        // what linux/arm/v7 images are.
        Platform::ArmV7 => Machine {
            class: ELFCLASS32,
            data: ELFDATA2LSB,
            e_machine: EM_ARM,
            e_flags: Some(EF_ARM_EABI_VER5 | EF_ARM_ABI_FLOAT_HARD),
        },
        // What an RV64GC toolchain writes. Not free for code: qemu-user reads the syscall
        // number from t0 instead of a7 when EF_RISCV_RVE is set.
        Platform::Riscv64 => Machine {
            class: ELFCLASS64,
            data: ELFDATA2LSB,
            e_machine: EM_RISCV,
            e_flags: Some(EF_RISCV_RVC | EF_RISCV_FLOAT_ABI_DOUBLE),
        },
        // e_flags = 2: the ELFv2 ABI, where e_entry is the first instruction (ELFv1 makes
        // it a function descriptor).
        Platform::Ppc64le => Machine {
            class: ELFCLASS64,
            data: ELFDATA2LSB,
            e_machine: EM_PPC64,
            e_flags: Some(EF_PPC64_ABI_V2),
        },
        Platform::S390x => Machine {
            class: ELFCLASS64,
            data: ELFDATA2MSB,
            e_machine: EM_S390,
            e_flags: None,
        },
    }
}
