//! Writes sample archives to /tmp/smidge-samples for checking by hand with docker, podman,
//! skopeo and umoci: `cargo test --lib archive::samples -- --ignored --nocapture`.

use std::fs;
use std::path::Path;

use super::*;
use crate::image::{Image, Reference};
use smidge_elf::Platform;

/// A 45-byte i386 ELF that exits with status 42 (Brian Raiter's "teensy" layout).
pub const EXIT42_I386: &str =
    "7f454c4601000000000000000000010002000300200001002000010004000000b32a31c040cd80003400200001";

#[test]
#[ignore = "writes to /tmp; run by hand"]
fn write_samples() {
    let dir = Path::new("/tmp/smidge-samples");
    let _ = fs::remove_dir_all(dir);
    fs::create_dir_all(dir).unwrap();
    let payload = hex::decode(EXIT42_I386).unwrap();
    let image = Image::with_epoch(Platform::I386, "hello", &payload, None).unwrap();
    let tag: Reference = "smidge/t:latest".parse().unwrap();
    let mut sizes = vec![];
    let mut put = |name: &str, bytes: Vec<u8>| {
        sizes.push(format!("{name}: {} bytes", bytes.len()));
        fs::write(dir.join(name), bytes).unwrap();
    };
    put("x.tar", docker_archive(&image, &tag, Compression::None));
    put("x.tar.gz", docker_archive(&image, &tag, Compression::Gzip));
    put(
        "x.oci.tar",
        oci_archive(std::slice::from_ref(&image), &tag, Compression::None),
    );
    put(
        "x.oci.tar.gz",
        oci_archive(std::slice::from_ref(&image), &tag, Compression::Gzip),
    );
    put(
        "x.sh",
        shell_command(&docker_archive(&image, &tag, Compression::Gzip)).into_bytes(),
    );
    write_oci_dir(
        std::slice::from_ref(&image),
        &tag,
        Compression::None,
        &dir.join("oci"),
    )
    .unwrap();
    write_oci_dir(
        std::slice::from_ref(&image),
        &tag,
        Compression::Gzip,
        &dir.join("oci-gz"),
    )
    .unwrap();
    for s in sizes {
        println!("{s}");
    }
    // Real payloads from the elf module, for the size table.
    for program in [
        smidge_elf::Program::Hello(b"Hello, world!\n".to_vec()),
        smidge_elf::Program::Pause,
        smidge_elf::Program::Exit(42),
    ] {
        for platform in Platform::ALL {
            for fit in smidge_elf::Fit::ALL {
                let Ok(p) = smidge_elf::elf::build(&program, platform, fit) else {
                    continue;
                };
                let img = Image::with_epoch(platform, "hello", &p.bytes, None).unwrap();
                println!(
                    "{program:?} {platform} {fit}: payload {} B, docker gzip {} B, plain {} B, oci gzip {} B",
                    p.bytes.len(),
                    docker_archive(&img, &tag, Compression::Gzip).len(),
                    docker_archive(&img, &tag, Compression::None).len(),
                    oci_archive(std::slice::from_ref(&img), &tag, Compression::Gzip).len(),
                );
            }
        }
    }
}
