//! Every payload's bytes, pinned; every instruction checked by a real disassembler
//! (capstone); the portable fit read back by a real ELF reader (object). Issue #2.
//!
//! `SMIDGE_BLESS=1 cargo test --test payloads` rewrites tests/golden/payloads.txt after an
//! intended change, so the diff shows every byte that moved.

use capstone::prelude::*;
use smidge::elf::{self, Payload};
use smidge::{Fit, Platform, Program};

const HELLO: &[u8] = b"Hello, world!\n";

fn programs() -> Vec<(&'static str, Program)> {
    vec![
        ("hello", Program::Hello(HELLO.to_vec())),
        ("pause", Program::Pause),
        ("exit0", Program::Exit(0)),
        ("exit42", Program::Exit(42)),
        ("hello-empty", Program::Hello(Vec::new())),
        ("hello-300", Program::Hello(vec![b'x'; 300])),
    ]
}

fn all() -> Vec<(String, Program, Platform, Fit, Payload)> {
    let mut out = Vec::new();
    for (name, program) in programs() {
        for platform in Platform::ALL {
            for fit in Fit::ALL {
                let payload = elf::build(&program, platform, fit).expect("builds");
                out.push((
                    format!("{name} {platform} {fit}"),
                    program.clone(),
                    platform,
                    fit,
                    payload,
                ));
            }
        }
    }
    out
}

#[test]
fn payload_bytes_are_pinned() {
    let mut text = String::new();
    for (name, _, _, _, payload) in all() {
        text.push_str(&format!(
            "{name} {} {}\n",
            payload.bytes.len(),
            hex::encode(&payload.bytes)
        ));
    }
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/payloads.txt");
    if std::env::var("SMIDGE_BLESS").is_ok_and(|v| v == "1") {
        std::fs::write(path, &text).unwrap();
    }
    let golden = std::fs::read_to_string(path)
        .expect("tests/golden/payloads.txt (SMIDGE_BLESS=1 writes it)");
    for (want, got) in golden.lines().zip(text.lines()) {
        assert_eq!(
            want, got,
            "payload changed; if intended, rerun with SMIDGE_BLESS=1"
        );
    }
    assert_eq!(golden.lines().count(), text.lines().count());
}

/// The size targets of issue #2 ("Hello, world!\n" is 14 bytes).
#[test]
fn size_targets() {
    let size = |p: &Program, pl, fit| elf::build(p, pl, fit).unwrap().bytes.len();
    let hello = Program::Hello(HELLO.to_vec());
    use Fit::*;
    use Platform::*;
    let targets = [
        (&hello, Amd64, Kernel, 100),
        (&hello, Amd64, Portable, 136),
        (&hello, I386, Portable, 100),
        (&Program::Pause, Amd64, Kernel, 120),
        (&Program::Pause, Amd64, Portable, 150),
        (&Program::Pause, I386, Kernel, 90),
        (&Program::Pause, I386, Portable, 120),
        (&Program::Exit(42), Amd64, Kernel, 80),
        (&Program::Exit(42), Amd64, Portable, 124),
        (&Program::Exit(42), I386, Kernel, 45),
        (&Program::Exit(42), I386, Portable, 92),
    ];
    for (program, platform, fit, max) in targets {
        let n = size(program, platform, fit);
        assert!(
            n <= max,
            "{} {platform} {fit}: {n} bytes > {max}",
            program.name()
        );
    }
}

fn capstone(platform: Platform) -> Capstone {
    let mode = match platform {
        Platform::Amd64 => arch::x86::ArchMode::Mode64,
        Platform::I386 => arch::x86::ArchMode::Mode32,
    };
    Capstone::new().x86().mode(mode).build().unwrap()
}

