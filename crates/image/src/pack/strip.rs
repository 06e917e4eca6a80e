//! `--strip`: what `sstrip` does, without rewriting the file. The kernel reads the ELF
//! header, the program headers and the bytes the segments map, and nothing else: section
//! headers, the section name table and debug sections after the last segment are dead
//! weight. So the stripped file is the original cut after the last byte a program header
//! covers, with `e_shoff`, `e_shnum` and `e_shstrndx` zeroed in the header (a section
//! header table that is no longer there must not be pointed at).
//!
//! Returned as (new header bytes, new length): the layer writer streams the original file
//! with its header replaced and stops at the new length.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use super::inspect::ElfInfo;
use super::PackError;
use smidge_elf::elf::spec::{ehdr32, ehdr64};

/// The new header and length of `path` stripped, or `None` when there is nothing to strip.
pub fn strip_plan(
    path: &Path,
    info: &ElfInfo,
    len: u64,
) -> Result<Option<(Vec<u8>, u64)>, PackError> {
    let ehsize = info.ehsize() as u64;
    let phend = info.e_phoff + u64::from(info.e_phnum) * u64::from(info.e_phentsize);
    let keep = info
        .segments
        .iter()
        .map(|&(_, off, size)| off.saturating_add(size))
        .chain([ehsize, phend])
        .max()
        .unwrap_or(ehsize);
    let mut head = vec![0u8; info.ehsize()];
    File::open(path)
        .and_then(|mut f| f.read_exact(&mut head))
        .map_err(|source| PackError::Unreadable {
            path: path.to_path_buf(),
            source,
        })?;
    let fields: &[(usize, usize)] = if info.class64 {
        &[
            (ehdr64::E_SHOFF, 8),
            (ehdr64::E_SHNUM, 2),
            (ehdr64::E_SHSTRNDX, 2),
        ]
    } else {
        &[
            (ehdr32::E_SHOFF, 4),
            (ehdr32::E_SHNUM, 2),
            (ehdr32::E_SHSTRNDX, 2),
        ]
    };
    let had_sections = fields
        .iter()
        .any(|&(at, n)| head[at..at + n].iter().any(|&b| b != 0));
    if keep >= len && !had_sections {
        return Ok(None);
    }
    for &(at, n) in fields {
        head[at..at + n].fill(0);
    }
    Ok(Some((head, keep.min(len))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pack::inspect::{inspect, FileKind};

    #[test]
    fn strips_this_test_binary_to_its_segments() {
        let me = std::env::current_exe().unwrap();
        let len = std::fs::metadata(&me).unwrap().len();
        let FileKind::Elf(info) = inspect(&me).unwrap() else {
            panic!("the test binary is ELF")
        };
        let (head, keep) = strip_plan(&me, &info, len)
            .unwrap()
            .expect("something to strip");
        assert!(keep < len, "debug info and section headers go");
        assert_eq!(&head[..4], b"\x7fELF");
    }
}
