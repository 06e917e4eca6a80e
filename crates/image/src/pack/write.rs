//! A [`Plan`] written as an archive or layout, streaming (see [`crate::archive::stream`]).

use std::path::Path;

use super::{PackError, Plan};
use crate::archive::stream::{
    self, ArchiveKind, ImageParts, Progress, Sink, StreamCompression, StreamError,
};
use crate::image::config::run_configuration_json;
use crate::image::{Digest, Reference};

/// What to write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PackFormat {
    Docker,
    Oci,
    OciDir,
}

/// Where it goes: stdout, a file, or (for [`PackFormat::OciDir`]) a directory.
#[derive(Clone, Copy, Debug)]
pub enum Output<'a> {
    Stdout,
    Path(&'a Path),
}

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

/// Writes `plan` tagged `tag`.
pub fn write(
    plan: &Plan,
    tag: &Reference,
    format: PackFormat,
    compression: StreamCompression,
    output: Output<'_>,
    progress: &dyn Progress,
) -> Result<(), PackError> {
    // Build the config once now, so that a bad field is an error before any work.
    run_configuration_json(plan.platform, &plan.run, &Digest::of(b""), plan.epoch)
        .map_err(|e| PackError::BadOption(e.to_string()))?;
    let config = |diff_id: &Digest| {
        run_configuration_json(plan.platform, &plan.run, diff_id, plan.epoch)
            .expect("the same configuration built above")
    };
    let parts = ImageParts {
        platform: plan.platform,
        tag,
        entries: &plan.entries,
        config: &config,
    };
    let sink = match output {
        Output::Stdout => Sink::Stdout,
        Output::Path(p) => Sink::File(p),
    };
    let result = match format {
        PackFormat::Docker => {
            stream::write_archive(&parts, ArchiveKind::Docker, compression, sink, progress)
        }
        PackFormat::Oci => {
            stream::write_archive(&parts, ArchiveKind::Oci, compression, sink, progress)
        }
        PackFormat::OciDir => match output {
            Output::Path(dir) => stream::write_oci_dir(&parts, compression, dir, progress),
            Output::Stdout => {
                return Err(PackError::BadOption(
                    "--format oci-dir writes a directory: give it with -o DIR".into(),
                ))
            }
        },
    };
    result.map_err(|e| match e {
        StreamError::TargetNotEmpty(_) => PackError::BadOption(e.to_string()),
        e => PackError::Stream(e),
    })
}
