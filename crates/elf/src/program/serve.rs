//! `serve`: the fixed HTTP response a tiny web server sends, and the rules it follows.
//!
//! The machine code (one listing per instruction set in [`crate::arch`]) does the same
//! everywhere:
//!
//! 1. SIGINT and SIGTERM get a handler that calls `exit_group(0)` (a handler, not the
//!    default action: the kernel drops default-action signals sent to a PID namespace's
//!    init), SIGCHLD is ignored so the kernel reaps every child, also orphans handed to
//!    PID 1, and SIGPIPE cannot kill it (ignored, or `MSG_NOSIGNAL` on every send).
//! 2. `socket(AF_INET, SOCK_STREAM)`, `SO_REUSEADDR`, `SO_RCVTIMEO` ([`Serve::TIMEOUT_SECS`],
//!    inherited by every accepted connection), `bind(0.0.0.0:port)` (on failure the
//!    process exits with the errno as its status: 98 = address in use, 13 = permission
//!    denied), `listen` with the largest backlog the kernel allows.
//! 3. [`Serve::WORKERS`] threads (`clone` with `CLONE_VM | CLONE_THREAD | …`, no stacks:
//!    the workers never touch memory) each loop: `accept`; read what the client sent; if
//!    it sent anything, send the whole response once and `shutdown(SHUT_WR)` (the client
//!    sees the response and then end of file); read and discard until the client closes,
//!    errs or stays silent for the timeout; `close`. Every byte the client sent is read
//!    before the close, so the kernel never answers with a reset.
//!
//! A silent or slow client holds one worker for at most the timeout per read; the others
//! go on serving. Resources are fixed: the threads, one socket each, no memory.

use std::fmt;

/// A validated `serve` program: the port and the exact bytes of the response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Serve {
    /// The TCP port it listens on, 1 to 65535, on every IPv4 address.
    pub port: u16,
    /// Status line, headers, blank line, body: sent as it is to every request.
    pub response: Vec<u8>,
}

/// What a `serve` response is made of (the command line's options).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub content_type: String,
    /// Extra header lines, `Name: value`.
    pub headers: Vec<String>,
    pub body: Vec<u8>,
}

impl Default for Response {
    fn default() -> Self {
        Response {
            status: 200,
            content_type: "text/plain".into(),
            headers: Vec::new(),
            body: Serve::DEFAULT_BODY.to_vec(),
        }
    }
}

/// Why a response cannot be served.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ServeError {
    #[error("port 0: expected a port from 1 to 65535")]
    Port,
    #[error("status {0}: expected a final status from 200 to 599")]
    Status(u16),
    #[error("body is {0} bytes; the most smidge serves is {max} bytes (64 MiB)", max = Serve::MAX_BODY)]
    BodyTooLarge(usize),
    #[error("status {0} has no body (RFC 9110); leave out --body and --body-file")]
    BodyNotAllowed(u16),
    #[error("header `{0}` contains a CR or LF: a header is one line")]
    HeaderLineBreak(String),
    #[error(
        "header `{0}`: expected `Name: value` with a name of letters, digits and !#$%&'*+-.^_`|~"
    )]
    HeaderSyntax(String),
    #[error("header `{0}`: smidge writes {1} itself{2}")]
    HeaderReserved(String, &'static str, &'static str),
    #[error("content type `{0}` contains a CR, LF or other control character")]
    ContentType(String),
}

impl Serve {
    /// The default body of `smidge serve`.
    pub const DEFAULT_BODY: &'static [u8] = b"Hello, world!";
    /// The default port.
    pub const DEFAULT_PORT: u16 = 8080;
    /// The largest body: 64 MiB.
    pub const MAX_BODY: usize = 64 << 20;
    /// Threads that accept and answer connections.
    pub const WORKERS: u32 = 64;
    /// A read that waits longer than this (seconds) gives up on the connection.
    pub const TIMEOUT_SECS: u32 = 1;

    /// The server for `response` on `port`.
    pub fn new(port: u16, response: &Response) -> Result<Serve, ServeError> {
        if port == 0 {
            return Err(ServeError::Port);
        }
        Ok(Serve {
            port,
            response: response.bytes()?,
        })
    }
}

