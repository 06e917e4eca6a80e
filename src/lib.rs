//! smidge builds the smallest container images: hand-laid machine code in the tiniest ELF
//! file the loader accepts, wrapped in a one-layer image and written as a `docker load`
//! archive or an OCI layout, with no assembler, linker or daemon.
//!
//! The steps, each a module, data flowing one way:
//! [`program`] (what to do) → [`arch`] (machine code per instruction set) →
//! [`elf`] (the smallest file for a [`Fit`]) → [`image`] (layer, config, manifest) →
//! [`archive`] (docker tar, OCI layout, compression).
//!
//! ```
//! use smidge::archive::{self, Compression};
//! use smidge::image::{Image, Reference};
//! use smidge::{elf, Fit, Platform, Program};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // program → payload: an amd64 executable that exits with status 3, 80 bytes.
//! let payload = elf::build(&Program::Exit(3), Platform::Amd64, Fit::Kernel)?;
//! assert_eq!(payload.bytes.len(), 80);
//! // payload → image: one layer holding /exit, Entrypoint ["/exit"].
//! let image = Image::new(Platform::Amd64, "exit", &payload.bytes)?;
//! // image → archive: what `docker load` reads.
//! let tag: Reference = "example/exit:3".parse()?;
//! let archive = archive::docker_archive(&image, &tag, Compression::Gzip);
//! assert_eq!(&archive[..2], &[0x1f, 0x8b]);
//! # Ok(())
//! # }
//! ```

pub mod arch;
pub mod archive;
pub mod elf;
pub mod image;
pub mod pack;
pub mod platform;
pub mod program;
pub mod registry;
pub mod wrap;

pub use elf::Fit;
pub use platform::Platform;
pub use program::Program;
