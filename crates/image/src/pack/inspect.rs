//! What a file to be packed is: an ELF executable (its platform, read from the header
//! with no guessing, and its interpreter, if dynamically linked), a `#!` script, or
//! something else. Reads only the headers, never the whole file.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use super::PackError;
use smidge_elf::elf::spec::{
    ehdr32, ehdr64, phdr32, phdr64, EF_ARM_ABI_FLOAT_HARD, EI_CLASS, EI_DATA, ELFCLASS32,
    ELFCLASS64, ELFDATA2LSB, ELFDATA2MSB, ELFMAG, EM_386, EM_AARCH64, EM_ARM, EM_PPC64, EM_RISCV,
    EM_S390, EM_X86_64,
};
use smidge_elf::Platform;

/// `p_type` of the program interpreter (gABI).
pub const PT_INTERP: u32 = 3;
/// `e_flags` of EM_ARM: soft-float calling convention.
pub const EF_ARM_ABI_FLOAT_SOFT: u32 = 0x0000_0200;
/// `e_type` of a position-independent executable or shared object.
pub const ET_DYN: u16 = 3;
/// The largest program header table Linux loads (fs/binfmt_elf.c, `load_elf_phdrs`):
/// 64 KiB. It bounds what [`inspect`] allocates for one, whatever `e_phnum` says.
pub const MAX_PHDR_TABLE: usize = 64 << 10;

/// What a file is, for packing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FileKind {
    Elf(ElfInfo),
    /// `#!` and the interpreter path.
    Script(String),
    Other,
}

/// The facts of an ELF header that packing needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ElfInfo {
    /// The platform, or a description of the machine when smidge has no name for it.
    pub platform: Result<Platform, String>,
    pub class64: bool,
    pub big_endian: bool,
    pub e_type: u16,
    pub e_machine: u16,
    pub e_flags: u32,
    pub e_phoff: u64,
    pub e_phentsize: u16,
    pub e_phnum: u16,
    /// `(p_type, p_offset, p_filesz)` of every program header.
    pub segments: Vec<(u32, u64, u64)>,
    /// PT_INTERP's path, for a dynamically linked program.
    pub interp: Option<String>,
}

impl ElfInfo {
    /// The size of the ELF header.
    pub fn ehsize(&self) -> usize {
        if self.class64 {
            ehdr64::SIZE
        } else {
            ehdr32::SIZE
        }
    }
}

struct Reader {
    big: bool,
}

impl Reader {
    fn u16(&self, b: &[u8], at: usize) -> u16 {
        let x = [b[at], b[at + 1]];
        if self.big {
            u16::from_be_bytes(x)
        } else {
            u16::from_le_bytes(x)
        }
    }
    fn u32(&self, b: &[u8], at: usize) -> u32 {
        let x: [u8; 4] = b[at..at + 4].try_into().expect("4 bytes");
        if self.big {
            u32::from_be_bytes(x)
        } else {
            u32::from_le_bytes(x)
        }
    }
    fn u64(&self, b: &[u8], at: usize) -> u64 {
        let x: [u8; 8] = b[at..at + 8].try_into().expect("8 bytes");
        if self.big {
            u64::from_be_bytes(x)
        } else {
            u64::from_le_bytes(x)
        }
    }
}

/// The platform of an ELF header: machine, class, byte order and, on ARM, the float ABI.
pub fn platform_of(machine: u16, class64: bool, big: bool, flags: u32) -> Result<Platform, String> {
    let bits = if class64 { 64 } else { 32 };
    let order = if big { "big-endian" } else { "little-endian" };
    match (machine, class64, big) {
        (EM_X86_64, true, false) => Ok(Platform::Amd64),
        (EM_386, false, false) => Ok(Platform::I386),
        (EM_AARCH64, true, false) => Ok(Platform::Arm64),
        (EM_ARM, false, false) if flags & EF_ARM_ABI_FLOAT_HARD != 0 => Ok(Platform::ArmV7),
        (EM_ARM, false, false) => Err(format!(
            "32-bit ARM with the {} float ABI (armel, linux/arm/v5 or v6; smidge's linux/arm/v7 is hard-float)",
            if flags & EF_ARM_ABI_FLOAT_SOFT != 0 { "soft" } else { "unmarked" }
        )),
        (EM_RISCV, true, false) => Ok(Platform::Riscv64),
        (EM_PPC64, true, false) => Ok(Platform::Ppc64le),
        (EM_S390, true, true) => Ok(Platform::S390x),
        (EM_X86_64, false, false) => Err("x32 (32-bit x86-64)".into()),
        _ => Err(format!("machine {machine} ({bits}-bit, {order})")),
    }
}

