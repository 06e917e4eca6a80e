//! Image archives and layouts explained: docker and OCI archives (tar, gzip or zstd) and
//! OCI layout directories.
//!
//! A gzip stream is explained by RFC 1952's field names (ID1, ID2, CM, FLG, MTIME, XFL,
//! OS, the optional FEXTRA/FNAME/FCOMMENT/FHCRC), each DEFLATE block (walked by
//! [`crate::deflate`]: its type, BFINAL, its size in bits, the bytes it touches, what it
//! decodes to) and the trailer (CRC32 and ISIZE, checked against the decoded bytes). A zstd
//! stream by RFC 8878's: each frame's header fields and each block's header. What either
//! decodes to is a [`Part`]: the tar inside ([`crate::tar`]), whose members that are
//! layers are parts again.

use crate::deflate::{self, BlockType};
use crate::model::{Explanation, Kind, Part, Role, Spans};
use crate::tar;
use crate::{ExplainError, MAX_INPUT};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// How deep archives inside archives are explained (an image archive, its layer, an
/// archive inside the layer, ...); deeper ones are data.
pub(crate) const MAX_DEPTH: u32 = 4;

const GZIP: [u8; 2] = [0x1f, 0x8b];
const ZSTD: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];

/// Explains an image archive (`bytes` read from `path`): gzip, zstd or a plain tar.
pub fn file(path: &Path, bytes: Vec<u8>) -> Result<Explanation, ExplainError> {
    if !is_archive(&bytes) {
        return Err(ExplainError::Unknown {
            path: path.to_path_buf(),
            start: crate::start_of(&bytes),
        });
    }
    explain_bytes(bytes, 0).map_err(|why| ExplainError::malformed(path, why))
}

/// Whether `bytes` is a gzip or zstd stream or a tar (by its first header's checksum).
pub(crate) fn is_archive(bytes: &[u8]) -> bool {
    bytes.starts_with(&GZIP) || bytes.starts_with(&ZSTD) || tar::is_tar(bytes)
}

/// Explains a gzip or zstd stream or a tar; anything else is one range of data.
pub(crate) fn explain_bytes(bytes: Vec<u8>, depth: u32) -> Result<Explanation, String> {
    if bytes.starts_with(&GZIP) {
        gzip(bytes, depth)
    } else if bytes.starts_with(&ZSTD) {
        zstd(bytes, depth)
    } else if tar::is_tar(&bytes) {
        Ok(tar::explain(bytes, depth).explanation)
    } else {
        Ok(blob(bytes))
    }
}

/// A blob that is not an archive: JSON summarised, anything else as data.
fn blob(bytes: Vec<u8>) -> Explanation {
    let size = bytes.len() as u64;
    let (what, role) = match json_summary(&bytes) {
        Some(s) => ("JSON".to_string(), Role::new(Kind::Json, "JSON", s)),
        None => (
            "data".to_string(),
            Role::new(
                Kind::Data,
                "data",
                format!("{} bytes explain does not know", thousands(size)),
            ),
        ),
    };
    let mut spans = Spans::new();
    spans.add(0, size, role.clone());
    Explanation {
        what,
        size,
        ranges: spans.finish(size, role),
        notes: vec![],
        parts: vec![],
        bytes,
    }
}

/// `1234567` as `1,234,567`.
pub(crate) fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `sha256:0123456789ab…` for a long digest.
fn short(s: &str) -> String {
    if s.chars().count() > 19 {
        format!("{}…", s.chars().take(19).collect::<String>())
    } else {
        s.to_string()
    }
}

