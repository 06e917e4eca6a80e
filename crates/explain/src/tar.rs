//! tar archives explained header field by header field: every 512-byte header's fields by
//! their POSIX ustar names (the checksum verified), each member's data (the JSON of an
//! image summarised in a line; a layer explained as a part of its own), the padding and
//! the end-of-archive blocks. PAX extended headers and GNU long names are named as such.
//!
//! A tar that says more than it holds (a size past the end, a bad checksum) is explained
//! as far as it goes, with a note: a reader of a broken file wants to see where it broke.

use crate::archive::{self, thousands};
use crate::model::{Explanation, Kind, Part, Role, Spans};

pub(crate) const BLOCK: u64 = 512;

/// (name, offset, size) of every ustar header field (POSIX.1-1988 ustar, as pax(1) has it).
const USTAR: [(&str, usize, usize); 16] = [
    ("name", 0, 100),
    ("mode", 100, 8),
    ("uid", 108, 8),
    ("gid", 116, 8),
    ("size", 124, 12),
    ("mtime", 136, 12),
    ("chksum", 148, 8),
    ("typeflag", 156, 1),
    ("linkname", 157, 100),
    ("magic", 257, 6),
    ("version", 263, 2),
    ("uname", 265, 32),
    ("gname", 297, 32),
    ("devmajor", 329, 8),
    ("devminor", 337, 8),
    ("prefix", 345, 155),
];
/// The fields of a pre-POSIX (v7) header; the rest of its block is unused.
const V7_END: usize = 257;

/// A member: its name and the bytes it takes, header to padding.
#[derive(Clone, Debug)]
pub(crate) struct Member {
    pub name: String,
    pub start: u64,
    pub end: u64,
}

/// A tar explained, and where its members are (for the blocks of a stream around it).
pub(crate) struct Tar {
    pub explanation: Explanation,
    pub members: Vec<Member>,
}

/// The checksum a header block should have (the chksum field counted as spaces), and
/// the one it says it has.
fn checksums(h: &[u8]) -> (u64, Option<u64>) {
    let sum = h
        .iter()
        .enumerate()
        .map(|(i, &b)| {
            if (148..156).contains(&i) {
                32
            } else {
                u64::from(b)
            }
        })
        .sum();
    (sum, octal(&h[148..156]))
}

/// Whether `bytes` starts with a tar header (ustar or v7) whose checksum is right.
pub(crate) fn is_tar(bytes: &[u8]) -> bool {
    let Some(h) = bytes.get(..BLOCK as usize) else {
        return false;
    };
    if h.iter().all(|&b| b == 0) {
        return false;
    }
    let (sum, stored) = checksums(h);
    stored == Some(sum)
}

/// A numeric field: octal digits (NUL- or space-terminated), or base-256 (GNU, for
/// values too large for the digits: the high bit of the first byte set).
fn octal(f: &[u8]) -> Option<u64> {
    if f.first().is_some_and(|&b| b & 0x80 != 0) {
        let mut v: u64 = u64::from(f[0] & 0x7f);
        for &b in &f[1..] {
            v = v.checked_mul(256)?.checked_add(u64::from(b))?;
        }
        return Some(v);
    }
    let s: Vec<u8> = f
        .iter()
        .copied()
        .skip_while(|&b| b == b' ')
        .take_while(|&b| b != 0 && b != b' ')
        .collect();
    if s.is_empty() {
        return Some(0);
    }
    let s = std::str::from_utf8(&s).ok()?;
    u64::from_str_radix(s, 8).ok()
}

/// A text field: up to its first NUL.
fn text(f: &[u8]) -> String {
    let end = f.iter().position(|&b| b == 0).unwrap_or(f.len());
    String::from_utf8_lossy(&f[..end]).into_owned()
}

fn typeflag_name(t: u8) -> &'static str {
    match t {
        b'0' | 0 => "regular file",
        b'1' => "hard link",
        b'2' => "symbolic link",
        b'3' => "character device",
        b'4' => "block device",
        b'5' => "directory",
        b'6' => "FIFO",
        b'7' => "contiguous file",
        b'x' => "PAX extended header (for the next member)",
        b'g' => "PAX global extended header",
        b'L' => "GNU long name (for the next member)",
        b'K' => "GNU long link name (for the next member)",
        _ => "unknown type",
    }
}

fn mode_text(m: u64) -> String {
    let rwx: String = (0..9)
        .map(|i| {
            if m & (1 << (8 - i)) != 0 {
                ['r', 'w', 'x'][i % 3]
            } else {
                '-'
            }
        })
        .collect();
    format!("{m:04o} ({rwx})")
}

