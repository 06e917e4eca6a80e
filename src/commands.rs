//! One function per command: what the user asked for → an image set → [`deliver`].

use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use smidge::image::{Image, ImageSet};
use smidge::pack::{self as p, Owner, PackSpec, Source};
use smidge::{elf, Platform, Program};
use smidge_image::dest::output;
use smidge_image::dest::tarball::write_laid_out;
use smidge_image::dest::{Sink, Wrapping};

use crate::bar::Bar;
use crate::cli::{
    BuildArgs, Cli, ExplainArgs, ExplainFormat, ExplainProgram, Format, HelloArgs, PackArgs,
    ServeArgs, TargetArgs,
};
use crate::deliver::{deliver, lib};
use crate::settings::{read_input, usage, Delivery, Settings, Usage};

/// The one platform of `explain`.
fn one_platform(target: &TargetArgs) -> Result<Platform> {
    match platforms(target)?[..] {
        [p] => Ok(p),
        _ => usage("explain shows one platform's payload: give one --platform"),
    }
}

/// The platforms of a build command: `--platform`, or this machine's.
fn platforms(target: &TargetArgs) -> Result<Vec<Platform>> {
    match &target.platform {
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

/// Writes an ELF file (`--format elf`) where the settings say.
fn write_elf(settings: &Settings, bytes: &[u8]) -> Result<()> {
    let Delivery::Write { output, .. } = &settings.delivery else {
        unreachable!("--push with --format elf is refused when resolving");
    };
    let target = match output {
        Some(p) => output::Output::File(p.clone()),
        None => output::Output::Stdout,
    };
    output::write_all(&target, bytes, 0o755).map_err(lib)
}

/// hello, pause, exit, serve: the payload for every platform, then the image set.
pub fn build(program: Program, build: &BuildArgs, stdin_taken: Option<&str>) -> Result<()> {
    let platforms = platforms(&build.target)?;
    let settings = Settings::resolve(&build.out, platforms.len(), stdin_taken)?;
    let payloads = platforms
        .iter()
        .map(|&p| elf::build(&program, p, build.target.fit).map(|payload| (p, payload)))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| Usage(e.to_string()))?;
    if build.out.format == Format::Elf {
        return write_elf(&settings, &payloads[0].1.bytes);
    }
    let images = payloads
        .iter()
        .map(|(p, payload)| Image::of_program(*p, &program, &payload.bytes, settings.epoch))
        .collect::<Result<Vec<_>, _>>()
        .map_err(lib)?;
    let set = ImageSet {
        images,
        annotations: settings.annotations.clone(),
    };
    deliver(&set, &settings.tag_or(program.name()), &settings)
}

/// The `hello` program, and "--message-file" when it reads stdin.
pub fn hello(args: HelloArgs) -> Result<(Program, Option<&'static str>)> {
    let stdin = (args.message_file.as_deref() == Some(Path::new("-"))).then_some("--message-file");
    let message = message(args.words, args.no_newline, args.message_file)?;
    Ok((Program::Hello(message), stdin))
}

/// The `serve` program, and "--body-file" when it reads stdin.
pub fn serve(args: ServeArgs) -> Result<(Program, Option<&'static str>)> {
    let stdin = (args.body_file.as_deref() == Some(Path::new("-"))).then_some("--body-file");
    let body = match (args.body, args.body_file) {
        (Some(text), _) => text.into_bytes(),
        (None, Some(file)) => read_input(&file, "body file")?,
        (None, None) => smidge::program::Serve::DEFAULT_BODY.to_vec(),
    };
    let response = smidge::program::Response {
        status: args.status,
        content_type: args.content_type,
        headers: args.headers,
        body,
    };
    let serve =
        smidge::program::Serve::new(args.port, &response).map_err(|e| Usage(e.to_string()))?;
    Ok((Program::Serve(serve), stdin))
}

/// `smidge explain`: a built-in program's payload, or a file, as a listing, JSON or a
/// picture.
pub fn explain(args: ExplainArgs) -> Result<()> {
    use smidge::explain;
    let explanation = match (args.program, &args.file) {
        (Some(ExplainProgram::Quine { tag, target }), _) => {
            let platform = one_platform(&target)?;
            let tag = tag.unwrap_or_else(|| "smidge/quine:latest".parse().expect("a valid name"));
            let quine = smidge_image::image::quine::build(platform, target.fit, &tag.repo_tag())
                .map_err(|e| Usage(e.to_string()))?;
            explain::payload::quine(&quine, platform, target.fit)
        }
        (Some(program), _) => {
            let (program, target) = match program {
                ExplainProgram::Hello { args, target } => (hello(args)?.0, target),
                ExplainProgram::Pause { target } => (Program::Pause, target),
                ExplainProgram::Exit { args, target } => (Program::Exit(args.code), target),
                ExplainProgram::Serve { args, target } => (serve(args)?.0, target),
                ExplainProgram::Quine { .. } => unreachable!("explained above"),
            };
            let platform = one_platform(&target)?;
            let payload =
                elf::build(&program, platform, target.fit).map_err(|e| Usage(e.to_string()))?;
            explain::payload::explain(&program, platform, target.fit, &payload)
        }
        (None, Some(path)) => explain::file(path).map_err(|e| Usage(e.to_string()))?,
        (None, None) => {
            return usage(
                "explain what? give a program (hello, pause, exit, serve, quine) or --file PATH",
            )
        }
    };
    let to_stdout = args.output.as_deref().is_none_or(|p| p == Path::new("-"));
    let text = match args.format {
        ExplainFormat::Text => {
            let colour = to_stdout
                && std::io::stdout().is_terminal()
                && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
            explain::render::text(&explanation, colour)
        }
        ExplainFormat::Json => explain::render::json(&explanation),
        ExplainFormat::Svg => explain::render::svg(&explanation),
        ExplainFormat::Html => explain::render::html(&explanation),
    };
    let target = match &args.output {
        Some(p) if p != Path::new("-") => output::Output::File(p.clone()),
        _ => output::Output::Stdout,
    };
    output::write_all(&target, text.as_bytes(), 0o644).map_err(lib)
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

/// `smidge wrap`: raw code under the smallest ELF header, then an image like the built-in
/// programs'.
pub fn wrap(
    code: Option<PathBuf>,
    entry: u64,
    bss: u64,
    print_base: bool,
    build: &BuildArgs,
) -> Result<()> {
    let platform = match platforms(&build.target)?[..] {
        [p] => p,
        _ => return usage("wrap makes one platform's file: give one --platform"),
    };
    if print_base {
        println!("{:#x}", smidge::wrap::base(platform, build.target.fit));
        return Ok(());
    }
    let settings = Settings::resolve(&build.out, 1, None)?;
    let code_path = code.expect("clap requires CODE without --print-base");
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
        build.target.fit,
        smidge::wrap::WrapOptions { entry, bss },
    )
    .map_err(|e| Usage(e.to_string()))?;
    if build.out.format == Format::Elf {
        return write_elf(&settings, &wrapped.bytes);
    }
    let name = p::image_name(&code_path);
    let image =
        Image::of_payload(platform, &name, &wrapped.bytes, settings.epoch, None).map_err(lib)?;
    let set = ImageSet {
        images: vec![image],
        annotations: settings.annotations.clone(),
    };
    deliver(&set, &settings.tag_or(&name), &settings)
}

/// `smidge pack`: the arguments checked and turned into one [`PackSpec`] per platform,
/// planned, then delivered.
pub fn pack(args: &PackArgs) -> Result<()> {
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
    if args.out.format == Format::Elf {
        return usage("pack makes an image; --format elf is for the built-in programs and wrap");
    }
    // Platforms: none or one plain `P` (the files are the PATHs), or `P=PATH` each.
    let per_platform: Vec<(Platform, PathBuf)> = args
        .platform
        .iter()
        .filter_map(|pp| pp.path.clone().map(|path| (pp.platform, path)))
        .collect();
    let plain: Vec<Platform> = args
        .platform
        .iter()
        .filter(|pp| pp.path.is_none())
        .map(|pp| pp.platform)
        .collect();
    if !per_platform.is_empty() && !plain.is_empty() {
        return usage("--platform: give every platform its file (PLATFORM=PATH), or one PLATFORM for the PATHs");
    }
    if plain.len() > 1 {
        return usage("--platform: several platforms need a file each: --platform linux/amd64=PATH --platform linux/arm64=PATH");
    }
    if !per_platform.is_empty() && !args.paths.is_empty() {
        return usage("--platform PLATFORM=PATH names each platform's file; give no PATH besides (use --add for shared files)");
    }
    for (i, (platform, _)) in per_platform.iter().enumerate() {
        if per_platform[..i].iter().any(|(q, _)| q == platform) {
            return usage(format!("--platform {platform} is given twice"));
        }
    }
    let images_count = per_platform.len().max(1);
    let settings = Settings::resolve(&args.out, images_count, None)?;

    let mut sources = Vec::new();
    let dest_paths: Vec<&PathBuf> = if per_platform.is_empty() {
        args.paths.iter().collect()
    } else {
        vec![&per_platform[0].1]
    };
    if args.dest.is_some() && dest_paths.len() != 1 {
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
        platform: plain.first().copied(),
        allow_dynamic: args.allow_dynamic,
        strip: args.strip,
        epoch: settings.epoch,
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

    // One spec per platform: the same options, each with its own file.
    let specs: Vec<PackSpec> = if per_platform.is_empty() {
        vec![spec]
    } else {
        per_platform
            .iter()
            .map(|(platform, path)| {
                let mut s = spec.clone();
                s.platform = Some(*platform);
                s.sources.insert(
                    0,
                    Source {
                        src: path.clone(),
                        dest: args.dest.clone(),
                    },
                );
                s
            })
            .collect()
    };
    let plans = specs
        .iter()
        .map(|s| p::plan(s).map_err(|e| lib(e.into())))
        .collect::<Result<Vec<_>>>()?;
    if settings_wants_zstd_docker(&settings) {
        eprintln!(
            "smidge: warning: Docker 20.10's `docker load` cannot read a zstd-compressed archive; use --compression gzip for it"
        );
    }
    let bar = Bar::new();
    let mut images = Vec::new();
    for plan in &plans {
        smidge_image::progress::Progress::start(
            &bar,
            "packing",
            smidge_image::codec::tar::data_size(&plan.entries),
        );
        images.push(p::image(plan, &bar).map_err(lib)?);
        bar.done();
    }
    let tag = match &settings.tag {
        Some(t) => t.clone(),
        None => {
            let first = dest_paths
                .first()
                .map(|p| (*p).clone())
                .or_else(|| specs[0].sources.first().map(|s| s.src.clone()))
                .unwrap_or_default();
            let first = std::fs::canonicalize(&first).unwrap_or(first);
            settings.tag_or(&p::image_name(&first))
        }
    };
    let set = ImageSet {
        images,
        annotations: settings.annotations.clone(),
    };
    deliver(&set, &tag, &settings)
}

fn settings_wants_zstd_docker(settings: &Settings) -> bool {
    matches!(
        settings.delivery,
        Delivery::Write {
            format: Format::Docker,
            compression: smidge_image::codec::Compression::Zstd,
            ..
        }
    )
}

/// `smidge push SOURCE REF`.
pub fn push(
    source: &Path,
    reference: &smidge::image::Reference,
    registry: &crate::cli::RegistryArgs,
) -> Result<()> {
    smidge_image::registry::Registry::check(reference).map_err(|e| lib(e.into()))?;
    let options = crate::settings::push_options(registry)?;
    let source = smidge_image::source::read_source(source).map_err(lib)?;
    let settings = Settings {
        tag: None,
        delivery: Delivery::Push {
            reference: reference.clone(),
            options,
        },
        annotations: Default::default(),
        epoch: None,
    };
    deliver(&source.set, reference, &settings)
}

/// `smidge quine`: the self-printing image, written as the docker archive its container
/// prints (compressed as asked), or its program alone (`--format elf`).
pub fn quine(build: &BuildArgs) -> Result<()> {
    use smidge_image::image::quine;
    let platforms = platforms(&build.target)?;
    // Several platforms only as an OCI layout or a push (Settings refuses the rest).
    let settings = Settings::resolve(&build.out, platforms.len(), None)?;
    // The archive the container prints tags the image as it was pushed, or as -t says.
    let tag = match &settings.delivery {
        Delivery::Push { reference, .. } => reference.clone(),
        Delivery::Write { .. } => settings.tag_or("quine"),
    };
    let quines = platforms
        .iter()
        .map(|&p| quine::build(p, build.target.fit, &tag.repo_tag()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| Usage(e.to_string()))?;
    match &settings.delivery {
        Delivery::Write {
            format: Format::Elf,
            ..
        } => write_elf(&settings, &quines[0].payload.bytes),
        // The docker archive is what the program prints (generation 0), compressed.
        Delivery::Write {
            format: Format::Docker,
            output,
            compression,
            shell_line,
            ..
        } => {
            let target = match output {
                Some(p) => output::Output::File(p.clone()),
                None => output::Output::Stdout,
            };
            let wrapping = Wrapping {
                compression: *compression,
                shell_line: *shell_line,
            };
            let sink = Sink::open(&target, 0o644).map_err(lib)?;
            write_laid_out(sink, wrapping, &quines[0].generation0).map_err(lib)
        }
        // Elsewhere, the same configs and layers, so the same image IDs; one image per
        // platform, each printing its own docker archive.
        _ => {
            let images = quines.iter().map(quine::image).collect::<Result<_, _>>();
            deliver(&ImageSet::new(images.map_err(lib)?), &tag, &settings)
        }
    }
}

/// `smidge completions SHELL`.
pub fn completions(shell: clap_complete::Shell) -> Result<()> {
    use clap::CommandFactory;
    let mut cmd = Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut cmd, "smidge", &mut out);
    write_stdout(&out)
}

/// `smidge man`.
pub fn man() -> Result<()> {
    use clap::CommandFactory;
    let mut out = Vec::new();
    clap_mangen::Man::new(Cli::command())
        .render(&mut out)
        .context("cannot render the manual page")?;
    write_stdout(&out)
}

fn write_stdout(bytes: &[u8]) -> Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(bytes)
        .and_then(|()| out.flush())
        .context("cannot write to stdout")
}

/// `host[:port]` from what a user may type after `login`/`logout`: a bare host, or a
/// URL (`https://host:port/v1/`, as docker also accepts); none is Docker Hub.
fn registry_name(arg: Option<String>) -> Result<String> {
    let Some(arg) = arg else {
        return Ok("docker.io".into());
    };
    let rest = arg
        .strip_prefix("https://")
        .or_else(|| arg.strip_prefix("http://"))
        .unwrap_or(&arg);
    let host = rest.split('/').next().unwrap_or("");
    if host.is_empty() || host.contains(char::is_whitespace) || host.contains('@') {
        return usage(format!("`{arg}` is not a registry (HOST[:PORT])"));
    }
    Ok(if smidge_image::registry::auth::is_docker_hub(host) {
        "docker.io".into()
    } else {
        host.to_string()
    })
}

/// `smidge login [REGISTRY] [-u USER] [-p PASSWORD | --password-stdin]`.
pub fn login(
    registry: Option<String>,
    username: Option<String>,
    password: Option<String>,
    password_stdin: bool,
    tls: &crate::cli::TlsArgs,
) -> Result<()> {
    use smidge_image::registry::{auth, Credentials, PushOptions};
    let registry = registry_name(registry)?;
    let terminal = crate::settings::stdin_is_terminal();
    let (username, password) = match (username, password, password_stdin) {
        (None, _, true) => return usage("--password-stdin needs --username"),
        (Some(u), None, true) => (u, crate::settings::password_from_stdin()?),
        (u, Some(p), false) => {
            eprintln!(
                "smidge: warning: a password on the command line is insecure (it shows in the process list and the shell history); use --password-stdin"
            );
            let u = match u {
                Some(u) => u,
                None if terminal => crate::settings::prompt("Username: ", true)?,
                None => return usage("-p needs --username (stdin is not a terminal to ask on)"),
            };
            (u, p)
        }
        (u, None, false) => {
            if !terminal {
                return usage(
                    "no password: pass --password-stdin (stdin is not a terminal, so smidge cannot prompt)",
                );
            }
            let u = match u {
                Some(u) => u,
                None => crate::settings::prompt("Username: ", true)?,
            };
            (u, crate::settings::prompt("Password: ", false)?)
        }
        (_, Some(_), true) => unreachable!("clap refuses -p with --password-stdin"),
    };
    if username.is_empty() {
        return usage("the user name is empty");
    }
    if password.is_empty() {
        return usage("the password is empty");
    }
    let credentials = Credentials { username, password };
    let options = PushOptions {
        ca_certs: tls.ca_cert.clone(),
        insecure: tls.insecure,
        ..Default::default()
    };
    smidge_image::registry::verify_login(&registry, &credentials, &options)
        .map_err(|e| lib(e.into()))?;
    let stored = auth::store(&registry, &credentials).map_err(|e| lib(e.into()))?;
    match stored {
        auth::Stored::File(path) => {
            eprintln!(
                "smidge: credentials for {registry} stored in {}",
                path.display()
            )
        }
        auth::Stored::Helper(name) => {
            eprintln!("smidge: credentials for {registry} stored with docker-credential-{name}")
        }
    }
    println!("Login Succeeded");
    Ok(())
}

/// `smidge logout [REGISTRY]`.
pub fn logout(registry: Option<String>) -> Result<()> {
    let registry = registry_name(registry)?;
    let removed = smidge_image::registry::auth::erase(&registry).map_err(|e| lib(e.into()))?;
    if removed {
        println!("Removing login credentials for {registry}");
    } else {
        println!("Not logged in to {registry}");
    }
    Ok(())
}
