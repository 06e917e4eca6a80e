//! What a payload does, independent of the instruction set.

mod serve;

pub use serve::{reason, Response, Serve, ServeError};

/// What the payload does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Program {
    /// Write these bytes to fd 1 in one write(2), then exit 0.
    Hello(Vec<u8>),
    /// Block SIGTERM and SIGINT, let the kernel reap children (SIGCHLD = SIG_IGN), wait for
    /// one of the two, exit 0. Works as PID 1 of a PID namespace, where signals whose action
    /// is the default are dropped.
    Pause,
    /// Exit with this status.
    Exit(u8),
    /// A web server that answers every request with one fixed response (see [`Serve`]).
    Serve(Serve),
}

impl Program {
    /// The largest `hello` message: 64 MiB.
    pub const MAX_MESSAGE: usize = 64 << 20;

    /// The default message of `smidge hello`.
    pub const DEFAULT_MESSAGE: &'static [u8] = b"Hello, world!\n";

    /// The program's name: the file name in the image and the default repository.
    pub fn name(&self) -> &'static str {
        match self {
            Program::Hello(_) => "hello",
            Program::Pause => "pause",
            Program::Exit(_) => "exit",
            Program::Serve(_) => "serve",
        }
    }
}