/// A line saying what an image's JSON document is, or None when `bytes` is not JSON:
/// "config: linux/amd64, entrypoint /hello, 1 layer".
pub(crate) fn json_summary(bytes: &[u8]) -> Option<String> {
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace())?;
    if *first != b'{' && *first != b'[' {
        return None;
    }
    let v: Value = serde_json::from_slice(bytes).ok()?;
    let s = |v: &Value| v.as_str().unwrap_or("?").to_string();
    let layers = |n: usize| format!("{n} layer{}", if n == 1 { "" } else { "s" });
    Some(if let Some(list) = v.as_array() {
        // docker's manifest.json: [{Config, RepoTags, Layers}].
        let one: Vec<String> = list
            .iter()
            .map(|m| {
                let tags: Vec<String> = m["RepoTags"]
                    .as_array()
                    .map(|t| t.iter().map(s).collect())
                    .unwrap_or_default();
                format!(
                    "config {}, {}, tags {}",
                    s(&m["Config"]),
                    layers(m["Layers"].as_array().map_or(0, Vec::len)),
                    if tags.is_empty() {
                        "none".into()
                    } else {
                        tags.join(" ")
                    }
                )
            })
            .collect();
        format!("docker manifest.json: {}", one.join("; "))
    } else if v.get("imageLayoutVersion").is_some() {
        format!(
            "oci-layout: imageLayoutVersion {}",
            s(&v["imageLayoutVersion"])
        )
    } else if let Some(ms) = v.get("manifests").and_then(Value::as_array) {
        let one: Vec<String> = ms
            .iter()
            .map(|m| {
                let p = &m["platform"];
                let mut d = short(&s(&m["digest"]));
                if p.is_object() {
                    d += &format!(" ({}/{})", s(&p["os"]), s(&p["architecture"]));
                }
                if let Some(r) = m["annotations"]["org.opencontainers.image.ref.name"].as_str() {
                    d += &format!(" ref {r}");
                }
                d
            })
            .collect();
        format!(
            "index: {} manifest{}: {}",
            ms.len(),
            if ms.len() == 1 { "" } else { "s" },
            one.join(", ")
        )
    } else if v.get("config").is_some() && v.get("layers").is_some() {
        let ls = v["layers"].as_array().map_or(0, Vec::len);
        format!(
            "manifest: config {}, {} ({})",
            short(&s(&v["config"]["digest"])),
            layers(ls),
            v["layers"][0]["mediaType"]
                .as_str()
                .unwrap_or("no media type")
        )
    } else if v.get("architecture").is_some() && v.get("os").is_some() {
        let c = &v["config"];
        let words = |x: &Value| -> Option<String> {
            let a = x.as_array()?;
            Some(a.iter().map(s).collect::<Vec<_>>().join(" "))
        };
        let mut line = format!("config: {}/{}", s(&v["os"]), s(&v["architecture"]));
        if let Some(e) = words(&c["Entrypoint"]) {
            line += &format!(", entrypoint {e}");
        }
        if let Some(e) = words(&c["Cmd"]) {
            line += &format!(", cmd {e}");
        }
        if let Some(u) = c["User"].as_str().filter(|u| !u.is_empty()) {
            line += &format!(", user {u}");
        }
        line += &format!(
            ", {}",
            layers(v["rootfs"]["diff_ids"].as_array().map_or(0, Vec::len))
        );
        line
    } else {
        format!("JSON, {} bytes", thousands(bytes.len() as u64))
    })
}

/// The part a stream decodes to: the tar (and where its members are), or data.
fn inside(out: Vec<u8>, of: &str, depth: u32) -> (Part, Vec<tar::Member>) {
    if tar::is_tar(&out) {
        let t = tar::explain(out, depth + 1);
        (
            Part {
                name: format!("the tar inside the {of} stream"),
                explanation: t.explanation,
            },
            t.members,
        )
    } else {
        (
            Part {
                name: format!("the bytes inside the {of} stream"),
                explanation: blob(out),
            },
            vec![],
        )
    }
}

/// Which members bytes `a..b` of a tar belong to: "manifest.json, layer.tar".
fn members_in(members: &[tar::Member], a: u64, b: u64) -> String {
    let hit: Vec<&str> = members
        .iter()
        .filter(|m| m.start < b && a < m.end)
        .map(|m| m.name.as_str())
        .collect();
    let mut s = match hit.len() {
        0 => String::new(),
        1..=4 => hit.join(", "),
        n => format!("{}, … ({n} members)", hit[..3].join(", ")),
    };
    if members.last().is_some_and(|m| b > m.end) {
        if !s.is_empty() {
            s += ", ";
        }
        s += "the end-of-archive blocks";
    }
    s
}

