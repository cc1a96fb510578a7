//! The dashboard's HTTP side: the page (embedded), JSON endpoints and a server-sent event
//! stream of changes. Read-only; loopback unless a token guards it.

use crate::index::Change;
use crate::index::Index;
use crate::index::SessionRow;
use crate::session;
use crate::session::LookupError;
use axum::Json;
use axum::Router;
use axum::extract::Path as UrlPath;
use axum::extract::Query;
use axum::extract::Request;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::http::HeaderValue;
use axum::http::StatusCode;
use axum::http::header;
use axum::middleware::Next;
use axum::response::IntoResponse;
use axum::response::Response;
use axum::response::sse::Event;
use axum::response::sse::KeepAlive;
use axum::response::sse::Sse;
use axum::routing::get;
use serde::Deserialize;
use serde_json::json;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::RwLock;
use std::sync::atomic::AtomicBool;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::sync::broadcast;

const INDEX_HTML: &str = include_str!("../assets/index.html");
const APP_JS: &str = include_str!("../assets/app.js");
const APP_CSS: &str = include_str!("../assets/app.css");

/// How often the folder is looked at: new records show within a second.
pub const POLL: Duration = Duration::from_millis(250);
/// Bytes counted per step of the background scan, between two looks at the folder.
const SCAN_STEP: u64 = 32 * 1024 * 1024;

pub struct Shared {
    dir: PathBuf,
    token: Option<String>,
    rows: RwLock<Vec<SessionRow>>,
    /// Set once the first look at the folder is done.
    ready: AtomicBool,
    /// Set once every file is counted.
    indexed: AtomicBool,
    error: RwLock<Option<String>>,
    events: broadcast::Sender<Change>,
    stop: Arc<AtomicBool>,
}

impl Shared {
    pub fn new(dir: PathBuf, token: Option<String>) -> Arc<Self> {
        let (events, _) = broadcast::channel(1024);
        Arc::new(Shared {
            dir,
            token,
            rows: RwLock::new(Vec::new()),
            ready: AtomicBool::new(false),
            indexed: AtomicBool::new(false),
            error: RwLock::new(None),
            events,
            stop: Arc::new(AtomicBool::new(false)),
        })
    }

    pub fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Keeps the index: looks at the folder every [`POLL`], counts unread files in between, and
/// publishes the rows and the changes. Runs on its own thread until [`Shared::stop`].
pub fn run_indexer(shared: Arc<Shared>) {
    let mut index = Index::new(shared.dir.clone());
    while !shared.stop.load(Ordering::Relaxed) {
        let mut changes = match index.poll() {
            Ok(changes) => {
                if let Ok(mut error) = shared.error.write() {
                    *error = None;
                }
                changes
            }
            Err(message) => {
                if let Ok(mut error) = shared.error.write() {
                    *error = Some(message);
                }
                Vec::new()
            }
        };
        let mut busy = false;
        let deadline = std::time::Instant::now() + POLL;
        while std::time::Instant::now() < deadline {
            let (more, scanned) = index.scan_some(SCAN_STEP);
            changes.extend(scanned);
            busy = more;
            if !more {
                break;
            }
        }
        shared.indexed.store(!busy, Ordering::Relaxed);
        if !changes.is_empty() || !shared.ready.load(Ordering::Relaxed) {
            if let Ok(mut rows) = shared.rows.write() {
                *rows = index.rows();
            }
            shared.ready.store(true, Ordering::Relaxed);
            for change in changes {
                // No receivers is fine: nobody has the page open.
                let _ = shared.events.send(change);
            }
        }
        if !busy {
            std::thread::sleep(POLL);
        }
    }
}

pub fn router(shared: Arc<Shared>) -> Router {
    let api = Router::new()
        .route("/api/sessions", get(sessions))
        .route("/api/sessions/{name}", get(session_view))
        .route("/api/sessions/{name}/requests/{n}", get(request))
        .route("/api/events", get(events))
        .route_layer(axum::middleware::from_fn_with_state(
            shared.clone(),
            require_token,
        ));
    Router::new()
        .route(
            "/",
            get(|| async { asset(INDEX_HTML, "text/html; charset=utf-8") }),
        )
        .route(
            "/app.js",
            get(|| async { asset(APP_JS, "text/javascript; charset=utf-8") }),
        )
        .route(
            "/app.css",
            get(|| async { asset(APP_CSS, "text/css; charset=utf-8") }),
        )
        // No icon: an empty answer keeps the browser from logging a 404.
        .route("/favicon.ico", get(|| async { StatusCode::NO_CONTENT }))
        .merge(api)
        .fallback(|| async { (StatusCode::NOT_FOUND, "not found\n") })
        .layer(axum::middleware::from_fn_with_state(
            shared.clone(),
            check_host,
        ))
        .with_state(shared)
}

fn asset(body: &'static str, content_type: &'static str) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'",
        ),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

