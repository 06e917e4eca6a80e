//! The `docker load` archive (Docker's "image tarball", the format `docker save` wrote
//! before Docker 25), cut to what `docker load` (20.10) and `podman load` (4.3) read:
//!
//! ```text
//! manifest.json   [{"Config":"c","RepoTags":["repo:tag"],"Layers":["l"]}]
//! c               the image configuration
//! l               the uncompressed layer tar
//! ```
//!
//! No `repositories` file, no `<id>/VERSION`, `<id>/json`, no directories: `docker load`
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
/// Permission bits of the archive's members.
pub const MEMBER_MODE: u32 = 0o644;

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
    // Member order chosen by measurement (see the golden test): the config first, then the
    // layer, then manifest.json gives Zopfli the shortest output of the six orders.
    tar::tar(&[
        entry(CONFIG_NAME, image.config_json()),
        entry(LAYER_NAME, image.layer_tar()),
        entry(MANIFEST_JSON, &manifest),
    ])
    .expect("member names are short and Image caps the payload size")
}

/// The archive `docker load` reads, compressed as asked.
pub fn docker_archive(image: &Image, tag: &Reference, compression: Compression) -> Vec<u8> {
    compression.compress(&docker_tar(image, tag))
}
