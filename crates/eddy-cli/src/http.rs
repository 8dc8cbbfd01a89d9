//! A small HTTP/1.1 client for the REST API: one request per connection, JSON in
//! and out, with a timeout, so the CLI needs no HTTP stack of its own; over TLS
//! when the configuration turns it on (`security.ssl.rest.*`, [`eddy::rest::tls`]).

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use eddy::rest::tls::rustls;
use serde_json::Value;

/// A connection to the server: plain or TLS.
trait Connection: Read + Write {}

impl<T: Read + Write> Connection for T {}

/// How long a request may take.
const TIMEOUT: Duration = Duration::from_secs(30);
/// The largest answer read.
const MAX_RESPONSE: u64 = 64 << 20;

/// A REST API's address (`host:port`, with or without `http://`).
#[derive(Clone, Debug)]
pub struct Endpoint {
    host_port: String,
    token: Option<String>,
    /// Whether the address said `https://`.
    https: bool,
    tls: Option<Arc<rustls::ClientConfig>>,
}

/// The REST address when `-m` is not given: `rest.address`:`rest.port` of
/// `config`, else `localhost:8081`.
pub fn default_address(config: &eddy::core::Config) -> String {
    let host = config.get_str(eddy::rest::REST_ADDRESS);
    let port = config.get_str(eddy::rest::REST_PORT);
    format!("{}:{}", host.unwrap_or("localhost"), port.unwrap_or("8081"))
}

impl Endpoint {
    /// Parses `-m`'s value; a missing port is 8081.
    pub fn parse(address: &str) -> Result<Endpoint, String> {
        let address = address.trim();
        let https = address.starts_with("https://");
        let trimmed = address
            .trim_start_matches("http://")
            .trim_start_matches("https://")
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
        Ok(Endpoint {
            host_port,
            token: None,
            https,
            tls: None,
        })
    }

    /// Takes what `config` says of the server: TLS (`security.ssl.rest.*`),
    /// and the token to send as `Authorization: Bearer <token>` with every
    /// request (`rest.auth.token` or `rest.auth.token-file`, else the
    /// `EDDY_REST_TOKEN` environment variable).
    pub fn configured(mut self, config: &eddy::core::Config) -> Result<Endpoint, String> {
        self.tls = eddy::rest::tls::client_config(config).map_err(|e| e.to_string())?;
        if self.https && self.tls.is_none() {
            return Err(format!(
                "{} is https: set security.ssl.rest.enabled and security.ssl.rest.truststore",
                self.host_port
            ));
        }
        self.token = eddy::rest::auth::configured_token(config)
            .map_err(|e| e.to_string())?
            .or_else(|| {
                std::env::var("EDDY_REST_TOKEN")
                    .ok()
                    .filter(|t| !t.trim().is_empty())
            });
        Ok(self)
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
        let tcp = TcpStream::connect_timeout(&addr, TIMEOUT).map_err(unreachable)?;
        tcp.set_read_timeout(Some(TIMEOUT)).map_err(unreachable)?;
        let mut stream: Box<dyn Connection> = match &self.tls {
            None => Box::new(tcp),
            Some(config) => {
                let host = self
                    .host_port
                    .rsplit_once(':')
                    .map_or(self.host_port.as_str(), |(host, _)| host)
                    .trim_start_matches('[')
                    .trim_end_matches(']');
                let name = rustls::pki_types::ServerName::try_from(host.to_string())
                    .map_err(|e| format!("'{host}' is not a server name for TLS: {e}"))?;
                let connection = rustls::ClientConnection::new(config.clone(), name)
                    .map_err(|e| format!("TLS to {}: {e}", self.host_port))?;
                Box::new(rustls::StreamOwned::new(connection, tcp))
            }
        };
        let body = body.map(Value::to_string).unwrap_or_default();
        let auth = self
            .token
            .as_ref()
            .map(|t| format!("Authorization: Bearer {}\r\n", t.trim()))
            .unwrap_or_default();
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nAccept: application/json\r\n\
             {auth}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            self.host_port,
            body.len()
        )
        .map_err(unreachable)?;
        let mut response = Vec::new();
        match stream.take(MAX_RESPONSE).read_to_end(&mut response) {
            Ok(_) => {}
            // A TLS peer that hangs up without its close message: the answer
            // read so far counts if its Content-Length says it is whole.
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && !response.is_empty() => {}
            Err(e) => return Err(unreachable(e)),
        }
        let at = response
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .ok_or_else(|| format!("{} answered something that is not HTTP", self.host_port))?;
        let head = String::from_utf8_lossy(&response[..at]);
        let length = head.lines().find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse::<usize>().ok())?
        });
        let body = &response[at + 4..];
        if length.is_some_and(|n| body.len() < n) {
            return Err(format!("{method} {path}: the answer was cut short"));
        }
        let body = String::from_utf8_lossy(body);
        let body = body.as_ref();
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
