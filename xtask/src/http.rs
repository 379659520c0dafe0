//! The few HTTP questions the xtask asks a server it started (is `serve`'s up, is the release
//! image healthy, are the bench's items still there): one HTTP/1.0 request on a connection of
//! its own, its status (and body) back. Three callers do not earn a client library.

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
    let mut stream = send(address, method, path, headers, "")?;
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).ok()?;
    status_of(&head)
}

/// The status and the body `address` answers `METHOD PATH` with, `body` sent as JSON (none
/// if empty), if it answers within two seconds.
pub fn exchange(address: SocketAddr, method: &str, path: &str, body: &str) -> Option<(u16, String)> {
    let length = format!("Content-Length: {}", body.len());
    let headers: &[&str] = if body.is_empty() {
        &[]
    } else {
        &["Content-Type: application/json", &length]
    };
    let mut stream = send(address, method, path, headers, body)?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).ok()?;
    let answer = String::from_utf8_lossy(&answer);
    let (head, body) = answer.split_once("\r\n\r\n")?;
    Some((status_of(head.as_bytes())?, body.to_string()))
}

/// A connection on which `METHOD PATH` (HTTP/1.0: the server closes it after its answer)
/// was sent, its answer due within two seconds.
fn send(address: SocketAddr, method: &str, path: &str, headers: &[&str], body: &str) -> Option<TcpStream> {
    let mut stream = connect(address)?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    let headers: String = headers.iter().map(|header| format!("{header}\r\n")).collect();
    let request = format!("{method} {path} HTTP/1.0\r\n{headers}\r\n{body}");
    stream.write_all(request.as_bytes()).ok()?;
    Some(stream)
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
