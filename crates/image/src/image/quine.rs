//! The quine's image (issue #12). [`smidge_elf::quine`] lays out the docker archive the
//! program prints, with this crate's one tar header encoder (handed down, as the ELF floor
//! knows nothing of tar); that archive *is* what `smidge quine --format docker` writes.
//! For every other destination (an OCI archive or layout, a registry) the same config and
//! layer become an [`Image`]: the same config bytes, so the same image ID.

use smidge_elf::quine::{self, Quine, QuineError};
use smidge_elf::{Fit, Platform};

use super::{Image, Layer};
use crate::codec::tar::UstarHeader;
use crate::Result;

/// The quine for `platform` in `fit`, whose printed archive tags the image `repo_tag`.
pub fn build(
    platform: Platform,
    fit: Fit,
    repo_tag: &str,
) -> std::result::Result<Quine, QuineError> {
    let header = |name: &str, mode: u32, size: u64| {
        UstarHeader::member(name, mode, 0, size)
            .expect("the quine's member names (`manifest.json`, `c`, `l`, `quine`) and sizes (under 8 KiB) fit a ustar header")
            .to_block()
    };
    quine::build(platform, fit, repo_tag, &header)
}

/// The quine's image: its config and its one layer, byte for byte as the program prints
/// them.
pub fn image(quine: &Quine) -> Result<Image> {
    Image::new(
        quine.config().to_vec(),
        vec![Layer::tar(quine.layer().to_vec())],
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest as _, Sha256};

    #[test]
    fn the_image_is_the_printed_config_and_layer() {
        let q = build(Platform::Amd64, Fit::Kernel, "smidge/quine:latest").unwrap();
        let image = image(&q).unwrap();
        assert_eq!(image.config(), q.config());
        assert_eq!(
            image.layers()[0].diff_id().to_string(),
            format!("sha256:{}", hex::encode(Sha256::digest(q.layer())))
        );
        assert_eq!(image.platform().architecture, "amd64");
        // The config's digest is the image ID `docker load` of generation 0 gives.
        assert_eq!(
            image.config_digest().to_string(),
            format!("sha256:{}", hex::encode(Sha256::digest(q.config())))
        );
    }
}
