//! smidge's DEFLATE encoder: whatever the input, `flate2` inflates the stream back to it,
//! and the stream is never larger than the input in stored blocks (5 bytes of header per
//! block of at most 65535 bytes, one block for empty input: the encoder keeps its block
//! split only when it is smaller than one block written the cheapest way, and a block is
//! written stored when that is cheapest). An encoder reads no sizes from its input, so
//! no allocation limit: what it allocates grows with the input.
#![no_main]

use std::io::Read;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let z = smidge_deflate::deflate(data);
    let stored = data.len() + 5 * data.len().div_ceil(65535).max(1);
    assert!(
        z.len() <= stored,
        "{} bytes of DEFLATE for {} bytes of input (stored blocks: {stored})",
        z.len(),
        data.len()
    );
    let mut back = Vec::with_capacity(data.len());
    flate2::read::DeflateDecoder::new(&z[..])
        .read_to_end(&mut back)
        .expect("flate2 inflates the stream");
    assert!(back == data, "the stream inflates to other bytes");
});
