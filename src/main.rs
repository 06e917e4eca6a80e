//! The `smidge` binary: parses the command line, runs the library's steps
//! (program → payload → image → archive) and owns exit codes: 2 for usage errors, 1 for
//! failures at run time. Every error is one line on stderr.

mod cli;

use anyhow::{Context, Result};
use clap::Parser;
use cli::{BuildArgs, Cli, Command, CompressionArg, Format};
use smidge::archive::{self, Compression};
use smidge::image::{Image, Reference};
use smidge::{elf, Platform, Program};
use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// An error in what the user asked for: exit status 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct Usage(String);

fn usage<T>(msg: impl Into<String>) -> Result<T> {
    Err(Usage(msg.into()).into())
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion)
                || e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
            {
                let _ = e.print();
                return if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
                    ExitCode::from(2)
                } else {
                    ExitCode::SUCCESS
                };
            }
            // clap's first line says what is wrong; the rest is a usage block we leave out.
            let text = e.to_string();
            let first = text.lines().next().unwrap_or("invalid arguments");
            let first = first.strip_prefix("error: ").unwrap_or(first);
            eprintln!("smidge: error: {first} (see smidge --help)");
            return ExitCode::from(2);
        }
    };
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("smidge: error: {e:#}");
            if e.is::<Usage>() {
                ExitCode::from(2)
            } else {
                ExitCode::from(1)
            }
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    let (program, build) = match cli.command {
        Command::Hello {
            words,
            no_newline,
            message_file,
            build,
        } => (
            Program::Hello(message(words, no_newline, message_file)?),
            build,
        ),
        Command::Pause { build } => (Program::Pause, build),
        Command::Exit { code, build } => (Program::Exit(code), build),
    };
    let sink = Sink::new(&build)?;
    let platforms = match &build.platform {
        Some(list) => list.0.clone(),
        None => match Platform::host() {
            Some(p) => vec![p],
            None => usage(format!(
                "no default platform for this {} machine; pass --platform (e.g. linux/amd64)",
                std::env::consts::ARCH
            ))?,
        },
    };
    if platforms.len() > 1 && matches!(build.format, Format::Docker | Format::Elf) {
        return usage(format!(
            "--format {} holds one platform, and {} were asked for; use --format oci or oci-dir for a multi-platform image, or one --platform",
            if build.format == Format::Elf { "elf" } else { "docker" },
            platforms.len()
        ));
    }
    let payloads = platforms
        .iter()
        .map(|&p| elf::build(&program, p, build.fit).map(|payload| (p, payload)))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| Usage(e.to_string()))?;
    if build.format == Format::Elf {
        return sink.write(&payloads[0].1.bytes, 0o755);
    }
    let tag = match build.tag.clone() {
        Some(t) => t,
        None => format!("smidge/{}:latest", program.name())
            .parse::<Reference>()
            .expect("default tags are valid"),
    };
    let images = payloads
        .iter()
        .map(|(p, payload)| Image::new(*p, program.name(), &payload.bytes))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| Usage(e.to_string()))?;
    let compression = match build.compression {
        CompressionArg::Gzip => Compression::Gzip,
        CompressionArg::None => Compression::None,
    };
    match build.format {
        Format::Docker => {
            let archive = archive::docker_archive(&images[0], &tag, compression);
            if build.base64 {
                sink.write(archive::shell_command(&archive).as_bytes(), 0o644)
            } else {
                sink.write(&archive, 0o644)
            }
        }
        Format::Oci => sink.write(&archive::oci_archive(&images, &tag, compression), 0o644),
        Format::OciDir => {
            let Sink::File(dir) = &sink else {
                return usage("--format oci-dir writes a directory: give it with -o DIR");
            };
            archive::write_oci_dir(&images, &tag, compression, dir)?;
            Ok(())
        }
        Format::Elf => unreachable!("handled above"),
    }
}

/// The bytes `hello` prints.
fn message(words: Vec<String>, no_newline: bool, file: Option<PathBuf>) -> Result<Vec<u8>> {
    if let Some(file) = file {
        let mut bytes = Vec::new();
        let read = if file == Path::new("-") {
            std::io::stdin().lock().read_to_end(&mut bytes)
        } else {
            std::fs::File::open(&file).and_then(|mut f| f.read_to_end(&mut bytes))
        };
        if let Err(e) = read {
            return usage(format!(
                "cannot read message file `{}`: {e}",
                file.display()
            ));
        }
        return Ok(bytes);
    }
    let mut bytes = if words.is_empty() {
        b"Hello, world!".to_vec()
    } else {
        words.join(" ").into_bytes()
    };
    if !no_newline {
        bytes.push(b'\n');
    }
    Ok(bytes)
}

/// Where the output goes, checked before any work is done.
enum Sink {
    Stdout,
    File(PathBuf),
}

impl Sink {
    fn new(build: &BuildArgs) -> Result<Sink> {
        if build.base64 && build.format != Format::Docker {
            return usage("--base64 makes a `docker load` command, so it needs --format docker");
        }
        let text = build.base64;
        match &build.output {
            Some(p) if p == Path::new("-") => Sink::stdout(text),
            Some(p) => {
                let dir = match p.parent() {
                    Some(d) if !d.as_os_str().is_empty() => d,
                    _ => Path::new("."),
                };
                if !dir.is_dir() {
                    return usage(format!(
                        "cannot write `{}`: directory `{}` does not exist",
                        p.display(),
                        dir.display()
                    ));
                }
                Ok(Sink::File(p.clone()))
            }
            None => Sink::stdout(text),
        }
    }

    fn stdout(text: bool) -> Result<Sink> {
        if !text && std::io::stdout().is_terminal() {
            return usage(
                "refusing to write a binary archive to a terminal; use -o FILE, pipe it (| docker load), or add --base64",
            );
        }
        Ok(Sink::Stdout)
    }

    fn write(&self, bytes: &[u8], mode: u32) -> Result<()> {
        match self {
            Sink::Stdout => {
                let mut out = std::io::stdout().lock();
                out.write_all(bytes)
                    .and_then(|()| out.flush())
                    .context("cannot write to stdout")
            }
            Sink::File(path) => Ok(archive::write_atomic(path, bytes, mode)?),
        }
    }
}
