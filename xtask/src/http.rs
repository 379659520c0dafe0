//! The few HTTP questions the xtask asks a server it started (is `serve`'s up, is the release
//! image healthy): one HTTP/1.0 request on a connection of its own, its status back. Two
//! callers and a status line do not earn a client library.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

/// `host:port`'s first address, resolved.
pub fn address(host: &str, port: u16) -> Option<SocketAddr> {
    (host, port).to_socket_addrs().ok()?.next()
}

/// A connection to `address`, if something accepts one within a second.
pub fn connect(address: SocketAddr) -> Option<TcpStream> {
    TcpStream::connect_timeout(&address, Duration::from_secs(1)).ok()
}

/// The status `address` answers `METHOD PATH` with `headers` (`Name: value`, `Host` among
/// them), if it answers within two seconds.
pub fn status(address: SocketAddr, method: &str, path: &str, headers: &[&str]) -> Option<u16> {
    let mut stream = connect(address)?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    let headers: String = headers.iter().map(|header| format!("{header}\r\n")).collect();
    let request = format!("{method} {path} HTTP/1.0\r\n{headers}\r\n");
    stream.write_all(request.as_bytes()).ok()?;
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).ok()?;
    status_of(&head)
}

/// The status code of an HTTP status line's start: `HTTP/1.1 200`.
fn status_of(head: &[u8]) -> Option<u16> {
    let head = std::str::from_utf8(head).ok()?;
    head.strip_prefix("HTTP/")?.split_whitespace().nth(1)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_status_is_read_from_the_start_of_the_status_line() {
        assert_eq!(status_of(b"HTTP/1.1 200"), Some(200));
        assert_eq!(status_of(b"HTTP/1.0 503"), Some(503));
        assert_eq!(status_of(b"SSH-2.0-Open"), None);
    }
}