/// Follows execution from the entry point the way the CPU would (through every
/// unconditional jump) and checks that capstone decodes, at each step, exactly the
/// instruction the listing names there, with the same length.
#[test]
fn every_instruction_decodes_as_listed() {
    for (name, _, platform, _, payload) in all() {
        let cs = capstone(platform);
        let mut at = payload.entry;
        for placed in &payload.code {
            let insns = cs
                .disasm_count(&payload.bytes[at..], payload.base + at as u64, 1)
                .unwrap();
            let insn = insns
                .iter()
                .next()
                .unwrap_or_else(|| panic!("{name}: nothing decodes at {at}"));
            let mnemonic = insn.mnemonic().unwrap();
            let listed = placed.insn.asm.split_whitespace().next().unwrap();
            let read = operands(insn.op_str().unwrap_or(""));
            let listed_ops = listed_operands(&placed.insn.asm);
            let symbolic = |o: &str| {
                ["message", "target", "wait", "<next"]
                    .iter()
                    .any(|s| o.contains(s))
            };
            let same = read.len() == listed_ops.len()
                && read
                    .iter()
                    .zip(&listed_ops)
                    .all(|(r, l)| symbolic(l) || r == l);
            assert!(
                same,
                "{name}: at byte {at} capstone reads `{mnemonic} {}`, the listing says `{}`",
                insn.op_str().unwrap_or(""),
                placed.insn.asm
            );
            assert_eq!(
                (mnemonic, at + insn.len()),
                (
                    listed,
                    placed.offset + placed.insn.len() + placed.insn.swallows
                ),
                "{name}: at byte {at} capstone reads `{mnemonic} {}`, the listing says `{}`",
                insn.op_str().unwrap_or(""),
                placed.insn.asm
            );
            at = if mnemonic == "jmp" {
                let target =
                    u64::from_str_radix(insn.op_str().unwrap().trim_start_matches("0x"), 16)
                        .unwrap();
                (target - payload.base) as usize
            } else {
                at + insn.len()
            };
        }
    }
}

