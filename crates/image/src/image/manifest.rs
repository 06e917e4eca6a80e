//! The OCI image manifest (image-spec `manifest.md`), built with `oci_spec` types, which
//! serialize compactly with no empty fields.
//!
//! - `schemaVersion` — REQUIRED, 2.
//! - `mediaType` — SHOULD be `application/vnd.oci.image.manifest.v1+json`.
//! - `config` — REQUIRED descriptor of the configuration.
//! - `layers` — the layer descriptors, base first.

use oci_spec::image::{Descriptor, DescriptorBuilder, ImageManifestBuilder, MediaType};

use super::{Digest, ImageError};

/// A descriptor: media type, digest and size of a blob.
pub fn descriptor(
    media_type: MediaType,
    digest: &Digest,
    size: usize,
) -> Result<Descriptor, ImageError> {
    DescriptorBuilder::default()
        .media_type(media_type)
        .digest(digest.to_oci())
        .size(size as u64)
        .build()
        .map_err(|e| ImageError::Spec(e.to_string()))
}

/// The compact JSON of an image manifest with one config and the given layers.
pub fn manifest_json(config: Descriptor, layers: Vec<Descriptor>) -> Result<Vec<u8>, ImageError> {
    let m = ImageManifestBuilder::default()
        .schema_version(2u32)
        .media_type(MediaType::ImageManifest)
        .config(config)
        .layers(layers)
        .build()
        .map_err(|e| ImageError::Spec(e.to_string()))?;
    Ok(serde_json::to_vec(&m).expect("a manifest always serializes"))
}
