//! The OCI image layout (image-spec `image-layout.md`), as a tar ([`OciArchive`]) or as a
//! directory ([`OciDir`]):
//!
//! ```text
//! oci-layout                {"imageLayoutVersion":"1.0.0"}
//! index.json                one descriptor, named: the image manifest, or for several
//!                           platforms the image index (plus, when asked, one named
//!                           descriptor per platform for umoci)
//! blobs/sha256/<hex>        the manifests, configs and layers (and that index)
//! ```
//!
//! Where the compression applies (chosen by testing skopeo 1.9, umoci 0.4.7, podman 4.3 and
//! `skopeo copy … docker-daemon:` into docker 20.10, all of which accept every form below):
//!
//! - the tar: to the *outer* stream. `skopeo … oci-archive:x.tar.gz` and
//!   `podman load -i x.tar.gz` detect gzip and read it. The layer blobs inside stay an
//!   uncompressed `application/vnd.oci.image.layer.v1.tar`: a gzip inside a gzip would add
//!   its 18-byte frame and hide the layer's zero padding from the outer compression.
//!   Blobs precede nothing that names them except `index.json`, so the tar is written in
//!   one pass at commit: `oci-layout`, `index.json`, then per image its manifest, config
//!   and layers, then the index.
//! - the directory: there is no outer stream, so to each *layer blob* (`…tar+gzip`,
//!   `…tar+zstd`), compressed straight into its file.
//!
//! Files of the layout keep mode 0644 (unlike the docker archive's empty modes): skopeo
//! extracts an oci-archive to disk, possibly rootless, where a mode-0 file could not be
//! read back.

use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use super::output::{parent_dir, Sink};
use super::tarball::{layer_member, write_stream, Wrapping};
use super::{config_descriptor, uncompressed_layer, Destination};
use crate::codec::tar::write_member;
use crate::codec::Compression;
use crate::image::document::{layout_index, Descriptor, Document, Names, Style};
use crate::image::{Digest, Image, Layer, Reference};
use crate::progress::Progress;
use crate::temp::TempDir;
use crate::{Error, Result};

/// `oci-layout`'s content.
pub const OCI_LAYOUT: &[u8] = br#"{"imageLayoutVersion":"1.0.0"}"#;

/// Permission bits of every file of the layout.
pub const FILE_MODE: u32 = 0o644;

/// How a layout names what it holds.
#[derive(Clone, Debug)]
pub struct LayoutNames {
    pub names: Names,
    /// Also name each platform's manifest `<tag>-<arch>[-<variant>]` (for umoci).
    pub platform_tags: bool,
}

impl LayoutNames {
    pub fn new(tag: &Reference, platform_tags: bool) -> LayoutNames {
        LayoutNames {
            names: Names {
                tag: tag.tag_or_latest().to_string(),
                repo_tag: tag.repo_tag(),
            },
            platform_tags,
        }
    }

    fn index_json(&self, top: &Descriptor, manifests: &[Descriptor]) -> Vec<u8> {
        let tags = if self.platform_tags && manifests.len() > 1 {
            manifests
        } else {
            &[]
        };
        layout_index(top, &self.names, tags)
    }
}

fn blob_path(d: &Digest) -> String {
    format!("blobs/sha256/{}", d.hex())
}

/// One blob of the layout tar, in the order it is written.
enum Blob {
    Bytes(Digest, Vec<u8>),
    Layer(Layer),
}

/// An OCI layout tar being written to a [`Sink`].
pub struct OciArchive {
    sink: Option<Sink>,
    wrapping: Wrapping,
    names: LayoutNames,
    /// Per image: manifest first, then config and layers.
    blobs: Vec<Blob>,
    pending: Vec<Blob>,
}

impl OciArchive {
    pub fn new(sink: Sink, compression: Compression, names: LayoutNames) -> OciArchive {
        OciArchive {
            sink: Some(sink),
            wrapping: Wrapping {
                compression,
                shell_line: false,
            },
            names,
            blobs: Vec::new(),
            pending: Vec::new(),
        }
    }
}

