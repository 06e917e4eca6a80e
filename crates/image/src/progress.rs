//! [`Progress`]: told how far a long write has come, for a progress bar. The library
//! draws nothing; the binary decides whether stderr is a terminal.

/// Told what is being worked on and how many bytes of it are done.
pub trait Progress: Sync {
    /// A new piece of work of `total` bytes (e.g. `"layer sha256:ab12…"`).
    fn start(&self, _what: &str, _total: u64) {}
    /// `bytes` more of it are done.
    fn advance(&self, _bytes: u64) {}
    /// The piece is done.
    fn finish(&self) {}
}

/// No progress reporting.
pub struct NoProgress;
impl Progress for NoProgress {}
