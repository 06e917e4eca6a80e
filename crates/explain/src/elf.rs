//! Any ELF file explained by what the format says: every ELF header field, every program
//! and section header field, the bytes each segment loads, each section's contents, and
//! what `smidge pack --strip` would drop (computed by the same code `pack` runs).
//!
//! Fields are named as the System V gABI names them; overlapping records (a program header
//! inside the ELF header, as smidge's payloads have) simply give their bytes two roles.

use crate::model::{Explanation, Kind, Role, Spans};
use crate::ExplainError;
use smidge_elf::elf::spec::*;
use std::path::Path;

/// (name, offset, size) of every `Elf64_Ehdr` field after `e_ident`.
const EHDR64: [(&str, usize, usize); 13] = [
    ("e_type", ehdr64::E_TYPE, 2),
    ("e_machine", ehdr64::E_MACHINE, 2),
    ("e_version", ehdr64::E_VERSION, 4),
    ("e_entry", ehdr64::E_ENTRY, 8),
    ("e_phoff", ehdr64::E_PHOFF, 8),
    ("e_shoff", ehdr64::E_SHOFF, 8),
    ("e_flags", ehdr64::E_FLAGS, 4),
    ("e_ehsize", ehdr64::E_EHSIZE, 2),
    ("e_phentsize", ehdr64::E_PHENTSIZE, 2),
    ("e_phnum", ehdr64::E_PHNUM, 2),
    ("e_shentsize", ehdr64::E_SHENTSIZE, 2),
    ("e_shnum", ehdr64::E_SHNUM, 2),
    ("e_shstrndx", ehdr64::E_SHSTRNDX, 2),
];
const EHDR32: [(&str, usize, usize); 13] = [
    ("e_type", ehdr32::E_TYPE, 2),
    ("e_machine", ehdr32::E_MACHINE, 2),
    ("e_version", ehdr32::E_VERSION, 4),
    ("e_entry", ehdr32::E_ENTRY, 4),
    ("e_phoff", ehdr32::E_PHOFF, 4),
    ("e_shoff", ehdr32::E_SHOFF, 4),
    ("e_flags", ehdr32::E_FLAGS, 4),
    ("e_ehsize", ehdr32::E_EHSIZE, 2),
    ("e_phentsize", ehdr32::E_PHENTSIZE, 2),
    ("e_phnum", ehdr32::E_PHNUM, 2),
    ("e_shentsize", ehdr32::E_SHENTSIZE, 2),
    ("e_shnum", ehdr32::E_SHNUM, 2),
    ("e_shstrndx", ehdr32::E_SHSTRNDX, 2),
];
const PHDR64: [(&str, usize, usize); 8] = [
    ("p_type", phdr64::P_TYPE, 4),
    ("p_flags", phdr64::P_FLAGS, 4),
    ("p_offset", phdr64::P_OFFSET, 8),
    ("p_vaddr", phdr64::P_VADDR, 8),
    ("p_paddr", phdr64::P_PADDR, 8),
    ("p_filesz", phdr64::P_FILESZ, 8),
    ("p_memsz", phdr64::P_MEMSZ, 8),
    ("p_align", phdr64::P_ALIGN, 8),
];
const PHDR32: [(&str, usize, usize); 8] = [
    ("p_type", phdr32::P_TYPE, 4),
    ("p_offset", phdr32::P_OFFSET, 4),
    ("p_vaddr", phdr32::P_VADDR, 4),
    ("p_paddr", phdr32::P_PADDR, 4),
    ("p_filesz", phdr32::P_FILESZ, 4),
    ("p_memsz", phdr32::P_MEMSZ, 4),
    ("p_flags", phdr32::P_FLAGS, 4),
    ("p_align", phdr32::P_ALIGN, 4),
];
const SHDR64: [(&str, usize, usize); 10] = [
    ("sh_name", 0, 4),
    ("sh_type", 4, 4),
    ("sh_flags", 8, 8),
    ("sh_addr", 16, 8),
    ("sh_offset", 24, 8),
    ("sh_size", 32, 8),
    ("sh_link", 40, 4),
    ("sh_info", 44, 4),
    ("sh_addralign", 48, 8),
    ("sh_entsize", 56, 8),
];
const SHDR32: [(&str, usize, usize); 10] = [
    ("sh_name", 0, 4),
    ("sh_type", 4, 4),
    ("sh_flags", 8, 4),
    ("sh_addr", 12, 4),
    ("sh_offset", 16, 4),
    ("sh_size", 20, 4),
    ("sh_link", 24, 4),
    ("sh_info", 28, 4),
    ("sh_addralign", 32, 4),
    ("sh_entsize", 36, 4),
];
const SHDR64_SIZE: u64 = 64;
const SHDR32_SIZE: u64 = 40;
/// No ELF file smidge explains has more program or section headers than this.
const MAX_HEADERS: u64 = 1 << 16;