fn gzip(bytes: Vec<u8>, depth: u32) -> Result<Explanation, String> {
    let size = bytes.len() as u64;
    let truncated =
        |what: &str| format!("a truncated gzip stream: it ends ({size} bytes) in {what}");
    if bytes.len() < 10 {
        return Err(truncated("its 10-byte header"));
    }
    let mut spans = Spans::new();
    let mut notes = Vec::new();
    let g = |spans: &mut Spans, a: usize, b: usize, name: &str, text: String| {
        spans.add(a as u64, b as u64, Role::new(Kind::Gzip, name, text));
    };
    g(&mut spans, 0, 1, "ID1", "0x1f".into());
    g(&mut spans, 1, 2, "ID2", "0x8b".into());
    let cm = bytes[2];
    g(
        &mut spans,
        2,
        3,
        "CM",
        if cm == 8 {
            "8 (deflate)".into()
        } else {
            format!("{cm}")
        },
    );
    if cm != 8 {
        return Err(format!(
            "gzip CM is {cm}: RFC 1952 defines only 8 (deflate)"
        ));
    }
    let flg = bytes[3];
    let names = ["FTEXT", "FHCRC", "FEXTRA", "FNAME", "FCOMMENT"];
    let set: Vec<&str> = (0..5)
        .filter(|i| flg & (1 << i) != 0)
        .map(|i| names[i])
        .collect();
    g(
        &mut spans,
        3,
        4,
        "FLG",
        if set.is_empty() {
            "0 (no optional fields)".into()
        } else {
            format!("{flg:#04x} ({})", set.join(" | "))
        },
    );
    let mtime = u32::from_le_bytes(bytes[4..8].try_into().expect("4 bytes"));
    g(
        &mut spans,
        4,
        8,
        "MTIME",
        if mtime == 0 {
            "0 (no time stamp)".into()
        } else {
            format!(
                "{mtime} ({})",
                smidge_image::image::config::rfc3339(u64::from(mtime))
            )
        },
    );
    let xfl = bytes[8];
    g(
        &mut spans,
        8,
        9,
        "XFL",
        match xfl {
            2 => "2 (slowest algorithm, maximum compression)".into(),
            4 => "4 (fastest algorithm)".into(),
            x => x.to_string(),
        },
    );
    let os = bytes[9];
    g(
        &mut spans,
        9,
        10,
        "OS",
        match os {
            0 => "0 (FAT)".into(),
            3 => "3 (Unix)".into(),
            7 => "7 (Macintosh)".into(),
            11 => "11 (NTFS)".into(),
            255 => "255 (unknown)".into(),
            x => x.to_string(),
        },
    );
    let mut at = 10usize;
    if flg & 4 != 0 {
        let xlen = bytes
            .get(at..at + 2)
            .map(|x| usize::from(u16::from_le_bytes([x[0], x[1]])))
            .ok_or_else(|| truncated("FEXTRA"))?;
        g(&mut spans, at, at + 2, "XLEN", format!("{xlen} bytes"));
        if at + 2 + xlen > bytes.len() {
            return Err(truncated("FEXTRA"));
        }
        g(
            &mut spans,
            at + 2,
            at + 2 + xlen,
            "FEXTRA",
            format!("{xlen} bytes of extra field"),
        );
        at += 2 + xlen;
    }
    for (bit, name) in [(8u8, "FNAME"), (16, "FCOMMENT")] {
        if flg & bit != 0 {
            let end = bytes[at..]
                .iter()
                .position(|&b| b == 0)
                .ok_or_else(|| truncated(name))?;
            let s = String::from_utf8_lossy(&bytes[at..at + end]).into_owned();
            g(&mut spans, at, at + end + 1, name, format!("{s:?}"));
            at += end + 1;
        }
    }
    if flg & 2 != 0 {
        let stored = bytes
            .get(at..at + 2)
            .map(|x| u16::from_le_bytes([x[0], x[1]]))
            .ok_or_else(|| truncated("FHCRC"))?;
        let mut crc = flate2::Crc::new();
        crc.update(&bytes[..at]);
        let want = crc.sum() as u16;
        g(
            &mut spans,
            at,
            at + 2,
            "FHCRC",
            if stored == want {
                format!("{stored:#06x}, matches the header")
            } else {
                format!("{stored:#06x}, but the header's CRC-16 is {want:#06x}: does not match")
            },
        );
        at += 2;
    }

    let stream = deflate::inflate(&bytes[at..], at as u64, MAX_INPUT)?;
    let base = at as u64;
    // The trailer's figures, before the bytes move into the part.
    let mut crc = flate2::Crc::new();
    crc.update(&stream.out);
    let (crc_want, isize_want) = (crc.sum(), stream.out.len() as u32);
    let decoded = stream.out.len() as u64;
    let deflate_len = stream.len();
    let (blocks, end_bit) = (stream.blocks, stream.end_bit);
    let (part, members) = inside(stream.out, "gzip", depth);
    let of = if members.is_empty() { "bytes" } else { "tar" };
    for (i, b) in blocks.iter().enumerate() {
        let within = members_in(&members, b.out_start, b.out_end);
        spans.add(
            base + b.start_bit / 8,
            base + b.end_bit.div_ceil(8),
            Role::new(
                Kind::Deflate,
                format!("DEFLATE block {i}: {}", b.btype.name()),
                format!(
                    "BFINAL={}, {} bits (bits {}..{} of the stream), decodes to bytes {}..{} of \
                     the {of}{}",
                    u8::from(b.last),
                    thousands(b.bits()),
                    b.start_bit,
                    b.end_bit,
                    thousands(b.out_start),
                    thousands(b.out_end),
                    if within.is_empty() {
                        String::new()
                    } else {
                        format!(": {within}")
                    }
                ),
            ),
        );
    }
    let count = |t: BlockType| blocks.iter().filter(|b| b.btype == t).count();
    let kinds: Vec<String> = [BlockType::Stored, BlockType::Fixed, BlockType::Dynamic]
        .into_iter()
        .filter(|&t| count(t) > 0)
        .map(|t| format!("{} {}", count(t), t.name()))
        .collect();
    notes.push(format!(
        "DEFLATE: {} block{} ({}), {} bits in {} bytes, for {} bytes of {of}",
        blocks.len(),
        if blocks.len() == 1 { "" } else { "s" },
        kinds.join(", "),
        thousands(end_bit),
        thousands(deflate_len),
        thousands(decoded)
    ));

    let trailer = (base + deflate_len) as usize;
    let t = bytes
        .get(trailer..trailer + 8)
        .ok_or_else(|| truncated("its 8-byte trailer (CRC32, ISIZE)"))?;
    let crc_stored = u32::from_le_bytes(t[..4].try_into().expect("4 bytes"));
    let isize_stored = u32::from_le_bytes(t[4..].try_into().expect("4 bytes"));
    g(
        &mut spans,
        trailer,
        trailer + 4,
        "CRC32",
        if crc_stored == crc_want {
            format!("{crc_stored:#010x}, matches the decoded bytes")
        } else {
            format!(
                "{crc_stored:#010x}, but the decoded bytes' CRC-32 is {crc_want:#010x}: does \
                 not match"
            )
        },
    );
    g(
        &mut spans,
        trailer + 4,
        trailer + 8,
        "ISIZE",
        if isize_stored == isize_want {
            format!(
                "{} bytes, matches the decoded size",
                thousands(isize_stored.into())
            )
        } else {
            format!(
                "{} bytes, but the stream decodes to {} (mod 2^32): does not match",
                thousands(isize_stored.into()),
                thousands(isize_want.into())
            )
        },
    );
    if crc_stored == crc_want && isize_stored == isize_want {
        notes.push(format!(
            "gzip trailer matches: CRC32 {crc_want:#010x}, ISIZE {}",
            thousands(isize_want.into())
        ));
    } else {
        notes.push(format!(
            "gzip trailer does not match the decoded bytes: CRC32 {crc_stored:#010x} (computed \
             {crc_want:#010x}), ISIZE {isize_stored} (computed {isize_want})"
        ));
    }
    if trailer + 8 < bytes.len() {
        let rest = bytes.len() - trailer - 8;
        notes.push(format!(
            "{} bytes follow the gzip member (from byte {}); explain does not read them",
            thousands(rest as u64),
            trailer + 8
        ));
        g(
            &mut spans,
            trailer + 8,
            bytes.len(),
            "after the member",
            format!("{} bytes not read", thousands(rest as u64)),
        );
    }
    let what = format!("gzip, {}", part.explanation.what);
    let ranges = spans.finish(size, Role::new(Kind::Gzip, "unread", ""));
    Ok(Explanation {
        what,
        size,
        ranges,
        notes,
        parts: vec![part],
        bytes,
    })
}

