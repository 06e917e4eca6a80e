//! The documents that name blobs: the image manifest (image-spec `manifest.md`), the image
//! index (`image-index.md`) and a layout's `index.json`, each written in one place for
//! every destination.
//!
//! Small serde structs rather than `oci_spec`'s types: their annotations are a `HashMap`,
//! which serializes two keys in an order that changes from run to run. Field order is the
//! spec's (`schemaVersion`, `mediaType`, `config`, `layers`/`manifests`, `annotations`;
//! a descriptor's `mediaType`, `digest`, `size`, `platform`, `annotations`), and
//! annotations are written sorted by key.
//!
//! - `schemaVersion` — REQUIRED, 2.
//! - `mediaType` — SHOULD be used (OCI); REQUIRED by Docker's schema 2. A manifest pushed
//!   to a registry with OCI types leaves it out ([`Style::registry`]): the registry learns
//!   the type from the PUT's `Content-Type` and serves it back the same way, and
//!   distribution, containerd, Docker and skopeo all read a manifest without it. That
//!   saves 57 of the bytes a registry stores (the pause image: 665 instead of 722).
//! - `config`, `layers` / `manifests` — REQUIRED descriptors.
//! - `annotations` — OPTIONAL; `--annotation KEY=VALUE` and
//!   `org.opencontainers.image.created` go on every manifest and on the index.
//! - In `index.json` the one descriptor carries `org.opencontainers.image.ref.name` = the
//!   tag (what `skopeo … oci:DIR:TAG` and `umoci --image DIR:TAG` look up) and
//!   `io.containerd.image.name` = `repo:tag` (what containerd, podman and Docker 25+ call
//!   the image on import).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::media::MediaTypes;
use super::Digest;

/// `org.opencontainers.image.ref.name`
pub const ANNOTATION_REF_NAME: &str = "org.opencontainers.image.ref.name";
/// `io.containerd.image.name`
pub const ANNOTATION_CONTAINERD_NAME: &str = "io.containerd.image.name";
/// `org.opencontainers.image.created`
pub const ANNOTATION_CREATED: &str = "org.opencontainers.image.created";

/// Annotations, sorted by key.
pub type Annotations = BTreeMap<String, String>;

/// The platform of an image, as an index descriptor writes it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlatformSpec {
    pub architecture: String,
    pub os: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

impl PlatformSpec {
    /// `os/arch[/variant]`.
    pub fn name(&self) -> String {
        match &self.variant {
            Some(v) => format!("{}/{}/{v}", self.os, self.architecture),
            None => format!("{}/{}", self.os, self.architecture),
        }
    }
}

impl From<smidge_elf::Platform> for PlatformSpec {
    fn from(p: smidge_elf::Platform) -> Self {
        PlatformSpec {
            architecture: p.architecture().into(),
            os: p.os().into(),
            variant: p.variant().map(String::from),
        }
    }
}

/// A content descriptor: what a blob is, its digest and size.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    pub media_type: String,
    pub digest: Digest,
    pub size: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub platform: Option<PlatformSpec>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: Annotations,
}

impl Descriptor {
    pub fn new(media_type: &str, digest: Digest, size: u64) -> Descriptor {
        Descriptor {
            media_type: media_type.to_string(),
            digest,
            size,
            platform: None,
            annotations: Annotations::new(),
        }
    }
}

impl Serialize for Digest {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// How a destination writes manifests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Style {
    pub media_types: MediaTypes,
    /// Whether an image manifest carries its own `mediaType`.
    pub manifest_media_type: bool,
}

impl Style {
    /// OCI layouts: OCI types, every document naming its own.
    pub const LAYOUT: Style = Style {
        media_types: MediaTypes::Oci,
        manifest_media_type: true,
    };

    /// A registry: OCI manifests leave out their `mediaType` (see the module docs);
    /// Docker's schema 2 requires it.
    pub fn registry(media_types: MediaTypes) -> Style {
        Style {
            media_types,
            manifest_media_type: media_types == MediaTypes::Docker,
        }
    }
}

