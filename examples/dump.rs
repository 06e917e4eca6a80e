//! Writes every built-in payload, for every platform and fit, into a directory, for golfers
//! who want to look at the bytes (`xxd`, `objdump -D -b binary`) or run them.
//!
//!     cargo run --example dump -- /tmp/payloads

use smidge::program::{Response, Serve};
use smidge::{elf, Fit, Platform, Program};
use std::os::unix::fs::PermissionsExt;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "smidge-payloads".into());
    std::fs::create_dir_all(&dir)?;
    let programs = [
        Program::Hello(Program::DEFAULT_MESSAGE.to_vec()),
        Program::Pause,
        Program::Exit(0),
        Program::Serve(Serve::new(Serve::DEFAULT_PORT, &Response::default())?),
    ];
    for platform in Platform::ALL {
        for fit in Fit::ALL {
            for program in &programs {
                let payload = elf::build(program, platform, fit)?;
                let arch = platform
                    .to_string()
                    .trim_start_matches("linux/")
                    .replace('/', "-");
                let path = format!("{dir}/{}-{arch}-{fit}", program.name());
                std::fs::write(&path, &payload.bytes)?;
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))?;
                println!("{:5} {path}", payload.bytes.len());
            }
        }
    }
    Ok(())
}
