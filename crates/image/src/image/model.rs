//! The image model every source produces and every destination consumes: an [`Image`] is
//! a config (small, in memory) and [`Layer`]s, each a stream whose uncompressed digest
//! (`diff_id`) is known before any destination sees it; an [`ImageSet`] is one image per
//! platform and the annotations of their manifests and index.
//!
//! A layer's bytes are never held whole unless they are small: a built-in program's
//! layer is a 1 KiB tar in memory; a packed tree is re-read from disk each time it is
//! written (and checked against its `diff_id` as it goes); a layer of an existing archive
//! or layout is a region of a file.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::PathBuf;
use std::sync::Arc;

use sha2::{Digest as _, Sha256};

use super::config::{configuration_json, RunConfig};
use super::document::{Annotations, PlatformSpec};
use super::Digest;
use crate::codec::tar::{self, entries_size, write_entries, Entry, LayerEntry};
use crate::codec::Compression;
use crate::progress::Progress;
use crate::{Error, Result};
use smidge_elf::{Platform, Program};

/// The largest payload a built-in image holds (1 GiB): far below the 8 GiB a tar size
/// field holds, so the layer tar always fits as a member of an outer archive.
pub const MAX_PAYLOAD: usize = 1 << 30;

/// The permission bits of the executable in a built-in program's layer.
pub const EXECUTABLE_MODE: u32 = 0o755;

/// One image: its configuration JSON (kept byte for byte: its digest is the image ID) and
/// its layers, base first. The platform is read from the config once.
#[derive(Clone, Debug)]
pub struct Image {
    config: Vec<u8>,
    config_digest: Digest,
    platform: PlatformSpec,
    layers: Vec<Layer>,
}

/// What a layer's bytes come from.
#[derive(Debug)]
pub enum LayerContent {
    /// An uncompressed tar in memory (a built-in program, `wrap`).
    Tar(Vec<u8>),
    /// The tar of files on disk, generated as it is written (`pack`), `size` bytes.
    Entries { entries: Vec<LayerEntry>, size: u64 },
    /// A blob stored in a file (an existing archive or layout).
    Stored(StoredBlob),
}

/// A blob in a file: `size` bytes at `offset`, compressed as `compression`, whose sha256
/// is `digest`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredBlob {
    pub path: PathBuf,
    pub offset: u64,
    pub size: u64,
    pub digest: Digest,
    pub compression: Compression,
}

/// One layer: where its bytes come from and the sha256 of its uncompressed tar.
#[derive(Clone, Debug)]
pub struct Layer {
    diff_id: Digest,
    content: Arc<LayerContent>,
}

/// A set of images, one per platform, as one reference names them, and the annotations
/// of their manifests and of the index over them.
#[derive(Clone, Debug, Default)]
pub struct ImageSet {
    pub images: Vec<Image>,
    pub annotations: Annotations,
}

impl ImageSet {
    pub fn new(images: Vec<Image>) -> ImageSet {
        ImageSet {
            images,
            annotations: BTreeMap::new(),
        }
    }
}

/// The user the `pause` image runs as: registry.k8s.io/pause sets `65535:65535` since
/// 3.5, and nothing the program does (block signals, ignore SIGCHLD, wait) needs root.
pub const PAUSE_USER: &str = "65535:65535";

impl Image {
    /// An image from its configuration JSON and its layers. The config must be a JSON
    /// object with `architecture`, `os` and one `rootfs.diff_ids` entry per layer, equal to
    /// the layers' digests: an image whose config disagrees with its layers is refused
    /// here rather than pushed for no client to read.
    pub fn new(config: Vec<u8>, layers: Vec<Layer>) -> Result<Image> {
        #[derive(serde::Deserialize)]
        struct Cfg {
            architecture: String,
            os: String,
            variant: Option<String>,
            rootfs: RootFs,
        }
        #[derive(serde::Deserialize)]
        struct RootFs {
            diff_ids: Vec<String>,
        }
        let bad = |why: String| Error::Unsupported(format!("the image configuration {why}"));
        let cfg: Cfg =
            serde_json::from_slice(&config).map_err(|e| bad(format!("is not valid ({e})")))?;
        let ids: Vec<String> = layers.iter().map(|l| l.diff_id.to_string()).collect();
        if cfg.rootfs.diff_ids != ids {
            return Err(bad(format!(
                "names {} layer digests (rootfs.diff_ids) that do not match its {} layers",
                cfg.rootfs.diff_ids.len(),
                layers.len()
            )));
        }
        Ok(Image {
            config_digest: Digest::of(&config),
            config,
            platform: PlatformSpec {
                architecture: cfg.architecture,
                os: cfg.os,
                variant: cfg.variant,
            },
            layers,
        })
    }

