//! The `docker load` archive (Docker's "image tarball", the format `docker save` wrote
//! before Docker 25), cut to what `docker load` (20.10) and `podman load` (4.3) read:
//!
//! ```text
//! manifest.json   [{"Config":"c","RepoTags":["repo:tag"],"Layers":["l"]}]
//! c               the image configuration
//! l               the uncompressed layer tar
//! ```
//!
//! (in that order, which compresses best: by 2 to 8 bytes of the six orders for a 45-byte
//! payload after Zopfli). No `repositories` file, no `<id>/VERSION`, `<id>/json`, no
//! directories: `docker load` reads only `manifest.json` and the paths it names, and names
//! are free, so one letter each (a second layer would be `l1`, and so on). The whole tar
//! is then compressed: gzip is what `docker load` reads directly; `podman load` 4.3 needs
//! none; Docker 20.10 cannot read zstd. Members have empty permission bits (2 bytes less
//! after Zopfli): `docker load` extracts them as root and podman reads them straight from
//! the tar stream. One image only: a docker archive has no index.

use serde::Serialize;

use super::output::Sink;
use super::tarball::{layer_member, write_stream, Wrapping};
use super::{config_descriptor, uncompressed_layer, Destination};
use crate::codec::tar::write_member;
use crate::image::document::{Descriptor, Document, Style};
use crate::image::{Image, Layer, Reference};
use crate::progress::Progress;
use crate::{Error, Result};

/// The file `docker load` reads first.
pub const MANIFEST_JSON: &str = "manifest.json";
/// Our name for the config file in the archive.
pub const CONFIG_NAME: &str = "c";
/// Our name for the (first) layer tar in the archive.
pub const LAYER_NAME: &str = "l";
/// Permission bits of the archive's members: none.
pub const MEMBER_MODE: u32 = 0;

/// One element of `manifest.json`; fields in the order `docker save` writes them.
#[derive(Serialize)]
struct ManifestItem<'a> {
    #[serde(rename = "Config")]
    config: &'a str,
    #[serde(rename = "RepoTags")]
    repo_tags: [&'a str; 1],
    #[serde(rename = "Layers")]
    layers: &'a [String],
}

fn layer_name(i: usize) -> String {
    if i == 0 {
        LAYER_NAME.to_string()
    } else {
        format!("{LAYER_NAME}{i}")
    }
}

/// `manifest.json` for one image with config `c` and `layers` layers, tagged `repo_tag`.
pub fn manifest_json(repo_tag: &str, layers: usize) -> Vec<u8> {
    let names: Vec<String> = (0..layers).map(layer_name).collect();
    serde_json::to_vec(&[ManifestItem {
        config: CONFIG_NAME,
        repo_tags: [repo_tag],
        layers: &names,
    }])
    .expect("manifest.json always serializes")
}

/// A docker archive being written to a [`Sink`].
pub struct DockerArchive {
    sink: Option<Sink>,
    wrapping: Wrapping,
    repo_tag: String,
    layers: Vec<Layer>,
    config: Option<Vec<u8>>,
}

impl DockerArchive {
    pub fn new(sink: Sink, wrapping: Wrapping, tag: &Reference) -> DockerArchive {
        DockerArchive {
            sink: Some(sink),
            wrapping,
            repo_tag: tag.repo_tag(),
            layers: Vec::new(),
            config: None,
        }
    }
}

impl Destination for DockerArchive {
    fn put_layer(&mut self, layer: &Layer, _: &dyn Progress) -> Result<Descriptor> {
        self.layers.push(layer.clone());
        uncompressed_layer(Style::LAYOUT, layer)
    }

    fn put_config(&mut self, image: &Image) -> Result<Descriptor> {
        if self.config.is_some() {
            return Err(Error::Unsupported(
                "a docker archive holds one platform's image; write an OCI layout for several"
                    .into(),
            ));
        }
        self.config = Some(image.config().to_vec());
        Ok(config_descriptor(Style::LAYOUT, image))
    }

    fn put_manifest(&mut self, _: &Document, _: &Image, _: bool) -> Result<()> {
        Ok(())
    }

    fn put_index(&mut self, _: &Document) -> Result<()> {
        unreachable!("put_config refuses a second image")
    }

