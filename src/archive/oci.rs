//! The OCI image layout (image-spec `image-layout.md`), as a tar or as a directory:
//!
//! ```text
//! oci-layout                {"imageLayoutVersion":"1.0.0"}
//! index.json                the index, one manifest, named by annotations
//! blobs/sha256/<hex>        the manifest, the config, the layer
//! ```
//!
//! Where compression applies (chosen by testing skopeo 1.9, umoci 0.4.7, podman 4.3):
//! COMPRESSION_DECISION

use std::fs;
use std::path::Path;

use super::fs::{parent_dir, write_atomic, ArchiveError};
use super::tar::{self, Entry};
use super::Compression;
use crate::image::index::index_json;
use crate::image::{Digest, Image, Reference};

/// `oci-layout`'s content.
pub const OCI_LAYOUT: &[u8] = br#"{"imageLayoutVersion":"1.0.0"}"#;
/// How the layer blob is stored inside [`oci_archive`] (the outer tar carries the
/// compression there).
const LAYER_IN_ARCHIVE: Compression = Compression::None;

/// Permission bits of every file of the layout.
pub const FILE_MODE: u32 = 0o644;

/// The files of the layout, path and bytes, in the order they are written.
pub fn layout_files(
    image: &Image,
    tag: &Reference,
    layer_compression: Compression,
) -> Vec<(String, Vec<u8>)> {
    let layer = image.layer_blob(layer_compression);
    let manifest = image.oci_manifest(&layer);
    let manifest_digest = Digest::of(&manifest);
    let index = index_json(
        &manifest_digest,
        manifest.len(),
        tag.tag_or_latest(),
        &tag.repo_tag(),
    );
    let blob = |d: &Digest| format!("blobs/sha256/{}", d.hex());
    vec![
        ("oci-layout".to_string(), OCI_LAYOUT.to_vec()),
        ("index.json".to_string(), index),
        (blob(&manifest_digest), manifest),
        (blob(image.config_digest()), image.config_json().to_vec()),
        (blob(&layer.digest), layer.bytes),
    ]
}

/// The layout as a tar (what `skopeo … oci-archive:FILE` reads), compressed as asked.
pub fn oci_archive(image: &Image, tag: &Reference, compression: Compression) -> Vec<u8> {
    let files = layout_files(image, tag, LAYER_IN_ARCHIVE);
    let entries: Vec<Entry<'_>> = files
        .iter()
        .map(|(name, data)| Entry {
            name,
            mode: FILE_MODE,
            mtime: 0,
            data,
        })
        .collect();
    let tar = tar::tar(&entries).expect("layout paths are under 100 bytes and sizes are capped");
    compression.compress(&tar)
}

/// Writes the layout as the directory `dir`, atomically: it is built in a temporary
/// directory next to `dir` and renamed into place. `dir` must not exist or be an empty
/// directory; anything else (including an existing layout) is refused, so nothing of the
/// user's is ever merged into or overwritten.
pub fn write_oci_dir(
    image: &Image,
    tag: &Reference,
    compression: Compression,
    dir: &Path,
) -> Result<(), ArchiveError> {
    match fs::read_dir(dir) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                return Err(ArchiveError::TargetNotEmpty(dir.to_path_buf()));
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotADirectory => {
            return Err(ArchiveError::TargetNotEmpty(dir.to_path_buf()));
        }
        Err(e) => return Err(ArchiveError::io(dir)(e)),
    }
    let tmp = tempfile::Builder::new()
        .prefix(".smidge-oci-")
        .tempdir_in(parent_dir(dir))
        .map_err(ArchiveError::io(dir))?;
    fs::create_dir_all(tmp.path().join("blobs/sha256")).map_err(ArchiveError::io(dir))?;
    for (name, data) in layout_files(image, tag, compression) {
        write_atomic(&tmp.path().join(name), &data, FILE_MODE)?;
    }
    fs::set_permissions(
        tmp.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .map_err(ArchiveError::io(dir))?;
    // rename(2) replaces an empty directory; a non-empty one (raced in) makes it fail.
    let tmp_path = tmp.keep();
    fs::rename(&tmp_path, dir).map_err(|e| {
        let _ = fs::remove_dir_all(&tmp_path);
        ArchiveError::io(dir)(e)
    })
}