/// The PAX records of an extended header's data ("%d %s=%s\n" each).
fn pax_records(data: &[u8]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = data;
    while !rest.is_empty() {
        let Some(sp) = rest.iter().position(|&b| b == b' ') else {
            break;
        };
        let Some(len) = std::str::from_utf8(&rest[..sp])
            .ok()
            .and_then(|s| s.parse::<usize>().ok())
        else {
            break;
        };
        if len <= sp + 1 || len > rest.len() {
            break;
        }
        let record = &rest[sp + 1..len];
        let record = record.strip_suffix(b"\n").unwrap_or(record);
        if let Some(eq) = record.iter().position(|&b| b == b'=') {
            out.push((
                String::from_utf8_lossy(&record[..eq]).into_owned(),
                String::from_utf8_lossy(&record[eq + 1..]).into_owned(),
            ));
        }
        rest = &rest[len..];
    }
    out
}

/// Explains the tar `bytes`. `depth` is how deep inside other archives it is (members
/// that are archives themselves are explained as parts up to [`archive::MAX_DEPTH`]).
pub(crate) fn explain(bytes: Vec<u8>, depth: u32) -> Tar {
    let size = bytes.len() as u64;
    let mut spans = Spans::new();
    let mut notes = Vec::new();
    let mut parts = Vec::new();
    let mut members = Vec::new();
    // What the next member's header is overridden with (PAX `path`/`size`, GNU `L`).
    let (mut next_name, mut next_size): (Option<String>, Option<u64>) = (None, None);
    let mut files: Vec<(String, u64)> = Vec::new();
    let (mut dirs, mut others) = (0usize, 0usize);
    let mut at = 0u64;
    let mut ended = false;
    while at + BLOCK <= size {
        let h = &bytes[at as usize..(at + BLOCK) as usize];
        if h.iter().all(|&b| b == 0) {
            // The end-of-archive blocks, and whatever follows them.
            spans.add(
                at,
                at + BLOCK,
                Role::new(Kind::TarPadding, "end-of-archive block 1", "512 zero bytes"),
            );
            let second = &bytes[(at + BLOCK) as usize..(at + 2 * BLOCK).min(size) as usize];
            if second.len() == BLOCK as usize && second.iter().all(|&b| b == 0) {
                spans.add(
                    at + BLOCK,
                    at + 2 * BLOCK,
                    Role::new(Kind::TarPadding, "end-of-archive block 2", "512 zero bytes"),
                );
                at += 2 * BLOCK;
            } else {
                notes.push(format!(
                    "the tar has one end-of-archive block (at byte {at}) where POSIX asks for two"
                ));
                at += BLOCK;
            }
            if at < size {
                let zero = bytes[at as usize..].iter().all(|&b| b == 0);
                spans.add(
                    at,
                    size,
                    Role::new(
                        Kind::TarPadding,
                        "after the end of the archive",
                        format!(
                            "{} bytes{}",
                            thousands(size - at),
                            if zero { ", zero" } else { ", not zero" }
                        ),
                    ),
                );
            }
            ended = true;
            break;
        }
        let (sum, stored) = checksums(h);
        if stored != Some(sum) {
            notes.push(format!(
                "the block at byte {at} is not a tar header (its checksum is {}, the bytes sum \
                 to {sum}); reading stops there",
                stored.map_or("not a number".into(), |s| s.to_string())
            ));
            break;
        }
        let ustar = h[257..262] == *b"ustar";
        let typeflag = h[156];
        let mut name = text(&h[..100]);
        if ustar && h[345] != 0 {
            name = format!("{}/{name}", text(&h[345..500]));
        }
        if let Some(n) = next_name.take() {
            name = n;
        }
        let header_size = octal(&h[124..136]);
        let data_size = next_size.take().or(header_size);
        for &(field, off, n) in USTAR.iter().filter(|f| ustar || f.1 < V7_END) {
            let f = &h[off..off + n];
            let value = match field {
                "mode" => octal(f).map_or_else(|| text(f), mode_text),
                "uid" | "gid" | "devmajor" | "devminor" => {
                    octal(f).map_or_else(|| text(f), |v| v.to_string())
                }
                "size" => match octal(f) {
                    Some(v) if data_size != Some(v) => format!(
                        "{} bytes (a PAX size record overrides it: {})",
                        thousands(v),
                        data_size.map_or("?".into(), thousands)
                    ),
                    Some(v) => format!("{} bytes", thousands(v)),
                    None => format!("{:?}: not a number", text(f)),
                },
                "mtime" => octal(f).map_or_else(
                    || text(f),
                    |v| format!("{v} ({})", smidge_image::image::config::rfc3339(v)),
                ),
                "chksum" => format!("{sum}, verified"),
                "typeflag" => format!("{:?}: {}", typeflag as char, typeflag_name(typeflag)),
                "magic" => format!("{:?}", String::from_utf8_lossy(f)),
                "version" => format!("{:?}", String::from_utf8_lossy(f)),
                _ => text(f),
            };
            spans.add(
                at + off as u64,
                at + (off + n) as u64,
                Role::new(Kind::TarHeader, field, format!("{value} ({name})")),
            );
        }
        let rest_from = if ustar { 500 } else { V7_END as u64 as usize };
        spans.add(
            at + rest_from as u64,
            at + BLOCK,
            Role::new(
                Kind::TarPadding,
                "header padding",
                format!("the rest of {name}'s header block"),
            ),
        );
        let Some(len) = data_size else {
            notes.push(format!(
                "member {name} (header at byte {at}) has a size that is not a number; reading \
                 stops there"
            ));
            at += BLOCK;
            break;
        };
        let data_at = at + BLOCK;
        let data_end = data_at.saturating_add(len);
        if data_end > size {
            notes.push(format!(
                "member {name} says it is {} bytes, but the tar ends {} bytes after its header \
                 (byte {}): the tar is truncated",
                thousands(len),
                thousands(size - data_at),
                thousands(size)
            ));
            spans.add(
                data_at,
                size,
                Role::new(
                    Kind::TarData,
                    name.clone(),
                    format!(
                        "{} of its {} bytes",
                        thousands(size - data_at),
                        thousands(len)
                    ),
                ),
            );
            members.push(Member {
                name,
                start: at,
                end: size,
            });
            at = size;
            break;
        }
        let data = &bytes[data_at as usize..data_end as usize];
        match typeflag {
            b'x' | b'g' => {
                let records = pax_records(data);
                if typeflag == b'x' {
                    for (k, v) in &records {
                        match k.as_str() {
                            "path" => next_name = Some(v.clone()),
                            "size" => next_size = v.parse().ok(),
                            _ => {}
                        }
                    }
                }
                let list: Vec<String> = records.iter().map(|(k, v)| format!("{k}={v}")).collect();
                spans.add(
                    data_at,
                    data_end,
                    Role::new(
                        Kind::TarData,
                        if typeflag == b'x' {
                            "PAX extended header records"
                        } else {
                            "PAX global header records"
                        },
                        list.join(", "),
                    ),
                );
            }
            b'L' | b'K' => {
                let long = text(data);
                if typeflag == b'L' {
                    next_name = Some(long.clone());
                }
                spans.add(
                    data_at,
                    data_end,
                    Role::new(
                        Kind::TarData,
                        if typeflag == b'L' {
                            "GNU long name"
                        } else {
                            "GNU long link name"
                        },
                        long,
                    ),
                );
            }
            _ => {
                match typeflag {
                    b'0' | 0 | b'7' => files.push((name.clone(), len)),
                    b'5' => dirs += 1,
                    _ => others += 1,
                }
                let (kind, mut what) = match archive::json_summary(data) {
                    Some(s) => (Kind::Json, s),
                    None => (Kind::TarData, format!("{} bytes", thousands(len))),
                };
                // A blob of an OCI layout tar: is it what its name says?
                if let Some((_, hex)) = name.rsplit_once("blobs/sha256/") {
                    let digest = smidge_image::image::Digest::of(data).hex();
                    if digest == hex {
                        what += "; its sha256 digest matches its name";
                    } else {
                        what += &format!("; its sha256 digest is {digest}, not its name");
                        notes.push(format!("member {name}: its sha256 digest is {digest}"));
                    }
                }
                spans.add(data_at, data_end, Role::new(kind, name.clone(), what));
                if depth < archive::MAX_DEPTH && archive::is_archive(data) {
                    match archive::explain_bytes(data.to_vec(), depth + 1) {
                        Ok(e) => parts.push(Part {
                            name: format!("member {name}"),
                            explanation: e,
                        }),
                        Err(why) => notes.push(format!("member {name}: {why}")),
                    }
                }
            }
        }
        let padded = data_end.div_ceil(BLOCK) * BLOCK;
        spans.add(
            data_end,
            padded.min(size),
            Role::new(
                Kind::TarPadding,
                "padding",
                format!("{name}'s data to a 512-byte block"),
            ),
        );
        members.push(Member {
            name,
            start: at,
            end: padded.min(size),
        });
        at = padded;
    }
    if !ended && at >= size {
        notes.push(
            "the tar ends after its last member, without the two zero end-of-archive blocks \
             (readers such as Go's archive/tar take the end of the file as the end)"
                .into(),
        );
    }
    let names: Vec<&str> = members.iter().map(|m| m.name.as_str()).collect();
    let image = names
        .iter()
        .any(|n| matches!(*n, "manifest.json" | "index.json" | "oci-layout"));
    let what = if names.contains(&"manifest.json") {
        "docker archive (tar)".to_string()
    } else if names.contains(&"oci-layout") || names.contains(&"index.json") {
        "OCI layout (tar)".to_string()
    } else {
        format!("tar, {} members", members.len())
    };
    if !image {
        let total: u64 = files.iter().map(|f| f.1).sum();
        let mut line = match files.as_slice() {
            [(n, s)] => format!(
                "the layer is 1 file, /{}, {} bytes",
                n.trim_start_matches("./"),
                thousands(*s)
            ),
            _ => format!(
                "the layer is {} files, {} bytes",
                thousands(files.len() as u64),
                thousands(total)
            ),
        };
        if dirs > 0 || others > 0 {
            line += &format!(
                " (and {dirs} director{}, {others} other entries)",
                if dirs == 1 { "y" } else { "ies" }
            );
        }
        notes.push(line);
    }
    let ranges = spans.finish(
        size,
        Role::new(Kind::TarPadding, "unread", "no tar header covers it"),
    );
    Tar {
        explanation: Explanation {
            what,
            size,
            ranges,
            notes,
            parts,
            bytes,
        },
        members,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tar_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut b = ::tar::Builder::new(Vec::new());
        for (name, data) in entries {
            let mut h = ::tar::Header::new_ustar();
            h.set_size(data.len() as u64);
            h.set_mode(0o755);
            h.set_cksum();
            b.append_data(&mut h, name, *data).unwrap();
        }
        b.into_inner().unwrap()
    }

    fn covers(e: &Explanation) {
        let mut at = 0;
        for r in &e.ranges {
            assert_eq!(r.start, at);
            assert!(r.end > r.start && !r.roles.is_empty());
            at = r.end;
        }
        assert_eq!(at, e.size);
    }

    #[test]
    fn names_every_field_and_member() {
        let t = tar_of(&[("hello", b"hi there"), ("a/b.json", b"{\"x\": 1}")]);
        assert!(is_tar(&t));
        let got = explain(t.clone(), 0);
        covers(&got.explanation);
        assert_eq!(got.members.len(), 2);
        let roles: Vec<String> = got
            .explanation
            .ranges
            .iter()
            .flat_map(|r| r.roles.iter().map(|x| x.to_string()))
            .collect();
        for want in [
            "tar-header name: hello (hello)",
            "tar-header mode: 0755 (rwxr-xr-x) (hello)",
            "tar-header size: 8 bytes (hello)",
            "tar-data hello: 8 bytes",
            "tar-padding end-of-archive block 1: 512 zero bytes",
        ] {
            assert!(roles.iter().any(|r| r == want), "{want} in {roles:#?}");
        }
        assert!(roles.iter().any(|r| r.starts_with("tar-header chksum: ")));
        assert!(got
            .explanation
            .notes
            .contains(&"the layer is 2 files, 16 bytes".to_string()));
    }

    #[test]
    fn a_size_past_the_end_is_a_note() {
        let mut t = tar_of(&[("big", &[7u8; 100])]);
        t.truncate(512 + 40);
        let got = explain(t, 0);
        covers(&got.explanation);
        assert!(
            got.explanation
                .notes
                .iter()
                .any(|n| n.contains("says it is 100 bytes") && n.contains("truncated")),
            "{:?}",
            got.explanation.notes
        );
    }

    #[test]
    fn long_names_and_pax_headers_are_named() {
        let long = "d/".repeat(80) + "file";
        let mut b = ::tar::Builder::new(Vec::new());
        let mut h = ::tar::Header::new_gnu();
        h.set_size(3);
        h.set_mode(0o644);
        b.append_data(&mut h, &long, &b"abc"[..]).unwrap();
        let mut pax = ::tar::Builder::new(Vec::new());
        pax.append_pax_extensions([("path", long.as_bytes())])
            .unwrap();
        let mut h = ::tar::Header::new_ustar();
        h.set_size(3);
        h.set_cksum();
        pax.append_data(&mut h, "short", &b"xyz"[..]).unwrap();
        for (t, want) in [
            (b.into_inner().unwrap(), "GNU long name"),
            (pax.into_inner().unwrap(), "PAX extended header records"),
        ] {
            let got = explain(t, 0);
            covers(&got.explanation);
            let roles: Vec<&Role> = got
                .explanation
                .ranges
                .iter()
                .flat_map(|r| &r.roles)
                .collect();
            assert!(roles.iter().any(|r| r.name == want), "{want}");
            assert!(roles
                .iter()
                .any(|r| r.kind == Kind::TarData && r.name == long));
        }
    }
}
