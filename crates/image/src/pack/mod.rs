//! `smidge pack` (issue #5): a user's own static program, or a folder, into the smallest
//! FROM-scratch image, reproducibly. Data flows one way:
//!
//! ```text
//! sources (PATH..., --add SRC:DEST) ─► tree (sorted layer entries, checked) ─┐
//! entrypoint's ELF header ─► platform, dynamic/script refusal, --strip        ├─► Plan
//! --entrypoint, --cmd, --env, ... ─► RunConfig                                ─┘
//!                                    Plan ─► Image (its layer a stream of the files)
//! ```

pub mod error;
pub mod inspect;
pub mod plan;
pub mod strip;
pub mod tree;
pub mod write;

pub use error::PackError;
pub use inspect::{inspect, ElfInfo, FileKind};
pub use plan::{parse_words, plan, Owner, PackSpec, Plan, Source};
pub use write::{image, image_name};
