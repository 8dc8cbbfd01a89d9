//! A schema registry for tests: the two calls of Confluent's REST API that
//! the avro-confluent format makes (register a schema under a subject, fetch a
//! schema by id), served on 127.0.0.1 by a thread, with what was registered
//! kept for the test to see.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};

/// The registry's state: schemas by id, and the subjects they were registered under.
#[derive(Default)]
pub struct Registered {
    pub schemas: Vec<String>,
    pub subjects: BTreeMap<String, Vec<u32>>,
}

/// A running test registry.
pub struct TestRegistry {
    pub url: String,
    pub state: Arc<Mutex<Registered>>,
}

impl TestRegistry {
    pub fn start() -> TestRegistry {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(Mutex::new(Registered::default()));
        let shared = state.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let _ = serve(stream, &shared);
            }
        });
        TestRegistry { url, state }
    }

    /// Registers `schema` under `subject` as a client would; returns its id.
    pub fn register(&self, subject: &str, schema: &str) -> u32 {
        register(&mut self.state.lock().unwrap(), subject, schema)
    }
}

fn register(state: &mut Registered, subject: &str, schema: &str) -> u32 {
    let id = match state.schemas.iter().position(|s| s == schema) {
        Some(i) => i as u32 + 1,
        None => {
            state.schemas.push(schema.to_string());
            state.schemas.len() as u32
        }
    };
    let ids = state.subjects.entry(subject.to_string()).or_default();
    if !ids.contains(&id) {
        ids.push(id);
    }
    id
}

fn serve(stream: std::net::TcpStream, state: &Mutex<Registered>) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    let mut length = 0;
    loop {
        let mut header = String::new();
        reader.read_line(&mut header)?;
        if header.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().unwrap_or(0);
            }
        }
    }
    let mut body = vec![0u8; length];
    reader.read_exact(&mut body)?;
    let parts: Vec<&str> = request_line.split_whitespace().collect();
    let (method, path) = (parts[0], parts[1]);
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (status, answer) = match (method, segments.as_slice()) {
        ("POST", ["subjects", subject, "versions"]) => {
            let request: Value = serde_json::from_slice(&body).unwrap_or_default();
            match request.get("schema").and_then(Value::as_str) {
                Some(schema) => {
                    let id = register(&mut state.lock().unwrap(), subject, schema);
                    ("200 OK", json!({ "id": id }))
                }
                None => (
                    "422 Unprocessable Entity",
                    json!({"error_code": 42201, "message": "no schema"}),
                ),
            }
        }
        ("GET", ["schemas", "ids", id]) => {
            let state = state.lock().unwrap();
            match id
                .parse::<usize>()
                .ok()
                .and_then(|i| state.schemas.get(i.wrapping_sub(1)))
            {
                Some(schema) => ("200 OK", json!({ "schema": schema })),
                None => (
                    "404 Not Found",
                    json!({"error_code": 40403, "message": "Schema not found"}),
                ),
            }
        }
        _ => (
            "404 Not Found",
            json!({"error_code": 404, "message": "not found"}),
        ),
    };
    let body = answer.to_string();
    let mut stream = stream;
    write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: application/vnd.schemaregistry.v1+json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}
