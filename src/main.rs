//! The `smidge` binary: parses the command line, runs the library's steps
//! (program → payload → image → archive) and owns exit codes: 2 for usage errors, 1 for
//! failures at run time. Every error is one line on stderr.

mod cli;

use anyhow::{Context, Result};
use clap::Parser;
use cli::{
    BuildArgs, Cli, Command, CompressionArg, Format, MediaTypesArg, PackArgs, PackCompression,
    RegistryArgs,
};
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
        Command::Pack(args) => return pack(*args),
        Command::Push {
            source,
            reference,
            registry,
        } => {
            let options = push_options(&registry)?;
            let images = smidge::registry::read_source(&source).map_err(registry_error)?;
            return push(&images, &reference, &options);
        }
        Command::Wrap {
            code,
            entry,
            bss,
            print_base,
            build,
        } => return wrap(code, entry, bss, print_base, build),
        Command::Hello {
            words,
            no_newline,
            message_file,
            build,
        } => {
            if build.registry.password_stdin && message_file.as_deref() == Some(Path::new("-")) {
                return usage(
                    "--message-file - and --password-stdin both read stdin: put the message in a file",
                );
            }
            (
                Program::Hello(message(words, no_newline, message_file)?),
                build,
            )
        }
        Command::Pause { build } => (Program::Pause, build),
        Command::Serve {
            port,
            body,
            body_file,
            status,
            content_type,
            headers,
            build,
        } => {
            if build.registry.password_stdin && body_file.as_deref() == Some(Path::new("-")) {
                return usage(
                    "--body-file - and --password-stdin both read stdin: put the body in a file",
                );
            }
            let body = match (body, body_file) {
                (Some(text), _) => text.into_bytes(),
                (None, Some(file)) => read_input(&file, "body file")?,
                (None, None) => smidge::program::Serve::DEFAULT_BODY.to_vec(),
            };
            let response = smidge::program::Response {
                status,
                content_type,
                headers,
                body,
            };
            let serve =
                smidge::program::Serve::new(port, &response).map_err(|e| Usage(e.to_string()))?;
            (Program::Serve(serve), build)
        }
        Command::Exit { code, build } => (Program::Exit(code), build),
    };
    // With --push nothing is written, so no output is checked.
    let sink = match &build.push {
        Some(_) => None,
        None => Some(Sink::new(&build)?),
    };
    let push_to = push_target(&build)?;
    let platforms = platforms(&build)?;
    if push_to.is_none()
        && platforms.len() > 1
        && matches!(build.format, Format::Docker | Format::Elf)
    {
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
    let Some(sink) = sink else {
        let (reference, options) = push_to.expect("no sink only when pushing");
        let images = payloads
            .iter()
            .map(|(p, payload)| {
                Image::of_program(*p, &program, &payload.bytes)
                    .map(|i| smidge::registry::PushImage::from_image(&i))
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| Usage(e.to_string()))?;
        return push(&images, &reference, &options);
    };
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
        .map(|(p, payload)| Image::of_program(*p, &program, &payload.bytes))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| Usage(e.to_string()))?;
    write_images(&images, &tag, &build, &sink)
}

/// Writes `images` (one per platform) in the format asked for: a docker archive (one
/// platform), an OCI layout tar or directory (any number).
fn write_images(images: &[Image], tag: &Reference, build: &BuildArgs, sink: &Sink) -> Result<()> {
    let compression = match build.compression {
        CompressionArg::Gzip => Compression::Gzip,
        CompressionArg::None => Compression::None,
    };
    match build.format {
        Format::Docker => {
            let archive = archive::docker_archive(&images[0], tag, compression);
            if build.base64 {
                sink.write(archive::shell_command(&archive).as_bytes(), 0o644)
            } else {
                sink.write(&archive, 0o644)
            }
        }
        Format::Oci => sink.write(&archive::oci_archive(images, tag, compression), 0o644),
        Format::OciDir => {
            let Sink::File(dir) = sink else {
                return usage("--format oci-dir writes a directory: give it with -o DIR");
            };
            archive::write_oci_dir(images, tag, compression, dir)?;
            Ok(())
        }
        Format::Elf => unreachable!("the payload is written before any image is made"),
    }
}

