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
  smidge pause --platform all --format oci-dir -o pause-oci   # one index, every platform
  smidge pause --fit kernel --push 127.0.0.1:5000/smidge/pause   # build and push, prints REF@sha256:…
  smidge push pause.tar.gz ghcr.io/me/pause:1 --username me --password-stdin <token";

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
        #[command(flatten)]
        args: HelloArgs,
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
        #[command(flatten)]
        args: ExitArgs,
        #[command(flatten)]
        build: BuildArgs,
    },
    /// An image that serves one fixed HTTP response on a port (a placeholder or test backend).
    ///
    /// It listens on 0.0.0.0:PORT and answers every request with the status line,
    /// Content-Type, Content-Length, your headers, Connection: close and the body, then
    /// closes the connection. 64 threads serve in parallel; a connection that sends nothing
    /// for 1 s is closed, so slow clients never hold up others. As PID 1 it exits 0 at once
    /// on SIGTERM or SIGINT and reaps every child. If the port cannot be bound it exits with
    /// the errno (98: address in use, 13: permission denied). The image records the port in
    /// ExposedPorts.
    #[command(after_help = "\
Examples:
  smidge serve -o serve.tar.gz && docker load -i serve.tar.gz
  docker run -d -p 8080:8080 smidge/serve && curl localhost:8080   # Hello, world!
  smidge serve --port 80 --status 503 --body 'back soon' --header 'Retry-After: 120'
  smidge serve --body-file index.html --content-type 'text/html; charset=utf-8' --format elf -o serve")]
    Serve {
        #[command(flatten)]
        args: ServeArgs,
        #[command(flatten)]
        build: BuildArgs,
    },
    /// An image that prints itself: the docker archive it was loaded from (a quine).
    ///
    /// `docker load` of what it prints gives the same image (same ID, same tag), which
    /// prints the same bytes again; `--compression none` writes exactly those bytes. The
    /// program computes its layer's SHA-256 at run time and calls only write and exit.
    /// --format oci, oci-dir and --push hold the same config and layer (the same image
    /// ID; it still prints a docker archive, tagged as pushed) and take several platforms
    /// (one index; each platform's image prints its own archive); --format elf writes the
    /// program alone.
    #[command(after_help = "\
Examples:
  smidge quine -o quine.tar.gz && docker load -i quine.tar.gz
  docker run --rm smidge/quine | docker load        # the same image ID again
  smidge quine --compression none -o q.tar && docker run --rm smidge/quine | cmp - q.tar
  smidge quine --push 127.0.0.1:5000/quine && docker run --rm 127.0.0.1:5000/quine | docker load")]
    Quine {
        #[command(flatten)]
        build: BuildArgs,
    },
    /// Pack your own static program, or a folder, into the smallest FROM-scratch image.
    ///
    /// A single file becomes /<name> (or --dest), its mode kept; the entrypoint defaults to
    /// it when it is executable, so `docker run IMAGE ARGS` runs it with ARGS. A folder
    /// becomes the image's root tree (files, directories, symlinks, hard links; modes kept;
    /// owner 0:0; mtimes = SOURCE_DATE_EPOCH or 0): the same input gives the same digest on
    /// any machine. The platform is read from the entrypoint's ELF header. Dynamically
    /// linked programs and #! scripts are refused (a scratch image has no loader or
    /// interpreter) unless what they need is packed too. Large inputs stream (constant
    /// memory).
    #[command(after_help = "\
Examples:
  smidge pack /bin/busybox -o bb.tar.gz && docker load -i bb.tar.gz && docker run --rm smidge/busybox echo hi
  smidge pack ./rootfs --entrypoint '[\"/bin/app\",\"--serve\"]' --expose 8080 -t me/app:1 | docker load
  smidge pack ./server --add ./static:/srv/static --env MODE=prod --user 1000:1000 --strip -o app.tar.gz
  smidge pack ./big-binary --compression zstd --format oci-dir -o layout   # zstd: not for docker 20.10

