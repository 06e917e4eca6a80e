//! The signal numbers and constants `pause` passes the kernel: the same on every platform
//! smidge has (include/uapi/asm-generic/signal.h, which arm64 and riscv use, and
//! arch/{x86,arm,powerpc,s390}/include/uapi/asm/signal.h agree for these). Each instruction
//! set takes them from here, in the integer type its encoders want.

pub const SIGINT: u8 = 2;
pub const SIGTERM: u8 = 15;
pub const SIGCHLD: u8 = 17;
/// The `sigset_t` bits of SIGINT and SIGTERM (bit `n - 1` for signal `n`): 0x4002.
pub const STOP_SIGNALS: u16 = (1 << (SIGINT - 1)) | (1 << (SIGTERM - 1));
/// `SIG_IGN` as a handler value.
pub const SIG_IGN: u8 = 1;
/// rt_sigprocmask's `how` that adds to the mask.
pub const SIG_BLOCK: u8 = 0;
/// The kernel's sigset_t is 64 bits: rt_* syscalls insist on sigsetsize == 8.
pub const SIGSET_SIZE: u8 = 8;
pub const SIGPIPE: u8 = 13;
/// `sa_flags` bit saying `sa_restorer` is set: x86 delivers no signal to a handler
/// without it (arch/x86/kernel/signal_64.c), even one that never returns.
pub const SA_RESTORER: u32 = 0x0400_0000;