/// The zstd frames of `bytes` (RFC 8878): each frame's header fields and each block's
/// header, named; what they decode to comes from the zstd crate.
fn zstd(bytes: Vec<u8>, depth: u32) -> Result<Explanation, String> {
    let size = bytes.len() as u64;
    let mut spans = Spans::new();
    let mut notes = Vec::new();
    let z = |spans: &mut Spans, a: usize, b: usize, name: String, text: String| {
        spans.add(a as u64, b as u64, Role::new(Kind::Zstd, name, text));
    };
    let truncated =
        |what: String| format!("a truncated zstd stream: it ends ({size} bytes) in {what}");
    let le = |b: &[u8]| b.iter().rev().fold(0u64, |acc, &x| acc << 8 | u64::from(x));
    let mut at = 0usize;
    let (mut frames, mut blocks) = (0usize, 0usize);
    // (where the block's header starts, where it ends, its name), for what it decodes to.
    let mut block_ends: Vec<(usize, usize, String)> = Vec::new();
    while at < bytes.len() {
        let f = frames;
        let magic = bytes
            .get(at..at + 4)
            .map(le)
            .ok_or_else(|| truncated(format!("frame {f}'s Magic_Number")))?;
        if (0x184d_2a50..=0x184d_2a5f).contains(&magic) {
            z(
                &mut spans,
                at,
                at + 4,
                "Magic_Number".into(),
                format!("{magic:#x} (skippable frame {f})"),
            );
            let len = bytes
                .get(at + 4..at + 8)
                .map(le)
                .ok_or_else(|| truncated(format!("skippable frame {f}'s Frame_Size")))?;
            z(
                &mut spans,
                at + 4,
                at + 8,
                "Frame_Size".into(),
                format!("{len} bytes"),
            );
            let end = (at + 8).saturating_add(len as usize);
            if end > bytes.len() {
                return Err(truncated(format!("skippable frame {f}'s User_Data")));
            }
            z(
                &mut spans,
                at + 8,
                end,
                "User_Data".into(),
                format!("skippable frame {f}"),
            );
            at = end;
            frames += 1;
            continue;
        }
        if magic != 0xfd2f_b528 {
            return Err(format!(
                "byte {at} starts neither a zstd frame nor a skippable one ({magic:#010x})"
            ));
        }
        z(
            &mut spans,
            at,
            at + 4,
            "Magic_Number".into(),
            format!("0xfd2fb528 (frame {f})"),
        );
        let fhd = *bytes
            .get(at + 4)
            .ok_or_else(|| truncated(format!("frame {f}'s header")))?;
        let fcs_flag = fhd >> 6;
        let single = fhd & 0x20 != 0;
        let checksum = fhd & 4 != 0;
        let did_size = [0usize, 1, 2, 4][usize::from(fhd & 3)];
        let fcs_size = match fcs_flag {
            0 => usize::from(single),
            1 => 2,
            2 => 4,
            _ => 8,
        };
        z(
            &mut spans,
            at + 4,
            at + 5,
            "Frame_Header_Descriptor".into(),
            format!(
                "{fhd:#04x}: Frame_Content_Size_flag {fcs_flag}, Single_Segment_flag {}, \
                 Content_Checksum_flag {}, Dictionary_ID_flag {}",
                u8::from(single),
                u8::from(checksum),
                fhd & 3
            ),
        );
        let mut p = at + 5;
        let need = p + usize::from(!single) + did_size + fcs_size;
        if need > bytes.len() {
            return Err(truncated(format!("frame {f}'s header")));
        }
        if !single {
            let wd = bytes[p];
            let exp = 10 + u32::from(wd >> 3);
            let base = 1u64 << exp;
            let window = base + (base / 8) * u64::from(wd & 7);
            z(
                &mut spans,
                p,
                p + 1,
                "Window_Descriptor".into(),
                format!("{wd:#04x}: a window of {} bytes", thousands(window)),
            );
            p += 1;
        }
        if did_size > 0 {
            z(
                &mut spans,
                p,
                p + did_size,
                "Dictionary_ID".into(),
                le(&bytes[p..p + did_size]).to_string(),
            );
            p += did_size;
        }
        if fcs_size > 0 {
            let mut v = le(&bytes[p..p + fcs_size]);
            if fcs_size == 2 {
                v += 256;
            }
            z(
                &mut spans,
                p,
                p + fcs_size,
                "Frame_Content_Size".into(),
                format!("{} bytes", thousands(v)),
            );
            p += fcs_size;
        }
        let mut i = 0;
        loop {
            let h = bytes
                .get(p..p + 3)
                .map(le)
                .ok_or_else(|| truncated(format!("frame {f}'s block {i} header")))?;
            let last = h & 1 != 0;
            let btype = (h >> 1) & 3;
            let bsize = (h >> 3) as usize;
            let (tname, content) = match btype {
                0 => ("Raw_Block", bsize),
                1 => ("RLE_Block", 1),
                2 => ("Compressed_Block", bsize),
                _ => {
                    return Err(format!(
                        "frame {f}'s block {i} at byte {p} has Block_Type 3, which is reserved"
                    ))
                }
            };
            z(
                &mut spans,
                p,
                p + 3,
                format!("Block_Header (block {i})"),
                format!(
                    "Last_Block {}, Block_Type {tname}, Block_Size {bsize}",
                    u8::from(last)
                ),
            );
            let end = p + 3 + content;
            if end > bytes.len() {
                return Err(truncated(format!(
                    "frame {f}'s block {i} ({content} bytes)"
                )));
            }
            z(
                &mut spans,
                p + 3,
                end,
                format!("Block_Content (block {i})"),
                match btype {
                    0 => format!("{} bytes stored as they are", thousands(bsize as u64)),
                    1 => format!(
                        "one byte, {:#04x}, repeated {} times",
                        bytes[p + 3],
                        thousands(bsize as u64)
                    ),
                    _ => format!(
                        "{} bytes of literals and sequences",
                        thousands(bsize as u64)
                    ),
                },
            );
            block_ends.push((p, end, format!("frame {f} block {i}")));
            p = end;
            i += 1;
            blocks += 1;
            if last {
                break;
            }
        }
        if checksum {
            if p + 4 > bytes.len() {
                return Err(truncated(format!("frame {f}'s Content_Checksum")));
            }
            z(
                &mut spans,
                p,
                p + 4,
                "Content_Checksum".into(),
                format!(
                    "{:#010x} (the low 32 bits of XXH64; the zstd decoder checks it)",
                    le(&bytes[p..p + 4])
                ),
            );
            p += 4;
        }
        at = p;
        frames += 1;
    }

    let cuts: Vec<usize> = block_ends.iter().map(|b| b.1).collect();
    let (out, marks) = zstd_decode(&bytes, &cuts)?;
    let decoded = out.len() as u64;
    let (part, members) = inside(out, "zstd", depth);
    let of = if members.is_empty() { "bytes" } else { "tar" };
    let mut from = 0u64;
    for ((a, b, name), &to) in block_ends.iter().zip(&marks) {
        let within = members_in(&members, from, to);
        z(
            &mut spans,
            *a,
            *b,
            name.clone(),
            format!(
                "decodes to bytes {}..{} of the {of}{}",
                thousands(from),
                thousands(to),
                if within.is_empty() {
                    String::new()
                } else {
                    format!(": {within}")
                }
            ),
        );
        from = to;
    }
    notes.push(format!(
        "zstd: {frames} frame{}, {blocks} block{}, {} bytes for {} bytes decoded",
        if frames == 1 { "" } else { "s" },
        if blocks == 1 { "" } else { "s" },
        thousands(size),
        thousands(decoded)
    ));
    let what = format!("zstd, {}", part.explanation.what);
    let ranges = spans.finish(size, Role::new(Kind::Zstd, "unread", ""));
    Ok(Explanation {
        what,
        size,
        ranges,
        notes,
        parts: vec![part],
        bytes,
    })
}

