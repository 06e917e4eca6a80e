//! [`plan`]: what the user asked for ([`PackSpec`]) checked and turned into what the
//! archive writer needs ([`Plan`]): the sorted layer entries, the platform read from the
//! entrypoint's ELF header, and the run configuration.

use std::path::PathBuf;

use super::inspect::{inspect, FileKind};
use super::strip::strip_plan;
pub use super::tree::Owner;
use super::tree::{image_path, resolve, source_of, Tree};
use super::PackError;
use crate::codec::tar::{EntryKind, LayerEntry};
use crate::image::config::RunConfig;
use smidge_elf::Platform;

/// One thing to pack: a host file or folder and where it goes (`None`: a file to
/// `/<name>`, a folder's content to `/`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Source {
    pub src: PathBuf,
    pub dest: Option<String>,
}

/// Everything `smidge pack` was asked.
#[derive(Clone, Debug, Default)]
pub struct PackSpec {
    pub sources: Vec<Source>,
    /// The config; `entrypoint: None` means "the one file, if it is executable".
    pub run: RunConfig,
    /// `--entrypoint ''`: no entrypoint even for a single executable.
    pub no_entrypoint: bool,
    pub platform: Option<Platform>,
    pub allow_dynamic: bool,
    pub strip: bool,
    pub owner: Owner,
    /// `SOURCE_DATE_EPOCH`: every mtime, and the config's `created`.
    pub epoch: Option<u64>,
}

/// What to write.
#[derive(Clone, Debug)]
pub struct Plan {
    pub entries: Vec<LayerEntry>,
    pub platform: Platform,
    pub run: RunConfig,
    pub epoch: Option<u64>,
}

/// `--entrypoint`/`--cmd`: a JSON array (`["/bin/sh","-c","x"]`) or words split on
/// whitespace the way a shell splits them: `'…'` and `"…"` group, `\` escapes (no
/// expansion of any kind).
pub fn parse_words(s: &str) -> Result<Vec<String>, String> {
    if s.trim_start().starts_with('[') {
        return serde_json::from_str(s)
            .map_err(|e| format!("`{s}` is not a JSON array of strings: {e}"));
    }
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => words.extend(word.take()),
            '\'' => {
                let w = word.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => w.push(c),
                        None => return Err(format!("`{s}`: unterminated '")),
                    }
                }
            }
            '"' => {
                let w = word.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c) => w.push(c),
                            None => return Err(format!("`{s}`: unterminated \"")),
                        },
                        Some(c) => w.push(c),
                        None => return Err(format!("`{s}`: unterminated \"")),
                    }
                }
            }
            '\\' => match chars.next() {
                Some(c) => word.get_or_insert_with(String::new).push(c),
                None => return Err(format!("`{s}`: trailing \\")),
            },
            c => word.get_or_insert_with(String::new).push(c),
        }
    }
    words.extend(word);
    Ok(words)
}

/// Checks `spec` against the files on disk and plans the layer.
pub fn plan(spec: &PackSpec) -> Result<Plan, PackError> {
    if spec.sources.is_empty() {
        return Err(PackError::BadOption(
            "nothing to pack: give a PATH or --add SRC:DEST".into(),
        ));
    }
    let mut tree = Tree::new(spec.owner, spec.epoch.unwrap_or(0));
    for s in &spec.sources {
        tree.add(&s.src, s.dest.as_deref())?;
    }
    let mut entries = tree.finish();
    let mut run = spec.run.clone();

    // The default entrypoint: the one file, when it is executable.
    if run.entrypoint.is_none() && !spec.no_entrypoint && spec.sources.len() == 1 {
        let files: Vec<&LayerEntry> = entries
            .iter()
            .filter(|e| matches!(e.kind, EntryKind::File { .. }))
            .collect();
        if let [one] = files[..] {
            if spec.sources[0].src.is_file() && one.mode & 0o111 != 0 {
                run.entrypoint = Some(vec![format!("/{}", one.path)]);
            }
        }
    }
    if let Some(w) = &run.working_dir {
        if !w.starts_with('/') {
            return Err(PackError::BadOption(format!(
                "--workdir `{w}` must be an absolute path"
            )));
        }
    }

    let platform = platform_and_checks(spec, &entries, &run)?;

    if spec.strip {
        for e in &mut entries {
            let EntryKind::File { source, len, head } = &mut e.kind else {
                continue;
            };
            if let FileKind::Elf(info) = inspect(source)? {
                if info.e_type == smidge_elf::elf::spec::ET_EXEC
                    || info.e_type == super::inspect::ET_DYN
                {
                    if let Some((h, n)) = strip_plan(source, &info, *len)? {
                        *head = h;
                        *len = n;
                    }
                }
            }
        }
    }
    Ok(Plan {
        entries,
        platform,
        run,
        epoch: spec.epoch,
    })
}