Compression: gzip (default; archives up to 1 MiB get smidge's own DEFLATE/Zopfli, larger
ones gzip level 9 on every CPU), zstd (level 9; `docker load` of Docker 20.10 cannot read
a zstd archive: use it with --format oci/oci-dir or a newer engine), none.")]
    Pack(Box<PackArgs>),
    /// Put raw machine code (e.g. `nasm -f bin` output) under the smallest ELF header.
    ///
    /// The code is loaded at a fixed address per platform and fit; --print-base prints it
    /// (use it as the code's `org`, so the code can refer to its own data).
    #[command(after_help = "\
Examples:
  nasm -f bin -o code.bin \"-DBASE=$(smidge wrap --print-base --platform linux/amd64)\" code.asm
  smidge wrap code.bin --platform linux/amd64 --format elf -o prog && ./prog
  smidge wrap code.bin --platform linux/386 --fit kernel -t me/tiny | docker load")]
    Wrap {
        /// The raw code ("-" = stdin).
        #[arg(value_name = "CODE.bin", required_unless_present = "print_base")]
        code: Option<PathBuf>,
        /// Offset of the first instruction to run in the code (decimal or 0x hex).
        #[arg(long, value_name = "OFFSET", default_value = "0", value_parser = parse_size)]
        entry: u64,
        /// Zero-filled, writable bytes after the code (decimal or 0x hex).
        #[arg(long, value_name = "BYTES", default_value = "0", value_parser = parse_size)]
        bss: u64,
        /// Print the load address of the code's first byte (hex) and exit.
        #[arg(long)]
        print_base: bool,
        #[command(flatten)]
        build: BuildArgs,
    },
    /// Push an image archive or OCI layout to a registry, as it is or as smidge (or
    /// docker, skopeo, buildx) wrote it; prints REF@sha256:… on stdout.
    ///
    /// SOURCE: a docker-format tar (gzip, zstd or plain), an OCI image layout directory,
    /// or an OCI layout tar; one platform or several (an index is pushed after the
    /// manifests, the tag last). Layers already compressed go as they are; plain ones are
    /// gzip-compressed. Any size streams in constant memory, every blob's digest checked as
    /// it is sent. Credentials: --username with
    /// --password-stdin, else the Docker config ($DOCKER_CONFIG/config.json or
    /// ~/.docker/config.json: auths, credHelpers, credsStore). HTTPS with the system's
    /// trust store plus --ca-cert; plain HTTP only for localhost, 127.0.0.0/8 and ::1, or
    /// with --insecure.
    #[command(after_help = "\
Examples:
  smidge pause --fit kernel -o pause.tar.gz && smidge push pause.tar.gz 127.0.0.1:5000/smidge/pause
  smidge hello --platform all --format oci-dir -o hello-oci && smidge push hello-oci registry.example/me/hello:1
  echo \"$TOKEN\" | smidge push app.tar quay.io/me/app --username me --password-stdin")]
    Push {
        /// The image: a docker tar, an OCI layout directory or an OCI layout tar.
        #[arg(value_name = "SOURCE")]
        source: PathBuf,
        /// Where to push: [REGISTRY/]REPOSITORY[:TAG] (TAG defaults to latest).
        #[arg(value_name = "REF", value_parser = parse_reference)]
        reference: Reference,
        #[command(flatten)]
        registry: RegistryArgs,
    },
    /// Show every byte of a payload smidge builds, of an ELF file, or of an image
    /// archive or layout, with every role it has.
    ///
    /// `smidge explain PROGRAM [ARGS...]` builds exactly what `smidge PROGRAM` would (same
    /// arguments, --platform, --fit) and lists its payload: each byte's ELF header field,
    /// program header field, instruction (address, assembly), data or padding, all of them
    /// where they overlap. `--file PATH` explains an existing ELF file (headers, segments,
    /// sections, what `pack --strip` drops), docker or OCI archive (gzip, zstd or none:
    /// framing, DEFLATE blocks, tar headers, manifest, config, layer) or OCI layout.
    #[command(after_help = "\
