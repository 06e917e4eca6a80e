//! The one way an image leaves smidge: an [`ImageSet`] and its [`Settings`] → the
//! destination (docker tar, OCI tar, OCI directory, registry), with a progress bar on a
//! terminal and, for a push, `REF@sha256:…` on stdout.

use std::io::Write;

use anyhow::{Context, Result};
use smidge::image::{ImageSet, Reference};
use smidge_image::dest::docker::DockerArchive;
use smidge_image::dest::oci::{LayoutNames, OciArchive, OciDir};
use smidge_image::dest::{self, Destination, Output, Sink, Wrapping};
use smidge_image::registry::Registry;

use crate::bar::Bar;
use crate::cli::Format;
use crate::settings::{usage, Delivery, Settings};

/// Writes or pushes `set`, tagged `tag` (`-t`, or the default for this command).
pub fn deliver(set: &ImageSet, tag: &Reference, settings: &Settings) -> Result<()> {
    let bar = Bar::new();
    match &settings.delivery {
        Delivery::Push { reference, options } => {
            let mut registry = Registry::connect(reference, options).map_err(|e| lib(e.into()))?;
            dest::write(set, &mut registry, &bar).map_err(lib)?;
            bar.done();
            let pushed = registry.pushed();
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
        Delivery::Write {
            format,
            output,
            compression,
            shell_line,
            platform_tags,
        } => {
            let target = match output {
                Some(p) => Output::File(p.clone()),
                None => Output::Stdout,
            };
            let names = || LayoutNames::new(tag, *platform_tags);
            let mut destination: Box<dyn Destination> = match format {
                Format::Docker => Box::new(DockerArchive::new(
                    Sink::open(&target, 0o644).map_err(lib)?,
                    Wrapping {
                        compression: *compression,
                        shell_line: *shell_line,
                    },
                    tag,
                )),
                Format::Oci => Box::new(OciArchive::new(
                    Sink::open(&target, 0o644).map_err(lib)?,
                    *compression,
                    names(),
                )),
                Format::OciDir => {
                    let Some(dir) = output else {
                        return usage("--format oci-dir writes a directory: give it with -o DIR");
                    };
                    Box::new(OciDir::new(dir, *compression, names()).map_err(lib)?)
                }
                Format::Elf => unreachable!("the payload is written before any image is made"),
            };
            let result = dest::write(set, destination.as_mut(), &bar);
            bar.done();
            result.map_err(lib)?;
            Ok(())
        }
    }
}

/// A library error: exit 2 when the input was wrong, 1 when the work failed. The library
/// states facts; what to type is added here.
pub fn lib(e: smidge_image::Error) -> anyhow::Error {
    let hint = hint(&e);
    if e.is_usage() {
        let text = match hint {
            Some(h) => format!("{e}; {h}"),
            None => e.to_string(),
        };
        crate::settings::Usage(text).into()
    } else {
        match hint {
            // The error (with its causes), then what to type: one line.
            Some(h) => anyhow::anyhow!("{:#}; {h}", anyhow::Error::new(e)),
            None => e.into(),
        }
    }
}

/// What to type about `e`, if anything.
fn hint(e: &smidge_image::Error) -> Option<String> {
    use smidge_image::image::MediaTypes;
    use smidge_image::pack::PackError as P;
    use smidge_image::registry::{RegistryError as R, TlsCause};
    use smidge_image::Error as E;
    const CA: &str = "pass the registry's CA (or its own certificate) with --ca-cert FILE, or put it in /etc/docker/certs.d/HOST:PORT/ca.crt";
    Some(match e {
        E::Registry(R::Tls { cause, .. }) => match cause {
            TlsCause::ClientCertificate => "the registry may want a client certificate: put NAME.cert and NAME.key in /etc/docker/certs.d/HOST:PORT/".into(),
            TlsCause::Untrusted { plain_http_tried: true } => CA.into(),
            TlsCause::Untrusted { plain_http_tried: false } => {
                format!("{CA}; --insecure for a registry that speaks plain HTTP")
            }
            TlsCause::Setup => "check --ca-cert and the certs.d directories".into(),
        },
        E::Registry(R::Unauthorized { registry, anonymous: true, .. }) => format!(
            "log in with `smidge login {registry}` (or `docker login`) or pass --username and --password-stdin"
        ),
        E::Registry(R::Unauthorized { registry, anonymous: false, .. }) => format!(
            "check the user name and password (--username/--password-stdin or `smidge login {registry}`)"
        ),
        E::Registry(R::ManifestRefused { media_types, .. }) => match media_types {
            MediaTypes::Oci => "this registry may want Docker media types: try --media-types docker",
            MediaTypes::Docker => "try the OCI media types (leave out --media-types docker)",
        }
        .into(),
        E::Registry(R::CaCert { .. }) => "--ca-cert takes a PEM file".into(),
        E::Pack(P::SpecialFile { .. }) => {
            "remove it, or pack what you need with --add SRC:DEST".into()
        }
        E::Pack(P::Dynamic { .. }) => {
            "link it statically (e.g. gcc -static, CGO_ENABLED=0, a musl target) or pass --allow-dynamic".into()
        }
        E::Pack(P::Script { interp, .. }) => format!(
            "pack a static interpreter at {interp} with it (--add), pack a compiled program, or pass --allow-dynamic"
        ),
        E::Pack(P::UnknownElf { .. }) => "pass --platform if it runs on one smidge knows".into(),
        E::Pack(P::NoPlatform { .. }) => "pass --platform".into(),
        E::Pack(P::Conflict(_)) => "give each its own place with --add SRC:DEST".into(),
        E::Pack(P::NotExecutable { .. }) => "chmod +x it".into(),
        E::TargetNotEmpty(_) => "give -o a new name or an empty directory".into(),
        _ => return None,
    })
}
