//! smidge builds the smallest container images: hand-laid machine code in the tiniest ELF
//! file the loader accepts, wrapped in a one-layer image and written as a `docker load`
//! archive or an OCI layout, with no assembler, linker or daemon.
//!
//! The floors are crates, so an import that runs back up is a compile error:
//! [`smidge_elf`] (programs, ISAs, ELF layouts, `wrap`, platforms) at the bottom,
//! [`smidge_deflate`] on its own, [`smidge_image`] (tar, compression, the image model,
//! destinations, registry, `pack`) above them, and the `smidge` binary on top. This
//! library only re-exports them under one name.
//!
//! ```
//! use smidge::dest::{self, docker::DockerArchive, Output, Sink, Wrapping};
//! use smidge::image::{Image, ImageSet, Reference};
//! use smidge::{elf, Fit, Platform, Program};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // program → payload: an amd64 executable that exits with status 3, 73 bytes.
//! let payload = elf::build(&Program::Exit(3), Platform::Amd64, Fit::Kernel)?;
//! assert_eq!(payload.bytes.len(), 73);
//! // payload → image: one layer holding /exit, Entrypoint ["/exit"].
//! let image = Image::of_program(Platform::Amd64, &Program::Exit(3), &payload.bytes, None)?;
//! // image → destination: the archive `docker load` reads.
//! let dir = tempfile::tempdir()?;
//! let path = dir.path().join("exit.tar.gz");
//! let tag: Reference = "example/exit:3".parse()?;
//! let mut archive = DockerArchive::new(Sink::open(&Output::File(path.clone()), 0o644)?, Wrapping::default(), &tag);
//! dest::write(&ImageSet::new(vec![image]), &mut archive, &smidge::progress::NoProgress)?;
//! assert_eq!(&std::fs::read(&path)?[..2], &[0x1f, 0x8b]);
//! # Ok(())
//! # }
//! ```

pub use smidge_elf::{arch, elf, platform, program, quine, wrap, Fit, Platform, Program};
pub use smidge_explain as explain;
pub use smidge_image::{codec, dest, image, pack, progress, registry, source};
