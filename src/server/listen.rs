//! The listener: how connections are accepted and requests read (issue 21 item 1).
//!
//! `axum::serve` sets no timer, so hyper's header-read timeout never fires, and it accepts
//! every connection and reads every body at once. Here the router is served through hyper's
//! HTTP/1 connections with a Tokio timer, within these limits ([`HttpLimits`], each a
//! `serve` flag):
//!
//! | limit | default | past it |
//! |---|---|---|
//! | header-read timeout | 10 s | a request head not complete in time: the connection is closed |
//! | idle timeout | 5 s | a kept-alive connection with no request and no byte for this long is closed (hyper's header-read timer also runs while a connection waits for its next request, so the idle time is at most the header-read timeout) |
//! | request timeout | 15 s | reading the body and answering took longer: 408, connection closed |
//! | connections at once | min(1024, open-file limit − 64) | no more are accepted until one closes (they wait in the kernel's backlog) |
//! | bodies read at once | 64 | a request waits up to 2 s for a turn, then 503 (`Retry-After: 1`) |
//! | body size | 256 KiB ([`crate::ingress::MAX_BODY_BYTES`]) | 413, at once when `Content-Length` says so |
//! | request head size | 32 KiB ([`MAX_HEAD_BYTES`]) | 431, connection closed |
//!
//! A body is read to its end here, under the limits, before the router sees the request: the
//! gauge `ari_http_body_reads` counts the bodies being read (never above the cap), and
//! `ari_http_body_reads_peak` the most at once since start. Accept errors (`EMFILE` when the
//! process runs out of file descriptors) back off, 10 ms doubling to 1 s, instead of spinning.
//! HTTP/2 is not served (Kapso and reverse proxies speak HTTP/1.1 to the service).
//!
//! These limits keep one process alive; they are no substitute for a reverse proxy with its
//! own timeouts and connection limits in front of it (docs/RELIABILITY.md, "Security").

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Json;
use axum::Router;
use axum::body::Body;
use axum::http::{HeaderValue, Request, StatusCode, header};
use axum::response::{IntoResponse, Response};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use hyper::body::{Body as _, Incoming};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tower::ServiceExt;

use crate::telemetry::names;

/// How long a request with a body waits for one of the body-read slots before it is answered
/// 503.
pub const BODY_READ_WAIT: Duration = Duration::from_secs(2);

/// Largest request head (line and headers) read, and the connection's read buffer: hyper's
/// default (about 400 KiB) would let 1,024 connections hold 400 MiB of headers. Past it: 431.
pub const MAX_HEAD_BYTES: usize = 32 * 1024;

/// File descriptors kept free of connections (the store, log and config files, outbound
/// calls) when the connection cap is derived from the open-file limit.
pub const FD_RESERVE: u64 = 64;

/// The default connection cap when the open-file limit allows it.
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;

/// The limits of one listener. See the module documentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpLimits {
    pub header_read_timeout: Duration,
    pub idle_timeout: Duration,
    pub request_timeout: Duration,
    pub max_connections: usize,
    pub max_body_reads: usize,
    pub max_body_bytes: usize,
}

impl Default for HttpLimits {
    fn default() -> Self {
        HttpLimits {
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(15),
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_body_reads: 64,
            max_body_bytes: crate::ingress::MAX_BODY_BYTES,
        }
    }
}

impl HttpLimits {
    /// The limits `ari serve` was configured with. The soft open-file limit is raised to the
    /// hard one first; the connection cap, when not configured, follows from it.
    pub fn from_settings(settings: &crate::config::settings::HttpSettings) -> HttpLimits {
        let open_files = raise_open_file_limit();
        tracing::debug!(open_files, "open-file limit");
        HttpLimits {
            header_read_timeout: settings.header_read_timeout,
            idle_timeout: settings.idle_timeout,
            request_timeout: settings.request_timeout,
            max_connections: settings
                .max_connections
                .unwrap_or_else(|| default_max_connections(open_files)),
            max_body_reads: settings.max_body_reads,
            max_body_bytes: crate::ingress::MAX_BODY_BYTES,
        }
    }
}

