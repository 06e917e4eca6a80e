//! The one media-type vocabulary: OCI image-spec and Docker v2 schema 2, for manifests,
//! indexes, configs and layers.

use crate::codec::Compression;

/// Which family of media types the manifests use.
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

    /// A layer blob compressed with `c`.
    pub fn layer(self, c: Compression) -> &'static str {
        match (self, c) {
            (MediaTypes::Oci, Compression::None) => "application/vnd.oci.image.layer.v1.tar",
            (MediaTypes::Oci, Compression::Gzip) => "application/vnd.oci.image.layer.v1.tar+gzip",
            (MediaTypes::Oci, Compression::Zstd) => "application/vnd.oci.image.layer.v1.tar+zstd",
            (MediaTypes::Docker, Compression::None) => {
                "application/vnd.docker.image.rootfs.diff.tar"
            }
            (MediaTypes::Docker, Compression::Gzip) => {
                "application/vnd.docker.image.rootfs.diff.tar.gzip"
            }
            (MediaTypes::Docker, Compression::Zstd) => {
                "application/vnd.docker.image.rootfs.diff.tar.zstd"
            }
        }
    }

    /// Whether `media_type` names an index (OCI image index or Docker manifest list).
    pub fn is_index(media_type: &str) -> bool {
        media_type == OCI_INDEX || media_type == DOCKER_INDEX
    }

    /// The compression a layer media type says, if it is a layer type smidge knows.
    pub fn layer_compression(media_type: &str) -> Option<Compression> {
        [MediaTypes::Oci, MediaTypes::Docker]
            .into_iter()
            .flat_map(|t| Compression::ALL.map(|c| (t.layer(c), c)))
            .find(|(m, _)| *m == media_type)
            .map(|(_, c)| c)
    }
}