    /// A one-layer image whose layer holds `payload` as the executable
    /// `/path_in_image` (e.g. `"hello"` → `/hello`), its entrypoint, for `platform`. With
    /// `epoch` (`SOURCE_DATE_EPOCH`) the file's mtime and the config's `created` are set;
    /// without, there are no times and the bytes never change between runs.
    /// `exposed_port` (e.g. `8080/tcp`) goes in `ExposedPorts`.
    pub fn of_payload(
        platform: Platform,
        path_in_image: &str,
        payload: &[u8],
        epoch: Option<u64>,
        exposed_port: Option<&str>,
    ) -> Result<Image> {
        let run = RunConfig {
            exposed_ports: exposed_port.into_iter().map(String::from).collect(),
            ..RunConfig::default()
        };
        Image::of_file(platform, path_in_image, payload, epoch, run)
    }

    /// The image of a built-in program's payload: the program's name as the path, for
    /// `serve` its port in `ExposedPorts`, and for `pause` the user Kubernetes runs its
    /// pause image as ([`PAUSE_USER`]).
    pub fn of_program(
        platform: Platform,
        program: &Program,
        payload: &[u8],
        epoch: Option<u64>,
    ) -> Result<Image> {
        let run = match program {
            Program::Serve(s) => RunConfig {
                exposed_ports: vec![format!("{}/tcp", s.port)],
                ..RunConfig::default()
            },
            Program::Pause => RunConfig {
                user: Some(PAUSE_USER.to_string()),
                ..RunConfig::default()
            },
            Program::Exit(_) | Program::Hello(_) => RunConfig::default(),
        };
        Image::of_file(platform, program.name(), payload, epoch, run)
    }

    /// The one-file image of `payload` at `/path_in_image`, which is its entrypoint, with
    /// `run`'s other settings.
    fn of_file(
        platform: Platform,
        path_in_image: &str,
        payload: &[u8],
        epoch: Option<u64>,
        run: RunConfig,
    ) -> Result<Image> {
        let name = path_in_image.strip_prefix('/').unwrap_or(path_in_image);
        if name.is_empty()
            || name
                .split('/')
                .any(|c| c.is_empty() || c == "." || c == "..")
        {
            return Err(Error::BadPath(path_in_image.to_string()));
        }
        if payload.len() > MAX_PAYLOAD {
            return Err(Error::TooLarge(payload.len() as u64));
        }
        let layer = Layer::tar(tar::tar(&[Entry {
            name,
            mode: EXECUTABLE_MODE,
            mtime: epoch.unwrap_or(0),
            data: payload,
        }])?);
        let run = RunConfig {
            entrypoint: Some(vec![format!("/{name}")]),
            ..run
        };
        let config = configuration_json(platform, &run, &[*layer.diff_id()], epoch);
        Image::new(config, vec![layer])
    }

    /// The configuration JSON bytes.
    pub fn config(&self) -> &[u8] {
        &self.config
    }

    /// The sha256 of [`Image::config`] (Docker's image ID).
    pub fn config_digest(&self) -> &Digest {
        &self.config_digest
    }

    /// The platform the config names.
    pub fn platform(&self) -> &PlatformSpec {
        &self.platform
    }

    /// The layers, base first.
    pub fn layers(&self) -> &[Layer] {
        &self.layers
    }
}