/// A document's bytes, digest and media type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Document {
    pub media_type: &'static str,
    pub bytes: Vec<u8>,
    pub digest: Digest,
}

impl Document {
    fn of<T: Serialize>(media_type: &'static str, value: &T) -> Document {
        let bytes = serde_json::to_vec(value).expect("documents always serialize");
        Document {
            media_type,
            digest: Digest::of(&bytes),
            bytes,
        }
    }

    /// The descriptor of this document.
    pub fn descriptor(&self) -> Descriptor {
        Descriptor::new(self.media_type, self.digest, self.bytes.len() as u64)
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Manifest<'a> {
    schema_version: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    media_type: Option<&'static str>,
    config: &'a Descriptor,
    layers: &'a [Descriptor],
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    annotations: &'a Annotations,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Index<'a> {
    schema_version: u32,
    media_type: &'static str,
    manifests: &'a [Descriptor],
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    annotations: &'a Annotations,
}

/// An image manifest: `config`, `layers` (base first), `annotations`.
pub fn manifest(
    style: Style,
    config: &Descriptor,
    layers: &[Descriptor],
    annotations: &Annotations,
) -> Document {
    let media_type = style.media_types.manifest();
    Document::of(
        media_type,
        &Manifest {
            schema_version: 2,
            media_type: style.manifest_media_type.then_some(media_type),
            config,
            layers,
            annotations,
        },
    )
}

/// An image index of `manifests` (each with its platform): the document a multi-platform
/// reference points at.
pub fn index(style: Style, manifests: &[Descriptor], annotations: &Annotations) -> Document {
    Document::of(
        style.media_types.index(),
        &Index {
            schema_version: 2,
            media_type: style.media_types.index(),
            manifests,
            annotations,
        },
    )
}

/// The names a layout gives the image it holds.
#[derive(Clone, Debug)]
pub struct Names {
    /// `org.opencontainers.image.ref.name`, the tag.
    pub tag: String,
    /// `io.containerd.image.name`, `repo:tag`.
    pub repo_tag: String,
}

/// A layout's `index.json`: one descriptor, `top` (the image manifest, with its platform,
/// or the index), named `names`, as buildx and crane write it, so `skopeo … oci:DIR` needs
/// no reference; then, with `platform_tags`, each platform's manifest named
/// `<tag>-<arch>[-<variant>]` (`latest-arm-v7`) for tools that cannot choose a platform
/// from an index (umoci: "tag is ambiguous").
pub fn layout_index(top: &Descriptor, names: &Names, platform_tags: &[Descriptor]) -> Vec<u8> {
    let mut first = top.clone();
    first
        .annotations
        .insert(ANNOTATION_CONTAINERD_NAME.into(), names.repo_tag.clone());
    first
        .annotations
        .insert(ANNOTATION_REF_NAME.into(), names.tag.clone());
    let mut manifests = vec![first];
    for m in platform_tags {
        let mut d = m.clone();
        let p = d
            .platform
            .as_ref()
            .expect("a platform manifest has a platform");
        let mut tag = format!("{}-{}", names.tag, p.architecture);
        if let Some(v) = &p.variant {
            tag.push('-');
            tag.push_str(v);
        }
        d.annotations.insert(ANNOTATION_REF_NAME.into(), tag);
        manifests.push(d);
    }
    Document::of(
        MediaTypes::Oci.index(),
        &Index {
            schema_version: 2,
            media_type: MediaTypes::Oci.index(),
            manifests: &manifests,
            annotations: &Annotations::new(),
        },
    )
    .bytes
}

#[cfg(test)]
mod tests {
    use super::*;
    use smidge_elf::Platform;

    fn names() -> Names {
        Names {
            tag: "latest".into(),
            repo_tag: "smidge/t:latest".into(),
        }
    }

    #[test]
    fn index_json_is_pinned() {
        let d = Digest::of(b"");
        let mut m = Descriptor::new(MediaTypes::Oci.manifest(), d, 5);
        m.platform = Some(Platform::Amd64.into());
        let s = String::from_utf8(layout_index(&m, &names(), &[])).unwrap();
        assert_eq!(
            s,
            format!(
                r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{d}","size":5,"platform":{{"architecture":"amd64","os":"linux"}},"annotations":{{"io.containerd.image.name":"smidge/t:latest","org.opencontainers.image.ref.name":"latest"}}}}]}}"#
            )
        );
        let parsed: oci_spec::image::ImageIndex = serde_json::from_str(&s).unwrap();
        assert_eq!(parsed.manifests()[0].size(), 5);
    }

    #[test]
    fn platform_index_lists_every_platform_and_tags_only_when_asked() {
        let d = Digest::of(b"x");
        let refs: Vec<Descriptor> = Platform::ALL
            .iter()
            .map(|&p| {
                let mut m = Descriptor::new(OCI, d, 1);
                m.platform = Some(p.into());
                m
            })
            .collect();
        const OCI: &str = super::super::media::OCI_MANIFEST;
        let idx = index(Style::LAYOUT, &refs, &Annotations::new());
        let parsed: oci_spec::image::ImageIndex = serde_json::from_slice(&idx.bytes).unwrap();
        assert_eq!(parsed.manifests().len(), Platform::ALL.len());
        for (m, p) in parsed.manifests().iter().zip(Platform::ALL) {
            let got = m.platform().as_ref().unwrap();
            assert_eq!(got.architecture().to_string(), p.architecture());
            assert_eq!(got.variant().as_deref(), p.variant());
        }
        let one: oci_spec::image::ImageIndex =
            serde_json::from_slice(&layout_index(&idx.descriptor(), &names(), &[])).unwrap();
        assert_eq!(one.manifests().len(), 1);
        assert_eq!(
            one.manifests()[0].media_type(),
            &oci_spec::image::MediaType::ImageIndex
        );
        let tagged: oci_spec::image::ImageIndex =
            serde_json::from_slice(&layout_index(&idx.descriptor(), &names(), &refs)).unwrap();
        let names: Vec<String> = tagged.manifests()[1..]
            .iter()
            .map(|m| m.annotations().as_ref().unwrap()[ANNOTATION_REF_NAME].clone())
            .collect();
        assert_eq!(names[0], "latest-amd64");
        assert_eq!(names[2], "latest-arm64-v8");
        assert_eq!(names.len(), Platform::ALL.len());
    }

    #[test]
    fn manifests_by_style_and_annotations_sorted() {
        let c = Descriptor::new(MediaTypes::Oci.config(), Digest::of(b"c"), 1);
        let l = Descriptor::new(
            MediaTypes::Oci.layer(crate::codec::Compression::Gzip),
            Digest::of(b"l"),
            2,
        );
        let mut a = Annotations::new();
        a.insert("z".into(), "1".into());
        a.insert("a".into(), "2".into());
        let m = String::from_utf8(manifest(Style::LAYOUT, &c, std::slice::from_ref(&l), &a).bytes)
            .unwrap();
        assert!(m.starts_with(r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json""#), "{m}");
        assert!(m.ends_with(r#"],"annotations":{"a":"2","z":"1"}}"#), "{m}");
        let r = String::from_utf8(
            manifest(
                Style::registry(MediaTypes::Oci),
                &c,
                std::slice::from_ref(&l),
                &Annotations::new(),
            )
            .bytes,
        )
        .unwrap();
        assert!(r.starts_with(r#"{"schemaVersion":2,"config":"#), "{r}");
        let d = String::from_utf8(
            manifest(
                Style::registry(MediaTypes::Docker),
                &c,
                &[l],
                &Annotations::new(),
            )
            .bytes,
        )
        .unwrap();
        assert!(d.starts_with(r#"{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json""#), "{d}");
    }
}