/// Decodes the zstd stream `bytes` (to at most [`MAX_INPUT`] bytes), feeding it to the
/// decoder up to each of `cuts` in turn (the ends of its blocks): how much is out after
/// each is what that block decoded to.
fn zstd_decode(bytes: &[u8], cuts: &[usize]) -> Result<(Vec<u8>, Vec<u64>), String> {
    use zstd::stream::raw::{Decoder, InBuffer, Operation, OutBuffer};
    let broken = |e: std::io::Error| format!("the zstd stream does not decode: {e}");
    let mut dec = Decoder::new().map_err(broken)?;
    let mut out = Vec::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut marks = Vec::with_capacity(cuts.len());
    let mut prev = 0;
    for &cut in cuts.iter().chain([bytes.len()].iter()) {
        let mut input = InBuffer::around(&bytes[prev..cut]);
        loop {
            let before = input.pos();
            let mut o = OutBuffer::around(&mut buf[..]);
            dec.run(&mut input, &mut o).map_err(broken)?;
            let n = o.pos();
            if (out.len() + n) as u64 > MAX_INPUT {
                return Err(format!(
                    "the zstd stream decodes to more than {} bytes, the most explain reads",
                    thousands(MAX_INPUT)
                ));
            }
            out.extend_from_slice(&buf[..n]);
            let consumed = input.pos() == cut - prev;
            if (consumed && n < buf.len()) || (n == 0 && input.pos() == before) {
                break;
            }
        }
        marks.push(out.len() as u64);
        prev = cut;
    }
    marks.pop();
    Ok((out, marks))
}

