//! smidge builds the smallest container images: hand-laid machine code in the tiniest ELF
//! file the loader accepts, wrapped in a one-layer image and written as a `docker load`
//! archive or an OCI layout, with no assembler, linker or daemon.
//!
//! The floors are crates, so an import that runs back up is a compile error:
//! [`smidge_elf`] (programs, ISAs, ELF layouts, `wrap`, platforms) at the bottom,
//! [`smidge_deflate`] on its own, [`smidge_image`] (tar, compression, the image model,
//! destinations, registry, `pack`) above them, and the `smidge` binary on top. This
//! library only re-exports them under one name.

pub use smidge_elf::{arch, elf, platform, program, wrap, Fit, Platform, Program};
pub use smidge_image::{codec, dest, image, pack, progress, registry, source};
