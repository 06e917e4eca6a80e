//! [`RegistryError`]: why a push failed, one line each, naming the registry and the
//! repository. No variant ever holds a credential: the texts come from our own wording,
//! status codes, and the registry's error codes and messages. Which flag or command to try
//! is the binary's to say (it knows its flags); the variants carry the facts it needs
//! ([`TlsCause`], whether the push was anonymous, the media types).

use std::path::PathBuf;

use crate::image::MediaTypes;

/// Why a TLS connection failed, as far as the handshake tells.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TlsCause {
    /// The registry asked for a client certificate and got none it accepts.
    ClientCertificate,
    /// The registry's certificate is not trusted; plain HTTP was already tried (a
    /// loopback registry) or is not allowed.
    Untrusted { plain_http_tried: bool },
    /// The TLS set-up itself (the trusted certificates given) failed.
    Setup,
}

/// Why a push failed.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The target reference cannot be pushed to (it names a digest, or no repository).
    #[error("cannot push to `{reference}`: {reason}")]
    BadTarget { reference: String, reason: String },
    /// The source is not an image smidge can read.
    #[error("`{path}` is not an image: {reason}")]
    NotAnImage { path: PathBuf, reason: String },
    /// A CA certificate file given cannot be read or holds no PEM certificate.
    #[error("CA certificate `{path}`: {reason}")]
    CaCert { path: PathBuf, reason: String },
    /// A file in a certs.d directory (`*.crt`, `*.cert` + `*.key`) is unusable.
    #[error("certificates for {registry}: `{path}`: {reason}")]
    CertsD {
        registry: String,
        path: PathBuf,
        reason: String,
    },
    /// The Docker config or a credential helper failed.
    #[error("credentials for {registry}: {reason}")]
    Credentials { registry: String, reason: String },
    /// No connection (after the retries).
    #[error("cannot reach registry {registry}: {detail}; check the host and port, and that the registry is running")]
    Unreachable { registry: String, detail: String },
    /// TLS failed: an untrusted certificate, or HTTPS where the registry speaks HTTP.
    #[error("TLS to registry {registry} failed: {detail}")]
    Tls {
        registry: String,
        detail: String,
        cause: TlsCause,
    },
    /// 401: no credentials (`anonymous`), or wrong ones.
    #[error(
        "registry {registry} refused {} for repository {repository} (401 Unauthorized)",
        if *anonymous { "an anonymous push" } else { "the credentials" }
    )]
    Unauthorized {
        registry: String,
        repository: String,
        anonymous: bool,
    },
    /// `smidge login`: the registry refused the user name and password (401).
    #[error("registry {registry} refused the user name and password (401 Unauthorized)")]
    LoginRefused { registry: String },
    /// 403: the account may not push there.
    #[error("registry {registry} denied push access to repository {repository} (403 Forbidden): check that this account may push to it")]
    Forbidden {
        registry: String,
        repository: String,
    },
    /// 404: the repository does not exist (and the registry does not create it on push).
    #[error("registry {registry} has no repository {repository} (404 Not Found): create it first, or check the name")]
    NotFound {
        registry: String,
        repository: String,
    },
    /// The registry refused a manifest (or index).
    #[error("registry {registry} refused the manifest for {repository}: {detail}")]
    ManifestRefused {
        registry: String,
        repository: String,
        detail: String,
        /// The media types the manifest was sent with.
        media_types: MediaTypes,
    },
    /// Anything else the registry answered that we cannot go on from.
    #[error("push to {registry}/{repository} failed: {detail}")]
    Protocol {
        registry: String,
        repository: String,
        detail: String,
    },
}

impl RegistryError {
    /// Whether the user asked for something impossible (exit status 2) rather than the
    /// push failing at run time (exit status 1).
    pub fn is_usage(&self) -> bool {
        matches!(
            self,
            RegistryError::BadTarget { .. }
                | RegistryError::NotAnImage { .. }
                | RegistryError::CaCert { .. }
                | RegistryError::CertsD { .. }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_one_line_and_name_registry_and_repository() {
        let errors = [
            RegistryError::Unauthorized {
                registry: "r.example:5000".into(),
                repository: "smidge/pause".into(),
                anonymous: false,
            },
            RegistryError::Forbidden {
                registry: "r.example:5000".into(),
                repository: "smidge/pause".into(),
            },
            RegistryError::NotFound {
                registry: "r.example:5000".into(),
                repository: "smidge/pause".into(),
            },
        ];
        for e in errors {
            let s = e.to_string();
            assert!(!s.contains('\n'), "{s}");
            assert!(
                s.contains("r.example:5000") && s.contains("smidge/pause"),
                "{s}"
            );
            assert!(!e.is_usage());
            assert!(!s.contains("--"), "flags are the binary's to name: {s}");
        }
    }
}
