//! Reading what `smidge push SOURCE` pushes: a docker-format tar (`docker save`, `smidge
//! … --format docker`; gzip, zstd or plain), an OCI image layout directory, or an OCI
//! image layout tar (gzip, zstd or plain). Single- or multi-platform: every image found
//! becomes one [`PushImage`], its layers kept when compressed and gzip-compressed when
//! not.
//!
//! - OCI layout: `index.json`; when it names an image index (smidge's multi-platform
//!   layouts, `docker buildx`), that index's manifests; otherwise every image manifest
//!   it names (once each). Manifests for `unknown/unknown` (build attestations) are
//!   left out.
//! - Docker archive: each element of `manifest.json` (`Config`, `Layers`). A tar that
//!   holds both (Docker 25+ `docker save`) is read as an OCI layout.
//!
//! Each blob of a layout is checked against its digest.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::manifest::{Layer, PushImage};
use super::RegistryError;
use crate::image::Digest;

/// The images in `path`, in the order the source lists them.
pub fn read_source(path: &Path) -> Result<Vec<PushImage>, RegistryError> {
    let bad = |reason: String| RegistryError::NotAnImage {
        path: path.to_path_buf(),
        reason,
    };
    let meta = std::fs::metadata(path).map_err(|e| bad(format!("cannot read it: {e}")))?;
    let files: Box<dyn Files> = if meta.is_dir() {
        Box::new(Dir(path.to_path_buf()))
    } else {
        let raw = std::fs::read(path).map_err(|e| bad(format!("cannot read it: {e}")))?;
        Box::new(TarFiles::read(&raw).map_err(bad)?)
    };
    let images = if files.get("index.json").is_some() {
        oci_layout(&*files).map_err(bad)?
    } else if let Some(manifest) = files.get("manifest.json") {
        docker_archive(&*files, &manifest).map_err(bad)?
    } else if meta.is_dir() {
        return Err(bad(
            "a directory without index.json (an OCI image layout has one)".into(),
        ));
    } else {
        return Err(bad(
            "a tar without index.json or manifest.json (neither an OCI layout nor a docker archive)"
                .into(),
        ));
    };
    if images.is_empty() {
        return Err(bad("it names no image".into()));
    }
    Ok(images)
}

/// Files by path, from a directory or a tar.
trait Files {
    fn get(&self, name: &str) -> Option<Vec<u8>>;
}

struct Dir(PathBuf);

impl Files for Dir {
    fn get(&self, name: &str) -> Option<Vec<u8>> {
        if name.split('/').any(|c| c == "..") {
            return None;
        }
        std::fs::read(self.0.join(name)).ok()
    }
}

struct TarFiles(HashMap<String, Vec<u8>>);

impl TarFiles {
    fn read(raw: &[u8]) -> Result<TarFiles, String> {
        let mut plain = Vec::new();
        let data: &[u8] = if raw.starts_with(&[0x1f, 0x8b]) {
            flate2::read::MultiGzDecoder::new(raw)
                .read_to_end(&mut plain)
                .map_err(|e| format!("bad gzip data ({e})"))?;
            &plain
        } else if raw.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            plain = zstd::decode_all(raw).map_err(|e| format!("bad zstd data ({e})"))?;
            &plain
        } else {
            raw
        };
        if data.len() < 512 {
            return Err("not a tar archive (too short)".into());
        }
        // The tar reader's messages may quote the bytes it read: none goes in ours.
        let not_tar = |_| "not a tar archive (nor gzip or zstd of one)".to_string();
        let mut files = HashMap::new();
        let mut ar = tar::Archive::new(data);
        let entries = ar.entries().map_err(not_tar)?;
        for entry in entries {
            let mut entry = entry.map_err(not_tar)?;
            if !entry.header().entry_type().is_file() {
                continue;
            }
            let name = entry
                .path()
                .map_err(not_tar)?
                .to_string_lossy()
                .trim_start_matches("./")
                .to_string();
            let mut bytes = Vec::new();
            entry
                .read_to_end(&mut bytes)
                .map_err(|_| "a truncated tar archive".to_string())?;
            files.insert(name, bytes);
        }
        if files.is_empty() {
            return Err("not a tar archive (no files)".into());
        }
        Ok(TarFiles(files))
    }
}

