//! Reading what `smidge push SOURCE` pushes: an OCI image layout directory, an OCI image
//! layout tar, or a docker archive (`docker save`, `smidge … --format docker`); a tar may
//! be plain, gzip or zstd. Single- or multi-platform: every image found becomes one
//! [`Image`] of the [`ImageSet`], in the order the source lists them.
//!
//! - OCI layout: `index.json`; when it names an image index (smidge's multi-platform
//!   layouts, `docker buildx`, Docker 25+ `docker save`), that index's manifests;
//!   otherwise every image manifest it names (once each), an index among them opened
//!   once. An index inside an index inside `index.json` is refused. Manifests for
//!   platform os `unknown` (build attestations) are left out.
//! - Docker archive: each element of `manifest.json` (`Config`, `Layers`). A tar that
//!   holds both (Docker 25+ `docker save`) is read as an OCI layout.
//!
//! Constant memory whatever the size of the source. Nothing but the small JSON documents
//! (at most [`MAX_DOCUMENT`] bytes each) is read into memory: a layer becomes a
//! [`StoredBlob`], a region of a file that the pipeline streams (and checks against its
//! digest) when it writes or pushes it.
//!
//! - A directory's blobs are its files.
//! - A plain tar is indexed in place: one pass over its headers, seeking over the data,
//!   records where each member's bytes are.
//! - A gzip or zstd tar is first decompressed into a temporary file ([`Source::spool`]),
//!   then indexed the same way.
//!
//! JSON blobs of a layout are checked against their digests as they are read. A layer
//! of a layout is not read at all (its descriptor gives its digest); a layer of a docker
//! archive, which names its layers by path, is hashed in one streaming pass. Names read
//! from `manifest.json` or from the tar (including symbolic and hard links, which `docker
//! save` writes for a layer shared by two images) are resolved inside the source and
//! never lead out of it; in a directory, a symbolic link that leads out of it is refused.
//!
//! Every refusal is one line, `` `PATH` is not an image: REASON ``, a usage error; the
//! bytes of the source are never quoted.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::fs::{self, File};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use serde::Deserialize;
use sha2::{Digest as _, Sha256};

use crate::codec::Compression;
use crate::image::{Digest, Image, ImageSet, Layer, MediaTypes, StoredBlob};
use crate::temp::TempFile;
use crate::{Error, Result};

/// The largest JSON document (`index.json`, `manifest.json`, a manifest, an index, a
/// config) read: 4 MiB, the limit registries put on manifests.
pub const MAX_DOCUMENT: u64 = 4 << 20;

/// The buffer of every streaming pass (decompressing, hashing).
const BUFFER: usize = 256 << 10;

/// How many links in a row a tar member name may go through.
const MAX_LINKS: usize = 8;

/// The images of a source, and the temporary files their layers are read from.
pub struct Source {
    pub set: ImageSet,
    /// A spooled (decompressed) copy of a compressed archive, removed when dropped.
    pub spool: Option<TempFile>,
}

impl fmt::Debug for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Source")
            .field("set", &self.set)
            .field("spool", &self.spool.as_ref().map(|s| s.path()))
            .finish()
    }
}

/// The images in `path`: an OCI layout directory, an OCI layout tar or a docker archive.
pub fn read_source(path: &Path) -> Result<Source> {
    read(path).map_err(|why| match why {
        Why::Not(reason) => {
            Error::Unsupported(format!("`{}` is not an image: {reason}", path.display()))
        }
        Why::Failed(e) => e,
    })
}

/// Why a source cannot be read: it is not an image (the reason), or something failed
/// while reading it (a temporary file that cannot be written).
enum Why {
    Not(String),
    Failed(Error),
}

type R<T> = std::result::Result<T, Why>;

fn not<T>(reason: impl Into<String>) -> R<T> {
    Err(Why::Not(reason.into()))
}

fn read(path: &Path) -> R<Source> {
    let cannot_read = |e: io::Error| Why::Not(format!("cannot read it: {e}"));
    let meta = fs::metadata(path).map_err(cannot_read)?;
    let (store, spool) = if meta.is_dir() {
        (
            Store::Dir(fs::canonicalize(path).map_err(cannot_read)?),
            None,
        )
    } else {
        let mut head = Vec::with_capacity(4);
        File::open(path)
            .and_then(|f| f.take(4).read_to_end(&mut head))
            .map_err(cannot_read)?;
        match Compression::sniff(&head) {
            Compression::None => (Store::Tar(TarIndex::read(path)?), None),
            c => {
                let spool = decompress(path, c)?;
                (Store::Tar(TarIndex::read(spool.path())?), Some(spool))
            }
        }
    };
    let images = if let Some(index) = store.find("index.json")? {
        oci_layout(&store, &index)?
    } else if let Some(manifest) = store.find("manifest.json")? {
        docker_archive(&store, &manifest)?
    } else if meta.is_dir() {
        return not("a directory without index.json (an OCI image layout has one)");
    } else {
        return not(
            "a tar without index.json or manifest.json (neither an OCI layout nor a docker archive)",
        );
    };
    if images.is_empty() {
        return not("it names no image");
    }
    Ok(Source {
        set: ImageSet::new(images),
        spool,
    })
}

