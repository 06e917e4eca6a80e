//! Registry push (issue #4): images and multi-platform indexes to any OCI distribution
//! registry, with the credentials docker, crane and ko use.
//!
//! [`Registry`] is a [`crate::dest::Destination`]: [`crate::dest::write`] drives it like
//! any other. [`auth`] finds credentials; errors are [`RegistryError`], one line each.
//!
//! ```no_run
//! use smidge_image::registry::{PushOptions, Registry};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let source = smidge_image::source::read_source("pause.tar.gz".as_ref())?;
//! let reference = "127.0.0.1:5000/smidge/pause".parse()?;
//! let mut registry = Registry::connect(&reference, &PushOptions::default())?;
//! let top = smidge_image::dest::write(&source.set, &mut registry, &smidge_image::progress::NoProgress)?;
//! println!("127.0.0.1:5000/smidge/pause@{}", top.digest);
//! # Ok(())
//! # }
//! ```

pub mod auth;
pub mod error;
pub mod push;
pub mod transport;

pub use auth::Credentials;
pub use error::{RegistryError, TlsCause};
pub use push::{is_local, verify_login, PushOptions, Pushed, Registry, Retry};
