//! The OpenAPI 3 document of the API (`GET /openapi.json`), built from the
//! table of operations the router serves ([`crate::endpoints`]): every path,
//! method, parameter, request body and answer comes from there; the shapes of
//! the answers are the schemas of `openapi/schemas.json`.

use std::sync::OnceLock;

use axum::Json;
use serde_json::{json, Map, Value};

use crate::endpoints::{self, Endpoint, Reply};

/// The schemas every answer and request body refers to.
const SCHEMAS: &str = include_str!("openapi/schemas.json");

/// What a path parameter is: its schema and description.
fn path_parameter(name: &str) -> (Value, &'static str) {
    match name {
        "jobid" => (json!({ "type": "string" }), "A job's id: 32 hex digits"),
        "vertexid" => (json!({ "type": "string" }), "A vertex's id: 32 hex digits"),
        "checkpointid" => (
            json!({ "type": "integer", "minimum": 0 }),
            "A checkpoint's id",
        ),
        "token" => (
            json!({ "type": "integer", "minimum": 0 }),
            "The page of results: 0, then the token of the previous page's nextResultUri",
        ),
        "triggerid" => (
            json!({ "type": "string" }),
            "The request-id a trigger answered",
        ),
        "tmid" => (
            json!({ "type": "string" }),
            "A TaskManager's id (`local` in one process)",
        ),
        "file" => (json!({ "type": "string" }), "A log file's name"),
        "session" => (json!({ "type": "string" }), "A session's handle"),
        "operation" => (json!({ "type": "string" }), "An operation's handle"),
        _ => (json!({ "type": "string" }), ""),
    }
}

fn parameters(endpoint: &Endpoint) -> Vec<Value> {
    let mut parameters: Vec<Value> = endpoint
        .path
        .split('/')
        .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
        .map(|name| {
            let (schema, about) = path_parameter(name);
            json!({ "name": name, "in": "path", "required": true, "schema": schema, "description": about })
        })
        .collect();
    parameters.extend(endpoint.query.iter().map(|(name, kind, about)| {
        json!({ "name": name, "in": "query", "required": false, "schema": { "type": kind }, "description": about })
    }));
    parameters
}

fn content(reply: Reply) -> Value {
    match reply {
        Reply::Json(schema) => json!({
            "application/json": { "schema": { "$ref": format!("#/components/schemas/{schema}") } }
        }),
        Reply::Text => json!({ "text/plain": { "schema": { "type": "string" } } }),
    }
}

fn operation(endpoint: &Endpoint) -> Value {
    let mut responses = Map::new();
    let (status, reply) = endpoint.ok;
    responses.insert(
        status.to_string(),
        json!({ "description": "Success", "content": content(reply) }),
    );
    // Every resource needs the token when one is configured.
    for error in endpoint.errors.iter().chain(&[401]) {
        responses.insert(
            error.to_string(),
            json!({ "description": "Error", "content": content(Reply::Json("Error")) }),
        );
    }
    let id: String = format!("{}{}", endpoint.method, endpoint.path)
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    let mut op = json!({
        "operationId": id.trim_end_matches('_'),
        "summary": endpoint.summary,
        "tags": [endpoint.tag],
        "parameters": parameters(endpoint),
        "responses": responses,
    });
    if let Some(body) = endpoint.body {
        op["requestBody"] = json!({ "required": false, "content": content(Reply::Json(body)) });
    }
    op
}

/// The document of `endpoints`.
pub fn build(endpoints: &[Endpoint]) -> Value {
    let mut paths = Map::new();
    for endpoint in endpoints {
        let item = paths
            .entry(endpoint.path)
            .or_insert_with(|| Value::Object(Map::new()));
        item[endpoint.method] = operation(endpoint);
    }
    let schemas: Value =
        serde_json::from_str(SCHEMAS).expect("openapi/schemas.json is JSON (checked by a test)");
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "eddy REST API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Jobs, checkpoints, the cluster and SQL statements, in Flink's REST shapes.",
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": { "token": { "type": "http", "scheme": "bearer" } },
        },
        "security": [{ "token": [] }, {}],
    })
}

/// `GET /openapi.json`.
pub async fn document() -> Json<Value> {
    static DOCUMENT: OnceLock<Value> = OnceLock::new();
    Json(DOCUMENT.get_or_init(|| build(&endpoints::all())).clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every schema an operation or another schema names is defined.
    #[test]
    fn every_referenced_schema_is_defined() {
        let document = build(&endpoints::all());
        let schemas = document["components"]["schemas"].as_object().unwrap();
        let text = document.to_string();
        let mut rest = text.as_str();
        let mut seen = 0;
        while let Some(at) = rest.find("#/components/schemas/") {
            rest = &rest[at + "#/components/schemas/".len()..];
            let name: String = rest.chars().take_while(|c| *c != '"').collect();
            assert!(schemas.contains_key(&name), "{name} is not defined");
            seen += 1;
        }
        assert!(seen > 40);
    }

    /// The document has every operation the router serves, once.
    #[test]
    fn every_route_is_documented_once() {
        let endpoints = endpoints::all();
        let document = build(&endpoints);
        let mut documented = 0;
        for (path, item) in document["paths"].as_object().unwrap() {
            documented += item.as_object().unwrap().len();
            assert!(path.starts_with('/'));
        }
        assert_eq!(documented, endpoints.len());
        let mut keys: Vec<_> = endpoints.iter().map(|e| (e.method, e.path)).collect();
        keys.sort_unstable();
        keys.dedup();
        assert_eq!(keys.len(), endpoints.len(), "an operation is listed twice");
    }
}
