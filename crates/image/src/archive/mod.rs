//! Archives: the hand-made tar writer, compression, the `docker load` archive, the OCI
//! image layout (as a tar or a directory), the base64 shell one-liner, and atomic writes.

pub mod compress;
pub mod docker;
pub mod fs;
pub mod oci;
pub mod shell;
pub mod stream;
pub mod tar;

pub use compress::Compression;
pub use docker::docker_archive;
pub use fs::{write_atomic, ArchiveError};
pub use oci::{oci_archive, write_oci_dir};
pub use shell::shell_command;

#[cfg(test)]
mod samples;