Examples:
  smidge explain hello --platform linux/amd64 --fit kernel        # the listing
  smidge explain pause --fit kernel --format svg -o pause.svg      # a byte map
  smidge explain exit 3 --platform linux/386 --format json | jq '.ranges[0]'
  smidge explain --file hello.tar.gz
  smidge explain --file /bin/busybox | less -R")]
    Explain(Box<ExplainArgs>),
    /// Log in to a registry: check the user name and password with it, then store them
    /// where docker does, so that --push and smidge push (and docker) use them.
    ///
    /// They go to the Docker config ($DOCKER_CONFIG/config.json or ~/.docker/config.json,
    /// mode 0600, replaced atomically), or to docker-credential-HELPER when the config
    /// names one (credHelpers, credsStore). The password comes from --password-stdin, or
    /// a prompt that does not echo when stdin is a terminal; -p works but warns, as
    /// docker's does (it shows in the process list and the shell history). TLS as for
    /// push: --ca-cert, the certs.d directories, --insecure.
    #[command(after_help = "\
Examples:
  smidge login 127.0.0.1:5000 -u me                        # prompts for the password
  echo \"$TOKEN\" | smidge login ghcr.io -u me --password-stdin
  smidge login registry.example:5000 -u me --ca-cert domain.crt")]
    Login {
        /// The registry: HOST[:PORT] [default: docker.io]
        #[arg(value_name = "REGISTRY")]
        registry: Option<String>,
        /// User name (prompted for when stdin is a terminal).
        #[arg(short = 'u', long, value_name = "USER")]
        username: Option<String>,
        /// Password or token on the command line (insecure: prefer --password-stdin).
        #[arg(
            short = 'p',
            long,
            value_name = "PASSWORD",
            conflicts_with = "password_stdin"
        )]
        password: Option<String>,
        /// Read the password (or token) from stdin.
        #[arg(long)]
        password_stdin: bool,
        #[command(flatten)]
        tls: TlsArgs,
    },
    /// Log out of a registry: remove its credentials from the Docker config (or its
    /// credential helper).
    #[command(after_help = "\
Examples:
  smidge logout 127.0.0.1:5000")]
    Logout {
        /// The registry: HOST[:PORT] [default: docker.io]
        #[arg(value_name = "REGISTRY")]
        registry: Option<String>,
    },
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell) on stdout.
    #[command(after_help = "\
Examples:
  smidge completions bash > /etc/bash_completion.d/smidge
  smidge completions zsh > \"${fpath[1]}/_smidge\"
  smidge completions fish > ~/.config/fish/completions/smidge.fish")]
    Completions {
        #[arg(value_name = "SHELL")]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff) on stdout.
    #[command(after_help = "\
Examples:
  smidge man > /usr/local/share/man/man1/smidge.1 && man smidge
  smidge man | man -l -")]
    Man,
}

/// `smidge explain`'s options.
#[derive(Args, Debug)]
#[command(
    args_conflicts_with_subcommands = true,
    subcommand_value_name = "PROGRAM"
)]
pub struct ExplainArgs {
    /// The program whose payload to explain, with its arguments.
    #[command(subcommand)]
    pub program: Option<ExplainProgram>,
    /// Explain this file instead: an ELF file, a docker or OCI archive, or an OCI layout
    /// directory.
    #[arg(long, value_name = "PATH")]
    pub file: Option<PathBuf>,
    /// What to write: a listing (coloured on a terminal unless NO_COLOR is set), JSON, or
    /// a byte-map picture (SVG, or an HTML page).
    #[arg(long, value_enum, default_value_t = ExplainFormat::Text, global = true)]
    pub format: ExplainFormat,
    /// Where to write ("-" = stdout) [default: stdout].
    #[arg(short, long, value_name = "FILE", global = true)]
    pub output: Option<PathBuf>,
}