/// The e_ident bytes, by name.
const IDENT: [(&str, usize, usize); 6] = [
    ("e_ident[EI_MAG0..=EI_MAG3]", EI_MAG0, 4),
    ("e_ident[EI_CLASS]", EI_CLASS, 1),
    ("e_ident[EI_DATA]", EI_DATA, 1),
    ("e_ident[EI_VERSION]", EI_VERSION, 1),
    ("e_ident[EI_OSABI]", EI_OSABI, 1),
    ("e_ident[EI_ABIVERSION]", EI_OSABI + 1, 1),
];

/// Reads little- or big-endian numbers of 1, 2, 4 or 8 bytes; bytes past the end of the
/// file read as 0, as the kernel's header buffer does.
#[derive(Clone, Copy)]
pub(crate) struct Reader<'a> {
    pub bytes: &'a [u8],
    pub big: bool,
}

impl Reader<'_> {
    pub fn uint(&self, at: u64, size: usize) -> u64 {
        let mut buf = [0u8; 8];
        for (i, b) in buf.iter_mut().take(size).enumerate() {
            *b = usize::try_from(at + i as u64)
                .ok()
                .and_then(|j| self.bytes.get(j))
                .copied()
                .unwrap_or(0);
        }
        let v = &buf[..size];
        if self.big {
            v.iter().fold(0, |acc, &b| acc << 8 | u64::from(b))
        } else {
            v.iter().rev().fold(0, |acc, &b| acc << 8 | u64::from(b))
        }
    }
}

/// Explains an ELF file (`bytes` read from `path`).
pub fn file(path: &Path, bytes: Vec<u8>) -> Result<Explanation, ExplainError> {
    let size = bytes.len() as u64;
    let Headers {
        mut spans,
        mut notes,
        what,
    } = headers(&bytes, true, None).map_err(|why| ExplainError::malformed(path, why))?;

    // What `pack --strip` keeps: the same computation pack runs.
    if let Ok(smidge_image::pack::FileKind::Elf(info)) = smidge_image::pack::inspect(path) {
        if let Ok(Some((_, keep))) = smidge_image::pack::strip::strip_plan(path, &info, size) {
            notes.push(format!(
                "`smidge pack --strip` keeps the first {keep} bytes and drops {} (section \
                 headers, and sections no segment loads, after the last byte a program header \
                 covers)",
                size - keep
            ));
            spans.add(
                keep,
                size,
                Role::new(
                    Kind::Padding,
                    "dropped by pack --strip",
                    "no segment loads it",
                ),
            );
        }
    }
    let ranges = spans.finish(
        size,
        Role::new(Kind::Padding, "unread", "no header points at it"),
    );
    Ok(Explanation {
        what,
        size,
        ranges,
        notes,
        parts: vec![],
        bytes,
    })
}

/// The roles an ELF file's headers give its bytes.
pub(crate) struct Headers {
    pub spans: Spans,
    pub notes: Vec<String>,
    /// "ELF 64-bit LSB ET_EXEC, EM_X86_64".
    pub what: String,
}

