//! What the admin listener answers: `GET /` the status page (`page.html`, one self-contained
//! file), `GET /status` the status JSON, any other GET the first `Endpoint` that claims its
//! path (the call history, the metrics), else 404. Only GETs; nothing here changes the node.

use super::auth::{self, Gate};
use super::server::{Endpoint, StatusHandle};
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use std::sync::Arc;

/// The status page: inline CSS and JS, no external assets, no build step.
const PAGE: &str = include_str!("page.html");

/// The page may talk to this listener only, and load nothing from anywhere: what the page
/// shows cannot leak through an injected tag even if a name in the status were hostile.
const PAGE_POLICY: &str = "default-src 'none'; script-src 'unsafe-inline'; \
     style-src 'unsafe-inline'; connect-src 'self'; img-src data:; frame-ancestors 'none'";

#[derive(Clone)]
struct Shared {
    status: StatusHandle,
    endpoints: Arc<Vec<Arc<dyn Endpoint>>>,
}

pub fn router(status: StatusHandle, endpoints: Vec<Arc<dyn Endpoint>>, gate: Arc<Gate>) -> Router {
    let shared = Shared {
        status,
        endpoints: Arc::new(endpoints),
    };
    Router::new()
        .route("/", get(page))
        .route("/status", get(status_json))
        .fallback(endpoint)
        .with_state(shared)
        .layer(axum::middleware::from_fn_with_state(gate, auth::require))
        .layer(axum::middleware::map_response(no_store))
}

async fn page() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CONTENT_SECURITY_POLICY, PAGE_POLICY),
        ],
        PAGE,
    )
        .into_response()
}

async fn status_json(State(s): State<Shared>) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], s.status.get()).into_response()
}

/// Any other path: the first endpoint that has it.
async fn endpoint(State(s): State<Shared>, req: Request) -> Response {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return (StatusCode::METHOD_NOT_ALLOWED, [(header::ALLOW, "GET")]).into_response();
    }
    let path = req.uri().path();
    match s.endpoints.iter().find_map(|e| e.get(path)) {
        Some((ctype, body)) => ([(header::CONTENT_TYPE, ctype)], body).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            [(header::CONTENT_TYPE, "application/json")],
            "{\"error\": \"not found: GET / (page) or /status (JSON)\"}",
        )
            .into_response(),
    }
}

/// Every answer is the node's state of the moment: never cached, never sniffed.
async fn no_store(mut r: Response) -> Response {
    let h = r.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    r
}
