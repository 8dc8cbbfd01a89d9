//! A small HTTP/1.1 client for the REST API: one request per connection, JSON in
//! and out, with a timeout, so the CLI needs no HTTP stack of its own.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use serde_json::Value;

/// How long a request may take.
const TIMEOUT: Duration = Duration::from_secs(30);
/// The largest answer read.
const MAX_RESPONSE: u64 = 64 << 20;

/// A REST API's address (`host:port`, with or without `http://`).
#[derive(Clone, Debug)]
pub struct Endpoint {
    host_port: String,
}

impl Endpoint {
    /// Parses `-m`'s value; a missing port is 8081.
    pub fn parse(address: &str) -> Result<Endpoint, String> {
        let trimmed = address
            .trim()
            .trim_start_matches("http://")
            .trim_end_matches('/');
        if trimmed.is_empty() || trimmed.contains('/') {
            return Err(format!("'{address}' is not a REST address (host:port)"));
        }
        let host_port = if trimmed
            .rsplit_once(':')
            .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
        {
            trimmed.to_string()
        } else {
            format!("{trimmed}:8081")
        };
        Ok(Endpoint { host_port })
    }

    /// Sends `method path` with an optional JSON body; returns the status and the
    /// JSON answer.
    pub fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(u16, Value), String> {
        let unreachable =
            |e: std::io::Error| format!("cannot reach the REST API at {}: {e}", self.host_port);
        let addr = self
            .host_port
            .to_socket_addrs()
            .map_err(unreachable)?
            .next()
            .ok_or_else(|| format!("'{}' has no address", self.host_port))?;
        let mut stream = TcpStream::connect_timeout(&addr, TIMEOUT).map_err(unreachable)?;
        stream
            .set_read_timeout(Some(TIMEOUT))
            .map_err(unreachable)?;
        let body = body.map(Value::to_string).unwrap_or_default();
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nAccept: application/json\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            self.host_port,
            body.len()
        )
        .map_err(unreachable)?;
        let mut response = Vec::new();
        stream
            .take(MAX_RESPONSE)
            .read_to_end(&mut response)
            .map_err(unreachable)?;
        let response = String::from_utf8_lossy(&response);
        let (head, body) = response
            .split_once("\r\n\r\n")
            .ok_or_else(|| format!("{} answered something that is not HTTP", self.host_port))?;
        let status = head
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse::<u16>().ok())
            .ok_or_else(|| format!("{} answered something that is not HTTP", self.host_port))?;
        let json = if body.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(body)
                .map_err(|e| format!("{method} {path}: the answer is not JSON ({e})"))?
        };
        Ok((status, json))
    }

    /// Like [`Endpoint::call`], but a status other than 2xx is an error carrying
    /// the API's `errors`.
    pub fn expect(&self, method: &str, path: &str, body: Option<&Value>) -> Result<Value, String> {
        let (status, answer) = self.call(method, path, body)?;
        if (200..300).contains(&status) {
            return Ok(answer);
        }
        let errors: Vec<String> = answer["errors"]
            .as_array()
            .map(|e| {
                e.iter()
                    .filter_map(Value::as_str)
                    .map(String::from)
                    .collect()
            })
            .unwrap_or_default();
        Err(if errors.is_empty() {
            format!("{method} {path}: HTTP {status}")
        } else {
            errors.join("; ")
        })
    }
}