/// Without a token, only a request addressed to a loopback name is answered, so a web page
/// elsewhere cannot reach the dashboard by pointing its own host name at 127.0.0.1.
async fn check_host(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    request: Request,
    next: Next,
) -> Response {
    if shared.token.is_none() {
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("");
        if !is_loopback_host(host) {
            return (
                StatusCode::FORBIDDEN,
                "this dashboard answers only on localhost / 127.0.0.1 / [::1]; to serve it to other machines, start it with --bind and --token\n",
            )
                .into_response();
        }
    }
    next.run(request).await
}

pub fn is_loopback_host(host: &str) -> bool {
    let name = if let Some(rest) = host.strip_prefix('[') {
        rest.split(']').next().unwrap_or("")
    } else {
        host.rsplit_once(':').map_or(host, |(name, _)| name)
    };
    name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[derive(Deserialize)]
struct TokenQuery {
    token: Option<String>,
}

async fn require_token(
    State(shared): State<Arc<Shared>>,
    Query(query): Query<TokenQuery>,
    headers: HeaderMap,
    request: Request,
    next: Next,
) -> Response {
    if let Some(expected) = &shared.token {
        let bearer = headers
            .get(header::AUTHORIZATION)
            .and_then(|h| h.to_str().ok())
            .and_then(|h| h.strip_prefix("Bearer "))
            .map(str::trim);
        let given = query.token.as_deref().or(bearer).unwrap_or("");
        if !constant_time_eq::constant_time_eq(given.as_bytes(), expected.as_bytes()) {
            return (
                StatusCode::UNAUTHORIZED,
                Json(json!({"error": "missing or wrong token: open the page as /?token=<token> or send Authorization: Bearer <token>"})),
            )
                .into_response();
        }
    }
    let mut response = next.run(request).await;
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

async fn sessions(State(shared): State<Arc<Shared>>) -> Response {
    // The first look at the folder reads only metadata and two lines per file.
    for _ in 0..200 {
        if shared.ready.load(Ordering::Relaxed) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let error = shared.error.read().ok().and_then(|e| e.clone());
    let rows = shared.rows.read().map(|r| r.clone()).unwrap_or_default();
    Json(json!({
        "dir": shared.dir.display().to_string(),
        "ready": shared.ready.load(Ordering::Relaxed),
        "indexed": shared.indexed.load(Ordering::Relaxed),
        "error": error,
        "sessions": rows,
    }))
    .into_response()
}

fn lookup_error(error: LookupError) -> Response {
    let status = match error {
        LookupError::NotFound(_) => StatusCode::NOT_FOUND,
        LookupError::Unreadable(_) => StatusCode::INTERNAL_SERVER_ERROR,
    };
    (status, Json(json!({"error": error.message()}))).into_response()
}

#[derive(Deserialize)]
struct ViewQuery {
    q: Option<String>,
    /// The latest this-many requests (default [`session::DEFAULT_LIMIT`]).
    limit: Option<usize>,
}

async fn session_view(
    State(shared): State<Arc<Shared>>,
    UrlPath(name): UrlPath<String>,
    Query(query): Query<ViewQuery>,
) -> Response {
    let dir = shared.dir.clone();
    let result = tokio::task::spawn_blocking(move || {
        let limit = query.limit.unwrap_or(session::DEFAULT_LIMIT);
        session::view(&dir, &name, query.q.as_deref(), limit)
    })
    .await;
    match result {
        Ok(Ok(view)) => Json(view).into_response(),
        Ok(Err(error)) => lookup_error(error),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

async fn request(
    State(shared): State<Arc<Shared>>,
    UrlPath((name, n)): UrlPath<(String, String)>,
) -> Response {
    let Ok(n) = n.parse::<usize>() else {
        return lookup_error(LookupError::NotFound(format!(
            "{n:?} is not a request number"
        )));
    };
    let dir = shared.dir.clone();
    match tokio::task::spawn_blocking(move || session::request(&dir, &name, n)).await {
        Ok(Ok(value)) => Json(value).into_response(),
        Ok(Err(error)) => lookup_error(error),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

async fn events(
    State(shared): State<Arc<Shared>>,
) -> Sse<impl futures::Stream<Item = Result<Event, Infallible>>> {
    let receiver = shared.events.subscribe();
    let stream = futures::stream::unfold(receiver, |mut receiver| async move {
        match receiver.recv().await {
            Ok(change) => {
                let event = Event::default()
                    .json_data(&change)
                    .unwrap_or_else(|_| Event::default().data("{}"));
                Some((Ok(event), receiver))
            }
            // Fell behind: the page fetches the list again.
            Err(broadcast::error::RecvError::Lagged(_)) => {
                Some((Ok(Event::default().data(r#"{"kind":"resync"}"#)), receiver))
            }
            Err(broadcast::error::RecvError::Closed) => None,
        }
    });
    Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}

/// Binds `addr` and serves until the process ends. Returns the bound address through
/// `bound` first (port 0 picks a free one).
pub async fn serve(
    shared: Arc<Shared>,
    addr: SocketAddr,
    bound: impl FnOnce(SocketAddr),
) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    bound(listener.local_addr()?);
    let indexer = shared.clone();
    std::thread::Builder::new()
        .name("telemetry-index".to_string())
        .spawn(move || run_indexer(indexer))?;
    axum::serve(listener, router(shared)).await
}
