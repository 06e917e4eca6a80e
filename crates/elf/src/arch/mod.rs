//! Machine code, one directory per instruction set.
//!
//! Each directory is a listing: the few instructions smidge emits, their bytes, and their
//! assembly beside them, plus the syscall numbers they use. The programs are written once
//! (see [`crate::program`]); the matrix of programs × instruction sets is the trait
//! [`Programs`], which every instruction set implements in full (no default bodies, so a
//! program missing on one is a compile error), and [`lower`] holds the one `match` on
//! [`Program`]. [`Isa`] adds what the layout planner needs to link the code.
//!
//! The layout, the same for every instruction set (`arch/<isa>/`):
//! - `mod.rs`: the registers the code may rely on at the entry point, the syscall numbers,
//!   and the [`Programs`] and [`Isa`] impls (jump, nop, skip, alignment);
//! - `encode.rs`: how each instruction is encoded (bytes from operands) and the patches the
//!   planner applies to PC-relative ones (`Fixup::Encode`), e.g. riscv64's `c.j`, `bltz`,
//!   `auipc`, arm64's `movz`, `adr`, `b`; amd64 and i386 share theirs in `x86.rs`;
//! - `exit.rs`, `hello.rs`, `pause.rs`, `serve.rs`, `quine.rs`: one program's listing each.
//!
//! Shared by all: `encode.rs` (the one range check of every displacement and PC-relative
//! operand: a signed or unsigned field of so many bits, counting bytes, halfwords or
//! words), `signal.rs` and `net.rs` (the constants `pause` and `serve` pass the kernel),
//! `quine.rs` (what every quine listing is given, and SHA-256's constants).

/// The [`Programs`] impl of an instruction set: every method calls the listing of the same
/// name in the instruction set's own files (`exit::exit`, `hello::hello`, `pause::pause`,
/// `serve::serve`, `quine::listing`, `quine::sha256_test`), so the matrix is one table of
/// files, and a listing an instruction set lacks is still a compile error.
macro_rules! programs {
    ($isa:ty) => {
        impl $crate::arch::Programs for $isa {
            fn exit(&self, code: u8) -> $crate::arch::Code {
                exit::exit(code)
            }

            fn hello(
                &self,
                message: &[u8],
                addressing: $crate::arch::Addressing,
            ) -> $crate::arch::Code {
                hello::hello(message, addressing)
            }

            fn pause(&self) -> $crate::arch::Code {
                pause::pause()
            }

            fn serve(
                &self,
                serve: &$crate::program::Serve,
                addressing: $crate::arch::Addressing,
            ) -> $crate::arch::Code {
                serve::serve(serve, addressing)
            }

            fn quine(&self, addresses: &$crate::arch::quine::Addresses) -> Vec<$crate::arch::Insn> {
                quine::listing(addresses)
            }

            fn sha256_test(
                &self,
                addresses: &$crate::arch::quine::Addresses,
            ) -> Vec<$crate::arch::Insn> {
                quine::sha256_test(addresses)
            }
        }
    };
}

mod amd64;
mod arm;
mod arm64;
mod encode;
mod i386;
pub mod net;
mod ppc64le;
pub mod quine;
mod riscv64;
mod s390x;
pub mod signal;
mod x86;

pub use amd64::Amd64;
pub use arm::ArmV7;
pub use arm64::Arm64;
pub use i386::I386;
pub use ppc64le::Ppc64le;
pub use riscv64::Riscv64;
pub use s390x::S390x;

use crate::program::Serve;
use crate::{Platform, Program};

/// A place in the code an instruction can refer to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// The first byte of the program's data (the message of `hello`).
    Data,
    /// The instruction carrying this label.
    Label(u8),
}

/// Bytes of an instruction that are only known once the layout planner has placed it.
#[derive(Clone, Copy, Debug)]
pub enum Fixup {
    /// `u32` little-endian absolute address of `target`, at byte `at` of the instruction.
    Abs32 { at: usize, target: Target },
    /// `i32` little-endian distance from the end of the instruction to `target`.
    Rel32 { at: usize, target: Target },
    /// `i8` distance from the end of the instruction to `target`.
    Rel8 { at: usize, target: Target },
    /// Anything else an instruction set encodes: `encode(bytes, pc, target)` patches the
    /// instruction's bytes, given its own address and the target's, or says why it cannot.
    Encode { target: Target, encode: Encoder },
}

/// Patches an instruction for the address of its target: `(bytes, pc, target)`.
pub type Encoder = fn(&mut [u8], u64, u64) -> Result<(), String>;

/// One machine instruction, as it appears in the listing.
#[derive(Clone, Debug)]
pub struct Insn {
    pub bytes: Vec<u8>,
    /// The instruction in assembly (Intel syntax), for listings and tests.
    pub asm: String,
    pub fixup: Option<Fixup>,
    /// A label other instructions can jump to.
    pub label: Option<u8>,
    /// The instruction reads the flags, so nothing that changes them may be put before it.
    pub reads_flags: bool,
    /// How many bytes after the instruction are its operand without being part of it: a
    /// skip's operand is the fixed header bytes it flows over.
    pub swallows: usize,
}

