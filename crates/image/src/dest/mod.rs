//! Destinations: where an [`ImageSet`] goes, through one interface ([`Destination`], in
//! the shape of containers/image's `ImageDestination`): a docker archive ([`docker`]), an
//! OCI layout as a tar or a directory ([`oci`]), or a registry
//! ([`crate::registry::Registry`]). [`write`] drives any of them the same way, so the
//! documents (manifests, index) are made in one place.

pub mod docker;
pub mod oci;
pub mod output;
pub mod shell;
pub mod tarball;

use crate::codec::Compression;
use crate::image::document::{self, Descriptor, Document, Style};
use crate::image::{Image, ImageSet, Layer};
use crate::progress::Progress;
use crate::{Error, Result};

pub use output::{Output, Sink};
pub use tarball::Wrapping;

/// Something that stores images. [`write`] calls, for each image, [`put_layer`] for every
/// layer, [`put_config`], [`put_manifest`]; then [`put_index`] when there are several
/// images; then [`commit`]. A destination that writes a stream in an order of its own (a
/// tar with `index.json` first) records what it is given and writes at commit; one with
/// random access (a directory, a registry) stores each blob when it is put.
///
/// [`put_layer`]: Destination::put_layer
/// [`put_config`]: Destination::put_config
/// [`put_manifest`]: Destination::put_manifest
/// [`put_index`]: Destination::put_index
/// [`commit`]: Destination::commit
pub trait Destination {
    /// How manifests are written here.
    fn style(&self) -> Style {
        Style::LAYOUT
    }
    /// Stores a layer blob; returns its descriptor.
    fn put_layer(&mut self, layer: &Layer, progress: &dyn Progress) -> Result<Descriptor>;
    /// Stores an image's config; returns its descriptor.
    fn put_config(&mut self, image: &Image) -> Result<Descriptor>;
    /// Stores the manifest of `image`. `top` when it is what the reference names (one
    /// image, no index).
    fn put_manifest(&mut self, manifest: &Document, image: &Image, top: bool) -> Result<()>;
    /// Stores the index over every image's manifest (several images only); it is what
    /// the reference names.
    fn put_index(&mut self, index: &Document) -> Result<()>;
    /// Makes everything visible (renames, writes the tar, moves the tag).
    /// `manifests` are the descriptors of the images' manifests, with platforms.
    fn commit(
        &mut self,
        top: &Descriptor,
        manifests: &[Descriptor],
        progress: &dyn Progress,
    ) -> Result<()>;
}

/// Writes `set` to `dest` and returns the descriptor of what the reference now names (the
/// manifest of a single image, or the index).
pub fn write(
    set: &ImageSet,
    dest: &mut dyn Destination,
    progress: &dyn Progress,
) -> Result<Descriptor> {
    if set.images.is_empty() {
        return Err(Error::Unsupported("no image to write".into()));
    }
    let style = dest.style();
    let single = set.images.len() == 1;
    let mut manifests = Vec::new();
    for image in &set.images {
        let layers = image
            .layers()
            .iter()
            .map(|l| dest.put_layer(l, progress))
            .collect::<Result<Vec<_>>>()?;
        let config = dest.put_config(image)?;
        let manifest = document::manifest(style, &config, &layers, &set.annotations);
        dest.put_manifest(&manifest, image, single)?;
        let mut d = manifest.descriptor();
        d.platform = Some(image.platform().clone());
        manifests.push(d);
    }
    let top = if single {
        manifests[0].clone()
    } else {
        let index = document::index(style, &manifests, &set.annotations);
        dest.put_index(&index)?;
        index.descriptor()
    };
    dest.commit(&top, &manifests, progress)?;
    Ok(top)
}

/// The descriptor of a layer stored uncompressed (inside a tar archive, whose outer stream
/// carries the compression): its digest is its diff_id.
pub(crate) fn uncompressed_layer(style: Style, layer: &Layer) -> Result<Descriptor> {
    let size = layer.tar_size().ok_or_else(|| {
        Error::Unsupported(
            "a compressed layer of another archive cannot be stored uncompressed here".into(),
        )
    })?;
    Ok(Descriptor::new(
        style.media_types.layer(Compression::None),
        *layer.diff_id(),
        size,
    ))
}

/// The descriptor of an image's config.
pub(crate) fn config_descriptor(style: Style, image: &Image) -> Descriptor {
    Descriptor::new(
        style.media_types.config(),
        *image.config_digest(),
        image.config().len() as u64,
    )
}