/// Reads the ELF header, the program headers (and, with `contents`, what each segment
/// loads and the section headers and sections). Why the file cannot be read, otherwise.
/// `layout` is (64-bit, big-endian) when known from elsewhere: a payload's kernel fit
/// runs code in `e_ident[EI_CLASS]` and `[EI_DATA]`, which Linux does not read.
pub(crate) fn headers(
    bytes: &[u8],
    contents: bool,
    layout: Option<(bool, bool)>,
) -> Result<Headers, String> {
    let size = bytes.len() as u64;
    if bytes.len() < EI_NIDENT {
        return Err(format!(
            "a truncated ELF file: {size} bytes, shorter than e_ident (16 bytes)"
        ));
    }
    let (class64, big) = match layout {
        Some(known) => known,
        None => ident_layout(bytes)?,
    };
    let r = Reader { bytes, big };
    let ehdr: &[(&str, usize, usize)] = if class64 { &EHDR64 } else { &EHDR32 };
    let field = |name: &str| -> u64 {
        let &(_, at, n) = ehdr.iter().find(|f| f.0 == name).expect("a field");
        r.uint(at as u64, n)
    };
    let e_machine = field("e_machine") as u16;
    let (e_phoff, e_phentsize, e_phnum) =
        (field("e_phoff"), field("e_phentsize"), field("e_phnum"));
    let (e_shoff, e_shentsize, e_shnum) =
        (field("e_shoff"), field("e_shentsize"), field("e_shnum"));
    let phsize = if class64 { phdr64::SIZE } else { phdr32::SIZE } as u64;

    let mut spans = Spans::new();
    let mut notes = Vec::new();
    for (name, at, n) in IDENT {
        let text = match name {
            "e_ident[EI_CLASS]" => match bytes[at] {
                ELFCLASS32 => "ELFCLASS32".into(),
                ELFCLASS64 => "ELFCLASS64".into(),
                v => format!("{v:#04x}"),
            },
            "e_ident[EI_DATA]" => match bytes[at] {
                ELFDATA2LSB => "ELFDATA2LSB".into(),
                ELFDATA2MSB => "ELFDATA2MSB".into(),
                v => format!("{v:#04x}"),
            },
            "e_ident[EI_MAG0..=EI_MAG3]" => "\\x7fELF".into(),
            _ => r.uint(at as u64, n).to_string(),
        };
        spans.add(
            at as u64,
            (at + n) as u64,
            Role::new(Kind::ElfHeader, name, text),
        );
    }
    spans.add(
        EI_OSABI as u64 + 2,
        EI_NIDENT as u64,
        Role::new(Kind::ElfHeader, "e_ident[EI_PAD]", ""),
    );
    for &(name, at, n) in ehdr {
        let v = r.uint(at as u64, n);
        let text = match name {
            "e_type" => e_type_name(v as u16),
            "e_machine" => machine_name(v as u16),
            "e_entry" | "e_phoff" | "e_shoff" | "e_flags" => format!("{v:#x}"),
            _ => v.to_string(),
        };
        spans.add(
            at as u64,
            (at + n) as u64,
            Role::new(Kind::ElfHeader, name, text),
        );
    }

    // Program headers: the kernel reads the whole table, so one past the end is an error.
    if e_phnum > 0 {
        if e_phentsize != phsize {
            notes.push(format!(
                "e_phentsize is {e_phentsize}, not {phsize}: Linux refuses to run this file"
            ));
        }
        let end = e_phoff.saturating_add(e_phnum.saturating_mul(e_phentsize.max(phsize)));
        if e_phnum > MAX_HEADERS || end > size {
            return Err(format!(
                "a truncated ELF file: its {e_phnum} program headers end at byte {end}, past its \
                 end ({size} bytes)"
            ));
        }
    }
    let phdr: &[(&str, usize, usize)] = if class64 { &PHDR64 } else { &PHDR32 };
    let mut load_ends = vec![];
    for i in 0..e_phnum {
        let base = e_phoff + i * e_phentsize.max(phsize);
        let get = |name: &str| {
            let &(_, at, n) = phdr.iter().find(|f| f.0 == name).expect("a field");
            r.uint(base + at as u64, n)
        };
        let p_type = get("p_type") as u32;
        for &(name, at, n) in phdr {
            let v = r.uint(base + at as u64, n);
            let text = match name {
                "p_type" => p_type_name(v as u32),
                "p_flags" => flags(v as u32),
                "p_offset" | "p_vaddr" | "p_paddr" | "p_filesz" | "p_memsz" | "p_align" => {
                    format!("{v:#x}")
                }
                _ => v.to_string(),
            };
            let start = base + at as u64;
            spans.add(
                start,
                start + n as u64,
                Role::new(
                    Kind::ProgramHeader,
                    name,
                    format!("{text} (program header {i})"),
                ),
            );
        }
        let (off, filesz) = (get("p_offset"), get("p_filesz"));
        if contents && p_type == PT_LOAD && filesz > 0 {
            let end = off.saturating_add(filesz);
            load_ends.push(end.min(size));
            spans.add(
                off,
                end.min(size),
                Role::new(
                    Kind::Segment,
                    format!("PT_LOAD {i}"),
                    format!(
                        "{} at {:#x}, {} bytes from the file",
                        flags(get("p_flags") as u32),
                        get("p_vaddr"),
                        filesz
                    ),
                ),
            );
        }
    }

    // Section headers: optional for running; a table past the end is noted, not refused.
    let shsize = if class64 { SHDR64_SIZE } else { SHDR32_SIZE };
    let shdr: &[(&str, usize, usize)] = if class64 { &SHDR64 } else { &SHDR32 };
    let sh_end = e_shoff.saturating_add(e_shnum.saturating_mul(shsize));
    if contents && e_shoff != 0 && e_shnum > 0 {
        if e_shentsize != shsize || e_shnum > MAX_HEADERS || sh_end > size {
            notes.push(format!(
                "the {e_shnum} section headers at byte {e_shoff} are not in the file (it is \
                 {size} bytes); sections are not shown"
            ));
        } else {
            let sh = |i: u64, name: &str| {
                let &(_, at, n) = shdr.iter().find(|f| f.0 == name).expect("a field");
                r.uint(e_shoff + i * shsize + at as u64, n)
            };
            let strndx = field("e_shstrndx");
            let names_at = (strndx < e_shnum).then(|| sh(strndx, "sh_offset"));
            let name_of = |i: u64| -> String {
                let Some(table) = names_at else {
                    return format!("section {i}");
                };
                let start = table.saturating_add(sh(i, "sh_name"));
                let Ok(start) = usize::try_from(start) else {
                    return format!("section {i}");
                };
                match bytes.get(start..) {
                    Some(rest) => {
                        let end = rest
                            .iter()
                            .position(|&b| b == 0)
                            .unwrap_or(rest.len())
                            .min(64);
                        String::from_utf8_lossy(&rest[..end]).into_owned()
                    }
                    None => format!("section {i}"),
                }
            };
            for i in 0..e_shnum {
                let name = name_of(i);
                for &(field_name, at, n) in shdr {
                    let v = sh(i, field_name);
                    let start = e_shoff + i * shsize + at as u64;
                    spans.add(
                        start,
                        start + n as u64,
                        Role::new(
                            Kind::SectionHeader,
                            field_name,
                            format!("{v:#x} (section {i} {name})"),
                        ),
                    );
                }
                const SHT_NOBITS: u64 = 8;
                if sh(i, "sh_type") != SHT_NOBITS && i > 0 {
                    let (off, len) = (sh(i, "sh_offset"), sh(i, "sh_size"));
                    spans.add(
                        off,
                        off.saturating_add(len).min(size),
                        Role::new(Kind::Section, name, format!("{len} bytes")),
                    );
                }
            }
        }
    }

    let what = format!(
        "ELF {}-bit {} {}, {}",
        if class64 { 64 } else { 32 },
        if big { "MSB" } else { "LSB" },
        e_type_name(field("e_type") as u16),
        machine_name(e_machine)
    );
    Ok(Headers { spans, notes, what })
}