impl Destination for OciArchive {
    fn put_layer(&mut self, layer: &Layer, _: &dyn Progress) -> Result<Descriptor> {
        self.pending.push(Blob::Layer(layer.clone()));
        uncompressed_layer(Style::LAYOUT, layer)
    }

    fn put_config(&mut self, image: &Image) -> Result<Descriptor> {
        self.pending.insert(
            0,
            Blob::Bytes(*image.config_digest(), image.config().to_vec()),
        );
        Ok(config_descriptor(Style::LAYOUT, image))
    }

    fn put_manifest(&mut self, manifest: &Document, _: &Image, _: bool) -> Result<()> {
        self.blobs
            .push(Blob::Bytes(manifest.digest, manifest.bytes.clone()));
        self.blobs.append(&mut self.pending);
        Ok(())
    }

    fn put_index(&mut self, index: &Document) -> Result<()> {
        self.blobs
            .push(Blob::Bytes(index.digest, index.bytes.clone()));
        Ok(())
    }

    fn commit(
        &mut self,
        top: &Descriptor,
        manifests: &[Descriptor],
        progress: &dyn Progress,
    ) -> Result<()> {
        let sink = self.sink.take().expect("committed once");
        let index = self.names.index_json(top, manifests);
        let blobs = std::mem::take(&mut self.blobs);
        let total = blobs
            .iter()
            .filter_map(|b| match b {
                Blob::Layer(l) => l.tar_size(),
                Blob::Bytes(..) => None,
            })
            .sum();
        progress.start("writing", total);
        write_stream(sink, self.wrapping, &mut |w| {
            for (name, data) in [("oci-layout", OCI_LAYOUT), ("index.json", &index)] {
                if let Err(e) = write_member(w, name, FILE_MODE, data)? {
                    return Ok(Err(e));
                }
            }
            let mut seen = Vec::new();
            for blob in &blobs {
                let digest = match blob {
                    Blob::Bytes(d, _) => *d,
                    Blob::Layer(l) => *l.diff_id(),
                };
                if seen.contains(&digest) {
                    continue;
                }
                seen.push(digest);
                let r = match blob {
                    Blob::Bytes(d, bytes) => write_member(w, &blob_path(d), FILE_MODE, bytes)?,
                    Blob::Layer(l) => {
                        layer_member(w, &blob_path(l.diff_id()), FILE_MODE, l, progress)?
                    }
                };
                if let Err(e) = r {
                    return Ok(Err(e));
                }
            }
            Ok(Ok(()))
        })
    }
}

/// An OCI layout directory being written: built in a temporary sibling directory and
/// renamed into place at commit. The target must not exist or be an empty directory;
/// anything else (an existing layout included) is refused, so nothing of the user's is
/// ever merged into or overwritten.
pub struct OciDir {
    dir: PathBuf,
    tmp: Option<TempDir>,
    compression: Compression,
    names: LayoutNames,
}

impl OciDir {
    /// Checks `dir` and makes the temporary directory beside it. Layers are stored
    /// compressed as `compression`.
    pub fn new(dir: &Path, compression: Compression, names: LayoutNames) -> Result<OciDir> {
        let werr = Error::write(dir);
        match fs::read_dir(dir) {
            Ok(mut entries) => {
                if entries.next().is_some() {
                    return Err(Error::TargetNotEmpty(dir.to_path_buf()));
                }
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) if e.kind() == io::ErrorKind::NotADirectory => {
                return Err(Error::TargetNotEmpty(dir.to_path_buf()));
            }
            Err(e) => return Err(werr(e)),
        }
        let tmp = TempDir::new_in(parent_dir(dir), ".smidge-oci-").map_err(Error::write(dir))?;
        // create_dir, not create_dir_all: once temp::remove_all has removed the temporary
        // directory, nothing here may make it again.
        fs::create_dir(tmp.path().join("blobs"))
            .and_then(|()| fs::create_dir(tmp.path().join("blobs/sha256")))
            .map_err(Error::write(dir))?;
        Ok(OciDir {
            dir: dir.to_path_buf(),
            tmp: Some(tmp),
            compression,
            names,
        })
    }

