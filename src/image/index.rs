//! The OCI image index (image-spec `image-index.md`) as `index.json` of an image layout.
//!
//! - `schemaVersion` — REQUIRED, 2; `mediaType` — SHOULD be the index media type.
//! - `manifests` — REQUIRED; one descriptor of our manifest, annotated with
//!   `org.opencontainers.image.ref.name` = the tag (what `skopeo … oci:DIR:TAG` and
//!   `umoci --image DIR:TAG` look up) and `io.containerd.image.name` = `repo:tag` (what
//!   containerd and Docker 25+ name the image on import).
//!
//! Not `oci_spec::image::ImageIndex`: its descriptor annotations are a `HashMap`, which
//! serializes two keys in an order that changes from run to run. This small struct has
//! the same field names and a fixed order.

use serde::Serialize;

use super::Digest;

/// `org.opencontainers.image.ref.name`
pub const ANNOTATION_REF_NAME: &str = "org.opencontainers.image.ref.name";
/// `io.containerd.image.name`
pub const ANNOTATION_CONTAINERD_NAME: &str = "io.containerd.image.name";
/// `application/vnd.oci.image.index.v1+json`
pub const MEDIA_TYPE_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// `application/vnd.oci.image.manifest.v1+json`
pub const MEDIA_TYPE_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ImageIndex<'a> {
    schema_version: u32,
    media_type: &'a str,
    manifests: [IndexDescriptor<'a>; 1],
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct IndexDescriptor<'a> {
    media_type: &'a str,
    digest: String,
    size: u64,
    annotations: Annotations<'a>,
}

#[derive(Serialize)]
struct Annotations<'a> {
    #[serde(rename = "io.containerd.image.name")]
    containerd_name: &'a str,
    #[serde(rename = "org.opencontainers.image.ref.name")]
    ref_name: &'a str,
}

/// `index.json` for a layout holding one manifest (`digest`, `size`) named `tag` and
/// `repo_tag`.
pub fn index_json(
    manifest_digest: &Digest,
    manifest_size: usize,
    tag: &str,
    repo_tag: &str,
) -> Vec<u8> {
    let index = ImageIndex {
        schema_version: 2,
        media_type: MEDIA_TYPE_INDEX,
        manifests: [IndexDescriptor {
            media_type: MEDIA_TYPE_MANIFEST,
            digest: manifest_digest.to_string(),
            size: manifest_size as u64,
            annotations: Annotations {
                containerd_name: repo_tag,
                ref_name: tag,
            },
        }],
    };
    serde_json::to_vec(&index).expect("an index always serializes")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_json_is_pinned() {
        let d = Digest::of(b"");
        let s = String::from_utf8(index_json(&d, 5, "latest", "smidge/t:latest")).unwrap();
        assert_eq!(
            s,
            format!(
                r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{d}","size":5,"annotations":{{"io.containerd.image.name":"smidge/t:latest","org.opencontainers.image.ref.name":"latest"}}}}]}}"#
            )
        );
        // Round-trips through oci-spec's type.
        let parsed: oci_spec::image::ImageIndex = serde_json::from_str(&s).unwrap();
        assert_eq!(parsed.manifests()[0].size(), 5);
    }
}
