//! What goes to the registry: [`PushImage`]s (a config and compressed layers) and the
//! manifests and index written for them, in OCI or Docker v2 schema 2 media types.
//!
//! The OCI image manifest leaves out its own `mediaType`: image-spec `manifest.md` says
//! it SHOULD be used, not MUST, the registry learns the type from the PUT's
//! `Content-Type` and serves it back the same way, and distribution, containerd, Docker
//! and skopeo all read a manifest without it. That saves 57 of the bytes a registry
//! stores (the pause image: 665 instead of 722). Docker's schema 2 REQUIRES the field, so
//! `--media-types docker` writes it; indexes keep it too.

use serde::Serialize;

use crate::archive::Compression;
use crate::image::{Digest, Image};

/// Which media types the manifests use.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum MediaTypes {
    /// OCI image-spec (the default).
    #[default]
    Oci,
    /// Docker v2 schema 2, for registries that want it.
    Docker,
}

/// `application/vnd.oci.image.manifest.v1+json`
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// `application/vnd.oci.image.index.v1+json`
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// `application/vnd.oci.image.config.v1+json`
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
/// `application/vnd.docker.distribution.manifest.v2+json`
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// `application/vnd.docker.distribution.manifest.list.v2+json`
pub const DOCKER_INDEX: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
/// `application/vnd.docker.container.image.v1+json`
pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";

/// How a layer blob is compressed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LayerCompression {
    Gzip,
    Zstd,
}

impl LayerCompression {
    /// Sniffed from the first bytes; `None` for anything else (a plain tar).
    pub fn sniff(bytes: &[u8]) -> Option<LayerCompression> {
        if bytes.starts_with(&[0x1f, 0x8b]) {
            Some(LayerCompression::Gzip)
        } else if bytes.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Some(LayerCompression::Zstd)
        } else {
            None
        }
    }
}

impl MediaTypes {
    pub fn manifest(self) -> &'static str {
        match self {
            MediaTypes::Oci => OCI_MANIFEST,
            MediaTypes::Docker => DOCKER_MANIFEST,
        }
    }

    pub fn index(self) -> &'static str {
        match self {
            MediaTypes::Oci => OCI_INDEX,
            MediaTypes::Docker => DOCKER_INDEX,
        }
    }

    pub fn config(self) -> &'static str {
        match self {
            MediaTypes::Oci => OCI_CONFIG,
            MediaTypes::Docker => DOCKER_CONFIG,
        }
    }

    pub fn layer(self, c: LayerCompression) -> &'static str {
        match (self, c) {
            (MediaTypes::Oci, LayerCompression::Gzip) => {
                "application/vnd.oci.image.layer.v1.tar+gzip"
            }
            (MediaTypes::Oci, LayerCompression::Zstd) => {
                "application/vnd.oci.image.layer.v1.tar+zstd"
            }
            (MediaTypes::Docker, LayerCompression::Gzip) => {
                "application/vnd.docker.image.rootfs.diff.tar.gzip"
            }
            (MediaTypes::Docker, LayerCompression::Zstd) => {
                "application/vnd.docker.image.rootfs.diff.tar.zstd"
            }
        }
    }
}

/// One compressed layer blob.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layer {
    pub bytes: Vec<u8>,
    pub digest: Digest,
    pub compression: LayerCompression,
}

impl Layer {
    /// A layer blob as found: kept when gzip or zstd, gzip-compressed when it is a plain
    /// tar (registries refuse uncompressed layers, or store them big).
    pub fn from_blob(bytes: Vec<u8>) -> Layer {
        match LayerCompression::sniff(&bytes) {
            Some(compression) => Layer {
                digest: Digest::of(&bytes),
                bytes,
                compression,
            },
            None => Layer::gzip(&bytes),
        }
    }

    /// An uncompressed layer tar, gzip-compressed (smidge's smallest gzip for small tars).
    pub fn gzip(tar: &[u8]) -> Layer {
        let bytes = Compression::Gzip.compress(tar);
        Layer {
            digest: Digest::of(&bytes),
            bytes,
            compression: LayerCompression::Gzip,
        }
    }
}

/// The platform of an image, as an index descriptor writes it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PlatformSpec {
    pub architecture: String,
    pub os: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

/// One image to push: its config JSON and its layers, base first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PushImage {
    pub config: Vec<u8>,
    pub config_digest: Digest,
    pub layers: Vec<Layer>,
}

impl PushImage {
    /// From a config and layer blobs (compressed or not).
    pub fn new(config: Vec<u8>, layers: Vec<Layer>) -> PushImage {
        PushImage {
            config_digest: Digest::of(&config),
            config,
            layers,
        }
    }

