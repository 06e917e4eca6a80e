//! The OCI image index (image-spec `image-index.md`), as `index.json` of an image layout and
//! as the blob that makes one image reference serve several platforms.
//!
//! - `schemaVersion` — REQUIRED, 2; `mediaType` — SHOULD be the index media type.
//! - `manifests` — REQUIRED; descriptors, each with `platform` (architecture, os, variant)
//!   when it points at an image manifest.
//! - In `index.json` the one named descriptor carries `org.opencontainers.image.ref.name` =
//!   the tag (what `skopeo … oci:DIR:TAG` and `umoci --image DIR:TAG` look up) and
//!   `io.containerd.image.name` = `repo:tag` (what containerd and Docker 25+ call the image
//!   on import).
//!
//! Not `oci_spec::image::ImageIndex`: its descriptor annotations are a `HashMap`, which
//! serializes two keys in an order that changes from run to run. These small structs have
//! the same field names and a fixed order.

use serde::Serialize;

use super::Digest;
use smidge_elf::Platform;

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
    manifests: Vec<IndexDescriptor<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct IndexDescriptor<'a> {
    media_type: &'a str,
    digest: String,
    size: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    platform: Option<PlatformField>,
    #[serde(skip_serializing_if = "Option::is_none")]
    annotations: Option<Annotations<'a>>,
}

#[derive(Serialize)]
struct PlatformField {
    architecture: &'static str,
    os: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    variant: Option<&'static str>,
}

#[derive(Serialize)]
struct Annotations<'a> {
    #[serde(
        rename = "io.containerd.image.name",
        skip_serializing_if = "Option::is_none"
    )]
    containerd_name: Option<&'a str>,
    #[serde(rename = "org.opencontainers.image.ref.name")]
    ref_name: &'a str,
}

/// Only a ref name (the per-platform names of a multi-platform layout).
struct RefName<'a> {
    ref_name: &'a str,
}

impl<'a> From<RefName<'a>> for Annotations<'a> {
    fn from(r: RefName<'a>) -> Self {
        Annotations {
            containerd_name: None,
            ref_name: r.ref_name,
        }
    }
}

/// One image manifest an index points at.
#[derive(Clone, Debug)]
pub struct ManifestRef<'a> {
    pub digest: &'a Digest,
    pub size: usize,
    pub platform: Platform,
}

/// The names a layout gives the image it holds.
#[derive(Clone, Copy, Debug)]
pub struct Names<'a> {
    /// `org.opencontainers.image.ref.name`, the tag.
    pub tag: &'a str,
    /// `io.containerd.image.name`, `repo:tag`.
    pub repo_tag: &'a str,
}

fn descriptor<'a>(m: &ManifestRef<'_>, names: Option<Names<'a>>) -> IndexDescriptor<'a> {
    IndexDescriptor {
        media_type: MEDIA_TYPE_MANIFEST,
        digest: m.digest.to_string(),
        size: m.size as u64,
        platform: Some(PlatformField {
            architecture: m.platform.architecture(),
            os: m.platform.os(),
            variant: m.platform.variant(),
        }),
        annotations: names.map(annotations),
    }
}

