//! smidge builds the smallest container images: hand-laid machine code in the tiniest ELF
//! file the loader accepts, wrapped in a one-layer image and written as a `docker load`
//! archive or an OCI layout, with no assembler, linker or daemon.
//!
//! The steps, each a module, data flowing one way:
//! [`program`] (what to do) → [`arch`] (machine code per instruction set) →
//! [`elf`] (the smallest file for a [`Fit`]) → [`image`] (layer, config, manifest) →
//! [`archive`] (docker tar, OCI layout, compression).

pub mod arch;
pub mod archive;
pub mod elf;
pub mod image;
pub mod platform;
pub mod program;

pub use elf::Fit;
pub use platform::Platform;
pub use program::Program;
