//! Whole files laid out by hand, where one program and one header fit each other better
//! than the planner can make them: header fields that are also instructions, not just
//! holes between them. [`super::build`] uses one when it applies and the planner otherwise;
//! each is checked like any other payload (golden bytes, capstone along the execution path,
//! runs natively).
//!
//! `amd64.rs` and `i386.rs` hold the files, each with its listing and the rule of
//! fs/binfmt_elf.c every trick relies on.

mod amd64;
mod i386;

use super::layout::Fields;
use super::plan::{Payload, Placed};
use crate::arch::Insn;
use crate::{Fit, Platform, Program};

/// A hand-laid payload for `program` on `platform` in `fit`, if there is one.
pub fn payload(program: &Program, platform: Platform, fit: Fit) -> Option<Payload> {
    match (program, platform, fit) {
        (Program::Hello(message), Platform::I386, Fit::Kernel) => i386::kernel_hello(message),
        (Program::Hello(message), Platform::Amd64, Fit::Kernel) => amd64::kernel_hello(message),
        (Program::Hello(message), Platform::Amd64, Fit::Portable) => amd64::portable_hello(message),
        (Program::Exit(code), Platform::Amd64, Fit::Kernel) => Some(amd64::kernel_exit(*code)),
        (Program::Pause, Platform::Amd64, Fit::Kernel) => Some(amd64::kernel_pause()),
        (Program::Pause, Platform::Amd64, Fit::Portable) => Some(amd64::portable_pause()),
        _ => None,
    }
}

/// A file of `len` bytes: the header fields, then the instructions over them (Fields checks
/// that every byte an instruction shares with a field agrees), then the data at `data_at`.
/// `code` is in execution order; `base` is the address of file offset 0.
fn assemble(
    mut fields: Fields,
    code: Vec<(usize, Insn)>,
    len: usize,
    data: Option<(usize, &[u8])>,
    base: u64,
    entry: usize,
) -> Payload {
    for (at, insn) in &code {
        fields.put(*at, &insn.asm, &insn.bytes);
    }
    let mut bytes = vec![0u8; len];
    fields.write(&mut bytes);
    if let Some((at, data)) = data {
        bytes[at..at + data.len()].copy_from_slice(data);
    }
    Payload {
        bytes,
        base,
        entry,
        entry_address: base + entry as u64,
        code: code
            .into_iter()
            .map(|(offset, insn)| Placed { offset, insn })
            .collect(),
        data: data.map(|(at, _)| at),
    }
}
