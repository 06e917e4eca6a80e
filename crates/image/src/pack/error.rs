//! Why a pack cannot be made. Every message is one line of facts; the binary adds what
//! to type. All are mistakes in the input (exit status 2); failures while writing are
//! [`crate::Error`]s.

use std::path::PathBuf;

use smidge_elf::Platform;

#[derive(Debug, thiserror::Error)]
pub enum PackError {
    #[error("cannot read `{}`: {source}", path.display())]
    Unreadable {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("`{0}` escapes the image root: image paths may not contain `..`")]
    Escapes(String),
    #[error("`{0}` is not a valid path in the image for a file")]
    BadDest(String),
    #[error("`{}` is a {kind}: an image layer holds only files, directories and links", path.display())]
    SpecialFile { path: PathBuf, kind: &'static str },
    #[error("`{}` is dynamically linked (interpreter {interp}), and a FROM-scratch image has no {interp}, so it would fail with \"no such file or directory\"", path.display())]
    Dynamic { path: PathBuf, interp: String },
    #[error("`{}` is a script for `{interp}`, and a FROM-scratch image has no interpreter, so it would fail with \"no such file or directory\"", path.display())]
    Script { path: PathBuf, interp: String },
    #[error("`{}` is {found} by its ELF header, but it was packed for {asked}", path.display())]
    PlatformMismatch {
        path: PathBuf,
        found: Platform,
        asked: Platform,
    },
    #[error("`{}` is an ELF file for {what}, which smidge cannot name as a platform", path.display())]
    UnknownElf { path: PathBuf, what: String },
    #[error("`{}` is not a valid ELF file: {why}", path.display())]
    BadElf { path: PathBuf, why: &'static str },
    #[error("cannot tell the platform: {why}")]
    NoPlatform { why: String },
    #[error("two sources go to `/{0}`")]
    Conflict(String),
    #[error("the entrypoint `{0}` is not in the image")]
    EntrypointMissing(String),
    #[error("the entrypoint `{path}` is not executable (mode {mode:04o})")]
    NotExecutable { path: String, mode: u32 },
    #[error("{0}")]
    BadOption(String),
}

impl PackError {
    /// A mistake in the input (exit status 2), not a failure while writing (1).
    pub fn is_usage(&self) -> bool {
        true
    }
}
