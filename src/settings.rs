//! Arguments → resolved settings, each rule in one place: `SOURCE_DATE_EPOCH` (read once),
//! annotations, the default tag, where the output goes and in what compression (issue
//! #16), and the registry options. Every mistake here is a [`Usage`] error (exit 2),
//! found before any work is done.

use std::io::{IsTerminal, Read};
use std::path::{Path, PathBuf};

use anyhow::Result;
use smidge::image::document::ANNOTATION_CREATED;
use smidge::image::{config::rfc3339, Annotations, MediaTypes, Reference};
use smidge::registry::{Credentials, PushOptions};
use smidge_image::codec::Compression;

use crate::cli::{CompressionArg, Format, MediaTypesArg, OutputArgs, RegistryArgs};

/// An error in what the user asked for: exit status 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Usage(pub String);

pub fn usage<T>(msg: impl Into<String>) -> Result<T> {
    Err(Usage(msg.into()).into())
}

/// `SOURCE_DATE_EPOCH`: unset or empty means none; anything else must be whole seconds
/// since 1970 (surrounding blanks allowed), as reproducible-builds.org specifies.
pub fn source_date_epoch() -> Result<Option<u64>> {
    match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(s) if s.is_empty() => Ok(None),
        Ok(s) => match s.trim().parse::<u64>() {
            Ok(t) => Ok(Some(t)),
            Err(_) => usage(format!(
                "invalid SOURCE_DATE_EPOCH `{s}`: expected whole seconds since 1970"
            )),
        },
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(_) => usage("invalid SOURCE_DATE_EPOCH: not UTF-8"),
    }
}

/// Where an image goes, resolved.
pub enum Delivery {
    /// An archive or layout (or the ELF alone) written to `output`.
    Write {
        format: Format,
        output: Option<PathBuf>,
        compression: Compression,
        shell_line: bool,
        platform_tags: bool,
    },
    /// Pushed to a registry.
    Push {
        reference: Reference,
        options: PushOptions,
    },
}

/// Everything about the output, resolved once.
pub struct Settings {
    pub tag: Option<Reference>,
    pub delivery: Delivery,
    pub annotations: Annotations,
    pub epoch: Option<u64>,
}

impl Settings {
    /// Resolves `out`. `platforms` is how many images will be made; `stdin_taken` names
    /// the flag that already reads stdin (the password must not also come from there).
    pub fn resolve(
        out: &OutputArgs,
        platforms: usize,
        stdin_taken: Option<&str>,
    ) -> Result<Settings> {
        if let (Some(flag), true) = (stdin_taken, out.registry.password_stdin) {
            return usage(format!(
                "{flag} - and --password-stdin both read stdin: put the {} in a file",
                if flag == "--body-file" {
                    "body"
                } else {
                    "message"
                }
            ));
        }
        let epoch = source_date_epoch()?;
        let mut annotations = Annotations::new();
        for kv in &out.annotations {
            match kv.split_once('=') {
                Some((k, v)) if !k.trim().is_empty() => {
                    annotations.insert(k.to_string(), v.to_string());
                }
                _ => return usage(format!("--annotation `{kv}`: expected KEY=VALUE")),
            }
        }
        if let Some(t) = epoch {
            annotations
                .entry(ANNOTATION_CREATED.to_string())
                .or_insert_with(|| rfc3339(t));
        }
        let delivery = match &out.push {
            Some(_) if out.format == Format::Elf => {
                return usage("--push sends an image; --format elf makes a file (leave one out)")
            }
            Some(reference) => {
                let mut options = push_options(&out.registry)?;
                if let Some(c) = out.compression {
                    options.layer_compression = compression_of(c);
                }
                Delivery::Push {
                    reference: reference.clone(),
                    options,
                }
            }
            None => {
                if platforms > 1 && matches!(out.format, Format::Docker | Format::Elf) {
                    return usage(format!(
                        "--format {} holds one platform, and {platforms} were asked for; use --format oci or oci-dir for a multi-platform image, or one --platform",
                        if out.format == Format::Elf { "elf" } else { "docker" },
                    ));
                }
                if out.base64 && out.format != Format::Docker {
                    return usage(
                        "--base64 makes a `docker load` command, so it needs --format docker",
                    );
                }
                let output = match &out.output {
                    Some(p) if p == Path::new("-") => None,
                    Some(p) => {
                        check_output_dir(p)?;
                        Some(p.clone())
                    }
                    None => None,
                };
                if output.is_none() {
                    if out.format == Format::OciDir {
                        return usage("--format oci-dir writes a directory: give it with -o DIR");
                    }
                    if !out.base64 && std::io::stdout().is_terminal() {
                        return usage(
                            "refusing to write a binary archive to a terminal; use -o FILE, pipe it (| docker load), or add --base64",
                        );
                    }
                }
                Delivery::Write {
                    format: out.format,
                    compression: compression(out, output.as_deref())?,
                    output,
                    shell_line: out.base64,
                    platform_tags: out.platform_tags,
                }
            }
        };
        if !annotations.is_empty()
            && matches!(
                delivery,
                Delivery::Write {
                    format: Format::Docker | Format::Elf,
                    ..
                }
            )
            && !out.annotations.is_empty()
        {
            eprintln!(
                "smidge: warning: a docker archive has no manifest to hold --annotation; use --format oci, oci-dir or --push"
            );
        }
        Ok(Settings {
            tag: out.tag.clone(),
            delivery,
            annotations,
            epoch,
        })
    }

