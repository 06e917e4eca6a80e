//! Every temporary file and directory smidge makes, in one process-wide list, so that a
//! process about to die of a signal (whose destructors never run) can remove them.
//!
//! A path is listed when it is made and unlisted when it is persisted (renamed onto its
//! target) or dropped (removed). [`remove_all`] removes every listed path and closes the
//! list: from then on nothing new is made and nothing is renamed into place, so a target
//! that existed before keeps its bytes. The library installs no signal handler; the binary
//! owns the process and calls [`remove_all`] from the thread that waits for signals.

use std::fmt;
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};

/// The listed paths. Every operation holds the lock only for a system call or two.
struct List {
    /// Set by [`remove_all`]: no path is made or persisted after it.
    closed: bool,
    next: u64,
    entries: Vec<Entry>,
}

struct Entry {
    id: u64,
    path: PathBuf,
    dir: bool,
}

static LIST: Mutex<List> = Mutex::new(List {
    closed: false,
    next: 0,
    entries: Vec::new(),
});

/// The list, also after a panic elsewhere (a panicking writer must not stop the cleanup).
fn list() -> MutexGuard<'static, List> {
    LIST.lock().unwrap_or_else(PoisonError::into_inner)
}

fn closed() -> io::Error {
    io::Error::other("interrupted: temporary files were removed")
}

/// A listed path's ticket: unlists it when dropped.
struct Listed(u64);

impl Listed {
    /// Runs `make` (which creates a path) under the lock and lists what it made, unless
    /// the list is closed.
    fn make<T>(
        dir: bool,
        make: impl FnOnce() -> io::Result<T>,
        path: impl Fn(&T) -> &Path,
    ) -> io::Result<(T, Listed)> {
        let mut list = list();
        if list.closed {
            return Err(closed());
        }
        let made = make()?;
        let id = list.next;
        list.next += 1;
        list.entries.push(Entry {
            id,
            path: path(&made).to_path_buf(),
            dir,
        });
        Ok((made, Listed(id)))
    }

    /// Renames under the lock with `rename`, then unlists; refused once the list is closed.
    fn persist(&self, rename: impl FnOnce() -> io::Result<()>) -> io::Result<()> {
        let mut list = list();
        if list.closed {
            return Err(closed());
        }
        rename()?;
        list.entries.retain(|e| e.id != self.0);
        Ok(())
    }
}

impl Drop for Listed {
    fn drop(&mut self) {
        list().entries.retain(|e| e.id != self.0);
    }
}

/// Removes every listed file and directory (best effort: an error is skipped) and closes
/// the list, so that nothing is made or renamed into place afterwards. Safe to call from
/// any thread while others write (not from a signal handler: it takes a lock); meant to
/// be called once, right before the process exits.
pub fn remove_all() {
    let mut list = list();
    list.closed = true;
    for e in &list.entries {
        if e.dir {
            // A writer may add a file between the walk and the last rmdir (ENOTEMPTY):
            // walk again. It cannot make the directory again (see `OciDir`), so a few
            // tries end it.
            for _ in 0..16 {
                match fs::remove_dir_all(&e.path) {
                    Err(err) if err.kind() != io::ErrorKind::NotFound => continue,
                    _ => break,
                }
            }
        } else {
            let _ = fs::remove_file(&e.path);
        }
    }
    list.entries.clear();
}

/// A temporary file, removed when dropped or by [`remove_all`], unless persisted.
pub struct TempFile {
    // Removed first, then unlisted: a path that exists is always listed.
    file: tempfile::NamedTempFile,
    listed: Listed,
}

impl TempFile {
    /// A new file in `dir`, named `prefix` and six random characters.
    pub fn new_in(dir: &Path, prefix: &str) -> io::Result<TempFile> {
        let (file, listed) = Listed::make(
            false,
            || tempfile::Builder::new().prefix(prefix).tempfile_in(dir),
            |f| f.path(),
        )?;
        Ok(TempFile { file, listed })
    }

    /// A new file in the system's temporary directory (`$TMPDIR`, else `/tmp`).
    pub fn new(prefix: &str) -> io::Result<TempFile> {
        Self::new_in(&std::env::temp_dir(), prefix)
    }

    pub fn path(&self) -> &Path {
        self.file.path()
    }

    pub fn as_file(&self) -> &File {
        self.file.as_file()
    }

    /// Renames it to `target`, replacing a file there. Refused after [`remove_all`].
    pub fn persist(self, target: &Path) -> io::Result<()> {
        let TempFile { file, listed } = self;
        let mut file = Some(file);
        listed.persist(|| {
            let f = file.take().expect("persisted once");
            f.persist(target).map(drop).map_err(|e| e.error)
        })
    }
}