/// Capstone's operands with hex numbers in decimal, as the listings write them.
fn operands(op_str: &str) -> Vec<String> {
    op_str
        .split(", ")
        .filter(|o| !o.is_empty())
        .map(|o| {
            o.split(' ')
                .map(|w| {
                    let (word, close) = w.split_at(w.trim_end_matches(']').len());
                    match word.strip_prefix("0x") {
                        Some(h) => format!("{}{close}", u64::from_str_radix(h, 16).unwrap()),
                        None => w.to_string(),
                    }
                })
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect()
}

/// The listing's operands (before its `;` comment); a symbolic operand (an address the
/// planner fills in) is replaced by what capstone prints for it, so only the registers and
/// numbers written in the listing are compared.
fn listed_operands(asm: &str) -> Vec<String> {
    let code = asm.split(';').next().unwrap().trim();
    let ops = code.split_once(' ').map_or("", |(_, o)| o);
    operands(ops)
}

/// `mov esi/ecx, message` / `lea rsi, [rip + message]` point at the message bytes.
#[test]
fn hello_points_at_its_message() {
    for (name, program, _, _, payload) in all() {
        let Program::Hello(message) = program else {
            continue;
        };
        if message.is_empty() {
            continue;
        }
        let at = payload.data.expect("hello has data");
        assert_eq!(
            &payload.bytes[at..at + message.len()],
            &message[..],
            "{name}"
        );
        let addr = payload.base + at as u64;
        let refers = payload.code.iter().any(|p| {
            let end = payload.base + (p.offset + p.insn.len()) as u64;
            let b = &p.insn.bytes;
            let imm = |i: usize| {
                b.get(i..i + 4)
                    .map(|s| u32::from_le_bytes(s.try_into().unwrap()))
            };
            imm(1) == Some(addr as u32)
                || (b.starts_with(&[0x48, 0x8d, 0x35])
                    && imm(3).map(|r| end.wrapping_add(r as i32 as u64)) == Some(addr))
        });
        assert!(
            refers,
            "{name}: no instruction loads the message address {addr:#x}"
        );
    }
}

/// The portable fit is a well-formed ELF file: a real reader agrees on the entry point and
/// the one PT_LOAD segment covering the whole file.
#[test]
fn portable_payloads_parse_as_elf() {
    use object::read::elf::{FileHeader, ProgramHeader};
    use object::Endianness;
    for (name, _, platform, fit, payload) in all() {
        if fit != Fit::Portable {
            continue;
        }
        let data = &payload.bytes[..];
        let entry = payload.base + payload.entry as u64;
        match platform {
            Platform::Amd64 => {
                let h = object::elf::FileHeader64::<Endianness>::parse(data).unwrap();
                let e = h.endian().unwrap();
                assert_eq!(h.e_machine(e), object::elf::EM_X86_64, "{name}");
                assert_eq!(h.e_entry(e), entry, "{name}");
                let phdrs = h.program_headers(e, data).unwrap();
                assert_eq!(phdrs.len(), 1, "{name}");
                let ph = &phdrs[0];
                assert_eq!(ph.p_type(e), object::elf::PT_LOAD);
                assert_eq!(ph.p_flags(e), object::elf::PF_R | object::elf::PF_X);
                assert!(
                    ph.p_offset(e) + ph.p_filesz(e) >= data.len() as u64,
                    "{name}"
                );
                assert_eq!(ph.p_vaddr(e) - ph.p_offset(e), payload.base);
            }
            Platform::I386 => {
                let h = object::elf::FileHeader32::<Endianness>::parse(data).unwrap();
                let e = h.endian().unwrap();
                assert_eq!(h.e_machine(e), object::elf::EM_386, "{name}");
                assert_eq!(u64::from(h.e_entry(e)), entry, "{name}");
                let phdrs = h.program_headers(e, data).unwrap();
                assert_eq!(phdrs.len(), 1, "{name}");
                let ph = &phdrs[0];
                assert_eq!(ph.p_type(e), object::elf::PT_LOAD);
                assert_eq!(ph.p_flags(e), object::elf::PF_R | object::elf::PF_X);
                assert!(
                    ph.p_offset(e) + ph.p_filesz(e) >= data.len() as u32,
                    "{name}"
                );
                assert_eq!(u64::from(ph.p_vaddr(e) - ph.p_offset(e)), payload.base);
            }
        }
        // binfmt_misc (qemu-user-static) matches e_ident's padding as zero.
        assert_eq!(&data[8..16], &[0; 8], "{name}");
    }
}

/// The loader rules of design.md §2 hold in every fit: load address >= vm.mmap_min_addr,
/// no more than 64 MiB of zero fill.
#[test]
fn loads_high_enough_with_little_zero_fill() {
    for (name, _, _, _, payload) in all() {
        assert!(payload.base >= 0x1_0000, "{name}: base {:#x}", payload.base);
    }
    // A 1 MiB message still loads whole (the i386 kernel fit moves its base for it).
    for platform in Platform::ALL {
        for fit in Fit::ALL {
            let p = elf::build(&Program::Hello(vec![b'y'; 1 << 20]), platform, fit).unwrap();
            assert!(p.bytes.len() > 1 << 20);
        }
    }
}

/// Messages of every length from 0 to 300 bytes build in every layout (data goes into a
/// hole when it fits one, code flows around it) and point at their bytes.
#[test]
fn every_short_message_length_lays_out() {
    for len in 0..=300usize {
        let message: Vec<u8> = (0..len).map(|i| b'a' + (i % 26) as u8).collect();
        for platform in Platform::ALL {
            for fit in Fit::ALL {
                let p = elf::build(&Program::Hello(message.clone()), platform, fit)
                    .unwrap_or_else(|e| panic!("{len} bytes, {platform} {fit}: {e}"));
                if let Some(at) = p.data {
                    // Trailing zero bytes of a kernel-fit file may be cut; none here.
                    assert_eq!(
                        &p.bytes[at..at + len],
                        &message[..],
                        "{len} {platform} {fit}"
                    );
                }
            }
        }
    }
}
