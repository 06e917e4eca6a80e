//! Where bytes go: stdout, or a file written as a temporary sibling that is synced and
//! renamed over the target only when everything succeeded (an error, or a process that
//! dies, never leaves a half-written file under the target's name). A device or FIFO
//! (`-o /dev/null`) is written in place: renaming over it would replace the device node
//! with a regular file (and, as root, break /dev/null for everyone).

use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::temp::TempFile;
use crate::{Error, Result};

/// Where an output goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Output {
    Stdout,
    File(PathBuf),
}

impl Output {
    /// The name in messages: the path, or `<stdout>`.
    pub fn name(&self) -> PathBuf {
        match self {
            Output::Stdout => PathBuf::from("<stdout>"),
            Output::File(p) => p.clone(),
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

/// An output being written; [`Sink::commit`] makes it visible under its name.
pub struct Sink {
    name: PathBuf,
    mode: u32,
    kind: Kind,
}

enum Kind {
    Stdout(io::BufWriter<io::StdoutLock<'static>>),
    InPlace(io::BufWriter<fs::File>),
    /// The temporary file and the path it is renamed to.
    Temp(io::BufWriter<TempFile>, PathBuf),
}

impl Sink {
    /// Opens `output` for writing; a file gets permission bits `mode` when committed.
    pub fn open(output: &Output, mode: u32) -> Result<Sink> {
        const BUF: usize = 256 << 10;
        let name = output.name();
        let kind = match output {
            Output::Stdout => Kind::Stdout(io::BufWriter::with_capacity(BUF, io::stdout().lock())),
            Output::File(path) => match fs::metadata(path) {
                Ok(m) if !m.is_file() && !m.is_dir() => {
                    Kind::InPlace(io::BufWriter::with_capacity(
                        BUF,
                        fs::OpenOptions::new()
                            .write(true)
                            .open(path)
                            .map_err(Error::write(path))?,
                    ))
                }
                _ => {
                    // A symlink is followed, so the link itself stays.
                    let target = match fs::symlink_metadata(path) {
                        Ok(m) if m.file_type().is_symlink() => {
                            fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
                        }
                        _ => path.to_path_buf(),
                    };
                    let tmp = TempFile::new_in(parent_dir(&target), ".smidge-")
                        .map_err(Error::write(path))?;
                    Kind::Temp(io::BufWriter::with_capacity(BUF, tmp), target)
                }
            },
        };
        Ok(Sink { name, mode, kind })
    }

    /// The name in messages.
    pub fn name(&self) -> &Path {
        &self.name
    }

    /// Flushes, and for a file: sets the mode, syncs and renames it into place.
    pub fn commit(self) -> Result<()> {
        let err = Error::write(&self.name);
        match self.kind {
            Kind::Stdout(mut w) => w.flush().map_err(err),
            Kind::InPlace(mut w) => w.flush().map_err(err),
            Kind::Temp(w, target) => {
                let tmp = w
                    .into_inner()
                    .map_err(|e| Error::write(&self.name)(e.into_error()))?;
                tmp.as_file()
                    .set_permissions(fs::Permissions::from_mode(self.mode))
                    .and_then(|()| tmp.as_file().sync_all())
                    .map_err(Error::write(&self.name))?;
                tmp.persist(&target).map_err(err)
            }
        }
    }
}

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match &mut self.kind {
            Kind::Stdout(w) => w.write(buf),
            Kind::InPlace(w) => w.write(buf),
            Kind::Temp(w, _) => w.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match &mut self.kind {
            Kind::Stdout(w) => w.flush(),
            Kind::InPlace(w) => w.flush(),
            Kind::Temp(w, _) => w.flush(),
        }
    }
}

/// Writes `bytes` to `output` with permission bits `mode` (e.g. 0o755 for an ELF), through
/// a [`Sink`].
pub fn write_all(output: &Output, bytes: &[u8], mode: u32) -> Result<()> {
    let mut sink = Sink::open(output, mode)?;
    sink.write_all(bytes).map_err(Error::write(output.name()))?;
    sink.commit()
}

/// [`write_all`] to a file.
pub fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    write_all(&Output::File(path.to_path_buf()), bytes, mode)
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