/// The programs `explain` builds (the arguments of the build command of the same name).
#[derive(Subcommand, Debug)]
pub enum ExplainProgram {
    /// The payload of `smidge hello`.
    Hello {
        #[command(flatten)]
        args: HelloArgs,
        #[command(flatten)]
        target: TargetArgs,
    },
    /// The payload of `smidge pause`.
    Pause {
        #[command(flatten)]
        target: TargetArgs,
    },
    /// The payload of `smidge exit`.
    Exit {
        #[command(flatten)]
        args: ExitArgs,
        #[command(flatten)]
        target: TargetArgs,
    },
    /// The payload of `smidge serve`.
    Serve {
        #[command(flatten)]
        args: ServeArgs,
        #[command(flatten)]
        target: TargetArgs,
    },
    /// The program of `smidge quine`: headers, listing, and the template of what it prints.
    Quine {
        /// The tag its printed archive names (as `smidge quine -t`) [default:
        /// smidge/quine:latest]
        #[arg(short, long = "tag", value_name = "REF", value_parser = parse_reference)]
        tag: Option<Reference>,
        #[command(flatten)]
        target: TargetArgs,
    },
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExplainFormat {
    /// offset, bytes, roles; a summary and notes.
    Text,
    /// {"size", "ranges": [{"start", "end", "roles": [{"kind", "name", "text"}]}]}.
    Json,
    /// A byte map: 16 cells a row, coloured by role, roles on hover.
    Svg,
    /// The byte map and the listing as one page.
    Html,
}

/// How to trust a registry (--push, smidge push, smidge login).
#[derive(Args, Debug, Clone)]
pub struct TlsArgs {
    /// Also trust this certificate authority, or this self-signed server certificate
    /// (PEM); repeatable. The registry's certs.d directory is read too:
    /// /etc/docker/certs.d/HOST:PORT/ and /etc/containers/certs.d/HOST:PORT/ (*.crt trusted,
    /// NAME.cert + NAME.key a client certificate); SMIDGE_CERTS_D=DIR1:DIR2 replaces those
    /// two. HTTPS_PROXY, HTTP_PROXY and NO_PROXY are honoured (never for localhost and
    /// loopback addresses).
    #[arg(long, value_name = "FILE")]
    pub ca_cert: Vec<PathBuf>,
    /// Allow plain HTTP, and HTTPS with an unverified certificate, to any registry.
    #[arg(long)]
    pub insecure: bool,
}

/// How to reach a registry (--push, smidge push).
#[derive(Args, Debug, Clone)]
#[command(next_help_heading = "Registry")]
pub struct RegistryArgs {
    /// Media types of the manifests and index pushed: oci, or docker (v2 schema 2) for
    /// registries that want it.
    #[arg(long, value_enum, value_name = "TYPES", default_value_t = MediaTypesArg::Oci)]
    pub media_types: MediaTypesArg,
    /// User name for the registry; the password (or token) comes from --password-stdin.
    #[arg(long, value_name = "USER")]
    pub username: Option<String>,
    /// Read the registry password (or token) from stdin.
    #[arg(long)]
    pub password_stdin: bool,
    #[command(flatten)]
    pub tls: TlsArgs,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum MediaTypesArg {
    /// OCI image-spec media types.
    Oci,
    /// Docker v2 schema 2.
    Docker,
}

/// `smidge pack`'s options.
#[derive(Args, Debug)]
pub struct PackArgs {
    /// Files and folders to pack: a file goes to /<name>, a folder's content to /.
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Also pack SRC (a file or a folder) at DEST in the image; repeatable. A DEST ending
    /// in / is a folder the file goes into.
    #[arg(long, value_name = "SRC:DEST")]
    pub add: Vec<String>,
    /// Where the one PATH goes in the image (a file: its path; a folder: where its
    /// content goes).
    #[arg(long, value_name = "/PATH")]
    pub dest: Option<String>,
    /// The entrypoint: a JSON array or words [default: the file, when one executable is
    /// packed]. '' for none.
    #[arg(long, value_name = "JSON-or-words", allow_hyphen_values = true)]
    pub entrypoint: Option<String>,
    /// Default arguments (Cmd): a JSON array or words ('…' and "…" group).
    #[arg(long, value_name = "JSON-or-words", allow_hyphen_values = true)]
    pub cmd: Option<String>,
    /// An environment variable; repeatable.
    #[arg(long, value_name = "K=V")]
    pub env: Vec<String>,
    /// A label; repeatable.
    #[arg(long, value_name = "K=V")]
    pub label: Vec<String>,
    /// The working directory (absolute).
    #[arg(long, value_name = "DIR")]
    pub workdir: Option<String>,
    /// The user the program runs as.
    #[arg(long, value_name = "UID[:GID]")]
    pub user: Option<String>,
    /// A port the program listens on; repeatable.
    #[arg(long, value_name = "PORT[/PROTO]")]
    pub expose: Vec<String>,
    /// The signal `docker stop` sends (e.g. SIGINT, TERM, 15).
    #[arg(long, value_name = "SIG")]
    pub stop_signal: Option<String>,
    /// Pack a dynamically linked program or a script even though its loader or
    /// interpreter is not in the image.
    #[arg(long)]
    pub allow_dynamic: bool,
    /// Drop what the kernel never reads from ELF programs (section headers, the tail
    /// after the last segment), like sstrip.
    #[arg(long)]
    pub strip: bool,
    /// Owner of every entry [default: 0:0].
    #[arg(long, value_name = "UID:GID", conflicts_with = "keep_owner")]
    pub chown: Option<String>,
    /// Keep each file's owner from the disk.
    #[arg(long)]
    pub keep_owner: bool,
    /// The platform, or one image per platform: PLATFORM=PATH (repeatable, or
    /// comma-separated) packs PATH (at --dest) for each PLATFORM, with the same options,
    /// under one OCI index. A file's ELF header must agree with its platform [default:
    /// read from the entrypoint's ELF header, else this machine's].
    #[arg(long, value_name = "P[=PATH]", value_parser = parse_pack_platform, value_delimiter = ',')]
    pub platform: Vec<PackPlatform>,
    #[command(flatten)]
    pub out: OutputArgs,
}

/// `--platform P` or `--platform P=PATH` of `smidge pack`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PackPlatform {
    pub platform: Platform,
    pub path: Option<PathBuf>,
}

fn parse_pack_platform(s: &str) -> Result<PackPlatform, String> {
    let (p, path) = match s.split_once('=') {
        Some((p, path)) if !path.is_empty() => (p, Some(PathBuf::from(path))),
        Some(_) => return Err(format!("`{s}`: expected PLATFORM=PATH")),
        None => (s, None),
    };
    Ok(PackPlatform {
        platform: parse_platform(p.trim())?,
        path,
    })
}

fn parse_platform(s: &str) -> Result<Platform, String> {
    s.parse()
        .map_err(|e: smidge::platform::UnknownPlatform| e.to_string())
}

fn parse_size(s: &str) -> Result<u64, String> {
    let r = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(h) => u64::from_str_radix(h, 16),
        None => s.parse(),
    };
    r.map_err(|_| format!("`{s}` is not a whole number (decimal or 0x hex)"))
}