/// Reads what `path` is from its first bytes and, for ELF, its program headers.
pub fn inspect(path: &Path) -> Result<FileKind, PackError> {
    let unreadable = |source| PackError::Unreadable {
        path: path.to_path_buf(),
        source,
    };
    let bad = |why| PackError::BadElf {
        path: path.to_path_buf(),
        why,
    };
    let mut f = File::open(path).map_err(unreadable)?;
    let mut head = Vec::with_capacity(256);
    (&mut f)
        .take(256)
        .read_to_end(&mut head)
        .map_err(unreadable)?;
    if let Some(rest) = head.strip_prefix(b"#!") {
        let line = rest.split(|&b| b == b'\n').next().unwrap_or(b"");
        let line = String::from_utf8_lossy(line);
        let interp = line.split_whitespace().next().unwrap_or("").to_string();
        return Ok(FileKind::Script(interp));
    }
    if head.len() < 4 || head[..4] != ELFMAG {
        return Ok(FileKind::Other);
    }
    if head.len() < ehdr32::SIZE {
        return Err(bad("shorter than an ELF header"));
    }
    let class64 = match head[EI_CLASS] {
        ELFCLASS64 => true,
        ELFCLASS32 => false,
        _ => return Err(bad("unknown EI_CLASS")),
    };
    let big = match head[EI_DATA] {
        ELFDATA2LSB => false,
        ELFDATA2MSB => true,
        _ => return Err(bad("unknown EI_DATA")),
    };
    if class64 && head.len() < ehdr64::SIZE {
        return Err(bad("shorter than an ELF header"));
    }
    let r = Reader { big };
    let (e_type, e_machine, e_flags, e_phoff, e_phentsize, e_phnum) = if class64 {
        (
            r.u16(&head, ehdr64::E_TYPE),
            r.u16(&head, ehdr64::E_MACHINE),
            r.u32(&head, ehdr64::E_FLAGS),
            r.u64(&head, ehdr64::E_PHOFF),
            r.u16(&head, ehdr64::E_PHENTSIZE),
            r.u16(&head, ehdr64::E_PHNUM),
        )
    } else {
        (
            r.u16(&head, ehdr32::E_TYPE),
            r.u16(&head, ehdr32::E_MACHINE),
            r.u32(&head, ehdr32::E_FLAGS),
            u64::from(r.u32(&head, ehdr32::E_PHOFF)),
            r.u16(&head, ehdr32::E_PHENTSIZE),
            r.u16(&head, ehdr32::E_PHNUM),
        )
    };
    let want = if class64 { phdr64::SIZE } else { phdr32::SIZE };
    if e_phnum > 0 && usize::from(e_phentsize) != want {
        return Err(bad("e_phentsize is not the size of a program header"));
    }
    let table_len = usize::from(e_phnum) * want;
    if table_len > MAX_PHDR_TABLE {
        return Err(bad(
            "more program headers than Linux loads (e_phnum × e_phentsize over 64 KiB)",
        ));
    }
    let mut table = vec![0u8; table_len];
    f.seek(SeekFrom::Start(e_phoff))
        .and_then(|_| f.read_exact(&mut table))
        .map_err(|_| bad("the program headers lie outside the file"))?;
    let mut segments = Vec::new();
    for ph in table.chunks(want) {
        segments.push(if class64 {
            (
                r.u32(ph, phdr64::P_TYPE),
                r.u64(ph, phdr64::P_OFFSET),
                r.u64(ph, phdr64::P_FILESZ),
            )
        } else {
            (
                r.u32(ph, phdr32::P_TYPE),
                u64::from(r.u32(ph, phdr32::P_OFFSET)),
                u64::from(r.u32(ph, phdr32::P_FILESZ)),
            )
        });
    }
    let mut interp = None;
    if let Some(&(_, off, size)) = segments.iter().find(|s| s.0 == PT_INTERP) {
        let mut buf = vec![0u8; size.min(4096) as usize];
        f.seek(SeekFrom::Start(off))
            .and_then(|_| f.read_exact(&mut buf))
            .map_err(|_| bad("PT_INTERP lies outside the file"))?;
        let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
        interp = Some(String::from_utf8_lossy(&buf[..end]).into_owned());
    }
    Ok(FileKind::Elf(ElfInfo {
        platform: platform_of(e_machine, class64, big, e_flags),
        class64,
        big_endian: big,
        e_type,
        e_machine,
        e_flags,
        e_phoff,
        e_phentsize,
        e_phnum,
        segments,
        interp,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platforms_from_headers() {
        assert_eq!(platform_of(EM_X86_64, true, false, 0), Ok(Platform::Amd64));
        assert_eq!(platform_of(EM_386, false, false, 0), Ok(Platform::I386));
        assert_eq!(
            platform_of(EM_ARM, false, false, 0x0500_0400),
            Ok(Platform::ArmV7)
        );
        assert!(platform_of(EM_ARM, false, false, 0x0500_0200)
            .unwrap_err()
            .contains("soft"));
        assert_eq!(platform_of(EM_S390, true, true, 0), Ok(Platform::S390x));
        assert!(platform_of(EM_PPC64, true, true, 0)
            .unwrap_err()
            .contains("big-endian"));
    }

    #[test]
    fn smidge_payloads_are_recognised() {
        let dir = tempfile::tempdir().unwrap();
        for p in Platform::ALL {
            let payload =
                smidge_elf::elf::build(&smidge_elf::Program::Exit(0), p, smidge_elf::Fit::Portable)
                    .unwrap();
            let f = dir.path().join("x");
            std::fs::write(&f, &payload.bytes).unwrap();
            match inspect(&f).unwrap() {
                FileKind::Elf(info) => {
                    assert_eq!(info.platform, Ok(p));
                    assert_eq!(info.interp, None);
                }
                other => panic!("{p}: {other:?}"),
            }
        }
        let s = dir.path().join("s");
        std::fs::write(&s, b"#!/bin/sh -e\necho\n").unwrap();
        assert_eq!(inspect(&s).unwrap(), FileKind::Script("/bin/sh".into()));
    }

    /// Found by `fuzz/` (target `elf`): an arm64 header whose e_phnum is 0xc701 had the
    /// reader allocate 2.85 MB for a program header table before it found the file too
    /// short. A table over the kernel's 64 KiB is refused before anything is allocated.
    #[test]
    fn a_huge_e_phnum_is_refused_before_allocating() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("x");
        let payload = smidge_elf::elf::build(
            &smidge_elf::Program::Exit(0),
            Platform::Arm64,
            smidge_elf::Fit::Portable,
        )
        .unwrap();
        for (phnum, refused) in [(0xc701u16, true), (1171, true), (1170, false)] {
            let mut bytes = payload.bytes.clone();
            bytes[ehdr64::E_PHNUM..ehdr64::E_PHNUM + 2].copy_from_slice(&phnum.to_le_bytes());
            std::fs::write(&f, &bytes).unwrap();
            let e = inspect(&f).unwrap_err().to_string();
            assert_eq!(
                e.contains("more program headers than Linux loads"),
                refused,
                "{e}"
            );
            if !refused {
                assert!(
                    e.contains("the program headers lie outside the file"),
                    "{e}"
                );
            }
        }
    }
}
