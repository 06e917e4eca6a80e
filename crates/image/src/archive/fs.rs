//! Writing files atomically, and the errors of the archive sinks that touch the disk.

use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// Why an archive could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error("cannot write `{}`", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("`{}` exists and is not an empty directory; refusing to replace it", .0.display())]
    TargetNotEmpty(PathBuf),
}

impl ArchiveError {
    pub(crate) fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ArchiveError + '_ {
        move |source| ArchiveError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// The directory a temporary sibling of `path` goes in.
pub(crate) fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// What writing to a path means.
pub(crate) enum Target {
    /// A regular file, or none yet: write a temporary sibling and rename it over this
    /// path (a symlink is followed first, so the link itself stays).
    Replace(PathBuf),
    /// Something that exists and is not a regular file or a directory: a device such as
    /// /dev/null, a FIFO, a socket. Written in place: renaming over it would replace the
    /// device node with a regular file (and, as root, break /dev/null for everyone).
    InPlace,
}

impl Target {
    pub(crate) fn of(path: &Path) -> Target {
        match fs::metadata(path) {
            Ok(m) if !m.is_file() && !m.is_dir() => Target::InPlace,
            _ => match fs::symlink_metadata(path) {
                Ok(m) if m.file_type().is_symlink() => {
                    Target::Replace(fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf()))
                }
                _ => Target::Replace(path.to_path_buf()),
            },
        }
    }
}

/// Writes `bytes` to `path` with permission bits `mode` (e.g. 0o644, 0o755 for an ELF):
/// into a temporary file in the same directory, fsync'd, then renamed over `path`. On
/// error the temporary file is removed and `path` is untouched. A device or FIFO (`-o
/// /dev/null`) is written in place instead (see `Target`).
pub fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> Result<(), ArchiveError> {
    let path = match Target::of(path) {
        Target::InPlace => {
            return fs::OpenOptions::new()
                .write(true)
                .open(path)
                .and_then(|mut f| f.write_all(bytes))
                .map_err(ArchiveError::io(path));
        }
        Target::Replace(p) => p,
    };
    let path = path.as_path();
    let dir = parent_dir(path);
    let err = ArchiveError::io(path);
    let mut tmp = tempfile::Builder::new()
        .prefix(".smidge-")
        .tempfile_in(dir)
        .map_err(ArchiveError::io(path))?;
    let result = tmp
        .write_all(bytes)
        .and_then(|()| {
            tmp.as_file()
                .set_permissions(fs::Permissions::from_mode(mode))
        })
        .and_then(|()| tmp.as_file().sync_all());
    match result {
        Ok(()) => tmp.persist(path).map(|_| ()).map_err(|e| err(e.error)),
        Err(e) => Err(err(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_with_mode_and_leaves_nothing_behind() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x");
        write_atomic(&p, b"one", 0o755).unwrap();
        write_atomic(&p, b"two", 0o644).unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"two");
        assert_eq!(
            fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o644
        );
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
        // A directory in the way: error, no temp file left.
        let sub = dir.path().join("sub");
        fs::create_dir(&sub).unwrap();
        fs::write(sub.join("f"), b"").unwrap();
        assert!(write_atomic(&sub, b"x", 0o644).is_err());
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 2);
    }
}

#[cfg(test)]
mod special_file_tests {
    use super::*;
    use std::io::Read;
    use std::os::unix::fs::FileTypeExt;

    /// `-o /dev/null` or a FIFO: written in place, never renamed over (which would turn a
    /// device node into a regular file).
    #[test]
    fn a_fifo_stays_a_fifo() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        let reader = {
            let fifo = fifo.clone();
            std::thread::spawn(move || {
                let mut got = Vec::new();
                fs::File::open(fifo).unwrap().read_to_end(&mut got).unwrap();
                got
            })
        };
        write_atomic(&fifo, b"through the pipe", 0o644).unwrap();
        assert_eq!(reader.join().unwrap(), b"through the pipe");
        assert!(fs::symlink_metadata(&fifo).unwrap().file_type().is_fifo());
        assert_eq!(
            fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no temporary file left"
        );
    }

    /// A symlink keeps being a link; the file it names gets the new bytes.
    #[test]
    fn a_symlink_is_followed() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("file");
        let link = dir.path().join("link");
        fs::write(&file, b"old").unwrap();
        std::os::unix::fs::symlink(&file, &link).unwrap();
        write_atomic(&link, b"new", 0o644).unwrap();
        assert!(fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(fs::read(&file).unwrap(), b"new");
    }
}
