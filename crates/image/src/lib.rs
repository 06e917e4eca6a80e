//! smidge's image floor. Data flows one way, each step a module that imports only the
//! ones before it:
//!
//! ```text
//! codec (tar, compression) ─► image (model, documents) ─► pack / source (make ImageSets)
//!                                                      ─► dest (docker tar, OCI tar, OCI dir)
//!                                                      ─► registry (a destination over HTTP)
//! ```
//!
//! Every source produces an [`image::ImageSet`] whose layers are streams with known
//! digests; every destination consumes it through [`dest::Destination`], driven by
//! [`dest::write`]. Errors are one [`Error`]. Every temporary file or directory is made
//! through [`temp`], so that [`temp::remove_all`] can remove them before the process dies.

pub mod codec;
pub mod dest;
pub mod error;
pub mod image;
pub mod pack;
pub mod progress;
pub mod registry;
pub mod source;
pub mod temp;

pub use error::{Error, Result};
