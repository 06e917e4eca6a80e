//! The one layer: an uncompressed tar holding one regular file, and its blob form as it is
//! stored (plain tar or gzip) with the OCI media type that says which.

use oci_spec::image::MediaType;

use super::Digest;
use crate::archive::tar::{self, Entry, TarError};
use crate::archive::Compression;

/// The permission bits of the executable in the layer.
pub const EXECUTABLE_MODE: u32 = 0o755;

/// The uncompressed layer tar: one regular file `name` (no leading `/`), mode 0755, uid and
/// gid 0, `mtime` seconds (0 leaves the field empty).
pub fn layer_tar(name: &str, payload: &[u8], mtime: u64) -> Result<Vec<u8>, TarError> {
    tar::tar(&[Entry {
        name,
        mode: EXECUTABLE_MODE,
        mtime,
        data: payload,
    }])
}

/// A layer as stored in a registry or an OCI layout: its bytes, digest and media type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LayerBlob {
    pub media_type: MediaType,
    pub bytes: Vec<u8>,
    pub digest: Digest,
}

impl LayerBlob {
    /// The blob for an uncompressed layer tar, compressed as asked:
    /// `application/vnd.oci.image.layer.v1.tar` or `…tar+gzip`.
    pub fn new(layer_tar: &[u8], compression: Compression) -> Self {
        let (media_type, bytes) = match compression {
            Compression::None => (MediaType::ImageLayer, layer_tar.to_vec()),
            Compression::Gzip => (MediaType::ImageLayerGzip, compression.compress(layer_tar)),
        };
        let digest = Digest::of(&bytes);
        LayerBlob {
            media_type,
            bytes,
            digest,
        }
    }

    /// The size in bytes, as a descriptor records it.
    pub fn size(&self) -> usize {
        self.bytes.len()
    }
}
