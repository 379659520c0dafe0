//! HTTP, as a client of the served API.

use std::io::{Read, Write};
use std::time::Duration;

/// A port nothing listens on now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// An HTTP/1.0 request to 127.0.0.1:`port`: the status, the headers and the body.
pub fn http(port: u16, method: &str, path: &str, json: Option<&str>) -> (u16, String, String) {
    try_http(port, method, path, json).unwrap_or_else(|| panic!("no HTTP answer to {method} {path} on port {port}"))
}

/// `http`, or `None` when nothing answers (while the server restarts, docker's proxy accepts
/// a connection and closes it unanswered).
pub fn try_http(port: u16, method: &str, path: &str, json: Option<&str>) -> Option<(u16, String, String)> {
    try_http_at("127.0.0.1", port, method, path, json)
}

/// `try_http` to `host:port`, giving up on a connection not made in 5 s.
pub fn try_http_at(
    host: &str,
    port: u16,
    method: &str,
    path: &str,
    json: Option<&str>,
) -> Option<(u16, String, String)> {
    let socket = format!("{host}:{port}").parse().ok()?;
    let mut stream = std::net::TcpStream::connect_timeout(&socket, Duration::from_secs(5)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let body = json.unwrap_or("");
    let request = format!(
        "{method} {path} HTTP/1.0\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).ok()?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).ok()?;
    let (head, body) = answer.split_once("\r\n\r\n")?;
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    Some((status, head.to_string(), body.to_string()))
}
