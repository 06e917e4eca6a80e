//! The byte map as SVG: 16 cells a row, each coloured by its byte's roles (a byte with
//! several kinds of role is split into vertical stripes, one per kind), its hex on top,
//! every role in the cell's `<title>` (the tooltip), and a legend.

use super::{colour, escape, kinds, range_kinds, tooltip, MAX_PICTURE_BYTES};
use crate::model::Explanation;
use std::fmt::Write;

const COLUMNS: u64 = 16;
const CELL_W: u64 = 30;
const CELL_H: u64 = 22;
const LEFT: u64 = 64;
const TOP: u64 = 30;

/// The picture of `e` (its own bytes; parts are not drawn).
pub fn svg(e: &Explanation) -> String {
    let drawn = e.size.min(MAX_PICTURE_BYTES as u64);
    let rows = drawn.div_ceil(COLUMNS);
    let legend = kinds(e);
    let legend_rows = (legend.len() as u64).div_ceil(4);
    let width = LEFT + COLUMNS * CELL_W + 16;
    let height = TOP + rows * CELL_H + 16 + legend_rows * 22 + 10;
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="monospace" font-size="12">"#
    );
    let _ = writeln!(
        s,
        r##"<rect width="{width}" height="{height}" fill="#ffffff"/>"##
    );
    let mut title = format!("{} ({} bytes)", e.what, e.size);
    if drawn < e.size {
        title.push_str(&format!(", the first {drawn} drawn"));
    }
    let _ = writeln!(
        s,
        r##"<text x="8" y="18" font-size="13" fill="#202020">{}</text>"##,
        escape(&title)
    );
    for col in 0..COLUMNS {
        let x = LEFT + col * CELL_W + CELL_W / 2;
        let _ = writeln!(
            s,
            r##"<text x="{x}" y="{}" text-anchor="middle" fill="#808080" font-size="10">{col:x}</text>"##,
            TOP - 4
        );
    }
    for row in 0..rows {
        let _ = writeln!(
            s,
            r##"<text x="{}" y="{}" text-anchor="end" fill="#808080">{:04x}</text>"##,
            LEFT - 6,
            TOP + row * CELL_H + 15,
            row * COLUMNS
        );
    }
    for r in &e.ranges {
        if r.start >= drawn {
            break;
        }
        let kinds = range_kinds(&r.roles);
        for at in r.start..r.end.min(drawn) {
            let (row, col) = (at / COLUMNS, at % COLUMNS);
            let (x, y) = (LEFT + col * CELL_W, TOP + row * CELL_H);
            let _ = write!(s, "<g><title>{}</title>", escape(&tooltip(e, r, at)));
            let n = kinds.len().max(1) as u64;
            for (i, k) in kinds.iter().enumerate() {
                let i = i as u64;
                let (x0, x1) = (x + CELL_W * i / n, x + CELL_W * (i + 1) / n);
                let _ = write!(
                    s,
                    r#"<rect x="{x0}" y="{y}" width="{}" height="{CELL_H}" fill="{}"/>"#,
                    x1 - x0,
                    colour(*k)
                );
            }
            let _ = write!(
                s,
                r##"<rect x="{x}" y="{y}" width="{CELL_W}" height="{CELL_H}" fill="none" stroke="#ffffff"/>"##
            );
            if let Some(b) = e.bytes.get(at as usize) {
                let _ = write!(
                    s,
                    r##"<text x="{}" y="{}" text-anchor="middle" fill="#202020">{b:02x}</text>"##,
                    x + CELL_W / 2,
                    y + 15
                );
            }
            s.push_str("</g>\n");
        }
    }
    let y0 = TOP + rows * CELL_H + 16;
    for (i, k) in legend.iter().enumerate() {
        let (row, col) = (i as u64 / 4, i as u64 % 4);
        let (x, y) = (8 + col * 150, y0 + row * 22);
        let _ = writeln!(
            s,
            r##"<rect x="{x}" y="{y}" width="14" height="14" fill="{}" stroke="#808080"/><text x="{}" y="{}" fill="#202020">{}</text>"##,
            colour(*k),
            x + 20,
            y + 12,
            k.name()
        );
    }
    s.push_str("</svg>\n");
    s
}
