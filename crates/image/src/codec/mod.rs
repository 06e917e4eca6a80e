//! The lowest floor of this crate: bytes in, bytes out. [`tar`] (the one header encoder and
//! the streaming layer tar) and [`compression`] (the one `Compression` and its streaming
//! writer). Nothing here knows about images.

pub mod compression;
pub mod tar;

pub use compression::{Compression, Compressor};
