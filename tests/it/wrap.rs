//! `smidge::wrap`: raw machine code under the smallest ELF header, run for real. Flat
//! binaries assembled by `nasm -f bin` with `org` = [`wrap::base`] run natively for amd64 and
//! 386 (both fits, and under qemu-user for the portable fit); for the other platforms
//! hand-encoded code from smidge's own listings runs under qemu-user. Issue #5.

use capstone::prelude::*;
use smidge::arch::Addressing;
use smidge::wrap::{self, WrapError, WrapOptions, Wrapped};
use smidge::{Fit, Platform, Program};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};

fn qemu(platform: Platform) -> &'static str {
    match platform {
        Platform::Amd64 => "qemu-x86_64",
        Platform::I386 => "qemu-i386",
        Platform::Arm64 => "qemu-aarch64",
        Platform::ArmV7 => "qemu-arm",
        Platform::Riscv64 => "qemu-riscv64",
        Platform::Ppc64le => "qemu-ppc64le",
        Platform::S390x => "qemu-s390x",
    }
}

/// `nasm -f bin` of `source`, with `BASE` defined as the wrap base of `platform` and `fit`.
fn nasm(dir: &Path, name: &str, source: &str, platform: Platform, fit: Fit) -> Vec<u8> {
    let src = dir.join(format!("{name}.asm"));
    let out = dir.join(format!("{name}.bin"));
    std::fs::write(&src, source).unwrap();
    let base = wrap::base(platform, fit);
    let result = Command::new("nasm")
        .arg("-f")
        .arg("bin")
        .arg(format!("-DBASE={base:#x}"))
        .arg("-o")
        .arg(&out)
        .arg(&src)
        .output()
        .expect("spawn nasm");
    assert!(
        result.status.success(),
        "nasm {name}:\n{}",
        crate::support::show(&result)
    );
    std::fs::read(&out).unwrap()
}

/// Writes `wrapped` as an executable file and runs it, through `runner` (a qemu-user) or
/// directly.
fn run(dir: &Path, name: &str, wrapped: &Wrapped, runner: Option<&str>) -> Output {
    let exe = dir.join(name);
    std::fs::write(&exe, &wrapped.bytes).unwrap();
    std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut cmd = match runner {
        Some(qemu) => {
            let mut c = Command::new(qemu);
            c.arg(&exe);
            c
        }
        None => Command::new(&exe),
    };
    crate::support::output_of_new_executable(&mut cmd).unwrap()
}

/// Native, and for the portable fit qemu-user too.
fn x86_runners(platform: Platform, fit: Fit) -> Vec<Option<&'static str>> {
    match fit {
        Fit::Portable => vec![None, Some(qemu(platform))],
        Fit::Kernel => vec![None],
    }
}

const X86: [Platform; 2] = [Platform::Amd64, Platform::I386];

/// A program that writes a message it addresses absolutely, then exits 42.
fn hello_source(platform: Platform) -> &'static str {
    match platform {
        Platform::Amd64 => {
            "bits 64
org BASE
    mov eax, 1              ; SYS_write
    mov edi, 1
    mov rsi, msg            ; absolute: BASE + offset
    mov edx, len
    syscall
    mov eax, 60             ; SYS_exit
    mov edi, 42
    syscall
msg: db 'hello from wrap', 10
len equ $ - msg
"
        }
        Platform::I386 => {
            "bits 32
org BASE
    mov eax, 4              ; SYS_write
    mov ebx, 1
    mov ecx, msg            ; absolute
    mov edx, len
    int 0x80
    mov eax, 1              ; SYS_exit
    mov ebx, 42
    int 0x80
msg: db 'hello from wrap', 10
len equ $ - msg
"
        }
        _ => unreachable!(),
    }
}

#[test]
#[ignore = "needs x86, nasm, qemu-x86_64, qemu-i386"]
fn nasm_hello_runs_on_x86() {
    require!("x86", "nasm", "qemu-x86_64", "qemu-i386");
    let dir = crate::support::tempdir();
    for platform in X86 {
        for fit in Fit::ALL {
            let name = format!("hello-{}-{fit}", platform.architecture());
            let code = nasm(dir.path(), &name, hello_source(platform), platform, fit);
            let w = wrap::wrap(&code, platform, fit, WrapOptions::default()).unwrap();
            eprintln!(
                "{platform} {fit}: {} bytes of code, {} bytes wrapped, base {:#x}",
                code.len(),
                w.bytes.len(),
                w.base
            );
            for runner in x86_runners(platform, fit) {
                let out = run(dir.path(), &name, &w, runner);
                assert_eq!(
                    (out.stdout.as_slice(), out.status.code()),
                    (&b"hello from wrap\n"[..], Some(42)),
                    "{platform} {fit} {runner:?}: {}",
                    crate::support::show(&out)
                );
            }
        }
    }
}

