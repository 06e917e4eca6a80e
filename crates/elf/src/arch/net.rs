//! The socket and thread constants `serve` passes the kernel (include/linux/socket.h,
//! include/uapi/asm-generic/socket.h, include/uapi/linux/sched.h). Where an architecture
//! differs it says so; each instruction set takes them from here.

/// `AF_INET`.
pub const AF_INET: u8 = 2;
/// `SOCK_STREAM` (the same on every platform smidge has; MIPS alone differs).
pub const SOCK_STREAM: u8 = 1;
/// `SOL_SOCKET`.
pub const SOL_SOCKET: u8 = 1;
/// `SO_REUSEADDR`.
pub const SO_REUSEADDR: u8 = 2;
/// `SO_RCVTIMEO` (on 32-bit platforms the "old" one, whose timeval is two 32-bit words).
pub const SO_RCVTIMEO: u8 = 20;
/// `SO_RCVTIMEO` on powerpc (arch/powerpc/include/uapi/asm/socket.h).
pub const SO_RCVTIMEO_PPC: u8 = 18;
/// `sizeof(struct sockaddr_in)`: what bind insists on.
pub const SOCKADDR_IN_SIZE: u8 = 16;
/// recv: discard the bytes instead of copying them (TCP, Linux 2.4.4 and later).
pub const MSG_TRUNC: u32 = 0x20;
/// send: return EPIPE instead of raising SIGPIPE.
pub const MSG_NOSIGNAL: u32 = 0x4000;
/// `shutdown` how: no more sends (the peer reads end of file).
pub const SHUT_WR: u8 = 1;
/// `clone` flags for a thread: what glibc's pthread_create passes minus the TLS and tid
/// bookkeeping; qemu-user insists on exactly this set (its `CLONE_THREAD_FLAGS`).
pub const CLONE_THREAD_FLAGS: u32 = 0x100 // CLONE_VM
    | 0x200 // CLONE_FS
    | 0x400 // CLONE_FILES
    | 0x800 // CLONE_SIGHAND
    | 0x1_0000 // CLONE_THREAD
    | 0x4_0000; // CLONE_SYSVSEM
const _: () = assert!(CLONE_THREAD_FLAGS == 0x50f00);
