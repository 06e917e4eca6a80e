//! The archive as one shell line that loads it: `echo <base64> | base64 -d | docker load`.
//! `docker load` reads a gzip (or plain) archive from stdin as is. Streamed: the base64
//! is written as the archive is.

use std::io::{self, Write};

use base64::engine::general_purpose::STANDARD;
use base64::write::EncoderWriter;

/// What goes before the base64.
pub const PREFIX: &[u8] = b"echo ";
/// What goes after it.
pub const SUFFIX: &[u8] = b" | base64 -d | docker load\n";

/// A writer that writes [`PREFIX`], the base64 of what it is given, and at
/// [`ShellLine::finish`] the padding and [`SUFFIX`].
pub struct ShellLine<W: Write>(EncoderWriter<'static, base64::engine::GeneralPurpose, W>);

impl<W: Write> ShellLine<W> {
    pub fn new(mut inner: W) -> io::Result<Self> {
        inner.write_all(PREFIX)?;
        Ok(ShellLine(EncoderWriter::new(inner, &STANDARD)))
    }

    pub fn finish(mut self) -> io::Result<W> {
        let mut inner = self.0.finish()?;
        inner.write_all(SUFFIX)?;
        Ok(inner)
    }
}

impl<W: Write> Write for ShellLine<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line() {
        let mut s = ShellLine::new(Vec::new()).unwrap();
        s.write_all(b"\x1f\x8b").unwrap();
        s.write_all(b"\x08").unwrap();
        assert_eq!(
            String::from_utf8(s.finish().unwrap()).unwrap(),
            "echo H4sI | base64 -d | docker load\n"
        );
    }
}