/// `path` decompressed into a temporary file, in [`BUFFER`]-sized pieces.
fn decompress(path: &Path, c: Compression) -> R<TempFile> {
    let bad_data = |e: io::Error| Why::Not(format!("bad {c} data ({e})"));
    let file = File::open(path).map_err(|e| Why::Not(format!("cannot read it: {e}")))?;
    let mut r = c.reader(file).map_err(bad_data)?;
    let spool = TempFile::new("smidge-source-")
        .map_err(|e| Why::Failed(Error::write(std::env::temp_dir())(e)))?;
    let failed = |e| Why::Failed(Error::write(spool.path())(e));
    let mut w = io::BufWriter::with_capacity(BUFFER, spool.as_file());
    let mut buf = vec![0u8; BUFFER];
    loop {
        let n = match r.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(bad_data(e)),
        };
        w.write_all(&buf[..n]).map_err(failed)?;
    }
    w.flush().map_err(failed)?;
    drop(w);
    Ok(spool)
}

/// Where a source's files are: a directory, or an indexed tar.
enum Store {
    /// A directory, by its canonical path: no file outside it is ever read.
    Dir(PathBuf),
    Tar(TarIndex),
}

/// `size` bytes at `offset` in the file `path`.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Region {
    path: PathBuf,
    offset: u64,
    size: u64,
}

impl Region {
    fn open(&self) -> io::Result<io::Take<File>> {
        let mut f = File::open(&self.path)?;
        f.seek(SeekFrom::Start(self.offset))?;
        Ok(f.take(self.size))
    }

    /// The whole region in memory, when it is a document of at most [`MAX_DOCUMENT`]
    /// bytes; `what` names it in messages.
    fn read_document(&self, what: &str) -> R<Vec<u8>> {
        if self.size > MAX_DOCUMENT {
            return not(format!(
                "{what} is {} bytes, more than the 4 MiB smidge reads for a JSON document",
                self.size
            ));
        }
        let mut bytes = Vec::with_capacity(self.size as usize);
        self.open()
            .and_then(|mut r| r.read_to_end(&mut bytes))
            .map_err(|e| Why::Not(format!("cannot read {what}: {e}")))?;
        if bytes.len() as u64 != self.size {
            return not(format!("cannot read {what}: it is shorter than it was"));
        }
        Ok(bytes)
    }

    /// The sha256 of the region and the compression its first bytes say, in one pass.
    fn hash(&self, what: &str) -> R<(Digest, Compression)> {
        let cannot = |e: io::Error| Why::Not(format!("cannot read {what}: {e}"));
        let mut r = self.open().map_err(cannot)?;
        let mut hash = Sha256::new();
        let mut head = Vec::with_capacity(4);
        let mut count = 0u64;
        let mut buf = vec![0u8; BUFFER];
        loop {
            let n = match r.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(cannot(e)),
            };
            let wanted = 4 - head.len();
            head.extend_from_slice(&buf[..n.min(wanted)]);
            hash.update(&buf[..n]);
            count += n as u64;
        }
        if count != self.size {
            return not(format!("cannot read {what}: it is shorter than it was"));
        }
        Ok((
            Digest::from_bytes(hash.finalize().into()),
            Compression::sniff(&head),
        ))
    }
}

impl Store {
    /// The file `name` (relative to the top of the source), if there is one.
    fn find(&self, name: &str) -> R<Option<Region>> {
        let Some(name) = resolve("", name) else {
            return Ok(None);
        };
        match self {
            Store::Dir(root) => {
                // Symbolic links inside the directory are followed; one that leads out of
                // it (a blob linked to `/etc/shadow`, a `blobs` linked elsewhere) is
                // refused, so a layout made by someone else cannot make smidge read, and
                // push, a file of this machine.
                let path = match fs::canonicalize(root.join(&name)) {
                    Ok(path) => path,
                    Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
                    Err(e) if e.raw_os_error() == Some(libc::ENOTDIR) => return Ok(None),
                    Err(e) => return not(format!("cannot read `{}`: {e}", shown(&name))),
                };
                if !path.starts_with(root) {
                    return not(format!(
                        "`{}` leads out of the directory through a symbolic link",
                        shown(&name)
                    ));
                }
                match fs::metadata(&path) {
                    Ok(m) if m.is_file() => Ok(Some(Region {
                        path,
                        offset: 0,
                        size: m.len(),
                    })),
                    Ok(_) => Ok(None),
                    Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
                    Err(e) if e.raw_os_error() == Some(libc::ENOTDIR) => Ok(None),
                    Err(e) => not(format!("cannot read `{}`: {e}", shown(&name))),
                }
            }
            Store::Tar(tar) => Ok(tar.find(name)),
        }
    }

    /// What the source is, in messages.
    fn kind(&self) -> &'static str {
        match self {
            Store::Dir(_) => "directory",
            Store::Tar(_) => "archive",
        }
    }
}

/// A tar's members, by name (without `./`), as regions of the tar file.
struct TarIndex {
    path: PathBuf,
    members: HashMap<String, Member>,
}

enum Member {
    File {
        offset: u64,
        size: u64,
    },
    /// A symbolic or hard link, to this name.
    Link(String),
}