impl Layer {
    /// An uncompressed layer tar held in memory.
    pub fn tar(bytes: Vec<u8>) -> Layer {
        Layer {
            diff_id: Digest::of(&bytes),
            content: Arc::new(LayerContent::Tar(bytes)),
        }
    }

    /// The tar of `entries` (files on disk), read once now to learn its digest and again
    /// each time it is written.
    pub fn entries(entries: Vec<LayerEntry>, progress: &dyn Progress) -> Result<Layer> {
        let size = entries_size(&entries)?;
        let mut h = Hashing::new(io::sink());
        write_entries(&entries, &mut h, progress)?.expect("a sink takes any write");
        Ok(Layer {
            diff_id: h.digest(),
            content: Arc::new(LayerContent::Entries { entries, size }),
        })
    }

    /// A layer stored in a file, whose uncompressed digest the image's config gives.
    pub fn stored(blob: StoredBlob, diff_id: Digest) -> Layer {
        Layer {
            diff_id,
            content: Arc::new(LayerContent::Stored(blob)),
        }
    }

    /// The sha256 of the uncompressed layer tar.
    pub fn diff_id(&self) -> &Digest {
        &self.diff_id
    }

    pub fn content(&self) -> &LayerContent {
        &self.content
    }

    /// The size of the uncompressed tar, when it is known without reading it.
    pub fn tar_size(&self) -> Option<u64> {
        match &*self.content {
            LayerContent::Tar(t) => Some(t.len() as u64),
            LayerContent::Entries { size, .. } => Some(*size),
            LayerContent::Stored(b) if b.compression == Compression::None => Some(b.size),
            LayerContent::Stored(_) => None,
        }
    }

    /// The stored blob, when this layer is one.
    pub fn stored_blob(&self) -> Option<&StoredBlob> {
        match &*self.content {
            LayerContent::Stored(b) => Some(b),
            _ => None,
        }
    }

    /// Writes the uncompressed tar to `w` and checks that it hashes to
    /// [`Layer::diff_id`] (a file that changed since it was first read is an error, not a
    /// wrong image). A write error comes back inside `Ok`, for the caller to name its
    /// sink.
    pub fn write_tar(&self, w: &mut dyn Write, progress: &dyn Progress) -> Result<io::Result<()>> {
        let mut h = Hashing::new(w);
        let written = match &*self.content {
            LayerContent::Tar(t) => {
                let r = h.write_all(t);
                progress.advance(t.len() as u64);
                r
            }
            LayerContent::Entries { entries, .. } => write_entries(entries, &mut h, progress)?,
            LayerContent::Stored(b) => {
                let mut r = b
                    .compression
                    .reader(b.open()?)
                    .map_err(Error::read(&b.path))?;
                copy(&mut r, &mut h, progress, &b.path)?
            }
        };
        if written.is_ok() && h.digest() != self.diff_id {
            return Err(Error::Changed {
                path: match &*self.content {
                    LayerContent::Stored(b) => b.path.clone(),
                    _ => PathBuf::from("the packed files"),
                },
            });
        }
        Ok(written)
    }

    /// Writes the layer as a blob compressed as `compression` to `w`, returning the
    /// blob's digest and size. A stored blob already compressed that way is copied as it
    /// is (and checked against its digest); anything else is compressed here, by the one
    /// [`Compression::writer`], so the same layer gives the same blob on every path.
    pub fn write_blob(
        &self,
        compression: Compression,
        w: &mut dyn Write,
        progress: &dyn Progress,
    ) -> Result<io::Result<(Digest, u64)>> {
        let mut out = Hashing::new(w);
        if let LayerContent::Stored(b) = &*self.content {
            if b.compression == compression {
                let mut r = b.open()?;
                if let Err(e) = copy(&mut r, &mut out, progress, &b.path)? {
                    return Ok(Err(e));
                }
                let (digest, size) = (out.digest(), out.count);
                if digest != b.digest {
                    return Err(Error::Changed {
                        path: b.path.clone(),
                    });
                }
                return Ok(Ok((digest, size)));
            }
        }
        let mut c = match compression.writer(&mut out) {
            Ok(c) => c,
            Err(e) => return Ok(Err(e)),
        };
        if let Err(e) = self.write_tar(&mut c, progress)? {
            return Ok(Err(e));
        }
        if let Err(e) = c.finish() {
            return Ok(Err(e));
        }
        Ok(Ok((out.digest(), out.count)))
    }
}

