//! smidge's image floor: tar, compression, the image model, archives, registry, pack.
pub mod archive;
pub mod image;
pub mod pack;
pub mod registry;
