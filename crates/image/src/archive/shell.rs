//! The archive as one shell line that loads it: `echo <base64> | base64 -d | docker load`.
//! `docker load` reads a gzip (or plain) archive from stdin as is.

use base64::Engine as _;

/// `echo <base64 of archive> | base64 -d | docker load` and a newline.
pub fn shell_command(archive: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(archive);
    format!("echo {b64} | base64 -d | docker load\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line() {
        assert_eq!(
            shell_command(b"\x1f\x8b\x08"),
            "echo H4sI | base64 -d | docker load\n"
        );
    }
}