/// Entered in the middle: the first 100 bytes are `ud2`s (SIGILL if run); the entry is
/// past them, further than a short jump reaches from the amd64 kernel header.
#[test]
#[ignore = "needs x86, nasm, qemu-x86_64, qemu-i386"]
fn entry_in_the_middle_of_the_code() {
    require!("x86", "nasm", "qemu-x86_64", "qemu-i386");
    let dir = crate::support::tempdir();
    for platform in X86 {
        let (bits, exit) = match platform {
            Platform::Amd64 => (64, "mov eax, 60\n mov edi, 5\n syscall"),
            _ => (32, "mov eax, 1\n mov ebx, 5\n int 0x80"),
        };
        for fit in Fit::ALL {
            for entry in [2usize, 60, 100] {
                let source = format!(
                    "bits {bits}\norg BASE\n times {entry}/2 ud2\nstart:\n {exit}\n times 8 ud2\n"
                );
                let name = format!("entry-{}-{fit}-{entry}", platform.architecture());
                let code = nasm(dir.path(), &name, &source, platform, fit);
                let options = WrapOptions { entry, bss: 0 };
                let w = wrap::wrap(&code, platform, fit, options).unwrap();
                assert_eq!(w.entry, w.base + entry as u64);
                for runner in x86_runners(platform, fit) {
                    let out = run(dir.path(), &name, &w, runner);
                    assert_eq!(
                        out.status.code(),
                        Some(5),
                        "{platform} {fit} entry {entry} {runner:?}: {}",
                        crate::support::show(&out)
                    );
                }
            }
        }
    }
}

/// `--bss`: the code checks the fill is zero, writes into it (at both ends, across pages)
/// and writes what it stored to stdout.
#[test]
#[ignore = "needs x86, nasm, qemu-x86_64, qemu-i386"]
fn bss_is_zero_filled_and_writable() {
    require!("x86", "nasm", "qemu-x86_64", "qemu-i386");
    let dir = crate::support::tempdir();
    const BSS: u64 = 100_000;
    for platform in X86 {
        let source = match platform {
            Platform::Amd64 => {
                "bits 64
org BASE
    mov rsi, bss
    mov ecx, BSS
    xor eax, eax
check:
    or al, [rsi]            ; every byte of the fill is zero
    inc rsi
    loop check
    test al, al
    jnz bad
    mov rdi, bss
    mov dword [rdi], 'wrap'
    mov dword [rdi + BSS - 4], 0x0a646570 ; 'ped\\n'
    mov eax, [rdi + BSS - 4]
    mov [rdi + 4], eax
    mov eax, 1              ; write(1, bss, 8)
    mov edi, 1
    mov rsi, bss
    mov edx, 8
    syscall
    mov eax, 60
    mov edi, 0
    syscall
bad:
    mov eax, 60
    mov edi, 3
    syscall
bss:
"
            }
            _ => {
                "bits 32
org BASE
    mov esi, bss
    mov ecx, BSS
    xor eax, eax
check:
    or al, [esi]
    inc esi
    loop check
    test al, al
    jnz bad
    mov dword [bss], 'wrap'
    mov dword [bss + BSS - 4], 0x0a646570 ; 'ped\\n'
    mov eax, [bss + BSS - 4]
    mov [bss + 4], eax
    mov eax, 4              ; write(1, bss, 8)
    mov ebx, 1
    mov ecx, bss
    mov edx, 8
    int 0x80
    mov eax, 1
    xor ebx, ebx
    int 0x80
bad:
    mov eax, 1
    mov ebx, 3
    int 0x80
bss:
"
            }
        };
        let fit = Fit::Portable;
        let source = format!("%define BSS {BSS}\n{source}");
        let name = format!("bss-{}", platform.architecture());
        let code = nasm(dir.path(), &name, &source, platform, fit);
        let options = WrapOptions { entry: 0, bss: BSS };
        let w = wrap::wrap(&code, platform, fit, options).unwrap();
        assert_eq!(w.bss.start, w.base + code.len() as u64);
        assert_eq!(w.bss.end - w.bss.start, BSS);
        for runner in x86_runners(platform, fit) {
            let out = run(dir.path(), &name, &w, runner);
            assert_eq!(
                (out.stdout.as_slice(), out.status.code()),
                (&b"wrapped\n"[..], Some(0)),
                "{platform} {runner:?}: {}",
                crate::support::show(&out)
            );
        }
        // Without --bss the same code faults: the segment is read-only and ends earlier.
        let w = wrap::wrap(&code, platform, fit, WrapOptions::default()).unwrap();
        let out = run(dir.path(), &name, &w, None);
        assert_eq!(
            out.status.code(),
            None,
            "{platform}: {}",
            crate::support::show(&out)
        );
        // The kernel fits refuse --bss.
        assert_eq!(
            wrap::wrap(&code, platform, Fit::Kernel, options),
            Err(WrapError::BssUnsupported {
                platform,
                fit: Fit::Kernel
            })
        );
    }
}

