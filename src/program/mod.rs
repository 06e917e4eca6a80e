//! programs
/// What the payload does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Program {
    /// Write these bytes to fd 1, exit 0.
    Hello(Vec<u8>),
    /// Wait for SIGTERM or SIGINT, reaping children meanwhile; exit 0.
    Pause,
    /// Exit with this status.
    Exit(u8),
}