/// The platform, from the entrypoint's ELF header when there is one, and the refusals:
/// a dynamically linked program or a script whose interpreter is not in the image.
fn platform_and_checks(
    spec: &PackSpec,
    entries: &[LayerEntry],
    run: &RunConfig,
) -> Result<Platform, PackError> {
    let program = run
        .entrypoint
        .as_ref()
        .and_then(|e| e.first())
        .or_else(|| run.cmd.as_ref().and_then(|c| c.first()))
        .filter(|p| p.starts_with('/'));
    let Some(program) = program else {
        return spec
            .platform
            .or_else(Platform::host)
            .ok_or(PackError::NoPlatform {
                why: "there is no entrypoint to read an ELF header from".into(),
            });
    };
    let in_image = |p: &str| resolve(entries, p);
    let mut path = program.clone();
    // A script is followed to its interpreter (when the image has it), at most twice.
    for _ in 0..3 {
        let entry = in_image(&path).ok_or_else(|| PackError::EntrypointMissing(path.clone()))?;
        let Some(source) = source_of(entry) else {
            return Err(PackError::EntrypointMissing(path.clone()));
        };
        if entry.mode & 0o111 == 0 {
            return Err(PackError::NotExecutable {
                path: path.clone(),
                mode: entry.mode,
            });
        }
        match inspect(source)? {
            FileKind::Elf(info) => {
                if let Some(interp) = &info.interp {
                    if in_image(interp).is_none() && !spec.allow_dynamic {
                        return Err(PackError::Dynamic {
                            path: source.clone(),
                            interp: interp.clone(),
                        });
                    }
                }
                return match (info.platform, spec.platform) {
                    (Ok(found), Some(asked)) if found != asked => {
                        Err(PackError::PlatformMismatch {
                            path: source.clone(),
                            found,
                            asked,
                        })
                    }
                    (Ok(found), _) => Ok(found),
                    (Err(_), Some(asked)) => Ok(asked),
                    (Err(what), None) => Err(PackError::UnknownElf {
                        path: source.clone(),
                        what,
                    }),
                };
            }
            FileKind::Script(interp) => {
                let present = image_path(&interp).is_ok()
                    && interp.starts_with('/')
                    && in_image(&interp).is_some();
                if !present {
                    if spec.allow_dynamic {
                        break;
                    }
                    return Err(PackError::Script {
                        path: source.clone(),
                        interp,
                    });
                }
                path = interp;
            }
            FileKind::Other => break,
        }
    }
    spec.platform.ok_or_else(|| PackError::NoPlatform {
        why: format!("the entrypoint `{program}` is not an ELF executable"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_json_or_shell_like() {
        assert_eq!(
            parse_words(r#"["/bin/sh","-c","a b"]"#).unwrap(),
            ["/bin/sh", "-c", "a b"]
        );
        assert_eq!(
            parse_words(r#"-c "echo \"hi\" there" 'x y' a\ b """#).unwrap(),
            ["-c", r#"echo "hi" there"#, "x y", "a b", ""]
        );
        assert!(parse_words("'open").is_err());
        assert!(parse_words("[1]").is_err());
    }
}
