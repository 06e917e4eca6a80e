//! Docker image references: `[registry[:port]/]path[:tag][@sha256:digest]`.
//!
//! The grammar is distribution's `reference` package (the one `docker tag` enforces):
//!
//! ```text
//! reference        := name [ ":" tag ] [ "@" digest ]
//! name             := [domain "/"] path-component ["/" path-component]*
//! domain           := domain-component ["." domain-component]* [":" port-number]
//! domain-component := /([a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])/
//! path-component   := alpha-numeric [separator alpha-numeric]*
//! alpha-numeric    := /[a-z0-9]+/
//! separator        := /[_.]|__|[-]*/
//! tag              := /[\w][\w.-]{0,127}/
//! digest           := "sha256:" /[0-9a-f]{64}/      (the only algorithm smidge accepts)
//! ```
//!
//! As in Docker, the first `/`-separated component is a registry host only when it holds a
//! `.` or a `:`, or is `localhost`. Names are kept exactly as written: `docker.io/library/`
//! is neither added nor removed.

use std::fmt;
use std::str::FromStr;

use super::Digest;

/// The longest name (everything before `:tag`/`@digest`) distribution accepts.
pub const NAME_TOTAL_LENGTH_MAX: usize = 255;

/// The tag `docker` assumes when a reference has none.
pub const DEFAULT_TAG: &str = "latest";

/// A parsed image reference.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Reference {
    domain: Option<String>,
    path: String,
    tag: Option<String>,
    digest: Option<Digest>,
}

/// Why a string is not an image reference; displays on one line.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid image reference `{input}`: {kind}")]
pub struct ReferenceError {
    pub input: String,
    pub kind: ReferenceErrorKind,
}

/// What is wrong with a reference.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ReferenceErrorKind {
    #[error("the reference is empty")]
    Empty,
    #[error("repository names must be lowercase")]
    Uppercase,
    #[error("the repository name is longer than 255 characters")]
    NameTooLong,
    #[error("`{0}` is not a valid path component (lowercase letters and digits, separated by `.`, `_`, `__` or dashes)")]
    BadPathComponent(String),
    #[error("`{0}` is not a valid registry host")]
    BadDomain(String),
    #[error("`{0}` is not a valid tag (letters, digits, `_`, `.` and `-`, at most 128, not starting with `.` or `-`)")]
    BadTag(String),
    #[error("`{0}` is not a valid digest (expected sha256: and 64 lowercase hex digits)")]
    BadDigest(String),
}

impl Reference {
    /// The registry host (and port) if the reference names one.
    pub fn domain(&self) -> Option<&str> {
        self.domain.as_deref()
    }

    /// The repository path without the registry host, e.g. `library/alpine`.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The repository: registry host (if any) and path, e.g. `localhost:5000/smidge/hello`.
    pub fn repository(&self) -> String {
        match &self.domain {
            Some(d) => format!("{d}/{}", self.path),
            None => self.path.clone(),
        }
    }

    /// The tag as written, if any.
    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    /// The tag, or `latest` when there is none.
    pub fn tag_or_latest(&self) -> &str {
        self.tag.as_deref().unwrap_or(DEFAULT_TAG)
    }

    /// The digest, if any.
    pub fn digest(&self) -> Option<&Digest> {
        self.digest.as_ref()
    }

    /// `repository:tag` for a docker archive's `RepoTags` (tag defaults to `latest`).
    pub fn repo_tag(&self) -> String {
        format!("{}:{}", self.repository(), self.tag_or_latest())
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.repository())?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

fn is_alnum_lower(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit()
}

/// path-component := [a-z0-9]+ ( ( [_.] | __ | [-]* ) [a-z0-9]+ )*
fn valid_path_component(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    let alnum_run = |i: &mut usize| {
        let start = *i;
        while *i < b.len() && is_alnum_lower(b[*i]) {
            *i += 1;
        }
        *i > start
    };
    if !alnum_run(&mut i) {
        return false;
    }
    while i < b.len() {
        match b[i] {
            b'.' => i += 1,
            b'_' => {
                i += 1;
                if i < b.len() && b[i] == b'_' {
                    i += 1;
                }
            }
            b'-' => {
                while i < b.len() && b[i] == b'-' {
                    i += 1;
                }
            }
            _ => return false,
        }
        if !alnum_run(&mut i) {
            return false;
        }
    }
    true
}

/// domain := domain-component ("." domain-component)* (":" [0-9]+)?
fn valid_domain(s: &str) -> bool {
    let (host, port) = match s.split_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (s, None),
    };
    if let Some(p) = port {
        if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
            return false;
        }
    }
    !host.is_empty()
        && host.split('.').all(|c| {
            let b = c.as_bytes();
            !b.is_empty()
                && b.iter().all(|&x| x.is_ascii_alphanumeric() || x == b'-')
                && b[0] != b'-'
                && b[b.len() - 1] != b'-'
        })
}

/// tag := [\w][\w.-]{0,127}
fn valid_tag(s: &str) -> bool {
    let b = s.as_bytes();
    let word = |x: u8| x.is_ascii_alphanumeric() || x == b'_';
    !b.is_empty()
        && b.len() <= 128
        && word(b[0])
        && b[1..].iter().all(|&x| word(x) || x == b'.' || x == b'-')
}

