//! What an explanation is: the file cut into ranges that cover it exactly, in order, each
//! with every role its bytes have. Roles are collected as spans that may overlap (a
//! program header inside the ELF header, code inside `e_shoff`); [`Spans::finish`] cuts
//! the file at every span boundary, so a range's roles are the same for all its bytes.

use serde::Serialize;
use std::fmt;

/// What a byte is for. The JSON names are kebab-case (`elf-header`, `program-header`, ...).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// A field of the ELF header (its gABI name, e.g. `e_entry`).
    ElfHeader,
    /// A field of a program header (`p_flags`, ...).
    ProgramHeader,
    /// A field of a section header (`sh_offset`, ...).
    SectionHeader,
    /// A machine instruction on the execution path (its assembly, and its address).
    Instruction,
    /// Bytes a program uses as data: the message, the HTTP response, a constant.
    Data,
    /// Bytes a program header loads (the segment, for a file smidge did not lay out).
    Segment,
    /// The contents of a section, by name.
    Section,
    /// Zero fill or bytes nothing reads.
    Padding,
    /// A field of a tar header (`name`, `size`, `chksum`, ...).
    TarHeader,
    /// A tar member's contents.
    TarData,
    /// The end-of-archive blocks and the padding of a tar.
    TarPadding,
    /// A JSON document of an image: manifest, config, index.
    Json,
    /// gzip framing: the header fields and the trailer (CRC-32, ISIZE).
    Gzip,
    /// A DEFLATE block (its type, its size in bits, what it decodes to).
    Deflate,
    /// zstd framing or frames.
    Zstd,
}

impl Kind {
    pub const ALL: [Kind; 15] = [
        Kind::ElfHeader,
        Kind::ProgramHeader,
        Kind::SectionHeader,
        Kind::Instruction,
        Kind::Data,
        Kind::Segment,
        Kind::Section,
        Kind::Padding,
        Kind::TarHeader,
        Kind::TarData,
        Kind::TarPadding,
        Kind::Json,
        Kind::Gzip,
        Kind::Deflate,
        Kind::Zstd,
    ];

    /// The name JSON and the listings use.
    pub fn name(self) -> &'static str {
        match self {
            Kind::ElfHeader => "elf-header",
            Kind::ProgramHeader => "program-header",
            Kind::SectionHeader => "section-header",
            Kind::Instruction => "instruction",
            Kind::Data => "data",
            Kind::Segment => "segment",
            Kind::Section => "section",
            Kind::Padding => "padding",
            Kind::TarHeader => "tar-header",
            Kind::TarData => "tar-data",
            Kind::TarPadding => "tar-padding",
            Kind::Json => "json",
            Kind::Gzip => "gzip",
            Kind::Deflate => "deflate",
            Kind::Zstd => "zstd",
        }
    }

    /// Whether the kind describes a header (ELF, program or section header).
    pub fn is_header(self) -> bool {
        matches!(
            self,
            Kind::ElfHeader | Kind::ProgramHeader | Kind::SectionHeader
        )
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One role of a run of bytes.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct Role {
    pub kind: Kind,
    /// The field's spec name (`e_entry`), the instruction's assembly, the member's name.
    pub name: String,
    /// What it says: a field's value, an instruction's address and comment, a summary.
    pub text: String,
}

impl Role {
    pub fn new(kind: Kind, name: impl Into<String>, text: impl Into<String>) -> Role {
        Role {
            kind,
            name: name.into(),
            text: text.into(),
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.kind, self.name)?;
        if !self.text.is_empty() {
            write!(f, ": {}", self.text)?;
        }
        Ok(())
    }
}

/// Bytes `start..end` of the file and every role they have.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Range {
    pub start: u64,
    pub end: u64,
    pub roles: Vec<Role>,
}

impl Range {
    pub fn len(&self) -> u64 {
        self.end - self.start
    }

    pub fn is_empty(&self) -> bool {
        self.start == self.end
    }
}

/// A file explained: ranges in order covering `0..size` exactly, notes (one line each,
/// e.g. what `pack --strip` would drop), and the parts it holds that are explained on
/// their own (the tar inside a gzip stream, the blobs of a layout).
#[derive(Clone, Debug, Serialize)]
pub struct Explanation {
    /// What the file is, in a few words ("ELF 64-bit LSB executable, x86-64").
    pub what: String,
    pub size: u64,
    pub ranges: Vec<Range>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub parts: Vec<Part>,
    /// The bytes themselves, for the listings and pictures.
    #[serde(skip)]
    pub bytes: Vec<u8>,
}