    fn commit(&mut self, _: &Descriptor, _: &[Descriptor], progress: &dyn Progress) -> Result<()> {
        let sink = self.sink.take().expect("committed once");
        let config = self.config.take().expect("an image was put");
        let manifest = manifest_json(&self.repo_tag, self.layers.len());
        let layers = std::mem::take(&mut self.layers);
        progress.start("writing", layers.iter().filter_map(Layer::tar_size).sum());
        write_stream(sink, self.wrapping, &mut |w| {
            for (name, data) in [(MANIFEST_JSON, &manifest), (CONFIG_NAME, &config)] {
                if let Err(e) = write_member(w, name, MEMBER_MODE, data)? {
                    return Ok(Err(e));
                }
            }
            for (i, layer) in layers.iter().enumerate() {
                if let Err(e) = layer_member(w, &layer_name(i), MEMBER_MODE, layer, progress)? {
                    return Ok(Err(e));
                }
            }
            Ok(Ok(()))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::Compression;
    use crate::dest::{write, Output};
    use crate::image::{Digest, ImageSet};
    use crate::progress::NoProgress;
    use smidge_elf::Platform;
    use std::io::Read;

    fn sample() -> (ImageSet, Reference) {
        (
            ImageSet::new(vec![Image::of_payload(
                Platform::Amd64,
                "hello",
                b"12345678",
                None,
                None,
            )
            .unwrap()]),
            "smidge/t:latest".parse().unwrap(),
        )
    }

    /// The archive bytes, written through a file as the binary does.
    pub(crate) fn archive(set: &ImageSet, tag: &Reference, wrapping: Wrapping) -> Vec<u8> {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a");
        let sink = Sink::open(&Output::File(p.clone()), 0o644).unwrap();
        write(
            set,
            &mut DockerArchive::new(sink, wrapping, tag),
            &NoProgress,
        )
        .unwrap();
        std::fs::read(p).unwrap()
    }

    fn plain() -> Wrapping {
        Wrapping {
            compression: Compression::None,
            shell_line: false,
        }
    }

    fn gzip() -> Wrapping {
        Wrapping {
            compression: Compression::Gzip,
            shell_line: false,
        }
    }

    /// Any change to a byte of the archive shows here. If it is intended, check that
    /// `docker load` and `podman load` still accept the result and update the pins and the
    /// sizes.
    #[test]
    fn golden_bytes() {
        let (set, tag) = sample();
        let plain = archive(&set, &tag, plain());
        let gz = archive(&set, &tag, gzip());
        assert_eq!(
            (plain.len(), Digest::of(&plain).to_string()),
            (
                3584,
                "sha256:fc29d3eabdbe60501fcc1eff95bb0cc7e3319e99715570a5b734bc17ed0dbd2a"
                    .to_string()
            )
        );
        assert_eq!(
            (gz.len(), Digest::of(&gz).to_string()),
            (
                301,
                "sha256:5f50137a3bda7223730362dd992600698beefcce22263bacea052698ac62bce4"
                    .to_string()
            )
        );
        assert_eq!(
            String::from_utf8(manifest_json(&tag.repo_tag(), 1)).unwrap(),
            r#"[{"Config":"c","RepoTags":["smidge/t:latest"],"Layers":["l"]}]"#
        );
        let line = archive(
            &set,
            &tag,
            Wrapping {
                compression: Compression::Gzip,
                shell_line: true,
            },
        );
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::STANDARD.encode(&gz);
        assert_eq!(
            String::from_utf8(line).unwrap(),
            format!("echo {b64} | base64 -d | docker load\n")
        );
    }

    #[test]
    fn reads_back_with_a_real_tar_reader() {
        let (set, tag) = sample();
        let gz = archive(&set, &tag, gzip());
        let mut plain = vec![];
        flate2::read::GzDecoder::new(&gz[..])
            .read_to_end(&mut plain)
            .unwrap();
        assert_eq!(plain, archive(&set, &tag, super::tests::plain()));
        let mut members = vec![];
        for e in ::tar::Archive::new(&plain[..]).entries().unwrap() {
            let mut e = e.unwrap();
            let mut data = vec![];
            e.read_to_end(&mut data).unwrap();
            members.push((e.path().unwrap().display().to_string(), data));
        }
        let names: Vec<_> = members.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["manifest.json", "c", "l"]);
        let img = &set.images[0];
        assert_eq!(members[1].1, img.config());
        assert_eq!(Digest::of(&members[2].1), *img.layers()[0].diff_id());
        let mut layer = ::tar::Archive::new(&members[2].1[..]);
        let mut files = vec![];
        for e in layer.entries().unwrap() {
            let mut e = e.unwrap();
            let mut data = vec![];
            e.read_to_end(&mut data).unwrap();
            let h = e.header();
            assert!(h.entry_type().is_file());
            files.push((
                h.path().unwrap().display().to_string(),
                h.mode().unwrap(),
                h.size().unwrap(),
                data,
            ));
        }
        assert_eq!(files, [("hello".into(), 0o755, 8, b"12345678".to_vec())]);
    }

    #[test]
    fn one_platform_only() {
        let (mut set, tag) = sample();
        set.images
            .push(Image::of_payload(Platform::I386, "hello", b"1", None, None).unwrap());
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a");
        let sink = Sink::open(&Output::File(p.clone()), 0o644).unwrap();
        let e = write(
            &set,
            &mut DockerArchive::new(sink, gzip(), &tag),
            &NoProgress,
        )
        .unwrap_err();
        assert!(e.is_usage(), "{e}");
        assert!(!p.exists(), "no file");
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            0,
            "no temporary file"
        );
    }
}