    /// A smidge [`Image`], its layer gzip-compressed.
    pub fn from_image(image: &Image) -> PushImage {
        PushImage::new(
            image.config_json().to_vec(),
            vec![Layer::gzip(image.layer_tar())],
        )
    }

    /// The platform, read from the config (`architecture`, `os`, `variant`).
    pub fn platform(&self) -> Option<PlatformSpec> {
        #[derive(serde::Deserialize)]
        struct Cfg {
            architecture: Option<String>,
            os: Option<String>,
            variant: Option<String>,
        }
        let c: Cfg = serde_json::from_slice(&self.config).ok()?;
        Some(PlatformSpec {
            architecture: c.architecture?,
            os: c.os?,
            variant: c.variant,
        })
    }

    /// The image manifest JSON in `types`.
    pub fn manifest(&self, types: MediaTypes) -> Vec<u8> {
        let manifest = Manifest {
            schema_version: 2,
            media_type: (types == MediaTypes::Docker).then_some(DOCKER_MANIFEST),
            config: Descriptor {
                media_type: types.config(),
                digest: self.config_digest.to_string(),
                size: self.config.len() as u64,
                platform: None,
            },
            layers: self
                .layers
                .iter()
                .map(|l| Descriptor {
                    media_type: types.layer(l.compression),
                    digest: l.digest.to_string(),
                    size: l.bytes.len() as u64,
                    platform: None,
                })
                .collect(),
        };
        serde_json::to_vec(&manifest).expect("a manifest always serializes")
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Manifest {
    schema_version: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    media_type: Option<&'static str>,
    config: Descriptor,
    layers: Vec<Descriptor>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Descriptor {
    media_type: &'static str,
    digest: String,
    size: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    platform: Option<PlatformSpec>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Index {
    schema_version: u32,
    media_type: &'static str,
    manifests: Vec<Descriptor>,
}

/// The index JSON of `manifests`: `(manifest bytes, platform)` each.
pub fn index(manifests: &[(&[u8], Option<PlatformSpec>)], types: MediaTypes) -> Vec<u8> {
    let index = Index {
        schema_version: 2,
        media_type: types.index(),
        manifests: manifests
            .iter()
            .map(|(bytes, platform)| Descriptor {
                media_type: types.manifest(),
                digest: Digest::of(bytes).to_string(),
                size: bytes.len() as u64,
                platform: platform.clone(),
            })
            .collect(),
    };
    serde_json::to_vec(&index).expect("an index always serializes")
}

#[cfg(test)]
mod tests {
    use super::*;
    use smidge_elf::Platform;

    fn sample() -> PushImage {
        PushImage::from_image(&Image::with_epoch(Platform::Amd64, "x", b"abc", None).unwrap())
    }

    #[test]
    fn oci_manifest_parses_as_oci_and_has_no_own_media_type() {
        let img = sample();
        let m = img.manifest(MediaTypes::Oci);
        let parsed: oci_spec::image::ImageManifest = serde_json::from_slice(&m).unwrap();
        assert_eq!(parsed.layers()[0].size(), img.layers[0].bytes.len() as u64);
        assert_eq!(
            parsed.config().digest().to_string(),
            img.config_digest.to_string()
        );
        assert!(!String::from_utf8(m).unwrap().contains(OCI_MANIFEST));
    }

    #[test]
    fn docker_manifest_names_its_media_type() {
        let m = String::from_utf8(sample().manifest(MediaTypes::Docker)).unwrap();
        assert!(
            m.starts_with(&format!(
                r#"{{"schemaVersion":2,"mediaType":"{DOCKER_MANIFEST}","config":{{"mediaType":"{DOCKER_CONFIG}""#
            )),
            "{m}"
        );
        assert!(m.contains("application/vnd.docker.image.rootfs.diff.tar.gzip"));
    }

    #[test]
    fn layers_are_compressed_once() {
        let tar = vec![0u8; 1024];
        let l = Layer::from_blob(tar.clone());
        assert_eq!(l.compression, LayerCompression::Gzip);
        assert_eq!(Layer::from_blob(l.bytes.clone()), l);
        assert_eq!(l, Layer::gzip(&tar));
    }

    #[test]
    fn index_lists_platforms() {
        let img = sample();
        let m = img.manifest(MediaTypes::Oci);
        let i = index(&[(&m, img.platform())], MediaTypes::Oci);
        let parsed: oci_spec::image::ImageIndex = serde_json::from_slice(&i).unwrap();
        let d = &parsed.manifests()[0];
        assert_eq!(d.digest().to_string(), Digest::of(&m).to_string());
        assert_eq!(
            d.platform().as_ref().unwrap().architecture().to_string(),
            "amd64"
        );
    }
}