/// Explains an OCI layout directory: `oci-layout`, `index.json` and every blob as parts
/// (JSON summarised, layers explained), each blob's digest checked against its name.
pub fn layout(dir: &Path) -> Result<Explanation, ExplainError> {
    let unreadable = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ExplainError::Unreadable { path, source }
    };
    let root = dir.canonicalize().map_err(unreadable(dir))?;
    let mut files: Vec<PathBuf> = Vec::new();
    let mut todo = vec![root.clone()];
    while let Some(d) = todo.pop() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(&d)
            .map_err(unreadable(&d))?
            .map(|e| e.map(|e| e.path()))
            .collect::<Result<_, _>>()
            .map_err(unreadable(&d))?;
        entries.sort();
        for p in entries {
            let real = p.canonicalize().map_err(unreadable(&p))?;
            if !real.starts_with(&root) {
                return Err(ExplainError::malformed(
                    &p,
                    format!(
                        "leads out of the layout (to {}); explain reads only what is inside it",
                        real.display()
                    ),
                ));
            }
            let meta = std::fs::metadata(&real).map_err(unreadable(&p))?;
            if meta.is_dir() {
                if p.symlink_metadata()
                    .is_ok_and(|m| !m.file_type().is_symlink())
                {
                    todo.push(p);
                }
            } else {
                files.push(p);
            }
            if files.len() + todo.len() > 100_000 {
                return Err(ExplainError::malformed(
                    dir,
                    "holds more than 100,000 files",
                ));
            }
        }
    }
    files.sort();
    if !files
        .iter()
        .any(|p| p.file_name().is_some_and(|n| n == "oci-layout"))
    {
        return Err(ExplainError::Unknown {
            path: dir.to_path_buf(),
            start: "a directory without an oci-layout file".into(),
        });
    }
    let mut total = 0u64;
    let mut parts = Vec::new();
    let mut notes = Vec::new();
    let (mut blobs, mut bad) = (0usize, Vec::new());
    for p in &files {
        let meta = std::fs::metadata(p).map_err(unreadable(p))?;
        total += meta.len();
        if total > MAX_INPUT {
            return Err(ExplainError::TooLarge {
                path: dir.to_path_buf(),
                size: total,
            });
        }
        let bytes = std::fs::read(p).map_err(unreadable(p))?;
        let rel = p
            .strip_prefix(&root)
            .unwrap_or(p)
            .to_string_lossy()
            .into_owned();
        let digest = smidge_image::image::Digest::of(&bytes).hex();
        let mut e = explain_bytes(bytes, 0).map_err(|why| ExplainError::malformed(p, why))?;
        if let Some(hex) = rel.strip_prefix("blobs/sha256/") {
            blobs += 1;
            if hex == digest {
                e.notes.push("its sha256 digest matches its name".into());
            } else {
                e.notes.push(format!(
                    "its sha256 digest is {digest}: it does not match its name"
                ));
                bad.push(rel.clone());
            }
        }
        parts.push(Part {
            name: rel,
            explanation: e,
        });
    }
    notes.push(format!(
        "OCI layout: {} files, {} blobs, {} bytes",
        files.len(),
        blobs,
        thousands(total)
    ));
    if !bad.is_empty() {
        notes.push(format!(
            "blobs whose digest is not their name: {}",
            bad.join(", ")
        ));
    }
    Ok(Explanation {
        what: "OCI layout directory".into(),
        size: 0,
        ranges: vec![],
        notes,
        parts,
        bytes: vec![],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn gzip_optional_fields_by_name() {
        let mut b = ::tar::Builder::new(Vec::new());
        let mut h = ::tar::Header::new_ustar();
        h.set_size(5);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, "hello", &b"hello"[..]).unwrap();
        let t = b.into_inner().unwrap();
        let mut z = flate2::GzBuilder::new()
            .filename("layer.tar")
            .comment("a comment")
            .extra(vec![1, 2, 3])
            .mtime(86400)
            .write(Vec::new(), flate2::Compression::best());
        z.write_all(&t).unwrap();
        let z = z.finish().unwrap();
        let e = explain_bytes(z, 0).unwrap();
        let roles: Vec<String> = e
            .ranges
            .iter()
            .flat_map(|r| r.roles.iter().map(|x| x.to_string()))
            .collect();
        for want in [
            "gzip FLG: 0x1c (FEXTRA | FNAME | FCOMMENT)",
            "gzip XLEN: 3 bytes",
            "gzip FEXTRA: 3 bytes of extra field",
            "gzip FNAME: \"layer.tar\"",
            "gzip FCOMMENT: \"a comment\"",
            "gzip MTIME: 86400 (1970-01-02T00:00:00Z)",
        ] {
            assert!(roles.iter().any(|r| r == want), "{want} in {roles:#?}");
        }
        assert!(e
            .notes
            .iter()
            .any(|n| n.starts_with("gzip trailer matches")));
        assert_eq!(e.parts[0].name, "the tar inside the gzip stream");
        assert_eq!(e.ranges.last().unwrap().end, e.size);
    }

    #[test]
    fn thousands_groups_digits() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(8_194_994), "8,194,994");
    }

    #[test]
    fn a_digest_of_any_text_is_shortened_on_a_character() {
        assert_eq!(short("sha256:ééééééééééééééééé"), "sha256:éééééééééééé…");
        let index = "{\"manifests\": [{\"digest\": \"ééééééééééééééééééééé\"}]}";
        assert!(json_summary(index.as_bytes())
            .unwrap()
            .starts_with("index: 1 manifest"));
    }
}
