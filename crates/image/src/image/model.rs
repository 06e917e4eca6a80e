//! [`Image`]: a one-layer, one-file image, with every document derived from it once.

use oci_spec::image::MediaType;

use super::config::{image_configuration, to_json};
use super::layer::{layer_tar, LayerBlob};
use super::manifest::{descriptor, manifest_json};
use super::Digest;
use crate::archive::tar::TarError;
use smidge_elf::{Platform, Program};

/// Why an image cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImageError {
    #[error("invalid path in image `{0}`: expected a relative name like `hello` with no `.`, `..` or empty components")]
    BadPath(String),
    #[error("the payload is {0} bytes; smidge packs at most 1 GiB")]
    TooLarge(usize),
    #[error("invalid SOURCE_DATE_EPOCH `{0}`: expected whole seconds since 1970")]
    BadSourceDateEpoch(String),
    #[error("cannot build the layer tar")]
    Tar(#[from] TarError),
    #[error("cannot build an OCI document: {0}")]
    Spec(String),
}

/// The largest payload an image holds (1 GiB): far below the 8 GiB a tar size field
/// holds, so the layer tar always fits as a member of an outer archive.
pub const MAX_PAYLOAD: usize = 1 << 30;

/// `SOURCE_DATE_EPOCH`, when it is set.
fn epoch_from_env() -> Result<Option<u64>, ImageError> {
    match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(s) if !s.is_empty() => s
            .trim()
            .parse::<u64>()
            .map(Some)
            .map_err(|_| ImageError::BadSourceDateEpoch(s.clone())),
        _ => Ok(None),
    }
}

/// A one-layer image whose layer holds one executable and whose entrypoint runs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Image {
    platform: Platform,
    entrypoint: String,
    layer_tar: Vec<u8>,
    diff_id: Digest,
    config: Vec<u8>,
    config_digest: Digest,
}

impl Image {
    /// The image of `payload` stored at `/path_in_image` (e.g. `"hello"` → `/hello`),
    /// for `platform`. Times come from `SOURCE_DATE_EPOCH` when it is set (the layer file's
    /// mtime and the config's `created`); otherwise there are none and the bytes never
    /// change between runs.
    pub fn new(
        platform: Platform,
        path_in_image: &str,
        payload: &[u8],
    ) -> Result<Image, ImageError> {
        Self::with_epoch(platform, path_in_image, payload, epoch_from_env()?)
    }

    /// [`Image::new`] with the timestamp given explicitly instead of read from the
    /// environment.
    pub fn with_epoch(
        platform: Platform,
        path_in_image: &str,
        payload: &[u8],
        epoch: Option<u64>,
    ) -> Result<Image, ImageError> {
        Self::build(platform, path_in_image, payload, epoch, None)
    }

    /// The image of a built-in program's payload: [`Image::new`] with the program's name
    /// as the path, and for `serve` its port in `ExposedPorts`.
    pub fn of_program(
        platform: Platform,
        program: &Program,
        payload: &[u8],
    ) -> Result<Image, ImageError> {
        let port = match program {
            Program::Serve(s) => Some(format!("{}/tcp", s.port)),
            _ => None,
        };
        Self::build(
            platform,
            program.name(),
            payload,
            epoch_from_env()?,
            port.as_deref(),
        )
    }

    fn build(
        platform: Platform,
        path_in_image: &str,
        payload: &[u8],
        epoch: Option<u64>,
        exposed_port: Option<&str>,
    ) -> Result<Image, ImageError> {
        let name = path_in_image.strip_prefix('/').unwrap_or(path_in_image);
        if name.is_empty()
            || name
                .split('/')
                .any(|c| c.is_empty() || c == "." || c == "..")
        {
            return Err(ImageError::BadPath(path_in_image.to_string()));
        }
        if payload.len() > MAX_PAYLOAD {
            return Err(ImageError::TooLarge(payload.len()));
        }
        let layer_tar = layer_tar(name, payload, epoch.unwrap_or(0))?;
        let diff_id = Digest::of(&layer_tar);
        let entrypoint = format!("/{name}");
        let config = to_json(&image_configuration(
            platform,
            &entrypoint,
            &diff_id,
            epoch,
            exposed_port,
        )?);
        let config_digest = Digest::of(&config);
        Ok(Image {
            platform,
            entrypoint,
            layer_tar,
            diff_id,
            config,
            config_digest,
        })
    }

    pub fn platform(&self) -> Platform {
        self.platform
    }

    /// The absolute path of the executable, e.g. `/hello`.
    pub fn entrypoint(&self) -> &str {
        &self.entrypoint
    }

    /// The uncompressed layer tar.
    pub fn layer_tar(&self) -> &[u8] {
        &self.layer_tar
    }

    /// The layer's diff_id: the sha256 of the uncompressed layer tar.
    pub fn diff_id(&self) -> &Digest {
        &self.diff_id
    }

    /// The configuration JSON bytes.
    pub fn config_json(&self) -> &[u8] {
        &self.config
    }

    /// The sha256 of [`Image::config_json`] (Docker's image ID).
    pub fn config_digest(&self) -> &Digest {
        &self.config_digest
    }

    /// The layer as a blob, compressed as asked.
    pub fn layer_blob(&self, compression: crate::archive::Compression) -> LayerBlob {
        LayerBlob::new(&self.layer_tar, compression)
    }

    /// The OCI image manifest JSON for this image with `layer` as its layer.
    pub fn oci_manifest(&self, layer: &LayerBlob) -> Vec<u8> {
        let config = descriptor(
            MediaType::ImageConfig,
            &self.config_digest,
            self.config.len(),
        );
        let layer = descriptor(layer.media_type.clone(), &layer.digest, layer.size());
        config
            .and_then(|c| manifest_json(c, vec![layer?]))
            .expect("descriptors of sha256 digests always build")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::archive::Compression;

    #[test]
    fn builds_a_deterministic_image() {
        let a = Image::with_epoch(Platform::Amd64, "hello", b"12345678", None).unwrap();
        let b = Image::with_epoch(Platform::Amd64, "/hello", b"12345678", None).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.entrypoint(), "/hello");
        assert_eq!(a.layer_tar().len(), 512 * 2);
        assert_eq!(*a.diff_id(), Digest::of(a.layer_tar()));
        let cfg: serde_json::Value = serde_json::from_slice(a.config_json()).unwrap();
        assert_eq!(cfg["rootfs"]["diff_ids"][0], a.diff_id().to_string());
    }

    #[test]
    fn manifest_points_at_config_and_layer() {
        let img = Image::with_epoch(Platform::I386, "x", b"abc", Some(1)).unwrap();
        let layer = img.layer_blob(Compression::Gzip);
        let m: oci_spec::image::ImageManifest =
            serde_json::from_slice(&img.oci_manifest(&layer)).unwrap();
        assert_eq!(
            m.config().digest().to_string(),
            img.config_digest().to_string()
        );
        assert_eq!(m.config().size(), img.config_json().len() as u64);
        assert_eq!(m.layers()[0].media_type(), &MediaType::ImageLayerGzip);
        assert_eq!(m.layers()[0].digest().to_string(), layer.digest.to_string());
        let s = String::from_utf8(img.oci_manifest(&layer)).unwrap();
        assert!(s.starts_with(r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json""#), "{s}");
    }

    #[test]
    fn rejects_bad_paths() {
        for p in ["", "/", "a/../b", "a//b", "./a"] {
            assert!(matches!(
                Image::with_epoch(Platform::Amd64, p, b"", None),
                Err(ImageError::BadPath(_))
            ));
        }
    }
}
