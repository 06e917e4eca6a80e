//! `smidge explain --file` (issue #11): the archive reader (gzip with its own DEFLATE
//! walker, zstd framing, tar headers, the JSON of images, layers inside archives) and
//! the ELF reader, on arbitrary bytes. Never a panic; what they explain covers the input
//! exactly, in order; and nothing allocates more than explain's input limit (a stream
//! decodes to at most `MAX_INPUT` bytes).
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use smidge_explain::{archive, elf, Explanation, MAX_INPUT};

/// One file, rewritten for each input.
fn file() -> &'static PathBuf {
    static DIR: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    let (_, path) = DIR.get_or_init(|| {
        let dir = tempfile::Builder::new()
            .prefix("smidge-fuzz-explain-")
            .tempdir()
            .unwrap();
        let path = dir.path().join("input");
        (dir, path)
    });
    path
}

fn check(e: &Explanation) {
    let mut end = 0;
    for r in &e.ranges {
        assert_eq!(r.start, end, "ranges in order, without gaps");
        assert!(r.end > r.start && !r.roles.is_empty());
        end = r.end;
    }
    assert_eq!(end, e.size, "ranges cover the input");
    assert_eq!(e.bytes.len() as u64, e.size);
    for p in &e.parts {
        check(&p.explanation);
    }
}

fuzz_target!(init: smidge_fuzz::limit_allocations(MAX_INPUT as usize), |data: &[u8]| {
    let path = file();
    std::fs::write(path, data).unwrap();
    if let Ok(e) = archive::file(path, data.to_vec()) {
        check(&e);
    }
    if let Ok(e) = elf::file(path, data.to_vec()) {
        check(&e);
    }
});
