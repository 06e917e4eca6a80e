//! The ELF reader behind `smidge pack`: `pack::inspect` (what a file is: ELF, script or
//! other, and the ELF header and program headers) and, for ELF, `--strip`'s plan (the
//! header to write and where to cut). Never a panic; the reader reads only headers, so
//! scripts/fuzz runs this target with a 1 MB allocation limit.
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

fuzz_target!(|data: &[u8]| {
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
