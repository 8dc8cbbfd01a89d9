//! A client of a Confluent-compatible schema registry (its REST API over plain
//! HTTP): registers the schema a sink writes with under its subject, and
//! fetches the writer schemas a source meets by id. Both are cached.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};

use super::schema::Schema;

/// A schema registry at one URL.
#[derive(Debug)]
pub struct Registry {
    url: String,
    /// `host:port` and the path prefix of `url`.
    address: String,
    base_path: String,
    schemas: Mutex<HashMap<u32, Arc<Schema>>>,
    ids: Mutex<HashMap<(String, String), u32>>,
}

type Result<T> = std::result::Result<T, String>;

impl Registry {
    /// A client of the registry at `url` (`http://host:port[/path]`).
    pub fn new(url: &str) -> Result<Registry> {
        let rest = url.strip_prefix("http://").ok_or_else(|| {
            format!("schema registry URL '{url}': eddy reaches registries over http://")
        })?;
        let (address, path) = rest.split_once('/').unwrap_or((rest, ""));
        let address = if address.contains(':') {
            address.to_string()
        } else {
            format!("{address}:80")
        };
        Ok(Registry {
            url: url.trim_end_matches('/').to_string(),
            address,
            base_path: format!("/{}", path.trim_end_matches('/')).replace("//", "/"),
            schemas: Mutex::new(HashMap::new()),
            ids: Mutex::new(HashMap::new()),
        })
    }

    /// The id of `schema` under `subject`, registering it if needed.
    pub fn register(&self, subject: &str, schema: &Schema) -> Result<u32> {
        let text = schema.to_json().to_string();
        let key = (subject.to_string(), text.clone());
        if let Some(id) = lock(&self.ids).get(&key) {
            return Ok(*id);
        }
        let body = json!({ "schema": text }).to_string();
        let answer = self.request("POST", &format!("subjects/{subject}/versions"), Some(&body))?;
        let id = answer
            .get("id")
            .and_then(Value::as_u64)
            .and_then(|id| u32::try_from(id).ok())
            .ok_or_else(|| format!("schema registry {}: no id in {answer}", self.url))?;
        lock(&self.ids).insert(key, id);
        Ok(id)
    }

    /// The schema registered with `id`.
    pub fn schema(&self, id: u32) -> Result<Arc<Schema>> {
        if let Some(schema) = lock(&self.schemas).get(&id) {
            return Ok(schema.clone());
        }
        let answer = self.request("GET", &format!("schemas/ids/{id}"), None)?;
        let text = answer
            .get("schema")
            .and_then(Value::as_str)
            .ok_or_else(|| format!("schema registry {}: no schema in {answer}", self.url))?;
        let schema = Arc::new(
            Schema::parse(text)
                .map_err(|e| format!("schema {id} of registry {}: {e}", self.url))?,
        );
        lock(&self.schemas).insert(id, schema.clone());
        Ok(schema)
    }

    fn request(&self, method: &str, path: &str, body: Option<&str>) -> Result<Value> {
        let fail = |e: &dyn std::fmt::Display| format!("schema registry {}: {e}", self.url);
        let target = format!("{}/{path}", self.base_path.trim_end_matches('/'));
        let address = self
            .address
            .to_socket_addrs()
            .map_err(|e| fail(&e))?
            .next()
            .ok_or_else(|| fail(&"no address"))?;
        let mut stream =
            TcpStream::connect_timeout(&address, Duration::from_secs(10)).map_err(|e| fail(&e))?;
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .map_err(|e| fail(&e))?;
        let body = body.unwrap_or("");
        let request = format!(
            "{method} {target} HTTP/1.1\r\nHost: {}\r\nAccept: application/vnd.schemaregistry.v1+json\r\nContent-Type: application/vnd.schemaregistry.v1+json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.address,
            body.len()
        );
        stream.write_all(request.as_bytes()).map_err(|e| fail(&e))?;
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).map_err(|e| fail(&e))?;
        let text = String::from_utf8_lossy(&answer);
        let (head, rest) = text
            .split_once("\r\n\r\n")
            .ok_or_else(|| fail(&"an answer that is not HTTP"))?;
        let status = head.split(' ').nth(1).unwrap_or("");
        let chunked = head
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked");
        let body = if chunked {
            dechunk(rest)
        } else {
            rest.to_string()
        };
        if !status.starts_with('2') {
            return Err(fail(&format!(
                "{method} {target}: HTTP {status}: {}",
                body.trim()
            )));
        }
        serde_json::from_str(&body).map_err(|e| fail(&format!("an answer that is not JSON: {e}")))
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The body of a chunked HTTP answer.
fn dechunk(mut text: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = text.split_once("\r\n") {
        let Ok(size) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if size == 0 || rest.len() < size {
            break;
        }
        out.push_str(&rest[..size]);
        text = rest[size..].trim_start_matches("\r\n");
    }
    out
}