    fn root(&self) -> &Path {
        self.tmp.as_ref().expect("not committed").path()
    }

    fn put_file(&self, name: &str, data: &[u8]) -> Result<()> {
        let p = self.root().join(name);
        fs::write(&p, data)
            .and_then(|()| fs::set_permissions(&p, fs::Permissions::from_mode(FILE_MODE)))
            .map_err(Error::write(&self.dir))
    }
}

impl Destination for OciDir {
    fn put_layer(&mut self, layer: &Layer, progress: &dyn Progress) -> Result<Descriptor> {
        let werr = || Error::write(&self.dir);
        progress.start("writing", layer.tar_size().unwrap_or(0));
        let part = self.root().join("blobs/sha256/.layer");
        let file = fs::File::create(&part).map_err(werr())?;
        let mut w = io::BufWriter::with_capacity(256 << 10, file);
        let (digest, size) = layer
            .write_blob(self.compression, &mut w, progress)?
            .and_then(|r| w.flush().map(|()| r))
            .map_err(werr())?;
        drop(w);
        fs::set_permissions(&part, fs::Permissions::from_mode(FILE_MODE)).map_err(werr())?;
        fs::rename(&part, self.root().join(blob_path(&digest))).map_err(werr())?;
        Ok(Descriptor::new(
            Style::LAYOUT.media_types.layer(self.compression),
            digest,
            size,
        ))
    }

    fn put_config(&mut self, image: &Image) -> Result<Descriptor> {
        self.put_file(&blob_path(image.config_digest()), image.config())?;
        Ok(config_descriptor(Style::LAYOUT, image))
    }

    fn put_manifest(&mut self, manifest: &Document, _: &Image, _: bool) -> Result<()> {
        self.put_file(&blob_path(&manifest.digest), &manifest.bytes)
    }

    fn put_index(&mut self, index: &Document) -> Result<()> {
        self.put_file(&blob_path(&index.digest), &index.bytes)
    }