fn annotations(n: Names<'_>) -> Annotations<'_> {
    Annotations {
        containerd_name: Some(n.repo_tag),
        ref_name: n.tag,
    }
}

fn to_json(index: &ImageIndex<'_>) -> Vec<u8> {
    serde_json::to_vec(index).expect("an index always serializes")
}

/// An index of `manifests` (one per platform), unnamed: the blob a multi-platform image
/// reference points at.
pub fn platform_index(manifests: &[ManifestRef<'_>]) -> Vec<u8> {
    to_json(&ImageIndex {
        schema_version: 2,
        media_type: MEDIA_TYPE_INDEX,
        manifests: manifests.iter().map(|m| descriptor(m, None)).collect(),
    })
}

/// `index.json` for a layout holding one image manifest, named.
pub fn index_json(manifest: &ManifestRef<'_>, names: Names<'_>) -> Vec<u8> {
    to_json(&ImageIndex {
        schema_version: 2,
        media_type: MEDIA_TYPE_INDEX,
        manifests: vec![descriptor(manifest, Some(names))],
    })
}

/// `index.json` for a layout holding a multi-platform image: the descriptor of the
/// [`platform_index`] blob (`digest`, `size`) named `names`, then each platform's manifest
/// named `<tag>-<arch>[-<variant>]` (`latest-arm-v7`), so tools that cannot choose a
/// platform from an index (umoci: "tag is ambiguous") can still name one image.
pub fn index_json_of_index(
    digest: &Digest,
    size: usize,
    names: Names<'_>,
    manifests: &[ManifestRef<'_>],
) -> Vec<u8> {
    let tags: Vec<String> = manifests
        .iter()
        .map(|m| platform_tag(names.tag, m.platform))
        .collect();
    let mut descriptors = vec![IndexDescriptor {
        media_type: MEDIA_TYPE_INDEX,
        digest: digest.to_string(),
        size: size as u64,
        platform: None,
        annotations: Some(annotations(names)),
    }];
    for (m, tag) in manifests.iter().zip(&tags) {
        let mut d = descriptor(m, None);
        d.annotations = Some(RefName { ref_name: tag }.into());
        descriptors.push(d);
    }
    to_json(&ImageIndex {
        schema_version: 2,
        media_type: MEDIA_TYPE_INDEX,
        manifests: descriptors,
    })
}

/// The tag of one platform's manifest in a multi-platform layout: `latest-arm64-v8`.
pub fn platform_tag(tag: &str, platform: Platform) -> String {
    let mut t = format!("{tag}-{}", platform.architecture());
    if let Some(v) = platform.variant() {
        t.push('-');
        t.push_str(v);
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    const NAMES: Names<'static> = Names {
        tag: "latest",
        repo_tag: "smidge/t:latest",
    };

    #[test]
    fn index_json_is_pinned() {
        let d = Digest::of(b"");
        let m = ManifestRef {
            digest: &d,
            size: 5,
            platform: Platform::Amd64,
        };
        let s = String::from_utf8(index_json(&m, NAMES)).unwrap();
        assert_eq!(
            s,
            format!(
                r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{d}","size":5,"platform":{{"architecture":"amd64","os":"linux"}},"annotations":{{"io.containerd.image.name":"smidge/t:latest","org.opencontainers.image.ref.name":"latest"}}}}]}}"#
            )
        );
        // Round-trips through oci-spec's type.
        let parsed: oci_spec::image::ImageIndex = serde_json::from_str(&s).unwrap();
        assert_eq!(parsed.manifests()[0].size(), 5);
    }

    #[test]
    fn platform_index_lists_every_platform_with_its_variant() {
        let d = Digest::of(b"x");
        let refs: Vec<ManifestRef<'_>> = Platform::ALL
            .iter()
            .map(|&platform| ManifestRef {
                digest: &d,
                size: 1,
                platform,
            })
            .collect();
        let parsed: oci_spec::image::ImageIndex =
            serde_json::from_slice(&platform_index(&refs)).unwrap();
        assert_eq!(parsed.manifests().len(), Platform::ALL.len());
        for (m, p) in parsed.manifests().iter().zip(Platform::ALL) {
            let got = m.platform().as_ref().unwrap();
            assert_eq!(got.architecture().to_string(), p.architecture());
            assert_eq!(got.variant().as_deref(), p.variant());
        }
        let outer = index_json_of_index(&d, 9, NAMES, &refs);
        let parsed: oci_spec::image::ImageIndex = serde_json::from_slice(&outer).unwrap();
        assert_eq!(
            parsed.manifests()[0].media_type(),
            &oci_spec::image::MediaType::ImageIndex
        );
        let names: Vec<String> = parsed.manifests()[1..]
            .iter()
            .map(|m| m.annotations().as_ref().unwrap()[ANNOTATION_REF_NAME].clone())
            .collect();
        assert_eq!(names[0], "latest-amd64");
        assert_eq!(names.len(), Platform::ALL.len());
    }
}
