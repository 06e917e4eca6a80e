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
    }
}
