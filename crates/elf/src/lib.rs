//! The bottom floor of smidge: what a program does ([`program`]), its machine code per
//! instruction set ([`arch`]), the smallest ELF file for a [`Fit`] ([`elf`]), raw code under
//! the smallest header ([`wrap`]) and the platforms ([`platform`]). Nothing here knows about
//! images; the floors above import this crate and never the other way round.
//!
//! ```
//! use smidge_elf::{elf, Fit, Platform, Program};
//! // An amd64 executable that exits with status 3, 73 bytes.
//! let payload = elf::build(&Program::Exit(3), Platform::Amd64, Fit::Kernel).unwrap();
//! assert_eq!(payload.bytes.len(), 73);
//! ```

pub mod arch;
pub mod elf;
pub mod platform;
pub mod program;
pub mod quine;
pub mod wrap;

pub use elf::Fit;
pub use platform::Platform;
pub use program::Program;