    fn commit(
        &mut self,
        top: &Descriptor,
        manifests: &[Descriptor],
        _: &dyn Progress,
    ) -> Result<()> {
        self.put_file("oci-layout", OCI_LAYOUT)?;
        self.put_file("index.json", &self.names.index_json(top, manifests))?;
        fs::set_permissions(self.root(), fs::Permissions::from_mode(0o755))
            .map_err(Error::write(&self.dir))?;
        // rename(2) replaces an empty directory; a non-empty one (raced in) makes it fail,
        // and the temporary directory is removed.
        let tmp = self.tmp.take().expect("committed once");
        tmp.persist(&self.dir).map_err(Error::write(&self.dir))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dest::{write, Output};
    use crate::image::ImageSet;
    use crate::progress::NoProgress;
    use smidge_elf::Platform;
    use std::io::Read;

    fn set(platforms: &[Platform]) -> (ImageSet, Reference) {
        (
            ImageSet::new(
                platforms
                    .iter()
                    .map(|&p| Image::of_payload(p, "hello", b"12345678", None, None).unwrap())
                    .collect(),
            ),
            "smidge/t:latest".parse().unwrap(),
        )
    }

    fn archive(set: &ImageSet, tag: &Reference, c: Compression) -> Vec<u8> {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a");
        let sink = Sink::open(&Output::File(p.clone()), 0o644).unwrap();
        write(
            set,
            &mut OciArchive::new(sink, c, LayoutNames::new(tag, false)),
            &NoProgress,
        )
        .unwrap();
        std::fs::read(p).unwrap()
    }

    #[test]
    fn archive_holds_the_layout() {
        let (s, tag) = set(&[Platform::Amd64]);
        let gz = archive(&s, &tag, Compression::Gzip);
        assert_eq!(gz, archive(&s, &tag, Compression::Gzip));
        let mut plain = vec![];
        flate2::read::GzDecoder::new(&gz[..])
            .read_to_end(&mut plain)
            .unwrap();
        assert_eq!(plain, archive(&s, &tag, Compression::None));
        let mut ar = ::tar::Archive::new(&plain[..]);
        let mut names = vec![];
        for e in ar.entries().unwrap() {
            let mut e = e.unwrap();
            let name = e.path().unwrap().display().to_string();
            assert_eq!(e.header().mode().unwrap(), 0o644);
            let mut data = vec![];
            e.read_to_end(&mut data).unwrap();
            if let Some(hex) = name.strip_prefix("blobs/sha256/") {
                assert_eq!(Digest::of(&data).hex(), hex);
            }
            names.push(name);
        }
        assert_eq!(names[..2], ["oci-layout", "index.json"]);
        assert_eq!(names.len(), 5);
        let layer = format!("blobs/sha256/{}", s.images[0].layers()[0].diff_id().hex());
        assert!(names.contains(&layer), "layer stored uncompressed");
    }

    #[test]
    fn dir_is_written_whole_and_never_over_something() {
        let (s, tag) = set(&[Platform::Amd64]);
        let parent = tempfile::tempdir().unwrap();
        let dir = parent.path().join("layout");
        let write_dir = |dir: &Path, c| {
            let mut d = OciDir::new(dir, c, LayoutNames::new(&tag, false))?;
            write(&s, &mut d, &NoProgress)
        };
        write_dir(&dir, Compression::Gzip).unwrap();
        assert_eq!(fs::read(dir.join("oci-layout")).unwrap(), OCI_LAYOUT);
        let index: oci_spec::image::ImageIndex =
            serde_json::from_slice(&fs::read(dir.join("index.json")).unwrap()).unwrap();
        let m = &index.manifests()[0];
        let manifest: oci_spec::image::ImageManifest = serde_json::from_slice(
            &fs::read(dir.join("blobs/sha256").join(m.digest().digest())).unwrap(),
        )
        .unwrap();
        assert_eq!(
            manifest.layers()[0].media_type(),
            &oci_spec::image::MediaType::ImageLayerGzip
        );
        assert_eq!(fs::read_dir(dir.join("blobs/sha256")).unwrap().count(), 3);
        assert_eq!(fs::read_dir(parent.path()).unwrap().count(), 1);
        assert!(matches!(
            write_dir(&dir, Compression::Gzip),
            Err(Error::TargetNotEmpty(_))
        ));
        let file = parent.path().join("f");
        fs::write(&file, b"").unwrap();
        assert!(matches!(
            write_dir(&file, Compression::None),
            Err(Error::TargetNotEmpty(_))
        ));
        let empty = parent.path().join("empty");
        fs::create_dir(&empty).unwrap();
        write_dir(&empty, Compression::Zstd).unwrap();
        assert!(empty.join("index.json").is_file());
        assert_eq!(fs::read_dir(parent.path()).unwrap().count(), 3);
    }

    /// issue #10: index.json holds one descriptor, the index for several platforms;
    /// per-platform names only when asked.
    #[test]
    fn multi_platform_index_json_has_one_descriptor() {
        let (s, tag) = set(&[Platform::Amd64, Platform::Arm64]);
        for tags in [false, true] {
            let parent = tempfile::tempdir().unwrap();
            let dir = parent.path().join("l");
            let mut d = OciDir::new(&dir, Compression::Gzip, LayoutNames::new(&tag, tags)).unwrap();
            let top = write(&s, &mut d, &NoProgress).unwrap();
            let index: serde_json::Value =
                serde_json::from_slice(&fs::read(dir.join("index.json")).unwrap()).unwrap();
            let ms = index["manifests"].as_array().unwrap();
            assert_eq!(ms.len(), if tags { 3 } else { 1 });
            assert_eq!(ms[0]["digest"], top.digest.to_string());
            assert_eq!(ms[0]["mediaType"], crate::image::media::OCI_INDEX);
            if tags {
                assert_eq!(
                    ms[2]["annotations"]["org.opencontainers.image.ref.name"],
                    "latest-arm64-v8"
                );
            }
        }
    }
}
