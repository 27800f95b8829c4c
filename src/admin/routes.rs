//! What the admin listener answers: `GET /` the status page (`page.html`, one self-contained
//! file), `GET /status` the status JSON, any other GET the first `Endpoint` that claims its
//! path (the call history, the metrics), else 404. Two POSTs: `/reload` asks the node to
//! re-read its own configuration file, `/config` hands a cluster peer a shared document to
//! commit (the tables every peer shares; listeners and certificates stay in each file).

use super::auth::{self, Gate};
use super::server::{Ask, Asks, Endpoint, StatusHandle};
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use std::sync::Arc;

/// The status page: inline CSS and JS, no external assets, no build step.
const PAGE: &str = include_str!("page.html");

/// The largest cluster document `POST /config` takes (axum's default body limit is 2 MB).
const MAX_DOCUMENT: usize = 1024 * 1024;

/// The page may talk to this listener only, and load nothing from anywhere: what the page
/// shows cannot leak through an injected tag even if a name in the status were hostile.
const PAGE_POLICY: &str = "default-src 'none'; script-src 'unsafe-inline'; \
     style-src 'unsafe-inline'; connect-src 'self'; img-src data:; frame-ancestors 'none'";

#[derive(Clone)]
struct Shared {
    status: StatusHandle,
    endpoints: Arc<Vec<Arc<dyn Endpoint>>>,
    asks: Option<Asks>,
}

pub fn router(
    status: StatusHandle,
    (endpoints, asks): (Vec<Arc<dyn Endpoint>>, Option<Asks>),
    gate: Arc<Gate>,
) -> Router {
    let shared = Shared {
        status,
        endpoints: Arc::new(endpoints),
        asks,
    };
    Router::new()
        .route("/", get(page))
        .route("/status", get(status_json))
        .route("/reload", post(reload))
        .route("/config", post(apply))
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

/// `POST /reload`: 200 with what was applied, 422 with why the file was refused (the running
/// configuration stays), 409 when the node has no file to re-read.
async fn reload(State(s): State<Shared>) -> Response {
    ask(s, Ask::Reload).await
}

/// `POST /config`: a cluster document (the body, TOML) to validate against this peer's file and
/// commit on the cluster; 200 once committed and applied here, 422 with why not.
async fn apply(State(s): State<Shared>, body: String) -> Response {
    if body.len() > MAX_DOCUMENT {
        let text = [(header::CONTENT_TYPE, "text/plain; charset=utf-8")];
        return (
            StatusCode::PAYLOAD_TOO_LARGE,
            text,
            "the document is too large\n",
        )
            .into_response();
    }
    ask(s, |reply| Ask::Apply(body, reply)).await
}

async fn ask(s: Shared, what: impl FnOnce(super::server::Reply) -> Ask) -> Response {
    let text = [(header::CONTENT_TYPE, "text/plain; charset=utf-8")];
    let Some(asks) = s.asks else {
        return (StatusCode::CONFLICT, text, "this node cannot reload\n").into_response();
    };
    let (tx, rx) = tokio::sync::oneshot::channel();
    if asks.send(what(tx)).await.is_err() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            text,
            "the node is stopping\n",
        )
            .into_response();
    }
    match rx.await {
        Ok(Ok(applied)) => (StatusCode::OK, text, applied).into_response(),
        Ok(Err(why)) => (StatusCode::UNPROCESSABLE_ENTITY, text, why).into_response(),
        Err(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            text,
            "the node is stopping\n",
        )
            .into_response(),
    }
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
