//! Image archives and layouts explained: docker and OCI archives (tar, gzip or zstd) and
//! OCI layout directories. (Being written: see issue #11.)

use crate::{ExplainError, Explanation};
use std::path::Path;

/// Explains an image archive (`bytes` read from `path`).
pub fn file(path: &Path, bytes: Vec<u8>) -> Result<Explanation, ExplainError> {
    Err(ExplainError::Unknown {
        path: path.to_path_buf(),
        start: crate::start_of(&bytes),
    })
}

/// Explains an OCI layout directory.
pub fn layout(dir: &Path) -> Result<Explanation, ExplainError> {
    Err(ExplainError::Unknown {
        path: dir.to_path_buf(),
        start: "a directory".into(),
    })
}