impl Write for TempFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.as_file().write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.as_file().flush()
    }
}

impl fmt::Debug for TempFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("TempFile").field(&self.path()).finish()
    }
}

/// A temporary directory, removed with its contents when dropped or by [`remove_all`],
/// unless persisted.
pub struct TempDir {
    dir: tempfile::TempDir,
    listed: Listed,
}

impl TempDir {
    /// A new directory in `parent`, named `prefix` and six random characters.
    pub fn new_in(parent: &Path, prefix: &str) -> io::Result<TempDir> {
        let (dir, listed) = Listed::make(
            true,
            || tempfile::Builder::new().prefix(prefix).tempdir_in(parent),
            |d| d.path(),
        )?;
        Ok(TempDir { dir, listed })
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Renames it to `target` (which may be an empty directory). Refused after
    /// [`remove_all`]; on failure the directory is removed.
    pub fn persist(self, target: &Path) -> io::Result<()> {
        let TempDir { dir, listed } = self;
        listed.persist(|| fs::rename(dir.path(), target))?;
        // Renamed away: nothing is left to remove.
        let _ = dir.keep();
        Ok(())
    }
}

impl fmt::Debug for TempDir {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("TempDir").field(&self.path()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listed(path: &Path) -> bool {
        list().entries.iter().any(|e| e.path == path)
    }

    #[test]
    fn listed_while_they_exist() {
        let parent = tempfile::tempdir().unwrap();
        let mut f = TempFile::new_in(parent.path(), ".t-").unwrap();
        f.write_all(b"bytes").unwrap();
        let fp = f.path().to_path_buf();
        assert!(listed(&fp));
        let target = parent.path().join("out");
        f.persist(&target).unwrap();
        assert!(!listed(&fp) && !fp.exists());
        assert_eq!(fs::read(&target).unwrap(), b"bytes");

        let d = TempDir::new_in(parent.path(), ".d-").unwrap();
        let dp = d.path().to_path_buf();
        fs::write(dp.join("x"), b"").unwrap();
        assert!(listed(&dp));
        drop(d);
        assert!(!listed(&dp) && !dp.exists());

        let d = TempDir::new_in(parent.path(), ".d-").unwrap();
        let dp = d.path().to_path_buf();
        d.persist(&parent.path().join("layout")).unwrap();
        assert!(!listed(&dp) && parent.path().join("layout").is_dir());
    }

    // `remove_all` closes the list for the whole process, so this runs in a child
    // process: the test binary runs itself with only this test and a marker set.
    #[test]
    fn remove_all_removes_and_closes() {
        const MARK: &str = "SMIDGE_TEMP_REMOVE_ALL_CHILD";
        if std::env::var_os(MARK).is_none() {
            let out = std::process::Command::new(std::env::current_exe().unwrap())
                .args(["--exact", "temp::tests::remove_all_removes_and_closes"])
                .args(["--test-threads", "1", "--nocapture"])
                .env(MARK, "1")
                .output()
                .unwrap();
            let text = String::from_utf8_lossy(&out.stdout);
            assert!(out.status.success(), "{text}");
            assert!(text.contains("1 passed"), "{text}");
            return;
        }
        let parent = tempfile::tempdir().unwrap();
        let target = parent.path().join("out");
        fs::write(&target, b"old").unwrap();
        let mut f = TempFile::new_in(parent.path(), ".t-").unwrap();
        f.write_all(b"new").unwrap();
        let d = TempDir::new_in(parent.path(), ".d-").unwrap();
        fs::create_dir(d.path().join("blobs")).unwrap();
        fs::write(d.path().join("blobs/x"), b"x").unwrap();
        let elsewhere = TempFile::new("smidge-temp-test-").unwrap();
        let ep = elsewhere.path().to_path_buf();
        // From another thread, as the binary's signal thread does.
        std::thread::spawn(remove_all).join().unwrap();
        let names: Vec<_> = fs::read_dir(parent.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["out"]);
        assert!(!ep.exists());
        // Closed: the target keeps its bytes, nothing new is made.
        assert!(f.persist(&target).is_err());
        assert_eq!(fs::read(&target).unwrap(), b"old");
        assert!(d.persist(&parent.path().join("layout")).is_err());
        assert!(!parent.path().join("layout").exists());
        assert!(TempFile::new_in(parent.path(), ".t-").is_err());
        assert!(TempDir::new_in(parent.path(), ".d-").is_err());
        drop(elsewhere);
        assert_eq!(fs::read_dir(parent.path()).unwrap().count(), 1);
    }
}