impl Response {
    /// The bytes on the wire: `HTTP/1.1 <status> <reason>`, `Content-Type`,
    /// `Content-Length` (not for 204 and 304), the extra headers, `Connection: close`, a
    /// blank line, the body. Lines end in CRLF.
    pub fn bytes(&self) -> Result<Vec<u8>, ServeError> {
        let status = self.status;
        if !(200..=599).contains(&status) {
            return Err(ServeError::Status(status));
        }
        let bodiless = status == 204 || status == 304;
        if bodiless && !self.body.is_empty() {
            return Err(ServeError::BodyNotAllowed(status));
        }
        if self.body.len() > Serve::MAX_BODY {
            return Err(ServeError::BodyTooLarge(self.body.len()));
        }
        if self.content_type.chars().any(|c| c.is_control()) {
            return Err(ServeError::ContentType(
                self.content_type.escape_debug().to_string(),
            ));
        }
        let mut head = format!("HTTP/1.1 {status} {}\r\n", reason(status));
        if !self.content_type.is_empty() && !bodiless {
            head += &format!("Content-Type: {}\r\n", self.content_type);
        }
        if !bodiless {
            head += &format!("Content-Length: {}\r\n", self.body.len());
        }
        for h in &self.headers {
            head += &header_line(h)?;
        }
        head += "Connection: close\r\n\r\n";
        let mut bytes = head.into_bytes();
        bytes.extend_from_slice(&self.body);
        Ok(bytes)
    }
}

/// `Name: value` checked (RFC 9110 field syntax) and ended with CRLF.
fn header_line(h: &str) -> Result<String, ServeError> {
    if h.contains(['\r', '\n']) {
        return Err(ServeError::HeaderLineBreak(h.escape_debug().to_string()));
    }
    let Some((name, value)) = h.split_once(':') else {
        return Err(ServeError::HeaderSyntax(h.to_string()));
    };
    let tchar = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
    if name.is_empty() || !name.chars().all(tchar) || value.chars().any(|c| c == '\0') {
        return Err(ServeError::HeaderSyntax(h.to_string()));
    }
    let reserved = match name.to_ascii_lowercase().as_str() {
        "content-length" => Some(("Content-Length", " from the body")),
        "connection" => Some(("Connection", ": every connection is closed")),
        "transfer-encoding" => Some(("the framing", ": Content-Length")),
        "content-type" => Some(("Content-Type", "; use --content-type")),
        _ => None,
    };
    if let Some((what, why)) = reserved {
        return Err(ServeError::HeaderReserved(h.to_string(), what, why));
    }
    Ok(format!("{name}: {}\r\n", value.trim()))
}

/// The reason phrase of a status (RFC 9110 section 15), empty for codes it does not name.
pub fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        203 => "Non-Authoritative Information",
        204 => "No Content",
        205 => "Reset Content",
        206 => "Partial Content",
        300 => "Multiple Choices",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        409 => "Conflict",
        410 => "Gone",
        413 => "Content Too Large",
        418 => "I'm a teapot",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "",
    }
}

impl fmt::Display for Serve {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "serve :{} ({} response bytes)",
            self.port,
            self.response.len()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_response_is_97_bytes() {
        let r = Response::default().bytes().unwrap();
        assert_eq!(
            r,
            b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\nConnection: close\r\n\r\nHello, world!"
        );
        assert_eq!(r.len(), 97);
    }

    #[test]
    fn headers_are_checked() {
        let with = |h: &str| {
            Response {
                headers: vec![h.into()],
                ..Default::default()
            }
            .bytes()
        };
        assert!(with("X-A: 1")
            .unwrap()
            .windows(8)
            .any(|w| w == b"X-A: 1\r\n"));
        assert!(matches!(
            with("X: a\r\nY: b"),
            Err(ServeError::HeaderLineBreak(_))
        ));
        assert!(matches!(
            with("X: a\nb"),
            Err(ServeError::HeaderLineBreak(_))
        ));
        assert!(matches!(with("no colon"), Err(ServeError::HeaderSyntax(_))));
        assert!(matches!(
            with("Bad Name: x"),
            Err(ServeError::HeaderSyntax(_))
        ));
        assert!(matches!(
            with("content-length: 3"),
            Err(ServeError::HeaderReserved(..))
        ));
        assert!(matches!(
            with("Connection: keep-alive"),
            Err(ServeError::HeaderReserved(..))
        ));
    }

    #[test]
    fn status_and_body_rules() {
        let r = |status, body: &[u8]| {
            Response {
                status,
                body: body.to_vec(),
                ..Default::default()
            }
            .bytes()
        };
        assert_eq!(r(99, b""), Err(ServeError::Status(99)));
        assert_eq!(r(600, b""), Err(ServeError::Status(600)));
        assert_eq!(r(204, b"x"), Err(ServeError::BodyNotAllowed(204)));
        assert_eq!(
            r(204, b"").unwrap(),
            b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n"
        );
        assert!(r(299, b"").unwrap().starts_with(b"HTTP/1.1 299 \r\n"));
        assert!(matches!(
            r(200, &vec![0; Serve::MAX_BODY + 1]),
            Err(ServeError::BodyTooLarge(_))
        ));
        assert_eq!(Serve::new(0, &Response::default()), Err(ServeError::Port));
    }
}
