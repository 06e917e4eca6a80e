//! The layer's tree: every source (a file, or a folder walked without following its
//! symbolic links) placed at its path in the image, checked, and sorted, so the same input
//! gives the same bytes on any machine:
//!
//! - regular files, directories, symbolic links and hard links (files sharing an inode
//!   within the pack: the first in sorted order holds the data, the others link to it);
//! - permission bits kept (setuid, setgid, sticky included); owner 0:0 unless asked;
//! - every mtime the same (`SOURCE_DATE_EPOCH`, or 0);
//! - missing parent directories added (mode 0755);
//! - sockets, FIFOs and device files refused, as are paths with `..`.

use std::collections::{BTreeMap, HashMap};
use std::fs::{self, File};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use super::PackError;

/// Who owns the files in the layer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Owner {
    /// 0:0 (the default).
    #[default]
    Root,
    /// The owner on disk.
    Keep,
    /// This uid and gid.
    Set(u32, u32),
}

use crate::codec::tar::{EntryKind, LayerEntry};

/// The image path of `dest` (`/usr/bin/x`, `usr/bin/x/`, `/`) as components joined by
/// `/` without a leading one (`""` for the root). `.` and empty components are dropped;
/// `..` is refused.
pub fn image_path(dest: &str) -> Result<String, PackError> {
    let mut parts = Vec::new();
    for c in dest.split('/') {
        match c {
            "" | "." => {}
            ".." => return Err(PackError::Escapes(dest.to_string())),
            c => parts.push(c),
        }
    }
    Ok(parts.join("/"))
}

/// The tree being built: path → entry, plus the inode of each multiply-linked file.
#[derive(Default)]
pub struct Tree {
    entries: BTreeMap<String, LayerEntry>,
    inodes: HashMap<String, (u64, u64)>,
    owner: Owner,
    mtime: u64,
}

fn kind_name(t: &fs::FileType) -> &'static str {
    if t.is_socket() {
        "socket"
    } else if t.is_fifo() {
        "FIFO"
    } else if t.is_block_device() {
        "block device"
    } else if t.is_char_device() {
        "character device"
    } else {
        "special file"
    }
}

impl Tree {
    pub fn new(owner: Owner, mtime: u64) -> Self {
        Tree {
            owner,
            mtime,
            ..Default::default()
        }
    }

    fn ids(&self, meta: &fs::Metadata) -> (u64, u64) {
        match self.owner {
            Owner::Root => (0, 0),
            Owner::Keep => (u64::from(meta.uid()), u64::from(meta.gid())),
            Owner::Set(u, g) => (u64::from(u), u64::from(g)),
        }
    }

    fn insert(&mut self, e: LayerEntry) -> Result<(), PackError> {
        match self.entries.get_mut(&e.path) {
            None => {
                self.entries.insert(e.path.clone(), e);
                Ok(())
            }
            // Two folders merge; the later one's mode wins.
            Some(old) if old.kind == EntryKind::Dir && e.kind == EntryKind::Dir => {
                *old = e;
                Ok(())
            }
            Some(_) => Err(PackError::Conflict(e.path)),
        }
    }

    /// Adds `src` (a file or a folder, symbolic link followed) at image path `dest`
    /// (`None`: a file goes to `/<its name>`, a folder's content to `/`). A `dest` ending
    /// in `/` is a directory the file goes into.
    pub fn add(&mut self, src: &Path, dest: Option<&str>) -> Result<(), PackError> {
        let unreadable = |source| PackError::Unreadable {
            path: src.to_path_buf(),
            source,
        };
        let meta = fs::metadata(src).map_err(unreadable)?;
        let t = meta.file_type();
        if t.is_dir() {
            let root = image_path(dest.unwrap_or("/"))?;
            if !root.is_empty() {
                self.dir(&root, &meta)?;
            }
            return self.walk(src, &root);
        }
        if !t.is_file() {
            return Err(PackError::SpecialFile {
                path: src.to_path_buf(),
                kind: kind_name(&t),
            });
        }
        let name = src
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let path = match dest {
            None => image_path(&name)?,
            Some(d) if d.ends_with('/') => image_path(&format!("{d}{name}"))?,
            Some(d) => image_path(d)?,
        };
        if path.is_empty() {
            return Err(PackError::BadDest(dest.unwrap_or("").to_string()));
        }
        self.file(src, &path, &meta)
    }

