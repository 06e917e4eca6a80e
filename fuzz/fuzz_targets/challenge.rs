//! The `WWW-Authenticate` challenges a registry sends (`Basic realm="…"`, `Bearer
//! realm="…",service="…",scope="…"`): the parser never panics, returns non-empty
//! lower-case names, and no more parameters than the header has characters (a bare
//! token, `z` in `x=y,z`, is a parameter with an empty value).
#![no_main]

use libfuzzer_sys::fuzz_target;
use smidge_image::registry::push::parse_challenge;

/// A header is at most a few KiB here; the parser copies it, nothing more.
const LIMIT: usize = 64 << 10;

fuzz_target!(init: smidge_fuzz::limit_allocations(LIMIT), |data: &[u8]| {
    let Ok(header) = std::str::from_utf8(data) else {
        return;
    };
    let (scheme, params) = parse_challenge(header);
    assert_eq!(scheme, scheme.to_ascii_lowercase());
    assert!(params.len() <= header.len());
    for (key, _) in &params {
        assert!(!key.is_empty());
        assert_eq!(*key, key.to_ascii_lowercase());
    }
});