/// Raises the soft open-file limit to the hard one (best effort) and returns the soft limit
/// in force afterwards; `None` when it cannot be read.
pub fn raise_open_file_limit() -> Option<u64> {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    if let (Some(cur), max) = (limit.current, limit.maximum)
        && max.is_none_or(|m| m > cur)
    {
        // An unlimited hard limit is not a valid soft one on every kernel: cap it.
        let target = max.unwrap_or(1 << 20).min(1 << 20);
        if target > cur {
            let raised = rustix::process::Rlimit {
                current: Some(target),
                maximum: max,
            };
            if let Err(e) = setrlimit(Resource::Nofile, raised) {
                tracing::debug!(error = %e, "cannot raise the open-file limit");
            }
        }
    }
    getrlimit(Resource::Nofile).current
}

/// The default connection cap for a soft open-file limit: min(1024, limit − 64), at least 1.
pub fn default_max_connections(open_file_limit: Option<u64>) -> usize {
    match open_file_limit {
        Some(n) => (n.saturating_sub(FD_RESERVE) as usize).clamp(1, DEFAULT_MAX_CONNECTIONS),
        None => DEFAULT_MAX_CONNECTIONS,
    }
}

/// Bodies being read, and the most at once, over every listener of the process (the gauges).
static READING: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

/// State shared by a listener's connections.
struct Shared {
    limits: HttpLimits,
    listener: &'static str,
    body_reads: Arc<Semaphore>,
    open: AtomicUsize,
}

/// Connections the `--metrics-bind` listener holds at once (a scraper needs one).
pub const METRICS_CONNECTIONS: usize = 16;

/// Serves `main` (the listener and its router) within `limits`, and `metrics` (`--metrics-bind`)
/// with at most [`METRICS_CONNECTIONS`] connections and no request body, until `shutdown`
/// resolves; then as [`serve`].
pub async fn serve_until(
    main: (TcpListener, Router),
    metrics: Option<(TcpListener, Router)>,
    limits: HttpLimits,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        let _ = stop_tx.send(true);
    });
    let metrics_port = async {
        match metrics {
            Some((listener, app)) => {
                let limits = HttpLimits {
                    max_connections: limits.max_connections.min(METRICS_CONNECTIONS),
                    max_body_reads: 1,
                    max_body_bytes: 0,
                    ..limits
                };
                serve(listener, app, limits, "metrics", stop_rx.clone()).await
            }
            None => Ok(()),
        }
    };
    let (main_listener, main_app) = main;
    let main_port = serve(main_listener, main_app, limits, "main", stop_rx.clone());
    tokio::try_join!(main_port, metrics_port).map(|_| ())
}

/// Serves `app` on `listener` within `limits` until `stop` turns true; then stops accepting,
/// lets open requests finish (kept-alive connections close at once) and returns when every
/// connection is closed, or after the request timeout and a second at the latest.
/// `name` labels the connection gauge (`main`, `metrics`).
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: HttpLimits,
    name: &'static str,
    mut stop: watch::Receiver<bool>,
) -> std::io::Result<()> {
    let limits = HttpLimits {
        max_connections: limits.max_connections.max(1),
        max_body_reads: limits.max_body_reads.max(1),
        ..limits
    };
    let shared = Arc::new(Shared {
        limits,
        listener: name,
        body_reads: Arc::new(Semaphore::new(limits.max_body_reads)),
        open: AtomicUsize::new(0),
    });
    metrics::gauge!(names::HTTP_BODY_READS).set(READING.load(Ordering::SeqCst) as f64);
    metrics::gauge!(names::HTTP_BODY_READS_PEAK).set(PEAK.load(Ordering::SeqCst) as f64);
    metrics::gauge!(names::HTTP_CONNECTIONS, "listener" => name).set(0.0);
    let connections = Arc::new(Semaphore::new(limits.max_connections));
    let mut backoff = Duration::ZERO;
    loop {
        let permit = tokio::select! {
            p = Arc::clone(&connections).acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
            _ = stop.wait_for(|s| *s) => break,
        };
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = stop.wait_for(|s| *s) => break,
        };
        match accepted {
            Ok((stream, _peer)) => {
                backoff = Duration::ZERO;
                let _ = stream.set_nodelay(true);
                let shared = Arc::clone(&shared);
                let app = app.clone();
                let stop = stop.clone();
                tokio::spawn(connection(stream, app, shared, permit, stop));
            }
            Err(e) if is_connection_error(&e) => {}
            Err(e) => {
                // EMFILE / ENFILE / ENOBUFS: wait for connections to close instead of spinning.
                backoff = (backoff * 2).clamp(Duration::from_millis(10), Duration::from_secs(1));
                metrics::counter!(names::HTTP_ACCEPT_ERRORS).increment(1);
                tracing::error!(error = %e, backoff_ms = backoff.as_millis() as u64, "accept failed; backing off");
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    _ = stop.wait_for(|s| *s) => break,
                }
            }
        }
    }
    drop(listener);
    // Every connection holds a permit: all of them back means every connection closed.
    let deadline = limits.request_timeout + Duration::from_secs(1);
    let all = u32::try_from(limits.max_connections).unwrap_or(u32::MAX);
    if tokio::time::timeout(deadline, connections.acquire_many(all))
        .await
        .is_err()
    {
        tracing::warn!(
            listener = name,
            open = shared.open.load(Ordering::Relaxed),
            "connections still open after the shutdown deadline; dropping them"
        );
    }
    Ok(())
}

