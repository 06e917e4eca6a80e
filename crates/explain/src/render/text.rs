//! The listing: offset, bytes, roles, as the articles about tiny ELF files print them.

use crate::model::{Explanation, Kind};
use std::fmt::Write;

/// Bytes shown per line of the listing.
const PER_LINE: usize = 8;
/// A range longer than this shows its first line of bytes and how many follow.
const SHOWN: u64 = 16;

/// ANSI colour per kind (foreground), used when `colour` is set.
fn ansi(kind: Kind) -> &'static str {
    match kind {
        Kind::ElfHeader | Kind::TarHeader => "\x1b[34m",
        Kind::ProgramHeader => "\x1b[32m",
        Kind::SectionHeader | Kind::Gzip | Kind::Zstd => "\x1b[35m",
        Kind::Instruction => "\x1b[31m",
        Kind::Data | Kind::Json | Kind::TarData => "\x1b[33m",
        Kind::Segment | Kind::Section | Kind::Deflate => "\x1b[36m",
        Kind::Padding | Kind::TarPadding => "\x1b[2m",
    }
}
const RESET: &str = "\x1b[0m";

/// The listing of `e` (and of its parts after it). With `colour`, roles are coloured by
/// kind (for a terminal; the caller decides, e.g. honouring `NO_COLOR`).
pub fn text(e: &Explanation, colour: bool) -> String {
    let mut out = String::new();
    listing(&mut out, e, colour, "");
    out
}

fn listing(out: &mut String, e: &Explanation, colour: bool, title: &str) {
    let width = format!("{:x}", e.size.max(1)).len().max(4);
    if title.is_empty() {
        let _ = writeln!(out, "{} ({} bytes)", e.what, e.size);
    } else {
        let _ = writeln!(out, "\n{title}: {} ({} bytes)", e.what, e.size);
    }
    for r in &e.ranges {
        let shown = r.len().min(SHOWN) as usize;
        let bytes = e
            .bytes
            .get(r.start as usize..r.start as usize + shown)
            .unwrap_or(&[]);
        let mut lines: Vec<String> = bytes
            .chunks(PER_LINE)
            .map(|c| {
                c.iter()
                    .map(|b| format!("{b:02x}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect();
        if lines.is_empty() {
            lines.push(String::new());
        }
        if r.len() > SHOWN {
            lines.push(format!("… {} bytes in all", r.len()));
        }
        let roles: Vec<String> = r
            .roles
            .iter()
            .map(|role| {
                if colour {
                    format!("{}{role}{RESET}", ansi(role.kind))
                } else {
                    role.to_string()
                }
            })
            .collect();
        // The roles on the first line, the bytes that do not fit on the lines after.
        for (i, line) in lines.iter().enumerate() {
            let roles = if i == 0 {
                roles.join(" | ")
            } else {
                String::new()
            };
            let offset = if line.starts_with('…') {
                " ".repeat(width)
            } else {
                format!("{:0width$x}", r.start + (i * PER_LINE) as u64)
            };
            let l = format!("{offset}  {line:<23}  {roles}");
            out.push_str(l.trim_end());
            out.push('\n');
        }
    }
    let s = e.summary();
    if s.other == 0 {
        // An ELF file: how much of it is header, code, data.
        let _ = writeln!(
            out,
            "{} bytes: {} header only, {} header shared with code or data, {} code, {} data, \
             {} padding",
            e.size, s.header_only, s.shared, s.code, s.data, s.padding
        );
    } else {
        // Anything else: the bytes of each kind (a byte with two kinds counts in both).
        let counts: Vec<String> = super::kinds(e)
            .into_iter()
            .map(|k| {
                let n: u64 = e
                    .ranges
                    .iter()
                    .filter(|r| r.roles.iter().any(|x| x.kind == k))
                    .map(|r| r.len())
                    .sum();
                format!("{n} {k}")
            })
            .collect();
        let _ = writeln!(out, "{} bytes: {}", e.size, counts.join(", "));
    }
    for n in &e.notes {
        let _ = writeln!(out, "note: {n}");
    }
    for p in &e.parts {
        listing(out, &p.explanation, colour, &p.name);
    }
}
