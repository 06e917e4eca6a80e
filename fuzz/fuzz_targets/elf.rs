//! The ELF reader behind `smidge pack`: `pack::inspect` (what a file is: ELF, script or
//! other, and the ELF header and program headers) and, for ELF, `--strip`'s plan (the
//! header to write and where to cut). Never a panic, and, as the reader reads only
//! headers, no allocation over 128 KiB.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use smidge_image::pack::inspect::{inspect, FileKind};
use smidge_image::pack::strip::strip_plan;

/// One file, rewritten for each input.
fn file() -> &'static PathBuf {
    static DIR: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    let (_, path) = DIR.get_or_init(|| {
        let dir = tempfile::Builder::new()
            .prefix("smidge-fuzz-elf-")
            .tempdir()
            .unwrap();
        let path = dir.path().join("program");
        (dir, path)
    });
    path
}

/// The reader reads a 256-byte head, a program header table (at most 64 KiB, the
/// kernel's limit) and a PT_INTERP path (at most 4 KiB).
const LIMIT: usize = 128 << 10;

fuzz_target!(init: smidge_fuzz::limit_allocations(LIMIT), |data: &[u8]| {
    let path = file();
    std::fs::write(path, data).unwrap();
    let Ok(FileKind::Elf(info)) = inspect(path) else {
        return;
    };
    assert_eq!(info.segments.len(), usize::from(info.e_phnum));
    assert!(info.ehsize() <= data.len());
    if let Ok(Some((head, keep))) = strip_plan(path, &info, data.len() as u64) {
        assert_eq!(head.len(), info.ehsize());
        assert!(keep <= data.len() as u64);
    }
});