fn is_connection_error(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::ConnectionRefused
            | std::io::ErrorKind::ConnectionAborted
            | std::io::ErrorKind::ConnectionReset
    )
}

/// One connection: hyper's HTTP/1 with the header-read timeout, plus the idle watchdog.
async fn connection(
    stream: TcpStream,
    app: Router,
    shared: Arc<Shared>,
    _permit: OwnedSemaphorePermit,
    mut stop: watch::Receiver<bool>,
) {
    let open = shared.open.fetch_add(1, Ordering::Relaxed) + 1;
    metrics::gauge!(names::HTTP_CONNECTIONS, "listener" => shared.listener).set(open as f64);
    let activity = Arc::new(Activity::new());
    let io = TokioIo::new(Tracked {
        inner: stream,
        activity: Arc::clone(&activity),
    });
    let service = {
        let shared = Arc::clone(&shared);
        let activity = Arc::clone(&activity);
        hyper::service::service_fn(move |req: Request<Incoming>| {
            let (app, shared, activity) = (app.clone(), Arc::clone(&shared), Arc::clone(&activity));
            async move {
                let _busy = activity.request();
                Ok::<_, Infallible>(handle(app, &shared, req).await)
            }
        })
    };
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(shared.limits.header_read_timeout)
        .max_buf_size(MAX_HEAD_BYTES)
        .keep_alive(true);
    let conn = builder.serve_connection(io, service);
    tokio::pin!(conn);
    let idle = shared.limits.idle_timeout;
    let mut tick = tokio::time::interval((idle / 4).max(Duration::from_millis(10)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut closing = false;
    loop {
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(e) = result {
                    if e.is_timeout() {
                        metrics::counter!(names::HTTP_REFUSED, "reason" => "header_timeout").increment(1);
                        tracing::debug!("connection closed: request head not read in time");
                    } else {
                        tracing::debug!(error = %e, "connection ended with an error");
                    }
                }
                break;
            }
            _ = stop.wait_for(|s| *s), if !closing => {
                closing = true;
                conn.as_mut().graceful_shutdown();
            }
            _ = tick.tick(), if !closing => {
                if activity.idle_for() >= idle {
                    closing = true;
                    conn.as_mut().graceful_shutdown();
                }
            }
        }
    }
    let open = shared.open.fetch_sub(1, Ordering::Relaxed) - 1;
    metrics::gauge!(names::HTTP_CONNECTIONS, "listener" => shared.listener).set(open as f64);
}

/// One request: its body read within the limits, then the router, all within the request
/// timeout.
async fn handle(app: Router, shared: &Shared, req: Request<Incoming>) -> Response {
    let limits = shared.limits;
    let answer = async {
        let req = match read_body(shared, req).await {
            Ok(req) => req,
            Err(refusal) => return refusal,
        };
        app.oneshot(req).await.unwrap_or_else(|e| match e {})
    };
    match tokio::time::timeout(limits.request_timeout, answer).await {
        Ok(response) => response,
        Err(_) => refuse(
            StatusCode::REQUEST_TIMEOUT,
            "request_timeout",
            format!(
                "the request was not read and answered within {} ms",
                limits.request_timeout.as_millis()
            ),
        ),
    }
}

