//! The OCI image layout (image-spec `image-layout.md`), as a tar or as a directory:
//!
//! ```text
//! oci-layout                {"imageLayoutVersion":"1.0.0"}
//! index.json                the index: one named descriptor, of the image manifest or,
//!                           for several platforms, of an image index listing one
//!                           manifest per platform
//! blobs/sha256/<hex>        the manifests, configs and layers (and that index)
//! ```
//!
//! Where `compression` applies (chosen by testing skopeo 1.9, umoci 0.4.7, podman 4.3 and
//! `skopeo copy … docker-daemon:` into docker 20.10, all of which accept every form below):
//!
//! - [`oci_archive`]: to the *outer* tar. `skopeo inspect|copy oci-archive:x.tar.gz` and
//!   `podman load -i x.tar.gz` detect gzip and read it. The layer blob inside stays an
//!   uncompressed `application/vnd.oci.image.layer.v1.tar`: a gzip inside a gzip would add
//!   its 18-byte frame and hide the layer's zero padding from the outer compression.
//! - [`write_oci_dir`]: there is no outer stream, so to the *layer blob*
//!   (`application/vnd.oci.image.layer.v1.tar+gzip`); `umoci unpack --image DIR:TAG` and
//!   `skopeo … oci:DIR:TAG` read either media type.
//!
//! Files of the layout tar keep mode 0644 (unlike the docker archive's empty modes):
//! skopeo extracts an oci-archive to disk, possibly rootless, where a mode-0 file could
//! not be read back. `index.json` names the manifest twice: `ref.name` = the tag (what
//! `oci:DIR:TAG` and umoci look up) and `io.containerd.image.name` = `repo:tag`, without
//! which `podman load` names the image `localhost/latest:latest`.

use std::fs;
use std::path::Path;

use super::fs::{parent_dir, write_atomic, ArchiveError};
use super::tar::{self, Entry};
use super::Compression;
use crate::image::index::{index_json, index_json_of_index, platform_index, ManifestRef, Names};
use crate::image::{Digest, Image, Reference};

/// `oci-layout`'s content.
pub const OCI_LAYOUT: &[u8] = br#"{"imageLayoutVersion":"1.0.0"}"#;
/// How the layer blob is stored inside [`oci_archive`] (the outer tar carries the
/// compression there).
const LAYER_IN_ARCHIVE: Compression = Compression::None;

/// Permission bits of every file of the layout.
pub const FILE_MODE: u32 = 0o644;

/// The files of the layout holding `images` (one per platform, at least one), path and
/// bytes, in the order they are written.
pub fn layout_files(
    images: &[Image],
    tag: &Reference,
    layer_compression: Compression,
) -> Vec<(String, Vec<u8>)> {
    assert!(!images.is_empty(), "a layout holds at least one image");
    let blob = |d: &Digest| format!("blobs/sha256/{}", d.hex());
    let repo_tag = tag.repo_tag();
    let names = Names {
        tag: tag.tag_or_latest(),
        repo_tag: &repo_tag,
    };
    let mut blobs = Vec::new();
    let mut manifests = Vec::new();
    for image in images {
        let layer = image.layer_blob(layer_compression);
        let manifest = image.oci_manifest(&layer);
        let digest = Digest::of(&manifest);
        manifests.push((digest, manifest.len(), image.platform()));
        blobs.push((blob(&digest), manifest));
        blobs.push((blob(image.config_digest()), image.config_json().to_vec()));
        blobs.push((blob(&layer.digest), layer.bytes));
    }
    let refs: Vec<ManifestRef<'_>> = manifests
        .iter()
        .map(|(digest, size, platform)| ManifestRef {
            digest,
            size: *size,
            platform: *platform,
        })
        .collect();
    let index = match &refs[..] {
        [one] => index_json(one, names),
        many => {
            let inner = platform_index(many);
            let digest = Digest::of(&inner);
            let outer = index_json_of_index(&digest, inner.len(), names, many);
            blobs.push((blob(&digest), inner));
            outer
        }
    };
    let mut files = vec![
        ("oci-layout".to_string(), OCI_LAYOUT.to_vec()),
        ("index.json".to_string(), index),
    ];
    files.extend(blobs);
    files
}

/// The layout as a tar (what `skopeo … oci-archive:FILE` reads), compressed as asked.
pub fn oci_archive(images: &[Image], tag: &Reference, compression: Compression) -> Vec<u8> {
    let files = layout_files(images, tag, LAYER_IN_ARCHIVE);
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
    images: &[Image],
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
    for (name, data) in layout_files(images, tag, compression) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use smidge_elf::Platform;
    use std::io::Read;

    fn sample() -> (Image, Reference) {
        (
            Image::with_epoch(Platform::Amd64, "hello", b"12345678", None).unwrap(),
            "smidge/t:latest".parse().unwrap(),
        )
    }

    #[test]
    fn archive_holds_the_layout() {
        let (img, tag) = sample();
        let gz = oci_archive(std::slice::from_ref(&img), &tag, Compression::Gzip);
        assert_eq!(
            gz,
            oci_archive(std::slice::from_ref(&img), &tag, Compression::Gzip)
        );
        let mut plain = vec![];
        flate2::read::GzDecoder::new(&gz[..])
            .read_to_end(&mut plain)
            .unwrap();
        assert_eq!(
            plain,
            oci_archive(std::slice::from_ref(&img), &tag, Compression::None)
        );
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
        let layer = format!("blobs/sha256/{}", img.diff_id().hex());
        assert!(names.contains(&layer), "layer stored uncompressed");
    }

    #[test]
    fn dir_is_written_whole_and_never_over_something() {
        let (img, tag) = sample();
        let parent = tempfile::tempdir().unwrap();
        let dir = parent.path().join("layout");
        write_oci_dir(std::slice::from_ref(&img), &tag, Compression::Gzip, &dir).unwrap();
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
        // Only the layout is left in the parent: no temporary directory.
        assert_eq!(fs::read_dir(parent.path()).unwrap().count(), 1);
        // A second write is refused (not empty), as is a file in the way.
        assert!(matches!(
            write_oci_dir(std::slice::from_ref(&img), &tag, Compression::Gzip, &dir),
            Err(ArchiveError::TargetNotEmpty(_))
        ));
        let file = parent.path().join("f");
        fs::write(&file, b"").unwrap();
        assert!(matches!(
            write_oci_dir(std::slice::from_ref(&img), &tag, Compression::None, &file),
            Err(ArchiveError::TargetNotEmpty(_))
        ));
        // An empty directory is replaced.
        let empty = parent.path().join("empty");
        fs::create_dir(&empty).unwrap();
        write_oci_dir(std::slice::from_ref(&img), &tag, Compression::None, &empty).unwrap();
        assert!(empty.join("index.json").is_file());
        assert_eq!(fs::read_dir(parent.path()).unwrap().count(), 3);
    }
}