impl FromStr for Reference {
    type Err = ReferenceError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let err = |kind| ReferenceError {
            input: input.to_string(),
            kind,
        };
        if input.is_empty() {
            return Err(err(ReferenceErrorKind::Empty));
        }
        let (rest, digest) = match input.split_once('@') {
            Some((r, d)) => (
                r,
                Some(
                    Digest::parse(d)
                        .ok_or_else(|| err(ReferenceErrorKind::BadDigest(d.to_string())))?,
                ),
            ),
            None => (input, None),
        };
        // A tag is after the last ':' that follows the last '/' (a ':' before it is a port).
        let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match rest[last_slash..].rfind(':') {
            Some(i) => {
                let t = &rest[last_slash + i + 1..];
                if !valid_tag(t) {
                    return Err(err(ReferenceErrorKind::BadTag(t.to_string())));
                }
                (&rest[..last_slash + i], Some(t.to_string()))
            }
            None => (rest, None),
        };
        if name.is_empty() {
            return Err(err(ReferenceErrorKind::Empty));
        }
        if name.len() > NAME_TOTAL_LENGTH_MAX {
            return Err(err(ReferenceErrorKind::NameTooLong));
        }
        let (domain, path) = match name.split_once('/') {
            Some((first, path))
                if first.contains('.') || first.contains(':') || first == "localhost" =>
            {
                if !valid_domain(first) {
                    return Err(err(ReferenceErrorKind::BadDomain(first.to_string())));
                }
                (Some(first.to_string()), path)
            }
            _ => (None, name),
        };
        for c in path.split('/') {
            if !valid_path_component(c) {
                return Err(err(if c.bytes().any(|b| b.is_ascii_uppercase()) {
                    ReferenceErrorKind::Uppercase
                } else {
                    ReferenceErrorKind::BadPathComponent(c.to_string())
                }));
            }
        }
        Ok(Reference {
            domain,
            path: path.to_string(),
            tag,
            digest,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &str) -> Reference {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn bad(s: &str) -> String {
        s.parse::<Reference>().unwrap_err().to_string()
    }

    const D: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn parses_and_prints_back() {
        for s in [
            "hello",
            "smidge/t:latest",
            "smidge/hello:v1.0-rc_1",
            "localhost/x",
            "localhost:5000/smidge/hello:1",
            "registry.example.com/a/b/c",
            "docker.io/library/alpine:3",
            "x/a.b-c__d---e",
            "127.0.0.1:5000/x:y",
        ] {
            assert_eq!(ok(s).to_string(), s);
        }
        let with_digest = format!("x/y:t@{D}");
        assert_eq!(ok(&with_digest).to_string(), with_digest);
        assert_eq!(ok(&with_digest).digest().unwrap().to_string(), D);
    }

    #[test]
    fn splits_domain_path_tag() {
        let r = ok("localhost:5000/smidge/hello:1");
        assert_eq!(r.domain(), Some("localhost:5000"));
        assert_eq!(r.path(), "smidge/hello");
        assert_eq!(r.tag(), Some("1"));
        let r = ok("localhost:5000/smidge/hello");
        assert_eq!(r.tag(), None);
        assert_eq!(r.repo_tag(), "localhost:5000/smidge/hello:latest");
        // Not a host: no '.' or ':' and not localhost.
        let r = ok("smidge/hello");
        assert_eq!(r.domain(), None);
        assert_eq!(r.path(), "smidge/hello");
    }

    #[test]
    fn repo_tag_keeps_what_the_user_wrote() {
        assert_eq!(ok("hello").repo_tag(), "hello:latest");
        assert_eq!(
            ok("docker.io/library/hello:x").repo_tag(),
            "docker.io/library/hello:x"
        );
        assert_eq!(ok(&format!("hello@{D}")).repo_tag(), "hello:latest");
    }

    #[test]
    fn errors_are_one_line_and_precise() {
        assert_eq!(
            bad("Foo:bar"),
            "invalid image reference `Foo:bar`: repository names must be lowercase"
        );
        assert!(bad("").ends_with("the reference is empty"));
        assert!(bad(":tag").ends_with("the reference is empty"));
        assert!(bad("a/-b").contains("`-b` is not a valid path component"));
        assert!(bad("a//b").contains("`` is not a valid path component"));
        assert!(bad("a_.b").contains("not a valid path component"));
        assert!(bad("a___b").contains("not a valid path component"));
        assert!(bad("a:").contains("not a valid tag"));
        assert!(bad("a:.x").contains("not a valid tag"));
        assert!(bad(&format!("a:{}", "x".repeat(129))).contains("not a valid tag"));
        assert!(bad("a@sha256:abc").contains("not a valid digest"));
        assert!(bad("-x.com/a").contains("not a valid registry host"));
        assert!(bad("x.com:p/a").contains("not a valid registry host"));
        assert!(bad(&"a".repeat(256)).contains("longer than 255"));
        for e in ["Foo:bar", "a/-b", "a:"] {
            assert!(!bad(e).contains('\n'));
        }
    }
}
