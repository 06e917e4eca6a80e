//! A [`Plan`] as an [`Image`]: its layer streamed from the files on disk (read once now for
//! its digest, and again by whichever destination writes it), its configuration.

use std::path::Path;

use super::Plan;
use crate::image::config::configuration_json;
use crate::image::{Image, Layer};
use crate::progress::Progress;
use crate::Result;

/// A default image name from a source path: its file name, lowercased, with anything a
/// repository name may not hold turned into `-` (e.g. `/bin/busybox` → `busybox`).
pub fn image_name(path: &Path) -> String {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    let cleaned: String = stem
        .chars()
        .map(|c| {
            if c.is_ascii_lowercase() || c.is_ascii_digit() {
                c
            } else {
                '-'
            }
        })
        .collect();
    let trimmed = cleaned.trim_matches('-');
    let mut out = String::new();
    for c in trimmed.chars() {
        if !(c == '-' && out.ends_with('-')) {
            out.push(c);
        }
    }
    if out.is_empty() {
        "image".into()
    } else {
        out
    }
}

/// The image of `plan`. `progress` is told the bytes of file data hashed.
pub fn image(plan: &Plan, progress: &dyn Progress) -> Result<Image> {
    let layer = Layer::entries(plan.entries.clone(), progress)?;
    let config = configuration_json(plan.platform, &plan.run, &[*layer.diff_id()], plan.epoch);
    Image::new(config, vec![layer])
}
