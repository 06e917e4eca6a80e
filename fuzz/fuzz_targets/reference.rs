//! Image references as users type them (`smidge push SRC REF`, `--tag`, `--push`): the
//! parser never panics, and a parsed reference prints as exactly what was parsed (names
//! are kept as written), which parses back to an equal value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use smidge_image::image::Reference;

/// A reference is short; nothing in it says how much to allocate.
const LIMIT: usize = 64 << 10;

fuzz_target!(init: smidge_fuzz::limit_allocations(LIMIT), |data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let r = match s.parse::<Reference>() {
        Ok(r) => r,
        Err(e) => {
            // One line, whatever the input (which it quotes, so not when that has one).
            if !s.contains('\n') {
                assert!(!e.to_string().contains('\n'), "{e}");
            }
            return;
        }
    };
    let shown = r.to_string();
    assert_eq!(shown, s, "a parsed reference prints as it was written");
    let back: Reference = shown
        .parse()
        .unwrap_or_else(|e| panic!("{s:?} parsed, but its Display {shown:?} does not: {e}"));
    assert_eq!(back, r);
    let _ = (r.repo_tag(), r.repository(), r.tag_or_latest(), r.domain());
});