impl TarIndex {
    /// Indexes the tar `path` in one pass over its headers.
    fn read(path: &Path) -> R<TarIndex> {
        let file = File::open(path).map_err(|e| Why::Not(format!("cannot read it: {e}")))?;
        let len = file
            .metadata()
            .map_err(|e| Why::Not(format!("cannot read it: {e}")))?
            .len();
        if len < 512 {
            return not("not a tar archive (too short)");
        }
        // The tar reader's messages may quote the bytes it read: none goes in ours.
        let not_tar = |_| Why::Not("not a tar archive (nor gzip or zstd of one)".into());
        let mut members = HashMap::new();
        let mut ar = tar::Archive::new(file);
        for entry in ar.entries_with_seek().map_err(not_tar)? {
            let entry = entry.map_err(not_tar)?;
            let name = entry.path().map_err(not_tar)?;
            let Some(name) = resolve("", &name.to_string_lossy()) else {
                continue;
            };
            let kind = entry.header().entry_type();
            let member = if kind.is_file() {
                let (offset, size) = (entry.raw_file_position(), entry.size());
                if offset.checked_add(size).is_none_or(|end| end > len) {
                    return not("a truncated tar archive");
                }
                Member::File { offset, size }
            } else if kind.is_symlink() || kind.is_hard_link() {
                let Some(target) = entry.link_name().map_err(not_tar)? else {
                    continue;
                };
                // A symbolic link is relative to its directory, a hard link to the top.
                let base = match (kind.is_symlink(), name.rsplit_once('/')) {
                    (true, Some((dir, _))) => dir,
                    _ => "",
                };
                let Some(target) = resolve(base, &target.to_string_lossy()) else {
                    continue;
                };
                Member::Link(target)
            } else {
                continue;
            };
            members.insert(name, member);
        }
        if members.is_empty() {
            return not("not a tar archive (no files)");
        }
        Ok(TarIndex {
            path: path.to_path_buf(),
            members,
        })
    }

    /// The region of member `name` (already resolved), following links.
    fn find(&self, mut name: String) -> Option<Region> {
        for _ in 0..=MAX_LINKS {
            match self.members.get(&name)? {
                Member::File { offset, size } => {
                    return Some(Region {
                        path: self.path.clone(),
                        offset: *offset,
                        size: *size,
                    })
                }
                Member::Link(target) => name = target.clone(),
            }
        }
        None
    }
}

/// `name` taken relative to the directory `base` (both `/`-separated, inside the
/// source), `.` and `..` resolved, without a leading or trailing `/`; `None` when it is
/// empty or would lead out of the source. An absolute name starts at the top of the
/// source.
fn resolve(base: &str, name: &str) -> Option<String> {
    let mut parts: Vec<&str> = Vec::new();
    let start = if name.starts_with('/') { "" } else { base };
    for c in start.split('/').chain(name.split('/')) {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            c => parts.push(c),
        }
    }
    (!parts.is_empty()).then(|| parts.join("/"))
}

/// Why a JSON document does not parse, without quoting it: serde's own message for a
/// value of the wrong type does (`invalid type: string "…"`), except for a missing
/// field, which names one of ours.
fn json_error(e: &serde_json::Error) -> String {
    use serde_json::error::Category;
    let what = match e.classify() {
        Category::Data => {
            let m = e.to_string();
            match m.split_once(" at line ") {
                Some((missing, _)) if missing.starts_with("missing field `") => missing.to_string(),
                _ => "a value of the wrong type".into(),
            }
        }
        Category::Eof => "it ends too early".into(),
        Category::Syntax | Category::Io => "not JSON".into(),
    };
    format!("{what} at line {}, column {}", e.line(), e.column())
}

/// A name read from the source, fit for a one-line message: control characters escaped,
/// at most 100 characters.
fn shown(s: &str) -> String {
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i == 100 {
            out.push('…');
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// A content descriptor, as far as smidge reads it.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Desc {
    #[serde(default)]
    media_type: String,
    digest: String,
    #[serde(default)]
    size: Option<u64>,
    #[serde(default)]
    platform: Option<Plat>,
}

#[derive(Deserialize)]
struct Plat {
    #[serde(default)]
    os: String,
}

#[derive(Deserialize)]
struct IndexDoc {
    #[serde(default)]
    manifests: Vec<Desc>,
}

/// An image manifest, or an index (`manifests`) where a manifest was expected.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ManifestDoc {
    #[serde(default)]
    media_type: String,
    config: Option<Desc>,
    #[serde(default)]
    layers: Vec<Desc>,
    manifests: Option<Vec<Desc>>,
}

/// The blob a descriptor names: its digest and where it is (not read). Its size must be
/// the descriptor's.
fn blob(store: &Store, d: &Desc) -> R<(Digest, Region)> {
    let digest = Digest::parse(&d.digest).ok_or_else(|| {
        Why::Not(format!(
            "`{}` is not a sha256 digest smidge can read",
            shown(&d.digest)
        ))
    })?;
    let region = store
        .find(&format!("blobs/sha256/{}", digest.hex()))?
        .ok_or_else(|| Why::Not(format!("blob {digest} is missing")))?;
    if let Some(size) = d.size {
        if size != region.size {
            return not(format!(
                "blob {digest} is {} bytes where its descriptor says {size}",
                region.size
            ));
        }
    }
    Ok((digest, region))
}

/// A JSON blob a descriptor names, read and checked against its digest.
fn document(store: &Store, d: &Desc) -> R<(Digest, Vec<u8>)> {
    let (digest, region) = blob(store, d)?;
    let bytes = region.read_document(&format!("blob {digest}"))?;
    if Digest::of(&bytes) != digest {
        return not(format!("blob {digest} does not match its digest"));
    }
    Ok((digest, bytes))
}

