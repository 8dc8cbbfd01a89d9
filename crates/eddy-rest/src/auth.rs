//! Optional protection of the REST API: with `rest.auth.token` (or a file named by
//! `rest.auth.token-file`), every request must carry `Authorization: Bearer
//! <token>`; others are refused with 401 and Flink's `{"errors": [...]}`.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use eddy_core::{Config, Error, Result};
use serde_json::json;

use crate::routes::ApiState;

/// Configuration key: the token requests must carry.
pub const AUTH_TOKEN: &str = "rest.auth.token";
/// Configuration key: a file holding the token (its first line).
pub const AUTH_TOKEN_FILE: &str = "rest.auth.token-file";

/// The token the configuration asks for, if any.
pub fn configured_token(config: &Config) -> Result<Option<String>> {
    let bad = |key: &str, message: String| Error::InvalidConfig {
        key: key.into(),
        message,
    };
    let token = match (config.get_str(AUTH_TOKEN), config.get_str(AUTH_TOKEN_FILE)) {
        (Some(_), Some(_)) => {
            return Err(bad(
                AUTH_TOKEN,
                format!("set either {AUTH_TOKEN} or {AUTH_TOKEN_FILE}, not both"),
            ))
        }
        (Some(token), None) => (AUTH_TOKEN, token.trim().to_string()),
        (None, Some(file)) => {
            let text = std::fs::read_to_string(file)
                .map_err(|e| bad(AUTH_TOKEN_FILE, format!("cannot read '{file}': {e}")))?;
            (
                AUTH_TOKEN_FILE,
                text.lines().next().unwrap_or("").trim().to_string(),
            )
        }
        (None, None) => return Ok(None),
    };
    if token.1.is_empty() {
        return Err(bad(token.0, "the token is empty".into()));
    }
    Ok(Some(token.1))
}

/// Equal in time independent of where the inputs differ.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The middleware: lets a request through when no token is configured or it
/// carries the token.
pub async fn require_token(
    State(state): State<Arc<ApiState>>,
    request: Request,
    next: Next,
) -> Response {
    let Some(token) = &state.token else {
        return next.run(request).await;
    };
    let given = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    match given {
        Some(given) if same(given.as_bytes(), token.as_bytes()) => next.run(request).await,
        _ => (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer")],
            Json(json!({ "errors": ["Unauthorized: this REST API needs 'Authorization: Bearer <token>'"] })),
        )
            .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_comes_from_the_key_or_a_file_and_never_empty() {
        let mut config = Config::new();
        assert_eq!(configured_token(&config).ok(), Some(None));
        config.set(AUTH_TOKEN, " s3cret ");
        assert_eq!(configured_token(&config).ok(), Some(Some("s3cret".into())));
        let dir = tempfile::tempdir().map_err(|e| e.to_string());
        let Ok(dir) = dir else { return };
        let file = dir.path().join("token");
        let _ = std::fs::write(&file, "from-file\nignored\n");
        let mut config = Config::new();
        config.set(AUTH_TOKEN_FILE, file.to_string_lossy().to_string());
        assert_eq!(
            configured_token(&config).ok(),
            Some(Some("from-file".into()))
        );
        config.set(AUTH_TOKEN, "x");
        assert!(configured_token(&config).is_err());
        let mut config = Config::new();
        config.set(AUTH_TOKEN, "  ");
        assert!(configured_token(&config).is_err());
        assert!(same(b"abc", b"abc") && !same(b"abc", b"abd") && !same(b"abc", b"ab"));
    }
}
