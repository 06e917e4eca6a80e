use smidge::{elf, Fit, Platform, Program};
fn main() {
    for p in Platform::ALL {
        for f in Fit::ALL {
            for prog in [
                Program::Hello(b"Hello, world!\n".to_vec()),
                Program::Pause,
                Program::Exit(42),
                Program::Exit(0),
            ] {
                let pl = elf::build(&prog, p, f).unwrap();
                let name = format!(
                    "/tmp/sx/{}{}-{}-{}",
                    prog.name(),
                    if let Program::Exit(c) = prog {
                        c.to_string()
                    } else {
                        String::new()
                    },
                    p.architecture(),
                    f
                );
                std::fs::write(&name, &pl.bytes).unwrap();
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(&name, std::fs::Permissions::from_mode(0o755)).unwrap();
                println!("{name} {}", pl.bytes.len());
            }
        }
    }
}
