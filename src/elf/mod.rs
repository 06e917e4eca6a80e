//! ELF layouts.
/// How far a payload bends the ELF format to save bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Fit {
    /// Loads under the Linux kernel and under qemu-user (honest e_ident, e_ehsize, e_phentsize).
    Portable,
    /// The smallest file Linux's fs/binfmt_elf.c executes.
    Kernel,
}
