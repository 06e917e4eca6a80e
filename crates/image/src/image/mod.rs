//! The image model ([`model`]): images whose layers are streams with known digests; the
//! documents that name them ([`document`], [`media`]); configurations ([`config`]),
//! digests and references.

pub mod config;
pub mod digest;
pub mod document;
pub mod media;
pub mod model;
pub mod quine;
pub mod reference;

pub use digest::Digest;
pub use document::{Annotations, Descriptor, Document, PlatformSpec};
pub use media::MediaTypes;
pub use model::{Image, ImageSet, Layer, LayerContent, StoredBlob, MAX_PAYLOAD};
pub use reference::{Reference, ReferenceError, ReferenceErrorKind};