/// `--platform`, or this machine's.
fn platforms(build: &BuildArgs) -> Result<Vec<Platform>> {
    match &build.platform {
        Some(list) => Ok(list.0.clone()),
        None => match Platform::host() {
            Some(p) => Ok(vec![p]),
            None => usage(format!(
                "no default platform for this {} machine; pass --platform (e.g. linux/amd64)",
                std::env::consts::ARCH
            )),
        },
    }
}

/// `--push REF` with its registry options (refused with `--format elf`).
fn push_target(build: &BuildArgs) -> Result<Option<(Reference, smidge::registry::PushOptions)>> {
    match &build.push {
        Some(_) if build.format == Format::Elf => {
            usage("--push sends an image; --format elf makes a file (leave one out)")
        }
        Some(r) => Ok(Some((r.clone(), push_options(&build.registry)?))),
        None => Ok(None),
    }
}

/// `smidge pack`: the arguments checked and turned into a [`smidge::pack::PackSpec`], the
/// plan, then one streaming write with a progress bar on a terminal.
fn pack(args: PackArgs) -> Result<()> {
    use smidge::archive::stream::StreamCompression;
    use smidge::pack::{self as p, Owner, PackError, PackSpec, Source};

    let as_usage = |e: PackError| -> anyhow::Error {
        if e.is_usage() {
            Usage(e.to_string()).into()
        } else {
            e.into()
        }
    };
    let words =
        |flag: &str, s: &str| p::parse_words(s).map_err(|e| Usage(format!("--{flag}: {e}")));
    let pairs = |flag: &str, list: &[String]| -> Result<Vec<(String, String)>> {
        list.iter()
            .map(|kv| match kv.split_once('=') {
                Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
                _ => usage(format!("--{flag} `{kv}`: expected KEY=VALUE")),
            })
            .collect()
    };

    let mut sources = Vec::new();
    if args.dest.is_some() && args.paths.len() != 1 {
        return usage("--dest places one PATH; for several, use --add SRC:DEST");
    }
    for path in &args.paths {
        sources.push(Source {
            src: path.clone(),
            dest: args.dest.clone(),
        });
    }
    for add in &args.add {
        match add.rsplit_once(':') {
            Some((src, dest)) if !src.is_empty() && !dest.is_empty() => sources.push(Source {
                src: PathBuf::from(src),
                dest: Some(dest.to_string()),
            }),
            _ => return usage(format!("--add `{add}`: expected SRC:DEST")),
        }
    }
    let mut spec = PackSpec {
        sources,
        platform: args.platform,
        allow_dynamic: args.allow_dynamic,
        strip: args.strip,
        ..Default::default()
    };
    match args.entrypoint.as_deref() {
        Some(e) if e.trim().is_empty() => spec.no_entrypoint = true,
        Some(e) => spec.run.entrypoint = Some(words("entrypoint", e)?),
        None => {}
    }
    if let Some(c) = &args.cmd {
        spec.run.cmd = Some(words("cmd", c)?);
    }
    spec.run.env = pairs("env", &args.env)?
        .into_iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    spec.run.labels = pairs("label", &args.label)?;
    spec.run.working_dir = args.workdir.clone();
    if let Some(u) = &args.user {
        if u.is_empty() || u.contains(char::is_whitespace) || u.split(':').count() > 2 {
            return usage(format!("--user `{u}`: expected UID[:GID] or a name"));
        }
        spec.run.user = Some(u.clone());
    }
    for port in &args.expose {
        spec.run.exposed_ports.push(
            smidge::image::config::exposed_port(port)
                .map_err(|e| Usage(format!("--expose {e}")))?,
        );
    }
    if let Some(sig) = &args.stop_signal {
        spec.run.stop_signal = Some(
            smidge::image::config::stop_signal(sig)
                .map_err(|e| Usage(format!("--stop-signal {e}")))?,
        );
    }
    spec.owner = if args.keep_owner {
        Owner::Keep
    } else if let Some(o) = &args.chown {
        match o.split_once(':').map(|(u, g)| (u.parse(), g.parse())) {
            Some((Ok(u), Ok(g))) => Owner::Set(u, g),
            _ => return usage(format!("--chown `{o}`: expected UID:GID (numbers)")),
        }
    } else {
        Owner::Root
    };
    spec.epoch = match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(s) if !s.trim().is_empty() => match s.trim().parse::<u64>() {
            Ok(t) => Some(t),
            Err(_) => {
                return usage(format!(
                    "invalid SOURCE_DATE_EPOCH `{s}`: expected whole seconds since 1970"
                ))
            }
        },
        _ => None,
    };

    let push_to = match &args.push {
        Some(r) => Some((r.clone(), push_options(&args.registry)?)),
        None => None,
    };
    // Where the output goes, checked before any work.
    let output = match &args.output {
        Some(o) if o == Path::new("-") => None,
        Some(o) => {
            check_output_dir(o)?;
            Some(o.as_path())
        }
        None => None,
    };
    let format = match args.format {
        cli::PackFormat::Docker => p::PackFormat::Docker,
        cli::PackFormat::Oci => p::PackFormat::Oci,
        cli::PackFormat::OciDir => p::PackFormat::OciDir,
    };
    if output.is_none() && push_to.is_none() {
        if format == p::PackFormat::OciDir {
            return usage("--format oci-dir writes a directory: give it with -o DIR");
        }
        if std::io::stdout().is_terminal() {
            return usage(
                "refusing to write a binary archive to a terminal; use -o FILE or pipe it (| docker load)",
            );
        }
    }
    let compression = match args.compression {
        PackCompression::Gzip => StreamCompression::Gzip,
        PackCompression::Zstd => StreamCompression::Zstd,
        PackCompression::None => StreamCompression::None,
    };

    let plan = p::plan(&spec).map_err(as_usage)?;
    let tag = match &args.tag {
        Some(t) => t.clone(),
        None => {
            let first = args
                .paths
                .first()
                .cloned()
                .or_else(|| spec.sources.first().map(|s| s.src.clone()))
                .unwrap_or_default();
            let first = std::fs::canonicalize(&first).unwrap_or(first);
            format!("smidge/{}:latest", p::image_name(&first))
                .parse::<Reference>()
                .expect("image_name gives a valid path component")
        }
    };
    if let Some((reference, options)) = push_to {
        // Pushed through an OCI layout in a temporary directory: its layer is already
        // compressed (gzip, or zstd when asked), and `smidge push` reads it back.
        let tmp = tempfile::Builder::new()
            .prefix("smidge-push.")
            .tempdir()
            .context("cannot make a temporary directory")?;
        let layout = tmp.path().join("layout");
        let compression = match compression {
            StreamCompression::None => StreamCompression::Gzip,
            c => c,
        };
        let bar = Bar::new(smidge::archive::stream::data_size(&plan.entries));
        let result = p::write(
            &plan,
            &tag,
            p::PackFormat::OciDir,
            compression,
            p::Output::Path(&layout),
            &bar,
        );
        bar.done();
        result.map_err(as_usage)?;
        let images = smidge::registry::read_source(&layout).map_err(registry_error)?;
        return push(&images, &reference, &options);
    }
    if compression == StreamCompression::Zstd && format == p::PackFormat::Docker {
        eprintln!(
            "smidge: warning: Docker 20.10's `docker load` cannot read a zstd-compressed archive; use --compression gzip for it"
        );
    }
    let bar = Bar::new(smidge::archive::stream::data_size(&plan.entries));
    let out = match output {
        Some(path) => p::Output::Path(path),
        None => p::Output::Stdout,
    };
    let result = p::write(&plan, &tag, format, compression, out, &bar);
    bar.done();
    result.map_err(as_usage)
}

