//! The `docker load` archive (Docker's "image tarball", the format `docker save` wrote
//! before Docker 25), cut to what `docker load` (20.10) and `podman load` (4.3) read:
//!
//! ```text
//! manifest.json   [{"Config":"c","RepoTags":["repo:tag"],"Layers":["l"]}]
//! c               the image configuration
//! l               the uncompressed layer tar
//! ```
//!
//! (in that order, which compresses best). No `repositories` file, no `<id>/VERSION`, `<id>/json`, no directories: `docker load`
//! reads only `manifest.json` and the paths it names, and names are free, so one letter
//! each. The whole tar is then compressed ([`Compression::Gzip`] is what `docker load`
//! reads directly; `podman load` 4.3 needs [`Compression::None`]).

use serde::Serialize;

use super::tar::{self, Entry};
use super::Compression;
use crate::image::{Image, Reference};

/// The file `docker load` reads first.
pub const MANIFEST_JSON: &str = "manifest.json";
/// Our name for the config file in the archive.
pub const CONFIG_NAME: &str = "c";
/// Our name for the layer tar in the archive.
pub const LAYER_NAME: &str = "l";
/// Permission bits of the archive's members: none (an empty field, 2 bytes less after
/// Zopfli). `docker load` extracts them as root and podman reads them straight from the
/// tar stream, so neither needs to be able to open them as a non-root owner. (The OCI
/// layout tar, which skopeo may extract rootless, keeps 0644.)
pub const MEMBER_MODE: u32 = 0;

/// One element of `manifest.json`; fields in the order `docker save` writes them.
#[derive(Serialize)]
struct ManifestItem<'a> {
    #[serde(rename = "Config")]
    config: &'a str,
    #[serde(rename = "RepoTags")]
    repo_tags: [&'a str; 1],
    #[serde(rename = "Layers")]
    layers: [&'a str; 1],
}

/// `manifest.json` for one image with config `c`, layer `l`, tagged `repo_tag`.
pub fn manifest_json(repo_tag: &str) -> Vec<u8> {
    serde_json::to_vec(&[ManifestItem {
        config: CONFIG_NAME,
        repo_tags: [repo_tag],
        layers: [LAYER_NAME],
    }])
    .expect("manifest.json always serializes")
}

/// The uncompressed archive.
pub fn docker_tar(image: &Image, tag: &Reference) -> Vec<u8> {
    let manifest = manifest_json(&tag.repo_tag());
    let entry = |name, data| Entry {
        name,
        mode: MEMBER_MODE,
        mtime: 0,
        data,
    };
    // Member order chosen by measurement: manifest.json, the config, then the layer gives
    // Zopfli the shortest output of the six orders (by 2 to 8 bytes for a 45-byte payload).
    tar::tar(&[
        entry(MANIFEST_JSON, &manifest),
        entry(CONFIG_NAME, image.config_json()),
        entry(LAYER_NAME, image.layer_tar()),
    ])
    .expect("member names are short and Image caps the payload size")
}

/// The archive `docker load` reads, compressed as asked.
pub fn docker_archive(image: &Image, tag: &Reference, compression: Compression) -> Vec<u8> {
    compression.compress(&docker_tar(image, tag))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::Digest;
    use smidge_elf::Platform;
    use std::io::Read;

    fn sample() -> (Image, Reference) {
        (
            Image::with_epoch(Platform::Amd64, "hello", b"12345678", None).unwrap(),
            "smidge/t:latest".parse().unwrap(),
        )
    }

    /// Any change to a byte of the archive shows here. If it is intended, check that
    /// `docker load` and `podman load` still accept the result (see `archive::samples`)
    /// and update the pins and the sizes.
    #[test]
    fn golden_bytes() {
        let (img, tag) = sample();
        let plain = docker_archive(&img, &tag, Compression::None);
        let gz = docker_archive(&img, &tag, Compression::Gzip);
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
            String::from_utf8(manifest_json(&tag.repo_tag())).unwrap(),
            r#"[{"Config":"c","RepoTags":["smidge/t:latest"],"Layers":["l"]}]"#
        );
    }

    #[test]
    fn deterministic() {
        let (a, tag) = sample();
        let (b, _) = sample();
        for c in [Compression::None, Compression::Gzip] {
            assert_eq!(docker_archive(&a, &tag, c), docker_archive(&b, &tag, c));
        }
    }

    #[test]
    fn reads_back_with_a_real_tar_reader() {
        let (img, tag) = sample();
        let gz = docker_archive(&img, &tag, Compression::Gzip);
        let mut plain = vec![];
        flate2::read::GzDecoder::new(&gz[..])
            .read_to_end(&mut plain)
            .unwrap();
        assert_eq!(plain, docker_archive(&img, &tag, Compression::None));
        let mut members = vec![];
        for e in ::tar::Archive::new(&plain[..]).entries().unwrap() {
            let mut e = e.unwrap();
            let mut data = vec![];
            e.read_to_end(&mut data).unwrap();
            members.push((e.path().unwrap().display().to_string(), data));
        }
        let names: Vec<_> = members.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["manifest.json", "c", "l"]);
        assert_eq!(members[1].1, img.config_json());
        assert_eq!(members[2].1, img.layer_tar());
        // The layer: one executable file, /hello.
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
}