/// Reads a request's body to its end under the size limit and the body-read cap; a request
/// without a body passes as it is.
async fn read_body(shared: &Shared, req: Request<Incoming>) -> Result<Request<Body>, Response> {
    if req.body().is_end_stream() {
        return Ok(req.map(Body::new));
    }
    let max = shared.limits.max_body_bytes;
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > max as u64) {
        return Err(too_large(max));
    }
    let permit = match tokio::time::timeout(
        BODY_READ_WAIT,
        Arc::clone(&shared.body_reads).acquire_owned(),
    )
    .await
    {
        Ok(Ok(permit)) => permit,
        _ => {
            let mut r = refuse(
                StatusCode::SERVICE_UNAVAILABLE,
                "busy",
                "too many request bodies are being read; retry later",
            );
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            return Err(r);
        }
    };
    let _reading = Reading::start(permit);
    let (parts, body) = req.into_parts();
    match Limited::new(body, max).collect().await {
        Ok(collected) => Ok(Request::from_parts(parts, Body::from(collected.to_bytes()))),
        Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => Err(too_large(max)),
        Err(e) => Err(refuse(
            StatusCode::BAD_REQUEST,
            "unreadable_body",
            format!("the request body could not be read: {e}"),
        )),
    }
}

/// A body being read: holds a body-read slot and keeps the gauges, also when the read is
/// dropped by the request timeout.
struct Reading {
    _permit: OwnedSemaphorePermit,
}

impl Reading {
    fn start(permit: OwnedSemaphorePermit) -> Self {
        let now = READING.fetch_add(1, Ordering::SeqCst) + 1;
        metrics::gauge!(names::HTTP_BODY_READS).set(now as f64);
        if PEAK.fetch_max(now, Ordering::SeqCst) < now {
            metrics::gauge!(names::HTTP_BODY_READS_PEAK).set(now as f64);
        }
        Reading { _permit: permit }
    }
}

impl Drop for Reading {
    fn drop(&mut self) {
        let now = READING.fetch_sub(1, Ordering::SeqCst) - 1;
        metrics::gauge!(names::HTTP_BODY_READS).set(now as f64);
    }
}

fn too_large(max: usize) -> Response {
    refuse(
        StatusCode::PAYLOAD_TOO_LARGE,
        "too_large",
        format!("the request body is over {max} bytes"),
    )
}

/// A refusal by the listener: counted by `reason`, JSON like the routes' errors, and the
/// connection closed after it (its body may be unread).
fn refuse(status: StatusCode, reason: &'static str, message: impl Into<String>) -> Response {
    metrics::counter!(names::HTTP_REFUSED, "reason" => reason).increment(1);
    let mut response = (
        status,
        Json(serde_json::json!({"error": reason, "message": message.into()})),
    )
        .into_response();
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

/// When a connection last moved a byte, and whether a request is being answered.
struct Activity {
    base: Instant,
    last_ms: AtomicU64,
    requests: AtomicUsize,
}

impl Activity {
    fn new() -> Self {
        Activity {
            base: Instant::now(),
            last_ms: AtomicU64::new(0),
            requests: AtomicUsize::new(0),
        }
    }

    fn touch(&self) {
        let ms = self.base.elapsed().as_millis() as u64;
        self.last_ms.store(ms, Ordering::Relaxed);
    }

    /// How long the connection has had no request and moved no byte (zero while a request is
    /// answered).
    fn idle_for(&self) -> Duration {
        if self.requests.load(Ordering::SeqCst) > 0 {
            return Duration::ZERO;
        }
        let last = Duration::from_millis(self.last_ms.load(Ordering::Relaxed));
        self.base.elapsed().saturating_sub(last)
    }

    fn request(self: &Arc<Self>) -> RequestGuard {
        self.requests.fetch_add(1, Ordering::SeqCst);
        RequestGuard(Arc::clone(self))
    }
}

struct RequestGuard(Arc<Activity>);

impl Drop for RequestGuard {
    fn drop(&mut self) {
        self.0.touch();
        self.0.requests.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A TCP stream that records when it last read or wrote a byte.
struct Tracked {
    inner: TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for Tracked {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let result = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(result, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.touch();
        }
        result
    }
}

impl AsyncWrite for Tracked {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(result, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        result
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(result, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        result
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_connection_cap_follows_the_open_file_limit() {
        assert_eq!(default_max_connections(Some(20_000)), 1024);
        assert_eq!(default_max_connections(Some(1024)), 960);
        assert_eq!(default_max_connections(Some(256)), 192);
        assert_eq!(default_max_connections(Some(10)), 1);
        assert_eq!(default_max_connections(None), 1024);
    }
}