/// A progress bar on stderr for packs with more than [`Bar::MIN_BYTES`] of data, when
/// stderr is a terminal; otherwise nothing.
struct Bar(Option<indicatif::ProgressBar>);

impl Bar {
    const MIN_BYTES: u64 = 32 << 20;

    fn new(total: u64) -> Bar {
        if total < Self::MIN_BYTES || !std::io::stderr().is_terminal() {
            return Bar(None);
        }
        let bar = indicatif::ProgressBar::with_draw_target(
            Some(total),
            indicatif::ProgressDrawTarget::stderr(),
        );
        if let Ok(style) = indicatif::ProgressStyle::with_template(
            "{spinner} packing {bar:30} {bytes}/{total_bytes} {bytes_per_sec} {eta}",
        ) {
            bar.set_style(style);
        }
        Bar(Some(bar))
    }

    fn done(&self) {
        if let Some(b) = &self.0 {
            b.finish_and_clear();
        }
    }
}

impl smidge::archive::stream::Progress for Bar {
    fn advance(&self, bytes: u64) {
        if let Some(b) = &self.0 {
            b.inc(bytes);
        }
    }
}

/// `smidge wrap`: raw code under the smallest ELF header, then an image like the built-in
/// programs'.
fn wrap(
    code: Option<PathBuf>,
    entry: u64,
    bss: u64,
    print_base: bool,
    build: BuildArgs,
) -> Result<()> {
    let platform = match platforms(&build)?[..] {
        [p] => p,
        _ => return usage("wrap makes one platform's file: give one --platform"),
    };
    if print_base {
        println!("{:#x}", smidge::wrap::base(platform, build.fit));
        return Ok(());
    }
    let code_path = code.expect("clap requires CODE without --print-base");
    let push_to = push_target(&build)?;
    let sink = match push_to {
        Some(_) => Sink::Stdout,
        None => Sink::new(&build)?,
    };
    let mut bytes = Vec::new();
    let read = if code_path == Path::new("-") {
        std::io::stdin().lock().read_to_end(&mut bytes)
    } else {
        std::fs::File::open(&code_path).and_then(|f| {
            f.take(smidge::wrap::MAX_CODE as u64 + 1)
                .read_to_end(&mut bytes)
        })
    };
    if let Err(e) = read {
        return usage(format!("cannot read `{}`: {e}", code_path.display()));
    }
    let Ok(entry) = usize::try_from(entry) else {
        return usage(format!("--entry {entry} is too large"));
    };
    let wrapped = smidge::wrap::wrap(
        &bytes,
        platform,
        build.fit,
        smidge::wrap::WrapOptions { entry, bss },
    )
    .map_err(|e| Usage(e.to_string()))?;
    if build.format == Format::Elf {
        return sink.write(&wrapped.bytes, 0o755);
    }
    let name = smidge::pack::image_name(&code_path);
    let tag = match build.tag.clone() {
        Some(t) => t,
        None => format!("smidge/{name}:latest")
            .parse::<Reference>()
            .expect("image_name gives a valid path component"),
    };
    let image = Image::new(platform, &name, &wrapped.bytes).map_err(|e| Usage(e.to_string()))?;
    if let Some((reference, options)) = push_to {
        let images = [smidge::registry::PushImage::from_image(&image)];
        return push(&images, &reference, &options);
    }
    write_images(std::slice::from_ref(&image), &tag, &build, &sink)
}