/// What `hello` prints.
#[derive(Args, Debug)]
pub struct HelloArgs {
    /// The message; words are joined by one space and a newline is added
    /// [default: Hello, world!]
    #[arg(value_name = "MESSAGE")]
    pub words: Vec<String>,
    /// Do not add the trailing newline.
    #[arg(short = 'n')]
    pub no_newline: bool,
    /// Take the message bytes from FILE ("-" = stdin), exactly as they are.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["words", "no_newline"])]
    pub message_file: Option<PathBuf>,
}

/// `exit`'s status.
#[derive(Args, Debug)]
pub struct ExitArgs {
    /// The exit status, 0 to 255.
    #[arg(value_name = "CODE", default_value = "0", value_parser = parse_exit_code, allow_negative_numbers = true)]
    pub code: u8,
}

/// The response `serve` sends.
#[derive(Args, Debug)]
pub struct ServeArgs {
    /// The TCP port to listen on.
    #[arg(long, value_name = "PORT", default_value_t = smidge::program::Serve::DEFAULT_PORT, value_parser = clap::value_parser!(u16).range(1..))]
    pub port: u16,
    /// The response body [default: Hello, world!]
    #[arg(long, value_name = "TEXT", conflicts_with = "body_file")]
    pub body: Option<String>,
    /// Take the body from FILE ("-" = stdin), exactly as it is (at most 64 MiB).
    #[arg(long, value_name = "FILE")]
    pub body_file: Option<PathBuf>,
    /// The status code, 200 to 599 (204 and 304 have no body).
    #[arg(long, value_name = "CODE", default_value_t = 200, value_parser = clap::value_parser!(u16).range(200..=599))]
    pub status: u16,
    /// The Content-Type header ("" leaves it out).
    #[arg(long, value_name = "TYPE", default_value = "text/plain")]
    pub content_type: String,
    /// An extra header line, "Name: value"; repeat for more.
    #[arg(long = "header", short = 'H', value_name = "NAME: VALUE")]
    pub headers: Vec<String>,
}