/// The amd64 kernel fit enters at e_entry = file offset 1: capstone reads "ELF" as REX
/// prefixes of the jump at byte 4, which lands on the code's entry.
#[test]
fn amd64_kernel_jump_decodes_to_the_entry() {
    let code = vec![0x90u8; 200];
    for entry in [0usize, 61, 62, 199] {
        let options = WrapOptions { entry, bss: 0 };
        let w = wrap::wrap(&code, Platform::Amd64, Fit::Kernel, options).unwrap();
        let load = w.e_entry - 1;
        let cs = Capstone::new()
            .x86()
            .mode(arch::x86::ArchMode::Mode64)
            .build()
            .unwrap();
        let insns = cs.disasm_count(&w.bytes[1..], w.e_entry, 1).unwrap();
        let jump = insns.iter().next().expect("an instruction at e_entry");
        assert_eq!(jump.mnemonic(), Some("jmp"), "entry {entry}: {jump}");
        assert_eq!(
            jump.op_str(),
            Some(format!("{:#x}", w.entry).as_str()),
            "entry {entry}: {jump}"
        );
        assert!(jump.address() + jump.bytes().len() as u64 <= load + 16);
    }
}

/// exit(`status`) for `platform`, from smidge's own listings (no fixups: plain bytes).
fn exit_code(platform: Platform, status: u8) -> Vec<u8> {
    let code = smidge::arch::lower(platform, &Program::Exit(status), Addressing::PcRelative);
    assert!(code.data.is_empty());
    code.insns
        .iter()
        .flat_map(|insn| {
            assert!(insn.fixup.is_none(), "{platform}: {}", insn.asm);
            insn.bytes.clone()
        })
        .collect()
}

/// The other platforms: exit codes from smidge's own listings, wrapped with and without
/// `--entry` and `--bss`, run under qemu-user (both fits) and through binfmt_misc (portable).
#[test]
#[ignore = "needs qemu(platform, binfmt"]
fn hand_encoded_code_runs_under_qemu_on_every_other_platform() {
    let others = [
        Platform::Arm64,
        Platform::ArmV7,
        Platform::Riscv64,
        Platform::Ppc64le,
        Platform::S390x,
    ];
    for platform in others {
        require!(qemu(platform));
    }
    // The portable fit also runs executed directly, through binfmt_misc (qemu-user-static),
    // the way `docker run --platform` runs it on a foreign host.
    require!("binfmt");
    let dir = crate::support::tempdir();
    for platform in others {
        for fit in Fit::ALL {
            // exit(9) then exit(7): entering at the second proves --entry.
            let first = exit_code(platform, 9);
            let mut code = first.clone();
            code.extend(exit_code(platform, 7));
            // smidge's arm/v7 code is Thumb: an odd entry offset says so.
            let thumb = smidge::arch::isa(platform).entry_bits() as usize;
            let second = first.len() | thumb;
            for (entry, bss, status) in [
                (thumb, 0, 9),
                (second, 0, 7),
                (thumb, 3 << 20, 9),
                (second, 1, 7),
            ] {
                let options = WrapOptions { entry, bss };
                let w = wrap::wrap(&code, platform, fit, options).unwrap();
                assert_eq!(w.base, wrap::base(platform, fit));
                let name = format!("exit-{}-{fit}", platform.architecture());
                let mut runners = vec![Some(qemu(platform))];
                if fit == Fit::Portable {
                    runners.push(None);
                }
                for runner in runners {
                    let out = run(dir.path(), &name, &w, runner);
                    assert_eq!(
                        out.status.code(),
                        Some(status),
                        "{platform} {fit} entry {entry} bss {bss} {runner:?}: {}",
                        crate::support::show(&out)
                    );
                }
            }
        }
    }
}

#[test]
fn errors_are_typed() {
    let p = Platform::Amd64;
    let f = Fit::Portable;
    assert_eq!(
        wrap::wrap(&[], p, f, WrapOptions::default()),
        Err(WrapError::EmptyCode)
    );
    let e = wrap::wrap(&[0x90; 3], p, f, WrapOptions { entry: 3, bss: 0 }).unwrap_err();
    assert_eq!(e, WrapError::EntryOutOfRange { entry: 3, len: 3 });
    assert_eq!(e.to_string(), "entry offset 3 is outside the 3-byte code");
    let e = wrap::wrap(
        &[0; 8],
        Platform::Riscv64,
        f,
        WrapOptions { entry: 3, bss: 0 },
    )
    .unwrap_err();
    assert!(
        matches!(e, WrapError::EntryMisaligned { align: 2, .. }),
        "{e}"
    );
    let e = wrap::wrap(
        &[0x90],
        p,
        f,
        WrapOptions {
            entry: 0,
            bss: wrap::MAX_BSS + 1,
        },
    )
    .unwrap_err();
    assert!(matches!(e, WrapError::BssTooLarge { .. }), "{e}");
    let e = wrap::wrap(&[0x90], p, Fit::Kernel, WrapOptions { entry: 0, bss: 16 }).unwrap_err();
    assert!(e.to_string().contains("--fit portable"), "{e}");
    let big = vec![0x90; 70_000];
    let e = wrap::wrap(&big, Platform::I386, Fit::Kernel, WrapOptions::default()).unwrap_err();
    assert!(matches!(e, WrapError::CodeTooLarge { .. }), "{e}");
}
