//! Payloads smidge builds, explained from where their bytes were laid from: the header
//! fields as the ELF format names them (the same offsets the layouts in
//! `crates/elf/src/elf/layout/` set), every instruction the planner placed with the
//! assembly its listing in `crates/elf/src/arch/` gives it, and the program's data. A byte
//! that is both (the kernel fit's program header inside the ELF header, code inside
//! `e_shoff`, "ELF" executed as REX prefixes) has every role.

use crate::elf::headers;
use crate::model::{Explanation, Kind, Role};
use smidge_elf::elf::machine::machine;
use smidge_elf::elf::spec::ELFDATA2MSB;
use smidge_elf::elf::Payload;
use smidge_elf::quine::Quine;
use smidge_elf::{Fit, Platform, Program};

/// Explains `payload`, which is `program` built for `platform` in `fit`.
pub fn explain(program: &Program, platform: Platform, fit: Fit, payload: &Payload) -> Explanation {
    let mut data = Vec::new();
    if let Some(at) = payload.data {
        let (name, len) = match program {
            Program::Hello(m) => ("message", m.len()),
            Program::Serve(s) => ("response", s.response.len()),
            Program::Exit(_) | Program::Pause => ("data", 0),
        };
        let bytes = &payload.bytes[at..at + len];
        data.push((at..at + len, name.to_string(), preview(bytes)));
    }
    let what = format!("smidge {}, {platform}, {fit} fit", program.name());
    explain_payload(what, platform, payload, data, vec![])
}

/// Explains the program of `quine`, built for `platform` in `fit`: its data is the
/// template of what it prints, one role per run (zeros to skip, bytes to copy).
pub fn quine(quine: &Quine, platform: Platform, fit: Fit) -> Explanation {
    let payload = &quine.payload;
    let at = payload.data.expect("the quine's template follows its code");
    let template = &payload.bytes[at..];
    let o = &quine.output;
    let (mut i, mut out, mut data) = (0, 0, Vec::new());
    while i + 2 <= template.len() {
        let (skip, count) = (template[i] as usize, template[i + 1] as usize);
        out += skip;
        let run = &template[i + 2..i + 2 + count];
        let padding = if out >= o.len {
            " (the layer's SHA-256 padding, hashed, not printed)"
        } else {
            ""
        };
        data.push((
            at + i..at + i + 2 + count,
            format!("template run {}", data.len() + 1),
            format!(
                "skip {skip} zeros, copy {count} bytes to output byte {out}{padding}: {}",
                preview(run)
            ),
        ));
        out += count;
        i += 2 + count;
    }
    let notes = vec![format!(
        "prints {} bytes (a docker archive: manifest.json, config c, layer l holding this program at byte {}); the SHA-256 of the layer (bytes {}..{}) goes into c at byte {}",
        o.len, o.program_at, o.layer_at, o.len, o.hex_at
    )];
    let what = format!("smidge quine, {platform}, {fit} fit");
    explain_payload(what, platform, payload, data, notes)
}

/// A data role: its bytes, its name, what it says.
type Data = (std::ops::Range<usize>, String, String);

fn explain_payload(
    what: String,
    platform: Platform,
    payload: &Payload,
    data: Vec<Data>,
    more_notes: Vec<String>,
) -> Explanation {
    let bytes = payload.bytes.clone();
    let m = machine(platform);
    let size = bytes.len() as u64;
    let crate::elf::Headers {
        mut spans,
        notes: _,
        ..
    } = headers(&bytes, false, Some((m.is_64(), m.data == ELFDATA2MSB)))
        .expect("smidge's payloads are ELF files the kernel reads");

    // Instructions, in execution order. The first one starts at the entry point: bytes
    // before it there (the ELF magic on amd64) run as its prefixes. An instruction that
    // swallows header bytes as its operand spans them too.
    for (i, placed) in payload.code.iter().enumerate() {
        let start = if i == 0 {
            payload.entry.min(placed.offset)
        } else {
            placed.offset
        };
        let end = placed.offset + placed.insn.len() + placed.insn.swallows;
        let (asm, comment) = match placed.insn.asm.split_once(" ; ") {
            Some((asm, comment)) => (asm, Some(comment)),
            None => (placed.insn.asm.as_str(), None),
        };
        let mut text = format!("{:#x}", payload.base + start as u64);
        if start < placed.offset {
            let prefix = placed.offset - start;
            text.push_str(&format!(", its first {prefix} bytes run as prefixes"));
        }
        if let Some(comment) = comment {
            text.push_str("; ");
            text.push_str(comment);
        }
        spans.add(
            start as u64,
            end as u64,
            Role::new(Kind::Instruction, asm, text),
        );
    }
    for (range, name, text) in data {
        spans.add(
            range.start as u64,
            range.end as u64,
            Role::new(Kind::Data, name, text),
        );
    }
    let mut notes = vec![format!(
        "loaded at {:#x}; execution starts at byte {} (e_entry {:#x}); {} instructions",
        payload.base,
        payload.entry,
        payload.entry_address,
        payload.code.len()
    )];
    notes.extend(more_notes);
    let ranges = spans.finish(
        size,
        Role::new(Kind::Padding, "unused", "no field, instruction or data"),
    );
    Explanation {
        what,
        size,
        ranges,
        notes,
        parts: vec![],
        bytes,
    }
}

/// The data as text: printable ASCII as it is, the rest escaped, cut after 48 characters.
pub(crate) fn preview(data: &[u8]) -> String {
    let mut s = String::from("\"");
    for &b in data.iter().take(48) {
        match b {
            b'\n' => s.push_str("\\n"),
            b'\r' => s.push_str("\\r"),
            b'\t' => s.push_str("\\t"),
            b'"' => s.push_str("\\\""),
            b'\\' => s.push_str("\\\\"),
            0x20..=0x7e => s.push(b as char),
            _ => s.push_str(&format!("\\x{b:02x}")),
        }
    }
    s.push('"');
    if data.len() > 48 {
        s.push_str(&format!(" … ({} bytes)", data.len()));
    }
    s
}