impl Insn {
    pub fn new(bytes: &[u8], asm: impl Into<String>) -> Insn {
        Insn {
            bytes: bytes.to_vec(),
            asm: asm.into(),
            fixup: None,
            label: None,
            reads_flags: false,
            swallows: 0,
        }
    }

    pub fn fixup(mut self, fixup: Fixup) -> Insn {
        self.fixup = Some(fixup);
        self
    }

    pub fn label(mut self, label: u8) -> Insn {
        self.label = Some(label);
        self
    }

    pub fn reads_flags(mut self) -> Insn {
        self.reads_flags = true;
        self
    }

    pub fn swallows(mut self, n: usize) -> Insn {
        self.swallows = n;
        self
    }

    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }
}

/// A lowered program: instructions in execution order (the last one never returns) and the
/// data they refer to.
#[derive(Clone, Debug)]
pub struct Code {
    pub insns: Vec<Insn>,
    pub data: Vec<u8>,
}

/// How code may name an address in its own image.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Addressing {
    /// The image loads below 4 GiB: a 32-bit absolute address works.
    Abs32,
    /// The image loads above 4 GiB: only PC-relative addressing reaches it.
    PcRelative,
}

/// Every program, as one instruction set writes it: the program × instruction set matrix.
/// Each method is one listing (in `arch/<isa>/<program>.rs`) and assumes the register state
/// the kernel (and qemu-user) leaves at the ELF entry point. There are no default bodies: a
/// program an instruction set lacks is a compile error, and a new [`Program`] is a new
/// method here and a new arm in [`lower`], the only `match` on programs.
pub trait Programs {
    /// [`Program::Exit`]: exit with `code`.
    fn exit(&self, code: u8) -> Code;

    /// [`Program::Hello`]: write `message` to stdout, exit 0.
    fn hello(&self, message: &[u8], addressing: Addressing) -> Code;

    /// [`Program::Pause`]: wait for SIGINT or SIGTERM, reaping children, exit 0.
    fn pause(&self) -> Code;

    /// [`Program::Serve`]: answer every HTTP request with one response.
    fn serve(&self, serve: &Serve, addressing: Addressing) -> Code;

    /// The quine ([`crate::quine`]): a program that prints the image archive that holds it,
    /// computing SHA-256 as it goes (what it does with the [`quine::Addresses`] is in
    /// [`quine`]). Absolute addresses, placed by `crate::quine` rather than the planner.
    fn quine(&self, addresses: &quine::Addresses) -> Vec<Insn>;

    /// The quine's SHA-256 alone: the digest of a padded message, its hex written to
    /// stdout ([`quine`]), for the tests to check against another implementation.
    fn sha256_test(&self, addresses: &quine::Addresses) -> Vec<Insn>;
}

/// What the layout planner needs from an instruction set: its programs, and the few
/// instructions it links them with.
pub trait Isa: Programs {
    /// The shortest unconditional jump to `target` (the planner links code across header
    /// fields with it, so its length is what crossing a field costs).
    fn jump(&self, target: Target) -> Insn;

    /// An instruction that ends exactly where the next `fixed` header bytes begin and takes
    /// them as its operand, so execution flows over them harmlessly (changing only flags).
    fn skip(&self, _fixed: usize) -> Option<Insn> {
        None
    }

    /// The shortest instruction that does nothing.
    fn nop(&self) -> Insn;

    /// Whether `insn` still means the same thing when `prefix` bytes run just before it
    /// (used when the ELF magic itself is executed).
    fn tolerates_prefix(&self, _insn: &Insn, _prefix: &[u8]) -> bool {
        false
    }

    /// Instructions start at file offsets that are multiples of this (the image loads at a
    /// page boundary, so file alignment is address alignment).
    fn align(&self) -> usize {
        1
    }

    /// The data (the message) starts at a file offset that is a multiple of this (s390x's
    /// `larl` addresses halfwords).
    fn data_align(&self) -> usize {
        1
    }

    /// Whether the data may go into a header hole (before the code). An instruction set
    /// whose address-forming instruction only reaches forward says no.
    fn data_in_holes(&self) -> bool {
        true
    }

    /// Bits or'ed into e_entry: 1 for code that starts in ARM's Thumb state.
    fn entry_bits(&self) -> u64 {
        0
    }
}

/// Lowers `program` for `platform`.
pub fn lower(platform: Platform, program: &Program, addressing: Addressing) -> Code {
    let isa = isa(platform);
    match program {
        Program::Exit(code) => isa.exit(*code),
        Program::Hello(message) => isa.hello(message, addressing),
        Program::Pause => isa.pause(),
        Program::Serve(serve) => isa.serve(serve, addressing),
    }
}

/// The instruction set of a platform.
pub fn isa(platform: Platform) -> &'static dyn Isa {
    match platform {
        Platform::Amd64 => &Amd64,
        Platform::I386 => &I386,
        Platform::Arm64 => &Arm64,
        Platform::ArmV7 => &ArmV7,
        Platform::Riscv64 => &Riscv64,
        Platform::Ppc64le => &Ppc64le,
        Platform::S390x => &S390x,
    }
}
