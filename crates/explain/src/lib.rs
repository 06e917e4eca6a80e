//! `smidge explain`: every byte of a file with every role it has.
//!
//! For a payload smidge builds, the roles come from where the bytes were laid from: the
//! layout's header fields (the names `crates/elf/src/elf/layout/` gives them), the
//! planner's placed instructions (the listings in `crates/elf/src/arch/`) and the data;
//! nothing here is a second table that could drift ([`payload`]). For a file a user
//! hands over, the ELF reader ([`elf`]) and the archive reader ([`archive`]) name what the
//! formats say each byte is. [`render`] turns an [`Explanation`] into a listing, JSON, or
//! a byte-map picture (SVG or HTML).

pub mod archive;
mod deflate;
pub mod elf;
mod model;
pub mod payload;
pub mod render;
mod tar;

pub use model::{Explanation, Kind, Part, Range, Role, Spans, Summary};

use std::path::{Path, PathBuf};

/// The most bytes `explain --file` reads (a file, or what a compressed stream holds).
pub const MAX_INPUT: u64 = 256 << 20;

#[derive(Debug, thiserror::Error)]
pub enum ExplainError {
    #[error("cannot read {path}: {source}")]
    Unreadable {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is {size} bytes; explain reads files up to {max} bytes", max = MAX_INPUT)]
    TooLarge { path: PathBuf, size: u64 },
    #[error(
        "{path} is not an ELF file, an image archive or an OCI layout (it starts with {start})"
    )]
    Unknown { path: PathBuf, start: String },
    #[error("{path}: {why}")]
    Malformed { path: PathBuf, why: String },
}

impl ExplainError {
    pub(crate) fn malformed(path: &Path, why: impl Into<String>) -> ExplainError {
        ExplainError::Malformed {
            path: path.to_path_buf(),
            why: why.into(),
        }
    }
}

/// Explains the file or OCI layout directory at `path`: an ELF file, a docker or OCI
/// archive (tar, gzip or zstd), or a layout.
pub fn file(path: &Path) -> Result<Explanation, ExplainError> {
    let unreadable = |source| ExplainError::Unreadable {
        path: path.to_path_buf(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(unreadable)?;
    if meta.is_dir() {
        return archive::layout(path);
    }
    if meta.len() > MAX_INPUT {
        return Err(ExplainError::TooLarge {
            path: path.to_path_buf(),
            size: meta.len(),
        });
    }
    let bytes = std::fs::read(path).map_err(unreadable)?;
    if bytes.starts_with(&smidge_elf::elf::spec::ELFMAG) {
        return elf::file(path, bytes);
    }
    archive::file(path, bytes)
}

/// The first bytes of a file, for messages: `7f 45 4c 46 …`.
pub(crate) fn start_of(bytes: &[u8]) -> String {
    if bytes.is_empty() {
        return "nothing (it is empty)".into();
    }
    let mut s: Vec<String> = bytes.iter().take(8).map(|b| format!("{b:02x}")).collect();
    if bytes.len() > 8 {
        s.push("…".into());
    }
    s.join(" ")
}