impl StoredBlob {
    /// A reader of exactly this blob's bytes.
    pub fn open(&self) -> Result<io::Take<File>> {
        let mut f = File::open(&self.path).map_err(Error::read(&self.path))?;
        f.seek(SeekFrom::Start(self.offset))
            .map_err(Error::read(&self.path))?;
        Ok(f.take(self.size))
    }
}

/// Copies `r` to `w` in 256 KiB pieces, telling `progress`; a read error is an error on
/// `path`, a write error comes back inside `Ok`.
fn copy(
    r: &mut dyn Read,
    w: &mut dyn Write,
    progress: &dyn Progress,
    path: &std::path::Path,
) -> Result<io::Result<()>> {
    let mut buf = vec![0u8; 256 << 10];
    loop {
        let n = match r.read(&mut buf) {
            Ok(0) => return Ok(Ok(())),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Error::read(path)(e)),
        };
        if let Err(e) = w.write_all(&buf[..n]) {
            return Ok(Err(e));
        }
        progress.advance(n as u64);
    }
}

/// Counts and hashes what passes through to `W`.
pub(crate) struct Hashing<W> {
    inner: W,
    hash: Sha256,
    pub count: u64,
}

impl<W: Write> Hashing<W> {
    pub fn new(inner: W) -> Self {
        Hashing {
            inner,
            hash: Sha256::new(),
            count: 0,
        }
    }

    /// The sha256 of what has passed so far.
    pub fn digest(&self) -> Digest {
        Digest::from_bytes(self.hash.clone().finalize().into())
    }
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hash.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::progress::NoProgress;

    #[test]
    fn builds_a_deterministic_image() {
        let a = Image::of_payload(Platform::Amd64, "hello", b"12345678", None, None).unwrap();
        let b = Image::of_payload(Platform::Amd64, "/hello", b"12345678", None, None).unwrap();
        assert_eq!(a.config(), b.config());
        let LayerContent::Tar(t) = a.layers()[0].content() else {
            panic!()
        };
        assert_eq!(t.len(), 512 * 2);
        assert_eq!(*a.layers()[0].diff_id(), Digest::of(t));
        let cfg: serde_json::Value = serde_json::from_slice(a.config()).unwrap();
        assert_eq!(
            cfg["rootfs"]["diff_ids"][0],
            a.layers()[0].diff_id().to_string()
        );
        assert_eq!(a.platform().name(), "linux/amd64");
    }

    #[test]
    fn rejects_bad_paths_and_configs_that_disagree_with_layers() {
        for p in ["", "/", "a/../b", "a//b", "./a"] {
            assert!(matches!(
                Image::of_payload(Platform::Amd64, p, b"", None, None),
                Err(Error::BadPath(_))
            ));
        }
        let l = Layer::tar(vec![0; 1024]);
        assert!(Image::new(b"{not json".to_vec(), vec![l.clone()]).is_err());
        let cfg =
            br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#;
        assert!(Image::new(cfg.to_vec(), vec![l]).is_err());
    }

    #[test]
    fn blobs_are_the_same_however_measured() {
        let img = Image::of_payload(Platform::I386, "x", b"abc", Some(1), None).unwrap();
        let l = &img.layers()[0];
        for c in Compression::ALL {
            let mut v = Vec::new();
            let (d, n) = l.write_blob(c, &mut v, &NoProgress).unwrap().unwrap();
            assert_eq!((d, n), (Digest::of(&v), v.len() as u64));
            let mut again = Vec::new();
            l.write_blob(c, &mut again, &NoProgress).unwrap().unwrap();
            assert_eq!(again, v, "{c}: the same bytes every time");
        }
    }
}