    fn dir(&mut self, path: &str, meta: &fs::Metadata) -> Result<(), PackError> {
        let (uid, gid) = self.ids(meta);
        self.insert(LayerEntry {
            path: path.to_string(),
            kind: EntryKind::Dir,
            mode: meta.mode() & 0o7777,
            uid,
            gid,
            mtime: self.mtime,
        })
    }

    fn file(&mut self, src: &Path, path: &str, meta: &fs::Metadata) -> Result<(), PackError> {
        // Open it now, so an unreadable file is refused before anything is written.
        File::open(src).map_err(|source| PackError::Unreadable {
            path: src.to_path_buf(),
            source,
        })?;
        if meta.nlink() > 1 {
            self.inodes
                .insert(path.to_string(), (meta.dev(), meta.ino()));
        }
        let (uid, gid) = self.ids(meta);
        self.insert(LayerEntry {
            path: path.to_string(),
            kind: EntryKind::File {
                source: src.to_path_buf(),
                len: meta.len(),
                head: Vec::new(),
            },
            mode: meta.mode() & 0o7777,
            uid,
            gid,
            mtime: self.mtime,
        })
    }

    fn walk(&mut self, dir: &Path, at: &str) -> Result<(), PackError> {
        let unreadable = |path: &Path| {
            let path = path.to_path_buf();
            move |source| PackError::Unreadable { path, source }
        };
        let mut names: Vec<_> = fs::read_dir(dir)
            .map_err(unreadable(dir))?
            .map(|e| e.map(|e| e.file_name()))
            .collect::<Result<_, _>>()
            .map_err(unreadable(dir))?;
        names.sort();
        for name in names {
            let src = dir.join(&name);
            let Some(name) = name.to_str() else {
                return Err(PackError::BadOption(format!(
                    "`{}`: file names in an image must be UTF-8",
                    src.display()
                )));
            };
            let path = if at.is_empty() {
                name.to_string()
            } else {
                format!("{at}/{name}")
            };
            let meta = fs::symlink_metadata(&src).map_err(unreadable(&src))?;
            let t = meta.file_type();
            if t.is_dir() {
                self.dir(&path, &meta)?;
                self.walk(&src, &path)?;
            } else if t.is_file() {
                self.file(&src, &path, &meta)?;
            } else if t.is_symlink() {
                let target = fs::read_link(&src).map_err(unreadable(&src))?;
                let (uid, gid) = self.ids(&meta);
                self.insert(LayerEntry {
                    path,
                    kind: EntryKind::Symlink(target.to_string_lossy().into_owned()),
                    mode: 0o777,
                    uid,
                    gid,
                    mtime: self.mtime,
                })?;
            } else {
                return Err(PackError::SpecialFile {
                    path: src,
                    kind: kind_name(&t),
                });
            }
        }
        Ok(())
    }

    /// The entries in order: parents added, sorted by path, hard links resolved.
    pub fn finish(mut self) -> Vec<LayerEntry> {
        let paths: Vec<String> = self.entries.keys().cloned().collect();
        for p in paths {
            let mut parent = p.as_str();
            while let Some((up, _)) = parent.rsplit_once('/') {
                parent = up;
                if !self.entries.contains_key(parent) {
                    self.entries.insert(
                        parent.to_string(),
                        LayerEntry {
                            path: parent.to_string(),
                            kind: EntryKind::Dir,
                            mode: 0o755,
                            uid: 0,
                            gid: 0,
                            mtime: self.mtime,
                        },
                    );
                }
            }
        }
        // Sorted by path; a parent sorts before its children because it is their prefix.
        let mut first: HashMap<(u64, u64), String> = HashMap::new();
        let mut out = Vec::with_capacity(self.entries.len());
        for (path, mut e) in self.entries {
            if let Some(id) = self.inodes.get(&path) {
                match first.get(id) {
                    Some(target) => e.kind = EntryKind::HardLink(target.clone()),
                    None => {
                        first.insert(*id, path.clone());
                    }
                }
            }
            out.push(e);
        }
        out
    }
}

