//! The byte map as one HTML page: a grid of cells (one `<span class="b">` per byte, 16 a
//! row), coloured by role, overlaps as stripes (a CSS gradient), every role in the cell's
//! `title` (the tooltip), a legend, and the listing below. Inline CSS, no script.

use super::{colour, escape, kinds, range_kinds, tooltip, MAX_PICTURE_BYTES};
use crate::model::Explanation;
use std::fmt::Write;

/// The page for `e` (its own bytes; the listing below includes its parts).
pub fn html(e: &Explanation) -> String {
    let drawn = e.size.min(MAX_PICTURE_BYTES as u64);
    let mut s = String::new();
    let title = escape(&format!("{} ({} bytes)", e.what, e.size));
    let _ = write!(
        s,
        r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font-family: monospace; font-size: 13px; margin: 16px; color: #202020; background: #ffffff; }}
.map {{ display: grid; grid-template-columns: 4.5em repeat(16, 2.4em); gap: 1px; }}
.b {{ text-align: center; padding: 3px 0; }}
.o {{ color: #808080; text-align: right; padding: 3px 6px 3px 0; }}
.legend span {{ display: inline-block; margin: 8px 16px 0 0; }}
.legend i {{ display: inline-block; width: 12px; height: 12px; border: 1px solid #808080; vertical-align: middle; margin-right: 4px; }}
pre {{ margin-top: 16px; }}
</style></head><body>
<h1 style="font-size: 15px">{title}</h1>
"#
    );
    if drawn < e.size {
        let _ = writeln!(s, "<p>The first {drawn} bytes are drawn.</p>");
    }
    s.push_str("<div class=\"map\">\n");
    for r in &e.ranges {
        if r.start >= drawn {
            break;
        }
        let kinds = range_kinds(&r.roles);
        let background = if kinds.len() == 1 {
            colour(kinds[0]).to_string()
        } else {
            let n = kinds.len();
            let stops: Vec<String> = kinds
                .iter()
                .enumerate()
                .map(|(i, k)| {
                    format!(
                        "{c} {a}%, {c} {b}%",
                        c = colour(*k),
                        a = i * 100 / n,
                        b = (i + 1) * 100 / n
                    )
                })
                .collect();
            format!("linear-gradient(90deg, {})", stops.join(", "))
        };
        let class: Vec<&str> = kinds.iter().map(|k| k.name()).collect();
        for at in r.start..r.end.min(drawn) {
            if at % 16 == 0 {
                let _ = write!(s, "<span class=\"o\">{at:04x}</span>");
            }
            let hex = e
                .bytes
                .get(at as usize)
                .map(|b| format!("{b:02x}"))
                .unwrap_or_default();
            let _ = writeln!(
                s,
                r#"<span class="b {}" style="background: {background}" title="{}">{hex}</span>"#,
                class.join(" "),
                escape(&tooltip(e, r, at))
            );
        }
    }
    s.push_str("</div>\n<div class=\"legend\">");
    for k in kinds(e) {
        let _ = write!(
            s,
            r#"<span><i style="background: {}"></i>{}</span>"#,
            colour(k),
            k.name()
        );
    }
    let _ = write!(
        s,
        "</div>\n<pre>{}</pre>\n</body></html>\n",
        escape(&super::text(e, false))
    );
    s
}
