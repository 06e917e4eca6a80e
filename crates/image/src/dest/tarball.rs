//! What the two tar destinations (the docker archive and the OCI layout tar) share: the
//! stream they are written through ([`Wrapping`]: compression, and the base64 shell
//! line) and a layer written as a member of the outer tar.

use std::io::{self, Write};

use super::output::Sink;
use super::shell::ShellLine;
use crate::codec::tar::{padding, UstarHeader, BLOCK_SIZE};
use crate::codec::{Compression, Compressor};
use crate::image::Layer;
use crate::progress::Progress;
use crate::{Error, Result};

/// How an archive's stream is wrapped before it reaches its [`Sink`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Wrapping {
    pub compression: Compression,
    /// The `echo <base64> | base64 -d | docker load` line instead of the bytes.
    pub shell_line: bool,
}

/// Writes `layer`'s uncompressed tar as the member `name`.
pub(crate) fn layer_member(
    w: &mut dyn Write,
    name: &str,
    mode: u32,
    layer: &Layer,
    progress: &dyn Progress,
) -> Result<io::Result<()>> {
    let size = layer.tar_size().ok_or_else(|| {
        Error::Unsupported("a compressed layer of another archive cannot be stored here".into())
    })?;
    let header = UstarHeader::member(name, mode, 0, size)?;
    if let Err(e) = w.write_all(&header.to_block()) {
        return Ok(Err(e));
    }
    if let Err(e) = layer.write_tar(w, progress)? {
        return Ok(Err(e));
    }
    Ok(w.write_all(&[0u8; BLOCK_SIZE][..padding(size)]))
}

/// Writes an archive to `sink` through the compressor (and the shell line) of
/// `wrapping`: `body` writes the tar; then the sink is committed.
pub(crate) fn write_stream(
    mut sink: Sink,
    wrapping: Wrapping,
    body: &mut dyn FnMut(&mut dyn Write) -> Result<io::Result<()>>,
) -> Result<()> {
    let name = sink.name().to_path_buf();
    let written = (|| -> Result<io::Result<()>> {
        let result = if wrapping.shell_line {
            let line = match ShellLine::new(&mut sink) {
                Ok(l) => l,
                Err(e) => return Ok(Err(e)),
            };
            compressed(line, wrapping.compression, body)?.and_then(|l| l.finish().map(drop))
        } else {
            compressed(&mut sink, wrapping.compression, body)?.map(drop)
        };
        Ok(result)
    })()?;
    written.map_err(Error::write(&name))?;
    sink.commit()
}

/// Writes `tar`, an archive already laid out byte for byte (the quine's generation 0), to
/// `sink` through the compressor and shell line of `wrapping`, as every archive is.
pub fn write_laid_out(sink: Sink, wrapping: Wrapping, tar: &[u8]) -> Result<()> {
    write_stream(sink, wrapping, &mut |w| Ok(w.write_all(tar)))
}

fn compressed<W: Write>(
    inner: W,
    compression: Compression,
    body: &mut dyn FnMut(&mut dyn Write) -> Result<io::Result<()>>,
) -> Result<io::Result<W>> {
    let mut c: Compressor<W> = match compression.writer(inner) {
        Ok(c) => c,
        Err(e) => return Ok(Err(e)),
    };
    if let Err(e) = body(&mut c)? {
        return Ok(Err(e));
    }
    Ok(c.finish())
}
