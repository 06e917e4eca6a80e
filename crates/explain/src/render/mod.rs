//! An [`Explanation`] as a listing ([`text`]), JSON ([`json`]), or a byte-map picture
//! ([`svg`], [`html`]), each self-contained: no script, font or style fetched from
//! anywhere.

mod html;
mod svg;
mod text;

pub use html::html;
pub use svg::svg;
pub use text::text;

use crate::model::{Explanation, Kind};

/// The JSON document: `{"what", "size", "ranges": [{"start", "end", "roles": [{"kind",
/// "name", "text"}]}], "notes", "parts"}`, ranges in order covering the file exactly.
pub fn json(e: &Explanation) -> String {
    let mut s = serde_json::to_string_pretty(e).expect("an explanation serializes");
    s.push('\n');
    s
}

/// The most bytes a picture draws (a row of 16 cells per 16 bytes): beyond, the picture
/// draws the first ones and says so.
pub const MAX_PICTURE_BYTES: usize = 64 << 10;

/// Fill colours per kind: light enough for the byte's hex to read on top.
pub(crate) fn colour(kind: Kind) -> &'static str {
    match kind {
        Kind::ElfHeader => "#8ecae6",
        Kind::ProgramHeader => "#b8e0a0",
        Kind::SectionHeader => "#d0b8e8",
        Kind::Instruction => "#ffb38a",
        Kind::Data => "#ffe08a",
        Kind::Segment => "#e4e4e4",
        Kind::Section => "#c8d8c0",
        Kind::Padding => "#f4f4f4",
        Kind::TarHeader => "#a8d0f0",
        Kind::TarData => "#f0d8a8",
        Kind::TarPadding => "#f4f4f4",
        Kind::Json => "#f8c8d8",
        Kind::Gzip => "#c0c0e8",
        Kind::Deflate => "#d8e8b0",
        Kind::Zstd => "#c0e0e0",
    }
}

/// The kinds a file has (each once, in [`Kind::ALL`] order), for a legend.
pub(crate) fn kinds(e: &Explanation) -> Vec<Kind> {
    Kind::ALL
        .into_iter()
        .filter(|k| {
            e.ranges
                .iter()
                .any(|r| r.roles.iter().any(|x| x.kind == *k))
        })
        .collect()
}

/// The kinds of a range's roles, each once, in the order its roles come.
pub(crate) fn range_kinds(roles: &[crate::Role]) -> Vec<Kind> {
    let mut v: Vec<Kind> = Vec::new();
    for r in roles {
        if !v.contains(&r.kind) {
            v.push(r.kind);
        }
    }
    v
}

/// Escapes text for XML and HTML.
pub(crate) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if (c as u32) < 0x20 && c != '\n' && c != '\t' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

/// One line per role of byte `at`, for a tooltip.
pub(crate) fn tooltip(e: &Explanation, range: &crate::Range, at: u64) -> String {
    let mut s = format!("{at:#06x} = {at}");
    if let Some(b) = e.bytes.get(at as usize) {
        s.push_str(&format!(": {b:02x}"));
    }
    for r in &range.roles {
        s.push('\n');
        s.push_str(&r.to_string());
    }
    s
}