/// Something a file holds, explained on its own with offsets of its own.
#[derive(Clone, Debug, Serialize)]
pub struct Part {
    /// Where it is ("the tar inside the gzip stream", "blobs/sha256/…").
    pub name: String,
    #[serde(flatten)]
    pub explanation: Explanation,
}

/// Roles collected as spans, in the order they were added (which is the order a range
/// lists them in).
#[derive(Clone, Debug, Default)]
pub struct Spans {
    spans: Vec<(u64, u64, Role)>,
}

impl Spans {
    pub fn new() -> Spans {
        Spans::default()
    }

    /// Bytes `start..end` have `role` (an empty span is dropped).
    pub fn add(&mut self, start: u64, end: u64, role: Role) {
        if start < end {
            self.spans.push((start, end, role));
        }
    }

    /// Whether some span covers byte `at`.
    pub fn covers(&self, at: u64) -> bool {
        self.spans.iter().any(|(s, e, _)| (*s..*e).contains(&at))
    }

    /// Cuts `0..size` at every span boundary; a byte no span covers gets `unclaimed`.
    /// Spans past `size` are cut to it (an ELF header longer than a tiny file: the kernel
    /// reads those bytes as zeros).
    pub fn finish(self, size: u64, unclaimed: Role) -> Vec<Range> {
        let mut cuts: Vec<u64> = vec![0, size];
        for (s, e, _) in &self.spans {
            cuts.push((*s).min(size));
            cuts.push((*e).min(size));
        }
        cuts.sort_unstable();
        cuts.dedup();
        // Sweep: spans sorted by start; the active set changes only at cuts.
        let mut order: Vec<usize> = (0..self.spans.len()).collect();
        order.sort_by_key(|&i| self.spans[i].0);
        let mut next = 0;
        let mut active: Vec<usize> = Vec::new();
        let mut ranges: Vec<Range> = Vec::new();
        for w in cuts.windows(2) {
            let (a, b) = (w[0], w[1]);
            while next < order.len() && self.spans[order[next]].0 <= a {
                active.push(order[next]);
                next += 1;
            }
            active.retain(|&i| self.spans[i].1 > a);
            let mut ids = active.clone();
            ids.sort_unstable();
            let mut roles: Vec<Role> = Vec::new();
            for i in ids {
                let role = &self.spans[i].2;
                if !roles.contains(role) {
                    roles.push(role.clone());
                }
            }
            if roles.is_empty() {
                roles.push(unclaimed.clone());
            }
            match ranges.last_mut() {
                Some(last) if last.end == a && last.roles == roles => last.end = b,
                _ => ranges.push(Range {
                    start: a,
                    end: b,
                    roles,
                }),
            }
        }
        ranges
    }
}

/// How many bytes are header only, header shared with code or data, code, data, padding
/// (and anything else), for the listing's summary.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub header_only: u64,
    pub shared: u64,
    pub code: u64,
    pub data: u64,
    pub padding: u64,
    pub other: u64,
}

impl Explanation {
    pub fn summary(&self) -> Summary {
        let mut s = Summary::default();
        for r in &self.ranges {
            let header = r.roles.iter().any(|x| x.kind.is_header());
            let code = r.roles.iter().any(|x| x.kind == Kind::Instruction);
            let data = r.roles.iter().any(|x| x.kind == Kind::Data);
            let slot = match (header, code, data) {
                (true, true, _) | (true, _, true) => &mut s.shared,
                (true, false, false) => &mut s.header_only,
                (false, true, _) => &mut s.code,
                (false, false, true) => &mut s.data,
                _ if r.roles.iter().all(|x| x.kind == Kind::Padding) => &mut s.padding,
                _ => &mut s.other,
            };
            *slot += r.len();
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn role(name: &str) -> Role {
        Role::new(Kind::ElfHeader, name, "")
    }

    #[test]
    fn overlapping_spans_cut_into_exact_ranges() {
        let mut s = Spans::new();
        s.add(0, 4, role("a"));
        s.add(2, 6, role("b"));
        s.add(8, 20, role("c"));
        let pad = Role::new(Kind::Padding, "zero", "");
        let r = s.finish(10, pad.clone());
        let got: Vec<(u64, u64, Vec<&str>)> = r
            .iter()
            .map(|r| {
                (
                    r.start,
                    r.end,
                    r.roles.iter().map(|x| x.name.as_str()).collect(),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                (0, 2, vec!["a"]),
                (2, 4, vec!["a", "b"]),
                (4, 6, vec!["b"]),
                (6, 8, vec!["zero"]),
                (8, 10, vec!["c"]),
            ]
        );
    }

    #[test]
    fn an_empty_file_has_no_ranges() {
        assert!(Spans::new()
            .finish(0, Role::new(Kind::Padding, "", ""))
            .is_empty());
    }
}