fn oci_layout(store: &Store, index_json: &Region) -> R<Vec<Image>> {
    let index: IndexDoc = serde_json::from_slice(&index_json.read_document("index.json")?)
        .map_err(|e| {
            Why::Not(format!(
                "index.json is not an image index ({})",
                json_error(&e)
            ))
        })?;
    let mut descriptors = index.manifests;
    // An index named by index.json stands for the whole layout; the first one is read.
    if let Some(i) = descriptors
        .iter()
        .position(|d| MediaTypes::is_index(&d.media_type))
    {
        descriptors = vec![descriptors.swap_remove(i)];
    }
    let mut images = Vec::new();
    collect(store, descriptors, 0, &mut HashSet::new(), &mut images)?;
    Ok(images)
}

/// Reads the images `descriptors` name into `images`, skipping attestations and
/// manifests already `seen`. `depth` is 0 for the descriptors of index.json, 1 inside
/// an index it names; an index at depth 1 is refused.
fn collect(
    store: &Store,
    descriptors: Vec<Desc>,
    depth: usize,
    seen: &mut HashSet<Digest>,
    images: &mut Vec<Image>,
) -> R<()> {
    for d in descriptors {
        if d.platform.as_ref().is_some_and(|p| p.os == "unknown") {
            continue;
        }
        let (digest, bytes) = document(store, &d)?;
        if !seen.insert(digest) {
            continue;
        }
        let manifest: ManifestDoc = serde_json::from_slice(&bytes).map_err(|e| {
            Why::Not(format!(
                "blob {digest} is not an image manifest ({})",
                json_error(&e)
            ))
        })?;
        let index = manifest.manifests.is_some()
            || MediaTypes::is_index(&d.media_type)
            || MediaTypes::is_index(&manifest.media_type);
        if index {
            if depth > 0 {
                return not(format!(
                    "{digest} is an index inside an index; smidge reads one level"
                ));
            }
            let inner = manifest.manifests.unwrap_or_default();
            collect(store, inner, depth + 1, seen, images)?;
            continue;
        }
        let Some(config) = &manifest.config else {
            return not(format!(
                "blob {digest} is not an image manifest (it has no config)"
            ));
        };
        images.push(oci_image(store, config, &manifest.layers)?);
    }
    Ok(())
}

/// The image of one manifest of a layout: its config read and checked, its layers the
/// blobs where they are.
fn oci_image(store: &Store, config: &Desc, layers: &[Desc]) -> R<Image> {
    let (config_digest, config) = document(store, config)?;
    let diff_ids = diff_ids(&config, layers.len(), &format!("config {config_digest}"))?;
    let layers = layers
        .iter()
        .zip(diff_ids)
        .map(|(l, diff_id)| {
            let (digest, region) = blob(store, l)?;
            let compression = MediaTypes::layer_compression(&l.media_type).ok_or_else(|| {
                Why::Not(format!(
                    "layer {digest} has media type `{}`, not a layer type smidge reads",
                    shown(&l.media_type)
                ))
            })?;
            if compression == Compression::None && digest != diff_id {
                return not(format!(
                    "layer {digest} is an uncompressed tar, but its config says its digest is {diff_id}"
                ));
            }
            Ok(stored(region, digest, compression, diff_id))
        })
        .collect::<R<Vec<_>>>()?;
    image(config, layers)
}

#[derive(Deserialize)]
struct DockerItem {
    #[serde(rename = "Config")]
    config: String,
    #[serde(rename = "Layers", default)]
    layers: Vec<String>,
}

fn docker_archive(store: &Store, manifest: &Region) -> R<Vec<Image>> {
    let items: Vec<DockerItem> = serde_json::from_slice(&manifest.read_document("manifest.json")?)
        .map_err(|e| {
            Why::Not(format!(
                "manifest.json is not a docker archive manifest ({})",
                json_error(&e)
            ))
        })?;
    let file = |name: &str| {
        store.find(name)?.ok_or_else(|| {
            Why::Not(format!(
                "manifest.json names `{}`, which is not in the {}",
                shown(name),
                store.kind()
            ))
        })
    };
    items
        .iter()
        .map(|item| {
            let what = format!("`{}`", shown(&item.config));
            let config = file(&item.config)?.read_document(&what)?;
            let diff_ids = diff_ids(&config, item.layers.len(), &format!("config {what}"))?;
            let layers = item
                .layers
                .iter()
                .zip(diff_ids)
                .map(|(name, diff_id)| {
                    let what = format!("layer `{}`", shown(name));
                    let region = file(name)?;
                    let (digest, compression) = region.hash(&what)?;
                    if compression == Compression::None && digest != diff_id {
                        return not(format!(
                            "{what} is an uncompressed tar whose digest {digest} is not its diff_id {diff_id}"
                        ));
                    }
                    Ok(stored(region, digest, compression, diff_id))
                })
                .collect::<R<Vec<_>>>()?;
            image(config, layers)
        })
        .collect()
}

/// The `rootfs.diff_ids` of a config (`what` in messages), which must name `layers`
/// layers.
fn diff_ids(config: &[u8], layers: usize, what: &str) -> R<Vec<Digest>> {
    #[derive(Deserialize)]
    struct Config {
        rootfs: Option<RootFs>,
    }
    #[derive(Deserialize)]
    struct RootFs {
        diff_ids: Option<Vec<String>>,
    }
    let c: Config = serde_json::from_slice(config).map_err(|e| {
        Why::Not(format!(
            "{what} is not an image configuration ({})",
            json_error(&e)
        ))
    })?;
    let Some(ids) = c.rootfs.and_then(|r| r.diff_ids) else {
        return not(format!("{what} has no rootfs.diff_ids"));
    };
    if ids.len() != layers {
        return not(format!(
            "{what} names {} layer digests (rootfs.diff_ids) for {layers} layers",
            ids.len()
        ));
    }
    ids.iter()
        .map(|id| {
            Digest::parse(id).ok_or_else(|| {
                Why::Not(format!(
                    "{what} has `{}` in rootfs.diff_ids, not a sha256 digest",
                    shown(id)
                ))
            })
        })
        .collect()
}

