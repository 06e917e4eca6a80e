//! The command line: argument definitions only; `main.rs` runs them.

use clap::{Args, Parser, Subcommand, ValueEnum};
use smidge::image::Reference;
use smidge::{Fit, Platform};
use std::path::PathBuf;

const ABOUT: &str = "The smallest container images, built from nothing: hand-laid machine code \
in the tiniest ELF file, one layer, no assembler, no linker, no daemon.";

const EXAMPLES: &str = "\
Examples:
  smidge hello -o hello.tar.gz && docker load -i hello.tar.gz && docker run --rm smidge/hello
  smidge pause --fit kernel | docker load
  smidge exit 3 --platform linux/386 --format oci -o exit.oci.tar
  smidge pause --platform all --format oci-dir -o pause-oci   # one index, every platform";

#[derive(Parser, Debug)]
#[command(name = "smidge", version, about = ABOUT, after_help = EXAMPLES)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// An image that prints a message and exits 0.
    #[command(after_help = "\
Examples:
  smidge hello -o hello.tar.gz                  # prints \"Hello, world!\"
  smidge hello 'ready on' $(hostname) | docker load
  printf 'no newline' | smidge hello --message-file - --format elf -o hello && ./hello")]
    Hello {
        /// The message; words are joined by one space and a newline is added
        /// [default: Hello, world!]
        #[arg(value_name = "MESSAGE")]
        words: Vec<String>,
        /// Do not add the trailing newline.
        #[arg(short = 'n')]
        no_newline: bool,
        /// Take the message bytes from FILE ("-" = stdin), exactly as they are.
        #[arg(long, value_name = "FILE", conflicts_with_all = ["words", "no_newline"])]
        message_file: Option<PathBuf>,
        #[command(flatten)]
        build: BuildArgs,
    },
    /// An image that waits until it is told to stop (a pod's pause container).
    ///
    /// It exits 0 at once on SIGTERM or SIGINT, also as PID 1, reaps every child it
    /// inherits, and uses no CPU while it waits.
    #[command(after_help = "\
Examples:
  smidge pause -o pause.tar.gz && docker load -i pause.tar.gz
  docker run -d --name p smidge/pause && docker stop p   # returns at once, exit 0")]
    Pause {
        #[command(flatten)]
        build: BuildArgs,
    },
    /// An image that exits with a status code (health checks, placeholders).
    #[command(after_help = "\
Examples:
  smidge exit -o true.tar.gz                    # exits 0
  smidge exit 3 --fit kernel --format elf -o exit3 && ./exit3; echo $?")]
    Exit {
        /// The exit status, 0 to 255.
        #[arg(value_name = "CODE", default_value = "0", value_parser = parse_exit_code, allow_negative_numbers = true)]
        code: u8,
        #[command(flatten)]
        build: BuildArgs,
    },
}

/// Options every build command takes.
#[derive(Args, Debug)]
pub struct BuildArgs {
    /// Target platforms, comma-separated, or `all`: linux/amd64, linux/386, linux/arm64,
    /// linux/arm/v7, linux/riscv64, linux/ppc64le, linux/s390x [default: this machine's]
    #[arg(long, value_name = "P[,P...]", value_parser = parse_platforms)]
    pub platform: Option<Platforms>,
    /// How far the ELF file bends the format: portable (runs under Linux and qemu-user)
    /// or kernel (the smallest file Linux runs).
    #[arg(long, value_name = "F", default_value = "portable", value_parser = parse_fit)]
    pub fit: Fit,
    /// Image reference recorded in the archive [default: smidge/<program>:latest]
    #[arg(short, long = "tag", value_name = "REF", value_parser = parse_reference)]
    pub tag: Option<Reference>,
    /// Where to write ("-" = stdout). Without it, smidge writes to stdout unless stdout is
    /// a terminal.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// What to write.
    #[arg(long, value_enum, default_value_t = Format::Docker)]
    pub format: Format,
    /// Compression of the archive (the layer blobs, for oci-dir).
    #[arg(long, value_enum, default_value_t = CompressionArg::Gzip)]
    pub compression: CompressionArg,
    /// Write a one-line shell command instead: `echo <base64> | base64 -d | docker load`.
    #[arg(long)]
    pub base64: bool,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// A tar that `docker load` and `podman load` read.
    Docker,
    /// An OCI image layout as a tar (skopeo's oci-archive:).
    Oci,
    /// An OCI image layout directory (skopeo's oci:, umoci).
    OciDir,
    /// The executable alone.
    Elf,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum CompressionArg {
    /// gzip, as small as deflate gets (Zopfli).
    Gzip,
    /// None.
    None,
}

/// One or more platforms, in the order given, without repeats.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Platforms(pub Vec<Platform>);

fn parse_platforms(s: &str) -> Result<Platforms, String> {
    let mut out = Vec::new();
    for part in s.split(',').map(str::trim) {
        let add: Vec<Platform> = if part == "all" {
            Platform::ALL.to_vec()
        } else {
            vec![part
                .parse()
                .map_err(|e: smidge::platform::UnknownPlatform| e.to_string())?]
        };
        for p in add {
            if !out.contains(&p) {
                out.push(p);
            }
        }
    }
    Ok(Platforms(out))
}

fn parse_fit(s: &str) -> Result<Fit, String> {
    s.parse()
        .map_err(|e: smidge::elf::UnknownFit| e.to_string())
}

fn parse_reference(s: &str) -> Result<Reference, String> {
    s.parse()
        .map_err(|e: smidge::image::ReferenceError| e.to_string())
}

fn parse_exit_code(s: &str) -> Result<u8, String> {
    s.parse()
        .map_err(|_| format!("exit code must be a whole number from 0 to 255, not `{s}`"))
}
