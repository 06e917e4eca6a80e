//! The image model: one layer (a tar holding one file), its configuration, the OCI
//! manifest and index, digests, and image references. One file per document.

pub mod config;
pub mod digest;
pub mod index;
pub mod layer;
pub mod manifest;
pub mod model;
pub mod reference;

pub use digest::Digest;
pub use layer::LayerBlob;
pub use model::{Image, ImageError};
pub use reference::{Reference, ReferenceError, ReferenceErrorKind};
