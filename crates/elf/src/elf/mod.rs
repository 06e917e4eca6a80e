//! The smallest ELF executables: header layouts per platform and [`Fit`], and the planner
//! that lays a program's code into them.

mod golf;
pub mod layout;
pub mod machine;
mod plan;
pub mod spec;

pub use layout::Layout;
pub use plan::{Payload, Placed};

use crate::arch::{self, Addressing};
use crate::{Platform, Program};
use std::fmt;
use std::str::FromStr;

/// How far a payload bends the ELF format to save bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Fit {
    /// Loads under the Linux kernel and under qemu-user, directly or through binfmt_misc:
    /// e_ident, e_type, e_machine, e_ehsize and e_phentsize are honest.
    #[default]
    Portable,
    /// The smallest file Linux's fs/binfmt_elf.c executes (5.x and later).
    Kernel,
}

impl Fit {
    pub const ALL: [Fit; 2] = [Fit::Portable, Fit::Kernel];
}

impl fmt::Display for Fit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Fit::Portable => "portable",
            Fit::Kernel => "kernel",
        })
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("unknown fit `{0}`: expected portable or kernel")]
pub struct UnknownFit(pub String);

impl FromStr for Fit {
    type Err = UnknownFit;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "portable" => Ok(Fit::Portable),
            "kernel" => Ok(Fit::Kernel),
            _ => Err(UnknownFit(s.to_string())),
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BuildError {
    #[error("message is {0} bytes; the most smidge puts in an image is {max} bytes", max = Program::MAX_MESSAGE)]
    MessageTooLong(usize),
    #[error("layout: {0}")]
    Layout(String),
}

/// Builds the executable for `program` on `platform` in the smallest file `fit` allows.
pub fn build(program: &Program, platform: Platform, fit: Fit) -> Result<Payload, BuildError> {
    if let Program::Hello(m) = program {
        if m.len() > Program::MAX_MESSAGE {
            return Err(BuildError::MessageTooLong(m.len()));
        }
    }
    if let Some(payload) = golf::payload(program, platform, fit) {
        return Ok(payload);
    }
    // Every layout the platform and fit offer; the smallest file wins (the first on a tie).
    // A layout the program does not fit is skipped; the error is the first layout's.
    let mut best: Option<Payload> = None;
    let mut error = None;
    for layout in Layout::candidates(platform, fit) {
        let addressing = if layout.base_below_4g() {
            Addressing::Abs32
        } else {
            Addressing::PcRelative
        };
        let code = arch::lower(platform, program, addressing);
        match plan::plan(layout, arch::isa(platform), code) {
            Ok(p) if best.as_ref().is_none_or(|b| p.bytes.len() < b.bytes.len()) => best = Some(p),
            Ok(_) => {}
            Err(e) => {
                error.get_or_insert(e);
            }
        }
    }
    best.ok_or_else(|| error.expect("every platform and fit has a layout"))
}