fn stored(region: Region, digest: Digest, compression: Compression, diff_id: Digest) -> Layer {
    Layer::stored(
        StoredBlob {
            path: region.path,
            offset: region.offset,
            size: region.size,
            digest,
            compression,
        },
        diff_id,
    )
}

/// [`Image::new`], whose refusals are reasons this source is not an image.
fn image(config: Vec<u8>, layers: Vec<Layer>) -> R<Image> {
    Image::new(config, layers).map_err(|e| match e {
        Error::Unsupported(reason) => Why::Not(reason),
        e => Why::Failed(e),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dest::docker::DockerArchive;
    use crate::dest::oci::{LayoutNames, OciArchive, OciDir};
    use crate::dest::Wrapping;
    use crate::dest::{write, Output, Sink};
    use crate::image::{media, Reference};
    use crate::progress::NoProgress;
    use serde_json::{json, Value};
    use smidge_elf::Platform;

    fn set(platforms: &[Platform]) -> ImageSet {
        ImageSet::new(
            platforms
                .iter()
                .map(|&p| Image::of_payload(p, "x", b"abc", None, None).unwrap())
                .collect(),
        )
    }

    fn tag() -> Reference {
        "smidge/t:latest".parse().unwrap()
    }

    #[derive(Clone, Copy, Debug, PartialEq)]
    enum Form {
        Docker,
        OciTar,
        OciDir,
    }

    /// `set` written as `form` to `dir/name` by the pipeline's own destinations.
    fn make(dir: &Path, name: &str, form: Form, set: &ImageSet, c: Compression) -> PathBuf {
        let p = dir.join(name);
        let names = || LayoutNames::new(&tag(), false);
        let sink = || Sink::open(&Output::File(p.clone()), 0o644).unwrap();
        match form {
            Form::Docker => {
                let wrapping = Wrapping {
                    compression: c,
                    shell_line: false,
                };
                write(
                    set,
                    &mut DockerArchive::new(sink(), wrapping, &tag()),
                    &NoProgress,
                )
            }
            Form::OciTar => write(set, &mut OciArchive::new(sink(), c, names()), &NoProgress),
            Form::OciDir => write(set, &mut OciDir::new(&p, c, names()).unwrap(), &NoProgress),
        }
        .unwrap();
        p
    }

    fn tar_of(layer: &Layer) -> Vec<u8> {
        let mut out = Vec::new();
        layer.write_tar(&mut out, &NoProgress).unwrap().unwrap();
        out
    }

    fn blob_bytes(b: &StoredBlob) -> Vec<u8> {
        let mut out = Vec::new();
        b.open().unwrap().read_to_end(&mut out).unwrap();
        out
    }

    /// `got` holds the images of `want`: same configs, platforms, diff_ids and layer tars;
    /// each stored blob is what its digest says.
    fn assert_same(got: &ImageSet, want: &ImageSet) {
        assert!(got.annotations.is_empty());
        assert_eq!(got.images.len(), want.images.len());
        for (g, w) in got.images.iter().zip(&want.images) {
            assert_eq!(g.config_digest(), w.config_digest());
            assert_eq!(g.platform(), w.platform());
            assert_eq!(g.layers().len(), w.layers().len());
            for (gl, wl) in g.layers().iter().zip(w.layers()) {
                assert_eq!(gl.diff_id(), wl.diff_id());
                assert_eq!(tar_of(gl), tar_of(wl));
                let b = gl.stored_blob().expect("a stored layer");
                assert_eq!(Digest::of(&blob_bytes(b)), b.digest);
            }
        }
    }

    fn put_blob(layout: &Path, bytes: &[u8]) -> Digest {
        let d = Digest::of(bytes);
        fs::write(layout.join("blobs/sha256").join(d.hex()), bytes).unwrap();
        d
    }

    fn json_of(path: &Path) -> Value {
        serde_json::from_slice(&fs::read(path).unwrap()).unwrap()
    }

    fn set_index_json(layout: &Path, manifests: Value) {
        let index = json!({"schemaVersion": 2, "manifests": manifests});
        fs::write(layout.join("index.json"), index.to_string()).unwrap();
    }

    enum Item<'a> {
        File(&'a [u8]),
        Symlink(&'a str),
        HardLink(&'a str),
    }

    /// A plain tar of `items`, written by the `tar` crate (not by smidge).
    fn tar(items: &[(&str, Item)]) -> Vec<u8> {
        let mut b = ::tar::Builder::new(Vec::new());
        for (name, item) in items {
            let mut h = ::tar::Header::new_gnu();
            h.set_mode(0o644);
            match item {
                Item::File(data) => {
                    h.set_size(data.len() as u64);
                    b.append_data(&mut h, name, *data).unwrap();
                }
                Item::Symlink(target) | Item::HardLink(target) => {
                    h.set_entry_type(if matches!(item, Item::Symlink(_)) {
                        ::tar::EntryType::Symlink
                    } else {
                        ::tar::EntryType::Link
                    });
                    h.set_size(0);
                    b.append_link(&mut h, name, target).unwrap();
                }
            }
        }
        b.into_inner().unwrap()
    }

    /// A docker archive made by hand: `config` as `cfg.json`, `layers` named in
    /// manifest.json, and the members `items`.
    fn docker_by_hand(
        dir: &Path,
        config: &[u8],
        layers: &[&str],
        items: Vec<(&str, Item)>,
    ) -> PathBuf {
        let manifest =
            json!([{"Config": "cfg.json", "RepoTags": [], "Layers": layers}]).to_string();
        let mut all = vec![
            ("manifest.json", Item::File(manifest.as_bytes())),
            ("cfg.json", Item::File(config)),
        ];
        all.extend(items);
        let p = dir.join("by-hand.tar");
        fs::write(&p, tar(&all)).unwrap();
        p
    }

    /// A config for `img` whose rootfs.diff_ids are `ids`.
    fn config_with(img: &Image, ids: &[Digest]) -> Vec<u8> {
        let mut c: Value = serde_json::from_slice(img.config()).unwrap();
        c["rootfs"]["diff_ids"] = ids.iter().map(|d| d.to_string()).collect();
        serde_json::to_vec(&c).unwrap()
    }

    #[test]
    fn every_format_gives_the_same_image() {
        let dir = tempfile::tempdir().unwrap();
        let want = set(&[Platform::Amd64]);
        for form in [Form::Docker, Form::OciTar, Form::OciDir] {
            for c in Compression::ALL {
                let name = format!("{form:?}-{c}");
                let p = make(dir.path(), &name, form, &want, c);
                let got = read_source(&p).unwrap_or_else(|e| panic!("{name}: {e}"));
                assert_same(&got.set, &want);
                let spooled = form != Form::OciDir && c != Compression::None;
                assert_eq!(got.spool.is_some(), spooled, "{name}");
                let b = got.set.images[0].layers()[0].stored_blob().unwrap().clone();
                // A layout's layers are as its manifest says; an archive's are plain tars.
                let stored_as = if form == Form::OciDir {
                    c
                } else {
                    Compression::None
                };
                assert_eq!(b.compression, stored_as, "{name}");
                if let Some(spool) = &got.spool {
                    assert_eq!(b.path, spool.path());
                }
                // The spool is removed with the source.
                drop(got);
                assert_eq!(b.path.exists(), !spooled, "{name}");
            }
        }
    }

    #[test]
    fn multi_platform_layouts_give_each_platform_once() {
        let dir = tempfile::tempdir().unwrap();
        let want = set(&[Platform::Amd64, Platform::Arm64, Platform::I386]);
        let p = make(dir.path(), "m.tar", Form::OciTar, &want, Compression::Gzip);
        assert_same(&read_source(&p).unwrap().set, &want);
        // With per-platform names (for umoci), index.json names each manifest again.
        let layout = dir.path().join("tagged");
        let mut d =
            OciDir::new(&layout, Compression::Zstd, LayoutNames::new(&tag(), true)).unwrap();
        write(&want, &mut d, &NoProgress).unwrap();
        assert_eq!(
            json_of(&layout.join("index.json"))["manifests"]
                .as_array()
                .unwrap()
                .len(),
            4
        );
        assert_same(&read_source(&layout).unwrap().set, &want);
    }

    /// Docker 25+ `docker save`: an OCI layout plus manifest.json, in a tar made by another
    /// writer (directories, `./` names).
    #[test]
    fn a_tar_with_both_index_and_manifest_is_a_layout() {
        let dir = tempfile::tempdir().unwrap();
        let want = set(&[Platform::Amd64, Platform::Arm64]);
        let layout = make(dir.path(), "l", Form::OciDir, &want, Compression::Gzip);
        // Read as a docker archive, this manifest.json would name no image.
        fs::write(layout.join("manifest.json"), b"[]").unwrap();
        let mut b = ::tar::Builder::new(Vec::new());
        b.append_dir_all(".", &layout).unwrap();
        let p = dir.path().join("saved.tar.gz");
        fs::write(&p, Compression::Gzip.compress(&b.into_inner().unwrap())).unwrap();
        let got = read_source(&p).unwrap();
        assert_same(&got.set, &want);
        assert!(got.spool.is_some());
    }

    /// Build attestations are left out; an index index.json names without its media
    /// type is opened once; an index inside that one is refused.
    #[test]
    fn one_level_of_index_and_no_attestations() {
        let dir = tempfile::tempdir().unwrap();
        let want = set(&[Platform::Amd64, Platform::Arm64]);
        let layout = make(dir.path(), "l", Form::OciDir, &want, Compression::None);
        let top = json_of(&layout.join("index.json"))["manifests"][0].clone();
        assert_eq!(top["mediaType"], media::OCI_INDEX);
        let hex = top["digest"]
            .as_str()
            .unwrap()
            .strip_prefix("sha256:")
            .unwrap();
        let mut inner = json_of(&layout.join("blobs/sha256").join(hex));

        // An attestation manifest whose blob is not even there.
        inner["manifests"].as_array_mut().unwrap().push(json!({
            "mediaType": media::OCI_MANIFEST,
            "digest": Digest::of(b"absent").to_string(),
            "size": 6,
            "platform": {"architecture": "unknown", "os": "unknown"},
        }));
        let bytes = serde_json::to_vec(&inner).unwrap();
        let with_attestation = put_blob(&layout, &bytes);
        let desc = json!({
            "mediaType": media::OCI_INDEX,
            "digest": with_attestation.to_string(),
            "size": bytes.len(),
        });
        set_index_json(&layout, json!([desc]));
        assert_same(&read_source(&layout).unwrap().set, &want);

        // No media type: the index is known by its content.
        let mut untyped = desc.clone();
        untyped.as_object_mut().unwrap().remove("mediaType");
        set_index_json(&layout, json!([untyped]));
        assert_same(&read_source(&layout).unwrap().set, &want);

        // index.json → index → index → manifests.
        let outer = serde_json::to_vec(&json!({
            "schemaVersion": 2,
            "mediaType": media::OCI_INDEX,
            "manifests": [desc],
        }))
        .unwrap();
        let outer_digest = put_blob(&layout, &outer);
        set_index_json(
            &layout,
            json!([{"mediaType": media::OCI_INDEX, "digest": outer_digest.to_string(), "size": outer.len()}]),
        );
        let e = read_source(&layout).unwrap_err();
        assert!(e.is_usage());
        assert!(e.to_string().contains("index inside an index"), "{e}");
    }

    /// `docker save` stores a layer that two images share once and links to it.
    #[test]
    fn docker_archive_links_are_followed() {
        let dir = tempfile::tempdir().unwrap();
        let img = Image::of_payload(Platform::Amd64, "x", b"abc", None, None).unwrap();
        let layer = tar_of(&img.layers()[0]);
        let d = *img.layers()[0].diff_id();
        let config = config_with(&img, &[d, d, d]);
        let p = docker_by_hand(
            dir.path(),
            &config,
            &["a/layer.tar", "b/layer.tar", "./c/layer.tar"],
            vec![
                ("a/layer.tar", Item::File(&layer)),
                ("b/layer.tar", Item::Symlink("../a/layer.tar")),
                ("c/layer.tar", Item::HardLink("b/layer.tar")),
            ],
        );
        let got = read_source(&p).unwrap();
        let layers = got.set.images[0].layers();
        assert_eq!(layers.len(), 3);
        for l in layers {
            let b = l.stored_blob().unwrap();
            assert_eq!(b, layers[0].stored_blob().unwrap());
            assert_eq!((b.digest, b.compression), (d, Compression::None));
            assert_eq!(tar_of(l), layer);
        }
        // A compressed layer keeps its compression and gets its own digest.
        let gz = Compression::Gzip.compress(&layer);
        let p = docker_by_hand(
            dir.path(),
            &config_with(&img, &[d]),
            &["l.gz"],
            vec![("l.gz", Item::File(&gz))],
        );
        let got = read_source(&p).unwrap();
        let l = &got.set.images[0].layers()[0];
        let b = l.stored_blob().unwrap();
        assert_eq!(
            (b.digest, b.compression),
            (Digest::of(&gz), Compression::Gzip)
        );
        assert_eq!(tar_of(l), layer);
    }

    fn refusal(path: &Path, want: &str) {
        let e = read_source(path).unwrap_err();
        let msg = e.to_string();
        assert!(e.is_usage(), "{msg}");
        assert!(!msg.contains('\n'), "{msg}");
        assert!(
            msg.starts_with(&format!("`{}` is not an image: ", path.display())),
            "{msg}"
        );
        assert!(msg.contains(want), "{msg} (wanted {want})");
    }

    /// Found by `fuzz/` (target `source`): serde's message for a value of the wrong type
    /// quoted it (`invalid type: string "schemaVersion", expected a sequence`), and the
    /// bytes of a source are never quoted. A missing field is still named.
    #[test]
    fn json_errors_do_not_quote_the_source() {
        let dir = tempfile::tempdir().unwrap();
        let layout = dir.path().join("layout");
        fs::create_dir(&layout).unwrap();
        fs::write(
            layout.join("index.json"),
            r#"{"manifests":"schemaVersion"}"#,
        )
        .unwrap();
        refusal(
            &layout,
            "index.json is not an image index (a value of the wrong type at line 1, column 28)",
        );
        let docker = dir.path().join("docker");
        fs::create_dir(&docker).unwrap();
        for (json, want) in [
            (
                r#"[{"Config":"c","Layers":"l"}]"#,
                "a value of the wrong type at line 1, column 27",
            ),
            (
                r#"[{"Layers":[]}]"#,
                "missing field `Config` at line 1, column 14",
            ),
            (r#"[{"Config":"#, "it ends too early at line 1, column 11"),
            ("[not json", "not JSON at line 1, column 3"),
        ] {
            fs::write(docker.join("manifest.json"), json).unwrap();
            refusal(
                &docker,
                &format!("manifest.json is not a docker archive manifest ({want})"),
            );
        }
    }

    /// issue #14: a layout directory made by someone else cannot make smidge read (and
    /// push) a file of this machine through a symbolic link; links inside it are followed.
    #[test]
    fn a_directory_source_never_reads_outside_it() {
        use std::os::unix::fs::symlink;
        let dir = tempfile::tempdir().unwrap();
        let img = Image::of_payload(Platform::Amd64, "x", b"abc", None, None).unwrap();
        let layout = make(
            dir.path(),
            "layout",
            Form::OciDir,
            &set(&[Platform::Amd64]),
            Compression::Gzip,
        );
        let blobs = layout.join("blobs/sha256");
        let config = blobs.join(img.config_digest().hex());
        let outside = dir.path().join("outside-config");
        fs::rename(&config, &outside).unwrap();
        let name = format!("blobs/sha256/{}", img.config_digest().hex());
        let leads_out = format!("`{name}` leads out of the directory through a symbolic link");

        // The same bytes, linked from outside: absolute, then relative.
        symlink(&outside, &config).unwrap();
        refusal(&layout, &leads_out);
        fs::remove_file(&config).unwrap();
        symlink("../../../outside-config", &config).unwrap();
        refusal(&layout, &leads_out);

        // A link that stays inside the layout is followed.
        fs::remove_file(&config).unwrap();
        fs::rename(&outside, layout.join("kept-config")).unwrap();
        symlink("../../kept-config", &config).unwrap();
        assert_same(&read_source(&layout).unwrap().set, &set(&[Platform::Amd64]));
        // So is the layout itself named through a link.
        let alias = dir.path().join("alias");
        symlink(&layout, &alias).unwrap();
        assert_same(&read_source(&alias).unwrap().set, &set(&[Platform::Amd64]));

        // `blobs` itself linked to a directory outside.
        let moved = dir.path().join("moved-blobs");
        fs::rename(layout.join("blobs"), &moved).unwrap();
        symlink(&moved, layout.join("blobs")).unwrap();
        refusal(
            &layout,
            "leads out of the directory through a symbolic link",
        );
    }

    #[test]
    fn refuses_what_is_not_an_image() {
        let dir = tempfile::tempdir().unwrap();
        let file = |name: &str, bytes: &[u8]| {
            let p = dir.path().join(name);
            fs::write(&p, bytes).unwrap();
            p
        };
        let junk = b"this is not an image\n".repeat(50);
        refusal(&file("text", b"hello"), "not a tar");
        refusal(
            &file("long-text", &junk),
            "not a tar archive (nor gzip or zstd of one)",
        );
        refusal(
            &file("gz", &Compression::Gzip.compress(b"not a tar at all")),
            "not a tar",
        );
        refusal(
            &file("zst", &Compression::Zstd.compress(&junk)),
            "not a tar",
        );
        refusal(
            &file("bad-gz", b"\x1f\x8b\x08\0junk that is not deflate"),
            "bad gzip data",
        );
        refusal(&file("zeros", &[0; 2048]), "not a tar archive (no files)");
        refusal(
            &file("other.tar", &tar(&[("a", Item::File(b"a"))])),
            "without index.json or manifest.json",
        );
        let empty = dir.path().join("empty");
        fs::create_dir(&empty).unwrap();
        refusal(
            &empty,
            "a directory without index.json (an OCI image layout has one)",
        );
        refusal(&dir.path().join("missing"), "cannot read it");

        // A docker archive cut short.
        let whole = fs::read(make(
            dir.path(),
            "d.tar",
            Form::Docker,
            &set(&[Platform::Amd64]),
            Compression::None,
        ))
        .unwrap();
        refusal(&file("cut.tar", &whole[..3000]), "truncated");

        // Configs that are not, or disagree with the layers.
        let img = Image::of_payload(Platform::Amd64, "x", b"abc", None, None).unwrap();
        let layer = tar_of(&img.layers()[0]);
        let l = || vec![("l", Item::File(&layer))];
        refusal(
            &docker_by_hand(dir.path(), b"{not json", &["l"], l()),
            "is not an image configuration",
        );
        let two = config_with(&img, &[*img.layers()[0].diff_id(); 2]);
        refusal(
            &docker_by_hand(dir.path(), &two, &["l"], l()),
            "names 2 layer digests",
        );
        let wrong = config_with(&img, &[Digest::of(b"other")]);
        refusal(
            &docker_by_hand(dir.path(), &wrong, &["l"], l()),
            "is not its diff_id",
        );
        let no_arch = br#"{"os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#;
        refusal(
            &docker_by_hand(dir.path(), no_arch, &[], vec![]),
            "the image configuration is not valid",
        );
        refusal(
            &docker_by_hand(dir.path(), img.config(), &["m"], l()),
            "names `m`, which is not in the archive",
        );

        // A layout whose blobs are wrong or missing.
        let layout = make(
            dir.path(),
            "layout",
            Form::OciDir,
            &set(&[Platform::Amd64]),
            Compression::Gzip,
        );
        let config = layout.join("blobs/sha256").join(img.config_digest().hex());
        // Same size, one byte changed.
        let mut changed = img.config().to_vec();
        changed[1] ^= 1;
        fs::write(&config, &changed).unwrap();
        refusal(&layout, "does not match its digest");
        fs::write(&config, b"{}").unwrap();
        refusal(&layout, "is 2 bytes where its descriptor says");
        fs::remove_file(&config).unwrap();
        refusal(&layout, &format!("blob {} is missing", img.config_digest()));

        // Names never lead out of the directory.
        let outside = dir.path().join("outside");
        fs::create_dir(&outside).unwrap();
        fs::write(outside.join("cfg"), img.config()).unwrap();
        let inside = outside.join("in");
        fs::create_dir(&inside).unwrap();
        for name in ["../cfg", "/cfg", "a/../../cfg"] {
            let m = json!([{"Config": name, "Layers": []}]).to_string();
            fs::write(inside.join("manifest.json"), m).unwrap();
            refusal(&inside, "which is not in the directory");
        }

        // A huge index.json is refused before it is read.
        let big = dir.path().join("big");
        fs::create_dir(&big).unwrap();
        File::create(big.join("index.json"))
            .unwrap()
            .set_len(5 << 20)
            .unwrap();
        refusal(&big, "more than the 4 MiB");
    }
}
