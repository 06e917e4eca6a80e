//! Reading what `smidge push SOURCE` pushes (being rewritten to stream; see issue #10).

use std::path::Path;

use crate::image::ImageSet;
use crate::{Error, Result};

/// The images of a source, and the temporary files their layers are read from.
pub struct Source {
    pub set: ImageSet,
    /// A spooled (decompressed) copy of a compressed archive, removed when dropped.
    pub spool: Option<tempfile::NamedTempFile>,
}

/// The images in `path`: an OCI layout directory, an OCI layout tar or a docker archive.
pub fn read_source(path: &Path) -> Result<Source> {
    Err(Error::Unsupported(format!("{} cannot be read yet", path.display())))
}