/// The registry options of the command line, the password read from stdin.
fn push_options(args: &RegistryArgs) -> Result<smidge::registry::PushOptions> {
    use smidge::registry::{Credentials, MediaTypes, PushOptions};
    let credentials = match (&args.username, args.password_stdin) {
        (Some(username), true) => {
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
        ca_certs: args.ca_cert.clone(),
        insecure: args.insecure,
        ..Default::default()
    })
}

/// A registry error: exit 2 when the input was wrong, 1 when the push failed.
fn registry_error(e: smidge::registry::RegistryError) -> anyhow::Error {
    if e.is_usage() {
        Usage(e.to_string()).into()
    } else {
        e.into()
    }
}

/// Pushes, prints `REF@sha256:…` on stdout (nothing else) and a summary on stderr.
fn push(
    images: &[smidge::registry::PushImage],
    reference: &Reference,
    options: &smidge::registry::PushOptions,
) -> Result<()> {
    let pushed = smidge::registry::push(images, reference, options).map_err(registry_error)?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{reference}@{}", pushed.digest)
        .and_then(|()| out.flush())
        .context("cannot write to stdout")?;
    eprintln!(
        "smidge: pushed {reference}@{}: {} blob{} uploaded ({} B), {} already there, {} manifest{}; the registry stores {} B for it",
        pushed.digest,
        pushed.uploaded,
        if pushed.uploaded == 1 { "" } else { "s" },
        pushed.uploaded_bytes,
        pushed.existing,
        pushed.manifests,
        if pushed.manifests == 1 { "" } else { "s" },
        pushed.stored_bytes,
    );
    Ok(())
}

/// The bytes `hello` prints.
fn message(words: Vec<String>, no_newline: bool, file: Option<PathBuf>) -> Result<Vec<u8>> {
    if let Some(file) = file {
        return read_input(&file, "message file");
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

/// The bytes of `file` ("-" = stdin); a file that cannot be read is a usage error.
fn read_input(file: &Path, what: &str) -> Result<Vec<u8>> {
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
                check_output_dir(p)?;
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
