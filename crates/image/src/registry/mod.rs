//! Registry push (issue #4): images and multi-platform indexes to any OCI distribution
//! registry, with the credentials docker, crane and ko use.
//!
//! [`source`] reads what `smidge push` is given; [`manifest`] writes the manifests and
//! the index in OCI or Docker media types; [`auth`] finds credentials; [`push()`] speaks the
//! protocol (through the `oci-client` crate). Errors are [`RegistryError`], one line each.
//!
//! ```no_run
//! use smidge::registry::{push, PushImage, PushOptions};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let images = smidge::registry::read_source("pause.tar.gz".as_ref())?;
//! let pushed = push(&images, &"127.0.0.1:5000/smidge/pause".parse()?, &PushOptions::default())?;
//! println!("127.0.0.1:5000/smidge/pause@{}", pushed.digest);
//! # Ok(())
//! # }
//! ```

pub mod auth;
pub mod error;
pub mod manifest;
pub mod push;
pub mod source;

pub use auth::Credentials;
pub use error::RegistryError;
pub use manifest::{Layer, MediaTypes, PushImage};
pub use push::{push, PushOptions, Pushed, Retry};
pub use source::read_source;
