//! [`Error`]: the one error type of this crate. Every message is one line of facts (what is
//! wrong, with the path or name); the binary adds which flag to type. [`Error::is_usage`]
//! tells a mistake in the input (exit status 2) from a failure while working (1).

use std::io;
use std::path::PathBuf;

use crate::image::ReferenceError;
use crate::pack::PackError;
use crate::registry::RegistryError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A path in the image that is empty, absolute after stripping, or has `.`/`..`.
    #[error("invalid path in image `{0}`: expected a relative name like `hello` with no `.`, `..` or empty components")]
    BadPath(String),
    /// A payload over [`crate::image::MAX_PAYLOAD`].
    #[error("the payload is {0} bytes; smidge packs at most 1 GiB")]
    TooLarge(u64),
    /// A tar entry that the ustar format cannot hold.
    #[error("tar entry `{path}`: {why}")]
    Entry { path: String, why: &'static str },
    /// The output directory exists and holds something.
    #[error("`{}` exists and is not an empty directory; refusing to replace it", .0.display())]
    TargetNotEmpty(PathBuf),
    /// The destination cannot hold what was asked (e.g. several platforms in a docker
    /// archive, annotations where there is no manifest).
    #[error("{0}")]
    Unsupported(String),
    /// An oci-spec builder refused a document.
    #[error("cannot build an OCI document: {0}")]
    Spec(String),
    #[error("cannot read `{}`", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// A file that changed while it was read (its size, or its content between passes).
    #[error("`{}` changed while smidge read it; try again", path.display())]
    Changed { path: PathBuf },
    #[error("cannot write `{}`", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error(transparent)]
    Pack(#[from] PackError),
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error(transparent)]
    Reference(#[from] ReferenceError),
}

impl Error {
    /// A mistake in the input (exit status 2), not a failure while working (1).
    pub fn is_usage(&self) -> bool {
        match self {
            Error::BadPath(_)
            | Error::TooLarge(_)
            | Error::Entry { .. }
            | Error::TargetNotEmpty(_)
            | Error::Unsupported(_)
            | Error::Reference(_) => true,
            Error::Pack(e) => e.is_usage(),
            Error::Registry(e) => e.is_usage(),
            Error::Spec(_) | Error::Read { .. } | Error::Changed { .. } | Error::Write { .. } => {
                false
            }
        }
    }

    /// A write error on `path`.
    pub(crate) fn write(path: impl Into<PathBuf>) -> impl FnOnce(io::Error) -> Error {
        let path = path.into();
        move |source| Error::Write { path, source }
    }

    /// A read error on `path`.
    pub(crate) fn read(path: impl Into<PathBuf>) -> impl FnOnce(io::Error) -> Error {
        let path = path.into();
        move |source| Error::Read { path, source }
    }
}

/// This crate's results.
pub type Result<T, E = Error> = std::result::Result<T, E>;