/// (64-bit, big-endian) as `e_ident` says.
fn ident_layout(bytes: &[u8]) -> Result<(bool, bool), String> {
    let class64 = match bytes[EI_CLASS] {
        ELFCLASS64 => true,
        ELFCLASS32 => false,
        c => return Err(format!("ELF class {c} is neither 32- nor 64-bit")),
    };
    let big = match bytes[EI_DATA] {
        ELFDATA2LSB => false,
        ELFDATA2MSB => true,
        d => return Err(format!("ELF byte order {d} is neither LSB nor MSB")),
    };
    Ok((class64, big))
}

pub(crate) fn e_type_name(t: u16) -> String {
    match t {
        0 => "ET_NONE".into(),
        1 => "ET_REL".into(),
        ET_EXEC => "ET_EXEC".into(),
        3 => "ET_DYN".into(),
        4 => "ET_CORE".into(),
        _ => format!("{t:#x}"),
    }
}

pub(crate) fn machine_name(m: u16) -> String {
    match m {
        EM_386 => "EM_386".into(),
        EM_X86_64 => "EM_X86_64".into(),
        EM_AARCH64 => "EM_AARCH64".into(),
        EM_ARM => "EM_ARM".into(),
        EM_RISCV => "EM_RISCV".into(),
        EM_PPC64 => "EM_PPC64".into(),
        EM_S390 => "EM_S390".into(),
        _ => m.to_string(),
    }
}

fn p_type_name(t: u32) -> String {
    match t {
        0 => "PT_NULL".into(),
        PT_LOAD => "PT_LOAD".into(),
        2 => "PT_DYNAMIC".into(),
        3 => "PT_INTERP".into(),
        4 => "PT_NOTE".into(),
        6 => "PT_PHDR".into(),
        7 => "PT_TLS".into(),
        0x6474_e550 => "PT_GNU_EH_FRAME".into(),
        0x6474_e551 => "PT_GNU_STACK".into(),
        0x6474_e552 => "PT_GNU_RELRO".into(),
        0x6474_e553 => "PT_GNU_PROPERTY".into(),
        _ => format!("{t:#x}"),
    }
}

/// `p_flags` as `R-X`.
pub(crate) fn flags(f: u32) -> String {
    let bit = |b: u32, c: char| if f & b != 0 { c } else { '-' };
    format!("{}{}{}", bit(PF_R, 'R'), bit(PF_W, 'W'), bit(PF_X, 'X'))
}
