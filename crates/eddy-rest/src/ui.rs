//! The Web UI: static pages embedded in the binary and served next to the REST
//! resources (`GET /` is the page, `GET /ui/<file>` its scripts and styles).
//!
//! The UI is hand-written HTML, CSS and JavaScript modules under `ui/` with no build
//! step: the browser reads the REST resources of this same server and draws the
//! overview, the job pages and their actions from them; its SQL editor sends
//! statements to the SQL Gateway resources ([`crate::gateway`]).

use axum::extract::Path;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::error::ApiError;

/// One embedded file of the UI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Asset {
    /// Its name under `/ui/`.
    pub name: &'static str,
    /// Its media type.
    pub content_type: &'static str,
    /// Its content.
    pub body: &'static str,
}

const JS: &str = "text/javascript; charset=utf-8";

/// Every file of the UI, embedded at compile time.
pub const ASSETS: &[Asset] = &[
    Asset {
        name: "index.html",
        content_type: "text/html; charset=utf-8",
        body: include_str!("../ui/index.html"),
    },
    Asset {
        name: "style.css",
        content_type: "text/css; charset=utf-8",
        body: include_str!("../ui/style.css"),
    },
    Asset {
        name: "favicon.svg",
        content_type: "image/svg+xml",
        body: include_str!("../ui/favicon.svg"),
    },
    Asset {
        name: "app.js",
        content_type: JS,
        body: include_str!("../ui/app.js"),
    },
    Asset {
        name: "gateway.js",
        content_type: JS,
        body: include_str!("../ui/gateway.js"),
    },
    Asset {
        name: "sql.js",
        content_type: JS,
        body: include_str!("../ui/sql.js"),
    },
    Asset {
        name: "sqlhighlight.js",
        content_type: JS,
        body: include_str!("../ui/sqlhighlight.js"),
    },
    Asset {
        name: "checkpointdetails.js",
        content_type: JS,
        body: include_str!("../ui/checkpointdetails.js"),
    },
    Asset {
        name: "api.js",
        content_type: JS,
        body: include_str!("../ui/api.js"),
    },
    Asset {
        name: "dom.js",
        content_type: JS,
        body: include_str!("../ui/dom.js"),
    },
    Asset {
        name: "format.js",
        content_type: JS,
        body: include_str!("../ui/format.js"),
    },
    Asset {
        name: "overview.js",
        content_type: JS,
        body: include_str!("../ui/overview.js"),
    },
    Asset {
        name: "job.js",
        content_type: JS,
        body: include_str!("../ui/job.js"),
    },
    Asset {
        name: "graph.js",
        content_type: JS,
        body: include_str!("../ui/graph.js"),
    },
    Asset {
        name: "layout.js",
        content_type: JS,
        body: include_str!("../ui/layout.js"),
    },
    Asset {
        name: "vertex.js",
        content_type: JS,
        body: include_str!("../ui/vertex.js"),
    },
    Asset {
        name: "tabs.js",
        content_type: JS,
        body: include_str!("../ui/tabs.js"),
    },
    Asset {
        name: "actions.js",
        content_type: JS,
        body: include_str!("../ui/actions.js"),
    },
    Asset {
        name: "checkpoints.js",
        content_type: JS,
        body: include_str!("../ui/checkpoints.js"),
    },
    Asset {
        name: "exceptions.js",
        content_type: JS,
        body: include_str!("../ui/exceptions.js"),
    },
    Asset {
        name: "jobconfig.js",
        content_type: JS,
        body: include_str!("../ui/jobconfig.js"),
    },
    Asset {
        name: "vertextable.js",
        content_type: JS,
        body: include_str!("../ui/vertextable.js"),
    },
    Asset {
        name: "watermarks.js",
        content_type: JS,
        body: include_str!("../ui/watermarks.js"),
    },
    Asset {
        name: "backpressure.js",
        content_type: JS,
        body: include_str!("../ui/backpressure.js"),
    },
    Asset {
        name: "logview.js",
        content_type: JS,
        body: include_str!("../ui/logview.js"),
    },
    Asset {
        name: "taskmanager.js",
        content_type: JS,
        body: include_str!("../ui/taskmanager.js"),
    },
    Asset {
        name: "jobmanager.js",
        content_type: JS,
        body: include_str!("../ui/jobmanager.js"),
    },
];

/// The embedded file `name`, if there is one.
pub fn asset(name: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|a| a.name == name)
}

/// The routes of the UI: `/`, `/index.html` and `/ui/<file>`.
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/", get(index))
        .route("/index.html", get(index))
        .route("/ui/{*file}", get(file))
}

fn serve(asset: &Asset) -> Response {
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, asset.content_type),
            // The files change with the binary: the browser asks again each time.
            (header::CACHE_CONTROL, "no-cache"),
        ],
        asset.body,
    )
        .into_response()
}

/// `GET /`: the page.
async fn index() -> Response {
    match asset("index.html") {
        Some(page) => serve(page),
        None => ApiError::not_found("The Web UI is not built into this binary").into_response(),
    }
}

/// `GET /ui/<file>`: a script, style or image of the page.
async fn file(Path(name): Path<String>) -> Response {
    match asset(&name) {
        Some(found) => serve(found),
        None => ApiError::not_found(format!("No Web UI file '{name}'")).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The relative modules a script imports (`from './x.js'`).
    fn imports(script: &str) -> Vec<&str> {
        script
            .split("from './")
            .skip(1)
            .filter_map(|rest| rest.split('\'').next())
            .collect()
    }

    #[test]
    fn every_file_the_ui_refers_to_is_embedded() {
        let page = asset("index.html").map(|a| a.body).unwrap_or_default();
        for linked in ["/ui/style.css", "/ui/app.js", "/ui/favicon.svg"] {
            assert!(page.contains(linked), "index.html does not link {linked}");
            assert!(asset(&linked["/ui/".len()..]).is_some(), "{linked}");
        }
        for script in ASSETS.iter().filter(|a| a.name.ends_with(".js")) {
            for module in imports(script.body) {
                assert!(
                    asset(module).is_some(),
                    "{} imports {module}, which is not embedded",
                    script.name
                );
            }
        }
    }

    #[test]
    fn every_embedded_script_is_used() {
        let all: String = ASSETS.iter().map(|a| a.body).collect();
        for script in ASSETS.iter().filter(|a| a.name.ends_with(".js")) {
            assert!(
                all.contains(&format!("/{}'", script.name))
                    || all.contains(&format!("/{}\"", script.name)),
                "{} is embedded but nothing loads it",
                script.name
            );
        }
        assert_eq!(asset("nope.js"), None);
    }
}