impl Files for TarFiles {
    fn get(&self, name: &str) -> Option<Vec<u8>> {
        self.0.get(name.trim_start_matches("./")).cloned()
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Desc {
    #[serde(default)]
    media_type: String,
    digest: String,
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

#[derive(Deserialize)]
struct ManifestDoc {
    config: Desc,
    #[serde(default)]
    layers: Vec<Desc>,
    #[serde(default)]
    manifests: Option<serde_json::Value>,
}

fn is_index(media_type: &str) -> bool {
    media_type.ends_with("image.index.v1+json") || media_type.ends_with("manifest.list.v2+json")
}

fn blob(files: &dyn Files, digest: &str) -> Result<Vec<u8>, String> {
    let d = Digest::parse(digest)
        .ok_or_else(|| format!("`{digest}` is not a sha256 digest smidge can read"))?;
    let bytes = files
        .get(&format!("blobs/sha256/{}", d.hex()))
        .ok_or_else(|| format!("blob {digest} is missing"))?;
    if Digest::of(&bytes) != d {
        return Err(format!("blob {digest} does not match its digest"));
    }
    Ok(bytes)
}

fn oci_layout(files: &dyn Files) -> Result<Vec<PushImage>, String> {
    let index: IndexDoc = serde_json::from_slice(&files.get("index.json").unwrap_or_default())
        .map_err(|e| format!("index.json is not an image index ({e})"))?;
    let descriptors: Vec<Desc> = match index.manifests.iter().find(|d| is_index(&d.media_type)) {
        Some(inner) => {
            let inner: IndexDoc = serde_json::from_slice(&blob(files, &inner.digest)?)
                .map_err(|e| format!("blob {} is not an image index ({e})", inner.digest))?;
            inner.manifests
        }
        None => index.manifests,
    };
    let mut seen = Vec::new();
    let mut images = Vec::new();
    for d in descriptors {
        if seen.contains(&d.digest) || d.platform.as_ref().is_some_and(|p| p.os == "unknown") {
            continue;
        }
        let manifest: ManifestDoc = serde_json::from_slice(&blob(files, &d.digest)?)
            .map_err(|e| format!("blob {} is not an image manifest ({e})", d.digest))?;
        if manifest.manifests.is_some() {
            return Err(format!(
                "{} is an index inside an index; smidge pushes one level",
                d.digest
            ));
        }
        let config = blob(files, &manifest.config.digest)?;
        let layers = manifest
            .layers
            .iter()
            .map(|l| blob(files, &l.digest).map(Layer::from_blob))
            .collect::<Result<Vec<_>, _>>()?;
        images.push(PushImage::new(config, layers));
        seen.push(d.digest);
    }
    Ok(images)
}

#[derive(Deserialize)]
struct DockerItem {
    #[serde(rename = "Config")]
    config: String,
    #[serde(rename = "Layers", default)]
    layers: Vec<String>,
}

fn docker_archive(files: &dyn Files, manifest: &[u8]) -> Result<Vec<PushImage>, String> {
    let items: Vec<DockerItem> = serde_json::from_slice(manifest)
        .map_err(|e| format!("manifest.json is not a docker archive manifest ({e})"))?;
    let file = |name: &str| {
        files
            .get(name)
            .ok_or_else(|| format!("manifest.json names `{name}`, which is not in the archive"))
    };
    items
        .iter()
        .map(|item| {
            let config = file(&item.config)?;
            let layers = item
                .layers
                .iter()
                .map(|l| file(l).map(Layer::from_blob))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(PushImage::new(config, layers))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::archive::{self, Compression};
    use crate::image::{Image, Reference};
    use smidge_elf::Platform;

    fn images() -> Vec<Image> {
        [Platform::Amd64, Platform::I386]
            .iter()
            .map(|&p| Image::with_epoch(p, "x", b"abc", None).unwrap())
            .collect()
    }

    fn tag() -> Reference {
        "smidge/t:latest".parse().unwrap()
    }

    fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }

    #[test]
    fn every_format_gives_the_same_image() {
        let dir = tempfile::tempdir().unwrap();
        let img = &images()[0];
        let want = PushImage::from_image(img);
        for c in [Compression::Gzip, Compression::None] {
            let docker = write(
                dir.path(),
                "d.tar",
                &archive::docker_archive(img, &tag(), c),
            );
            assert_eq!(read_source(&docker).unwrap(), std::slice::from_ref(&want));
            let oci = write(
                dir.path(),
                "o.tar",
                &archive::oci_archive(std::slice::from_ref(img), &tag(), c),
            );
            assert_eq!(read_source(&oci).unwrap(), std::slice::from_ref(&want));
        }
        let layout = dir.path().join("layout");
        archive::write_oci_dir(
            std::slice::from_ref(img),
            &tag(),
            Compression::Gzip,
            &layout,
        )
        .unwrap();
        assert_eq!(read_source(&layout).unwrap(), [want]);
    }

    #[test]
    fn multi_platform_layouts_give_each_platform_once() {
        let dir = tempfile::tempdir().unwrap();
        let all = images();
        let p = write(
            dir.path(),
            "m.tar",
            &archive::oci_archive(&all, &tag(), Compression::Gzip),
        );
        let got = read_source(&p).unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got[1].platform().unwrap().architecture, "386");
    }

    #[test]
    fn refuses_what_is_not_an_image() {
        let dir = tempfile::tempdir().unwrap();
        let cases = [
            ("text", b"hello".to_vec(), "not a tar"),
            (
                "gz",
                Compression::Gzip.compress(b"not a tar at all"),
                "not a tar",
            ),
        ];
        for (name, bytes, want) in cases {
            let e = read_source(&write(dir.path(), name, &bytes)).unwrap_err();
            assert!(e.is_usage());
            assert!(e.to_string().contains(want), "{e}");
        }
        let e = read_source(dir.path()).unwrap_err().to_string();
        assert!(e.contains("without index.json"), "{e}");
        let e = read_source(&dir.path().join("missing"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("cannot read it"), "{e}");
    }
}
