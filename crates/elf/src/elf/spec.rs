//! ELF constants and record offsets under the names the System V gABI gives them.
//!
//! smidge never writes an `Elf64_Ehdr` whole: its layouts overlap the program header with
//! the ELF header and hide code in fields a loader ignores. So a record is a set of field
//! offsets, and a layout sets the fields it needs one by one (see [`super::layout`]).

pub const ELFMAG: [u8; 4] = [0x7f, b'E', b'L', b'F'];
pub const ELFCLASS32: u8 = 1;
pub const ELFCLASS64: u8 = 2;
pub const ELFDATA2LSB: u8 = 1;
pub const ELFDATA2MSB: u8 = 2;
pub const EV_CURRENT: u8 = 1;
pub const ELFOSABI_NONE: u8 = 0;

pub const ET_EXEC: u16 = 2;
pub const EM_386: u16 = 3;
pub const EM_PPC64: u16 = 21;
pub const EM_S390: u16 = 22;
pub const EM_ARM: u16 = 40;
pub const EM_X86_64: u16 = 62;
pub const EM_AARCH64: u16 = 183;
pub const EM_RISCV: u16 = 243;

/// e_flags of EM_ARM: EABI version 5, hard-float calling convention.
pub const EF_ARM_EABI_VER5: u32 = 0x0500_0000;
pub const EF_ARM_ABI_FLOAT_HARD: u32 = 0x0000_0400;
/// e_flags of EM_RISCV: compressed instructions, double-precision float ABI (RV64GC).
pub const EF_RISCV_RVC: u32 = 0x1;
pub const EF_RISCV_FLOAT_ABI_DOUBLE: u32 = 0x4;
/// e_flags of EM_PPC64: the ELFv2 ABI.
pub const EF_PPC64_ABI_V2: u32 = 2;

pub const PT_LOAD: u32 = 1;
pub const PF_X: u32 = 1;
pub const PF_W: u32 = 2;
pub const PF_R: u32 = 4;

/// e_ident indexes.
pub const EI_MAG0: usize = 0;
pub const EI_CLASS: usize = 4;
pub const EI_DATA: usize = 5;
pub const EI_VERSION: usize = 6;
pub const EI_OSABI: usize = 7;
pub const EI_NIDENT: usize = 16;

/// Byte offsets of `Elf64_Ehdr` fields.
pub mod ehdr64 {
    pub const E_TYPE: usize = 16;
    pub const E_MACHINE: usize = 18;
    pub const E_VERSION: usize = 20;
    pub const E_ENTRY: usize = 24;
    pub const E_PHOFF: usize = 32;
    pub const E_SHOFF: usize = 40;
    pub const E_FLAGS: usize = 48;
    pub const E_EHSIZE: usize = 52;
    pub const E_PHENTSIZE: usize = 54;
    pub const E_PHNUM: usize = 56;
    pub const E_SHENTSIZE: usize = 58;
    pub const E_SHNUM: usize = 60;
    pub const E_SHSTRNDX: usize = 62;
    pub const SIZE: usize = 64;
}

/// Byte offsets of `Elf64_Phdr` fields, from the start of the record.
pub mod phdr64 {
    pub const P_TYPE: usize = 0;
    pub const P_FLAGS: usize = 4;
    pub const P_OFFSET: usize = 8;
    pub const P_VADDR: usize = 16;
    pub const P_PADDR: usize = 24;
    pub const P_FILESZ: usize = 32;
    pub const P_MEMSZ: usize = 40;
    pub const P_ALIGN: usize = 48;
    pub const SIZE: usize = 56;
}

/// Byte offsets of `Elf32_Ehdr` fields.
pub mod ehdr32 {
    pub const E_TYPE: usize = 16;
    pub const E_MACHINE: usize = 18;
    pub const E_VERSION: usize = 20;
    pub const E_ENTRY: usize = 24;
    pub const E_PHOFF: usize = 28;
    pub const E_SHOFF: usize = 32;
    pub const E_FLAGS: usize = 36;
    pub const E_EHSIZE: usize = 40;
    pub const E_PHENTSIZE: usize = 42;
    pub const E_PHNUM: usize = 44;
    pub const E_SHENTSIZE: usize = 46;
    pub const E_SHNUM: usize = 48;
    pub const E_SHSTRNDX: usize = 50;
    pub const SIZE: usize = 52;
}

/// Byte offsets of `Elf32_Phdr` fields (note: p_flags comes after p_memsz here).
pub mod phdr32 {
    pub const P_TYPE: usize = 0;
    pub const P_OFFSET: usize = 4;
    pub const P_VADDR: usize = 8;
    pub const P_PADDR: usize = 12;
    pub const P_FILESZ: usize = 16;
    pub const P_MEMSZ: usize = 20;
    pub const P_FLAGS: usize = 24;
    pub const P_ALIGN: usize = 28;
    pub const SIZE: usize = 32;
}

const _: () = assert!(ehdr64::SIZE == 64 && phdr64::SIZE == 56);
const _: () = assert!(ehdr32::SIZE == 52 && phdr32::SIZE == 32);
const _: () = assert!(phdr64::P_ALIGN + 8 == phdr64::SIZE && phdr32::P_ALIGN + 4 == phdr32::SIZE);
const _: () =
    assert!(ehdr64::E_SHSTRNDX + 2 == ehdr64::SIZE && ehdr32::E_SHSTRNDX + 2 == ehdr32::SIZE);