/// The entry at image path `path` (no leading `/`), following symbolic links and hard
/// links inside the tree (at most 16 hops).
pub fn resolve<'a>(entries: &'a [LayerEntry], path: &str) -> Option<&'a LayerEntry> {
    let mut path = image_path(path).ok()?;
    for _ in 0..16 {
        let i = entries
            .binary_search_by(|e| e.path.as_str().cmp(&path))
            .ok()?;
        let e = &entries[i];
        match &e.kind {
            EntryKind::Symlink(t) => {
                let base = if t.starts_with('/') {
                    String::new()
                } else {
                    path.rsplit_once('/')
                        .map(|(d, _)| d.to_string())
                        .unwrap_or_default()
                };
                path = normalize(&format!("{base}/{t}"))?;
            }
            EntryKind::HardLink(t) => path = t.clone(),
            _ => return Some(e),
        }
    }
    None
}

/// `a/./b/../c` → `a/c`; `..` at the root stays at the root (as the kernel resolves it).
fn normalize(p: &str) -> Option<String> {
    let mut parts: Vec<&str> = Vec::new();
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    Some(parts.join("/"))
}

/// The host file behind an entry, if it is a regular file.
pub fn source_of(e: &LayerEntry) -> Option<&PathBuf> {
    match &e.kind {
        EntryKind::File { source, .. } => Some(source),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_paths() {
        assert_eq!(image_path("/usr//bin/./x").unwrap(), "usr/bin/x");
        assert_eq!(image_path("/").unwrap(), "");
        assert!(matches!(image_path("../x"), Err(PackError::Escapes(_))));
        assert!(matches!(
            image_path("/a/../../x"),
            Err(PackError::Escapes(_))
        ));
    }

    #[test]
    fn folder_tree_is_sorted_with_links_and_parents() {
        let d = tempfile::tempdir().unwrap();
        let r = d.path();
        fs::create_dir_all(r.join("bin")).unwrap();
        fs::write(r.join("bin/busybox"), b"x").unwrap();
        fs::hard_link(r.join("bin/busybox"), r.join("bin/a")).unwrap();
        std::os::unix::fs::symlink("busybox", r.join("bin/sh")).unwrap();
        let mut t = Tree::new(Owner::Root, 5);
        t.add(r, None).unwrap();
        t.add(&r.join("bin/busybox"), Some("/opt/x/y")).unwrap();
        let es = t.finish();
        let got: Vec<_> = es.iter().map(|e| (e.path.as_str(), &e.kind)).collect();
        assert_eq!(got[0], ("bin", &EntryKind::Dir));
        assert!(matches!(got[1], ("bin/a", EntryKind::File { .. })));
        assert_eq!(
            got[2],
            ("bin/busybox", &EntryKind::HardLink("bin/a".into()))
        );
        assert_eq!(got[3], ("bin/sh", &EntryKind::Symlink("busybox".into())));
        assert_eq!(got[4].0, "opt");
        assert_eq!(got[5].0, "opt/x");
        assert_eq!(got[6].0, "opt/x/y");
        assert!(es.iter().all(|e| e.mtime == 5 && e.uid == 0));
        assert_eq!(resolve(&es, "/bin/sh").unwrap().path, "bin/a");
        // A second file at the same place is a conflict.
        let mut t = Tree::new(Owner::Root, 0);
        t.add(&r.join("bin/busybox"), Some("/x")).unwrap();
        assert!(matches!(
            t.add(&r.join("bin/a"), Some("/x")),
            Err(PackError::Conflict(_))
        ));
    }
}