    /// The tag: `-t`, else `smidge/<name>:latest`.
    pub fn tag_or(&self, name: &str) -> Reference {
        self.tag.clone().unwrap_or_else(|| {
            format!("smidge/{name}:latest")
                .parse()
                .expect("default names are valid repository components")
        })
    }
}

/// The compression: `--compression`, else what the output's name says, else gzip; a name
/// that says otherwise than `--compression` is refused (issue #16).
fn compression(out: &OutputArgs, output: Option<&Path>) -> Result<Compression> {
    let asked = out.compression.map(compression_of);
    // A layout directory's name says nothing about its blobs.
    let named = match out.format {
        Format::Docker | Format::Oci => output.and_then(Compression::from_file_name),
        Format::OciDir | Format::Elf => None,
    };
    match (asked, named) {
        (Some(a), Some(n)) if a != n => usage(format!(
            "-o {} names a {} archive, but --compression {a} was given; rename the file or leave out --compression",
            output.map(|p| p.display().to_string()).unwrap_or_default(),
            match n {
                Compression::None => "plain (uncompressed)",
                Compression::Gzip => "gzip",
                Compression::Zstd => "zstd",
            },
        )),
        (Some(a), _) => Ok(a),
        (None, Some(n)) => Ok(n),
        (None, None) => Ok(Compression::Gzip),
    }
}

fn compression_of(c: CompressionArg) -> Compression {
    match c {
        CompressionArg::Gzip => Compression::Gzip,
        CompressionArg::Zstd => Compression::Zstd,
        CompressionArg::None => Compression::None,
    }
}

/// An output path whose directory does not exist is a usage error, found before any work.
fn check_output_dir(path: &Path) -> Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    if !dir.is_dir() {
        return usage(format!(
            "cannot write `{}`: directory `{}` does not exist",
            path.display(),
            dir.display()
        ));
    }
    Ok(())
}

/// Whether stdin is a terminal (a password may be prompted for).
pub fn stdin_is_terminal() -> bool {
    use std::io::IsTerminal;
    std::io::stdin().is_terminal()
}

/// The password on stdin (`--password-stdin`), its one trailing newline removed.
pub fn password_from_stdin() -> Result<String> {
    let mut password = String::new();
    if std::io::stdin().read_to_string(&mut password).is_err() {
        return usage("--password-stdin: cannot read the password from stdin (not UTF-8?)");
    }
    let password = password
        .strip_suffix('\n')
        .map(|p| p.strip_suffix('\r').unwrap_or(p))
        .unwrap_or(&password)
        .to_string();
    if password.is_empty() {
        return usage("--password-stdin: stdin held no password");
    }
    Ok(password)
}

/// Asks on stderr and reads one line from the terminal on stdin; without echo unless
/// `echo` (the terminal's settings are put back before returning).
pub fn prompt(question: &str, echo: bool) -> Result<String> {
    use std::io::{BufRead, Write};
    eprint!("{question}");
    let _ = std::io::stderr().flush();
    // SAFETY: termios is plain data; tcgetattr fills it, and fd 0 is a terminal
    // (checked by the caller).
    let mut saved: libc::termios = unsafe { std::mem::zeroed() };
    let have = unsafe { libc::tcgetattr(0, &mut saved) } == 0;
    if !echo && have {
        let mut quiet = saved;
        quiet.c_lflag &= !libc::ECHO;
        quiet.c_lflag |= libc::ECHONL;
        // SAFETY: a termios copied from tcgetattr, one flag changed.
        unsafe { libc::tcsetattr(0, libc::TCSANOW, &quiet) };
    }
    let mut line = String::new();
    let read = std::io::stdin().lock().read_line(&mut line);
    if !echo && have {
        // SAFETY: the settings read above.
        unsafe { libc::tcsetattr(0, libc::TCSANOW, &saved) };
    }
    if read.is_err() {
        return usage("cannot read from the terminal");
    }
    Ok(line.trim_end_matches(['\n', '\r']).to_string())
}

/// The registry options of the command line, the password read from stdin.
pub fn push_options(args: &RegistryArgs) -> Result<PushOptions> {
    let credentials = match (&args.username, args.password_stdin) {
        (Some(username), true) => {
            let password = password_from_stdin()?;
            if username.is_empty() {
                return usage("--username is empty");
            }
            Some(Credentials {
                username: username.clone(),
                password,
            })
        }
        (Some(_), false) => {
            return usage(
                "--username needs --password-stdin (the password is read from stdin, never from the command line)",
            )
        }
        (None, true) => return usage("--password-stdin needs --username"),
        (None, false) => None,
    };
    Ok(PushOptions {
        media_types: match args.media_types {
            MediaTypesArg::Oci => MediaTypes::Oci,
            MediaTypesArg::Docker => MediaTypes::Docker,
        },
        credentials,
        ca_certs: args.tls.ca_cert.clone(),
        insecure: args.tls.insecure,
        ..Default::default()
    })
}

/// The bytes of `file` ("-" = stdin); a file that cannot be read is a usage error.
pub fn read_input(file: &Path, what: &str) -> Result<Vec<u8>> {
    let mut bytes = Vec::new();
    let read = if file == Path::new("-") {
        std::io::stdin().lock().read_to_end(&mut bytes)
    } else {
        std::fs::File::open(file).and_then(|mut f| f.read_to_end(&mut bytes))
    };
    match read {
        Ok(_) => Ok(bytes),
        Err(e) => usage(format!("cannot read {what} `{}`: {e}", file.display())),
    }
}