/// What a payload is built for: every build command and `explain`.
#[derive(Args, Debug)]
pub struct TargetArgs {
    /// Target platforms, comma-separated, or `all`: linux/amd64, linux/386, linux/arm64,
    /// linux/arm/v7, linux/riscv64, linux/ppc64le, linux/s390x [default: this machine's]
    #[arg(long, value_name = "P[,P...]", value_parser = parse_platforms)]
    pub platform: Option<Platforms>,
    /// How far the ELF file bends the format: portable (runs under Linux and qemu-user)
    /// or kernel (the smallest file Linux runs).
    #[arg(long, value_name = "F", default_value = "portable", value_parser = parse_fit)]
    pub fit: Fit,
}

/// Options every build command takes.
#[derive(Args, Debug)]
pub struct BuildArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    #[command(flatten)]
    pub out: OutputArgs,
}

/// Where and how an image goes: every build command and `pack`.
#[derive(Args, Debug)]
#[command(next_help_heading = "Output")]
pub struct OutputArgs {
    /// Image reference recorded in the archive [default: smidge/<name>:latest]
    #[arg(short, long = "tag", value_name = "REF", value_parser = parse_reference)]
    pub tag: Option<Reference>,
    /// Where to write ("-" = stdout). Without it, smidge writes to stdout unless stdout is
    /// a terminal. The name picks the compression unless --compression is given: .tar =
    /// none, .tar.gz/.tgz = gzip, .tar.zst/.tar.zstd = zstd, anything else gzip.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// What to write.
    #[arg(long, value_enum, default_value_t = Format::Docker)]
    pub format: Format,
    /// Compression of the archive (of the layer blobs, for oci-dir) [default: from the
    /// -o name, else gzip]. docker load reads all three; podman load (4.3) only none;
    /// Docker 20.10 cannot read zstd.
    #[arg(long, value_enum, value_name = "C")]
    pub compression: Option<CompressionArg>,
    /// Write a one-line shell command instead: `echo <base64> | base64 -d | docker load`.
    #[arg(long)]
    pub base64: bool,
    /// An annotation on every manifest and on the index (OCI layouts and --push);
    /// repeatable. org.opencontainers.image.created is added from SOURCE_DATE_EPOCH.
    #[arg(long = "annotation", value_name = "KEY=VALUE")]
    pub annotations: Vec<String>,
    /// In a multi-platform OCI layout, also name each platform's manifest
    /// <tag>-<arch>[-<variant>] (for umoci, which cannot pick a platform from an index).
    #[arg(long)]
    pub platform_tags: bool,
    /// Push the image (every platform asked for) to REF instead of writing it; prints
    /// REF@sha256:… on stdout.
    #[arg(long, value_name = "REF", value_parser = parse_reference, conflicts_with_all = ["output", "tag", "base64"])]
    pub push: Option<Reference>,
    #[command(flatten)]
    pub registry: RegistryArgs,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// A tar that `docker load` and `podman load` read.
    Docker,
    /// An OCI image layout as a tar (skopeo's oci-archive:).
    Oci,
    /// An OCI image layout directory (skopeo's oci:, umoci).
    OciDir,
    /// The executable alone (not for pack).
    Elf,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum CompressionArg {
    /// gzip: smidge's own DEFLATE or Zopfli up to 1 MiB, level 9 on every CPU above.
    Gzip,
    /// zstd level 9 (Docker 20.10's `docker load` cannot read it).
    Zstd,
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
