//! The HTTP service: routes, middleware, start-up and graceful shutdown.
//!
//! Routes: `POST /webhooks/kapso` (see [`crate::ingress`]), `GET /healthz` (the process is
//! alive), `GET /readyz` (the store accepts writes), `GET /metrics` (Prometheus text format;
//! on `--metrics-bind` instead when set). Connections are accepted and bodies read by
//! [`listen`], within its timeouts and caps.

pub mod db_lock;
pub mod listen;
pub mod probes;

pub use probes::Probes;

use std::sync::Arc;

use anyhow::Context;
use axum::Json;
use axum::Router;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, HeaderName, Request, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use metrics_exporter_prometheus::PrometheusHandle;
use tokio::net::TcpListener;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use std::time::Duration;

use tokio::sync::{mpsc, watch};

use crate::config::flow::{FlowConfigHandle, spawn_reloader};
use crate::config::settings::{AdminToken, Settings, SignaturePolicy};
use crate::config::workspaces::DEFAULT_WORKSPACE;
use crate::config::workspaces::Workspaces;
use crate::handoff::webhook::CrmWebhook;
use crate::inbox::{CLOSE_EVENT, RESUME_EVENT};
use crate::ingress::{self, IngressState};
use crate::kapso::outbox::OutboxSender;
use crate::kapso::{RetryPolicy, Sender};
use crate::knowledge::{Library, validate_stored};
use crate::llm::Llm;
use crate::store::Store;
use crate::store::convex::ConvexStore;
use crate::store::sqlite::SqliteStore;
use crate::telemetry::{self, names};
use crate::worker::due::{self, DueSettings};
use crate::worker::{TurnDeps, Worker, WorkerSettings, no_form_answers, system_clock};

/// Shared state of the routes.
#[derive(Clone)]
pub struct AppState {
    pub ingress: IngressState,
    pub metrics: PrometheusHandle,
    /// `None`: the admin API answers 403.
    pub admin_token: Option<AdminToken>,
    /// The knowledge bases (refreshed after an admin stores an entry); `None` in tests that
    /// need none.
    pub knowledge: Option<Arc<Library>>,
    /// The LLM, whose arms' circuit breakers `/readyz` reports; `None` without one.
    pub llm: Option<Arc<Llm>>,
    /// The unauthenticated probes' cached store reads, and whether `/metrics` is served here.
    pub probes: Probes,
    /// Wakes the worker's due loop after an admin requeued a failed outbox row, so it goes out
    /// now rather than at the loop's next idle poll (up to `--idle-poll-ceiling-ms`); `None`
    /// where no due loop runs (a poller finds the row).
    pub outbox_wake: Option<Arc<tokio::sync::Notify>>,
}

/// Builds the router over a store. Tests drive it in-process; `serve` binds it to a socket.
pub fn router(state: AppState) -> Router {
    let request_id = HeaderName::from_static("x-request-id");
    let webhook = Router::new()
        .route("/webhooks/kapso", post(ingress::kapso_webhook))
        .layer(DefaultBodyLimit::max(ingress::MAX_BODY_BYTES))
        .with_state(state.ingress.clone());
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/admin/conversations/{id}/resume", post(resume_conversation))
        .route("/admin/conversations/{id}/close", post(close_conversation))
        .route(
            "/admin/knowledge/{workspace}/{entry}",
            axum::routing::put(put_knowledge_entry),
        )
        .merge(crate::admin::outbox::routes())
        .merge(crate::admin::conversations::routes())
        .with_state(state)
        .merge(webhook)
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(
            TraceLayer::new_for_http().make_span_with(|req: &Request<_>| {
                let id = req
                    .headers()
                    .get("x-request-id")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("");
                tracing::info_span!("request", method = %req.method(), path = %req.uri().path(), request_id = %id)
            }),
        )
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
        .layer(axum::middleware::map_request(drop_foreign_request_id))
}

/// The router of `--metrics-bind`: `GET /metrics` only.
pub fn metrics_router(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(render_metrics))
        .with_state(state)
}

/// Removes an `x-request-id` that is not a UUID (any length, any bytes, a forged log line), so
/// that a fresh one is set in its place (issue 21 item 8).
async fn drop_foreign_request_id(mut req: Request<axum::body::Body>) -> Request<axum::body::Body> {
    let foreign = req
        .headers()
        .get("x-request-id")
        .is_some_and(|v| !v.to_str().is_ok_and(ingress::is_uuid));
    if foreign {
        req.headers_mut().remove("x-request-id");
    }
    req
}

async fn healthz() -> &'static str {
    "ok\n"
}

/// `GET /readyz`: 200 `ready` when the store accepts writes, else 503 `not ready: …`; then one
/// line per LLM arm, `llm arm <name>: closed|open|half_open` (its circuit breaker). An open
/// breaker does not make the service unready: the leads get template replies.
async fn readyz(State(state): State<AppState>) -> Response {
    let arms: String = state
        .llm
        .as_ref()
        .map(|llm| llm.breakers())
        .unwrap_or_default()
        .into_iter()
        .map(|(arm, s)| format!("llm arm {arm}: {}\n", s.as_str()))
        .collect();
    match state.probes.writable(state.ingress.store.as_ref()).await {
        Ok(()) => (StatusCode::OK, format!("ready\n{arms}")).into_response(),
        Err(e) => {
            let body = format!("not ready: {e}\n{arms}");
            (StatusCode::SERVICE_UNAVAILABLE, body).into_response()
        }
    }
}

async fn metrics(State(state): State<AppState>) -> Response {
    if state.probes.metrics_elsewhere {
        return StatusCode::NOT_FOUND.into_response();
    }
    render_metrics(State(state)).await
}

async fn render_metrics(State(state): State<AppState>) -> Response {
    if let Some(llm) = &state.llm {
        // Refreshes the breaker gauges (an ended cool-down shows as half-open).
        llm.breakers();
    }
    // With the depth from the due loop (Convex), a scrape costs no store call.
    if !state.probes.depth_from_due
        && let Some(depth) = state.probes.inbox_depth(state.ingress.store.as_ref()).await
    {
        metrics::gauge!(names::INBOX_DEPTH).set(depth as f64);
    }
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
        .into_response()
}

/// `POST /admin/conversations/{id}/resume` (`Authorization: Bearer <ARI_ADMIN_TOKEN>`): hands a
/// conversation a person took over back to the bot. The command is queued in the inbox, so it
/// applies in order with the lead's messages. 202 queued; 401 bad token; 403 admin API
/// disabled; 404 no such conversation; 503 store unavailable.
async fn resume_conversation(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    headers: HeaderMap,
) -> Response {
    queue_control(&state, id, &headers, RESUME_EVENT).await
}

/// `POST /admin/conversations/{id}/close` (`Authorization: Bearer <ARI_ADMIN_TOKEN>`): closes a
/// handed-off conversation (handoff → completed); the lead's next message starts a new cycle
/// (a greeting, the lead's data kept). Queued in the inbox like a resume, with the same
/// answers: 202 queued; 401 bad token; 403 admin API disabled; 404 no such conversation; 503
/// store unavailable.
async fn close_conversation(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    headers: HeaderMap,
) -> Response {
    queue_control(&state, id, &headers, CLOSE_EVENT).await
}

/// Queues the operator's command `event` for conversation `id` after the admin check, and
/// wakes the worker for it.
async fn queue_control(state: &AppState, id: i64, headers: &HeaderMap, event: &str) -> Response {
    if let Some(refusal) = check_admin(state, headers) {
        return refusal;
    }
    let now = crate::clock::now_ms();
    match state.ingress.store.enqueue_control(id, event, now).await {
        Ok(Some(key)) => {
            tracing::info!(conversation = id, event, "admin command queued");
            if let Some(arrivals) = &state.ingress.arrivals {
                let _ = arrivals.send(key);
            }
            (
                StatusCode::ACCEPTED,
                Json(serde_json::json!({"status": "queued", "conversation_id": id})),
            )
                .into_response()
        }
        Ok(None) => admin_error(
            StatusCode::NOT_FOUND,
            "no_conversation",
            format!("no conversation has id {id}"),
        ),
        Err(e) => admin_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "store_unavailable",
            e.to_string(),
        ),
    }
}

/// Checks the admin bearer token: `Some(refusal)` when it is missing, wrong, or the admin API
/// is off; `None` when the caller may go on.
pub(crate) fn check_admin(state: &AppState, headers: &HeaderMap) -> Option<Response> {
    let Some(token) = &state.admin_token else {
        return Some(admin_error(
            StatusCode::FORBIDDEN,
            "admin_disabled",
            "the admin API is disabled: set ARI_ADMIN_TOKEN",
        ));
    };
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    (!token.matches(presented.trim())).then(|| {
        admin_error(
            StatusCode::UNAUTHORIZED,
            "bad_token",
            "Authorization: Bearer <ARI_ADMIN_TOKEN> is missing or wrong",
        )
    })
}

/// `PUT /admin/knowledge/{workspace}/{entry}` (`Authorization: Bearer <ARI_ADMIN_TOKEN>`), body:
/// one entry in the knowledge files' TOML format (`[[faq]] ...` or `[[destination]] ...`).
/// Validated like the files (400 naming the problem), stored, and used from the next turn.
/// An empty body clears the stored entry. `{workspace}` and `{entry}` are `[a-z0-9_-]` (at most
/// 64), the workspace `default` or one `workspaces.toml` lists (else 404), and every entry in
/// the body has the id `{entry}`. 200 stored; 401/403 as the other admin routes; 503 store
/// unavailable.
async fn put_knowledge_entry(
    State(state): State<AppState>,
    Path((workspace, entry)): Path<(String, String)>,
    headers: HeaderMap,
    body: String,
) -> Response {
    if let Some(refusal) = check_admin(&state, &headers) {
        return refusal;
    }
    for (what, id) in [("workspace", &workspace), ("entry", &entry)] {
        if !is_admin_id(id) {
            return admin_error(
                StatusCode::BAD_REQUEST,
                "invalid_id",
                format!("the {what} id {id:?} must be 1 to 64 of a-z, 0-9, '_' and '-'"),
            );
        }
    }
    if !state.ingress.workspaces.knows(&workspace) {
        return admin_error(
            StatusCode::NOT_FOUND,
            "no_workspace",
            format!("no workspace {workspace:?} is configured (workspaces.toml)"),
        );
    }
    let entries = match validate_stored(&workspace, &entry, &body) {
        Ok(n) => n,
        Err(e) => return admin_error(StatusCode::BAD_REQUEST, "invalid_entry", e.to_string()),
    };
    let now = crate::clock::now_ms();
    let store = &state.ingress.store;
    if let Err(e) = store
        .put_knowledge_entry(&workspace, &entry, &body, now)
        .await
    {
        return admin_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "store_unavailable",
            e.to_string(),
        );
    }
    if let Some(library) = &state.knowledge
        && let Err(e) = library.refresh(store.as_ref(), &workspace).await
    {
        tracing::warn!(error = %e, "stored, but the knowledge index was not rebuilt yet");
    }
    tracing::info!(%workspace, %entry, entries, "knowledge entry stored by an admin");
    (
        StatusCode::OK,
        Json(serde_json::json!({"status": "stored", "entries": entries})),
    )
        .into_response()
}

/// Whether a path segment of the admin API is an id: 1 to 64 of `[a-z0-9_-]`.
pub(crate) fn is_admin_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

pub(crate) fn admin_error(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    (
        status,
        Json(serde_json::json!({"error": code, "message": message.into()})),
    )
        .into_response()
}

/// Runs `ari serve` until SIGTERM or Ctrl-C: validates the flow config, opens the store, starts
/// the worker and the outbox sender, binds, serves; then stops accepting, lets in-flight
/// requests, turns and sends finish, and closes the store.
pub async fn serve(settings: Settings) -> anyhow::Result<()> {
    crate::clock::set_offset_minutes(settings.clock_offset_minutes);
    log_start(&settings);
    let FlowFolder {
        flow,
        knowledge,
        llm,
        workspaces,
    } = load_flow_folder(&settings)?;
    let sender = Sender::from_config(
        settings.kapso.base_url.clone(),
        settings.kapso.api_key.clone(),
        RetryPolicy::default(),
    )
    .context("configuring the Kapso client")?;
    // The metrics recorder is installed first, so the start's counts are kept.
    telemetry::metrics_handle();
    // `_db_lock` is held until `serve` returns (SQLite: one `ari serve` per database file).
    let (store, _db_lock) = open_store(&settings).await?;

    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let reloader = spawn_reloader(Arc::clone(&flow), shutdown_rx.clone());
    // The LLM prompts of the flow folder reload with the flow (SIGHUP, file change).
    let prompt_reloader = llm.as_ref().map(|llm| {
        let dir = settings.flow_dir.clone();
        crate::llm::spawn_prompt_reloader(Arc::clone(llm), dir, flow.reloads(), shutdown_rx.clone())
    });
    let crm = match &settings.crm_webhook {
        Some(c) => Some(
            CrmWebhook::new(c.url.clone(), c.secret.clone())
                .context("configuring the CRM webhook")?,
        ),
        None => None,
    };
    // Outbox rows store the URL without its credentials; the CRM client calls it with them.
    let crm_webhook_url = crm.as_ref().map(|c| c.url.clone());
    let (arrivals_tx, arrivals_rx) = mpsc::unbounded_channel();
    let outbox = OutboxSender::configured(
        Arc::clone(&store),
        sender,
        crm,
        settings.outbox_limits,
        Some(arrivals_tx.clone()),
    );
    let deps = Arc::new(TurnDeps {
        store: Arc::clone(&store),
        flow,
        outbox: Arc::clone(&outbox),
        clock: system_clock(),
        lease_ms: TURN_LEASE_MS,
        mark_read: settings.typing_indicator,
        form_answers: no_form_answers(),
        knowledge: Arc::clone(&knowledge),
        llm: llm.clone(),
        crm_webhook_url,
    });
    // Knowledge entries admins stored: read before the first turn; later when the due loop
    // sees the knowledge version move.
    if let Err(e) = knowledge.refresh(store.as_ref(), DEFAULT_WORKSPACE).await {
        tracing::warn!(error = %e, "cannot read stored knowledge entries yet");
    }
    let convex = settings.convex.is_some();
    let worker = Worker::new(
        Arc::clone(&deps),
        WorkerSettings {
            debounce: settings.debounce,
            max_debounce: settings.max_debounce,
            voice_grace: settings.voice_grace,
            max_parallel: settings.max_parallel_turns,
            max_turn_attempts: settings.max_turn_attempts,
            // Convex: the due loop lists the pending conversations (issue 17 items 2 and 3).
            poll_interval: (!convex).then_some(Duration::from_secs(60)),
            ..WorkerSettings::default()
        },
    );
    let due_loop = due::spawn(
        deps,
        Arc::clone(&worker),
        DueSettings {
            ceiling: settings.idle_poll_ceiling,
            with_pending: convex,
            ..DueSettings::default()
        },
        shutdown_rx.clone(),
    );
    let dispatcher = worker.spawn(arrivals_rx, shutdown_rx, Duration::from_secs(20));

    let state = AppState {
        ingress: IngressState {
            store: Arc::clone(&store),
            signature: settings.signature.clone(),
            workspaces: Arc::new(workspaces),
            arrivals: Some(arrivals_tx),
            max_batch_items: settings.max_batch_items,
        },
        metrics: telemetry::metrics_handle(),
        admin_token: settings.admin_token.clone(),
        knowledge: Some(Arc::clone(&knowledge)),
        llm,
        probes: Probes::new(settings.metrics_bind.is_some(), convex),
        outbox_wake: Some(outbox.due_wake()),
    };
    let (listener, metrics_listener, limits) = bind(&settings).await?;

    let metrics_port = metrics_listener.map(|l| (l, metrics_router(state.clone())));
    listen::serve_until(
        (listener, router(state)),
        metrics_port,
        limits,
        shutdown_signal(),
    )
    .await
    .context("serving HTTP")?;
    tracing::info!("stopped accepting; in-flight requests finished; finishing turns and sends");
    let _ = shutdown_tx.send(true);
    let mut tasks = vec![dispatcher, due_loop, reloader];
    tasks.extend(prompt_reloader);
    drain(tasks, &outbox, store.as_ref()).await
}

/// The start-up notes an operator should see: an unauthenticated port, the payload version, the
/// voice-note grace.
fn log_start(settings: &Settings) {
    if matches!(settings.signature, SignaturePolicy::Insecure) {
        tracing::warn!(
            "--insecure-no-signature: webhooks are NOT authenticated; anyone who can reach this \
             port can inject messages. For local trials only."
        );
    }
    tracing::info!(
        "Kapso webhooks: payload version v2 is recommended; legacy v1 payloads are read too \
         (X-Webhook-Payload-Version, else the payload's shape)"
    );
    if settings.clock_offset_minutes != 0 {
        tracing::warn!(
            minutes = settings.clock_offset_minutes,
            "--clock-offset-minutes: the service's clock runs ahead of real time (trials and tests only)"
        );
    }
    if let Some(grace) = settings.voice_grace {
        tracing::info!(
            grace_ms = grace.as_millis() as u64,
            "Meta-format webhook configured: a voice note without transcript waits for Kapso's copy"
        );
    }
}

/// The flow folder's parts: the flow config (validated), the knowledge base, the LLM arms
/// (`None`: template replies) and the workspaces.
fn load_flow_folder(settings: &Settings) -> anyhow::Result<FlowFolder> {
    let flow = FlowConfigHandle::load(&settings.flow_dir).map_err(|d| {
        anyhow::anyhow!(
            "the flow config in {} is invalid:\n{d}",
            settings.flow_dir.display()
        )
    })?;
    let flow = Arc::new(flow);
    let knowledge = Arc::new(
        Library::open(settings.flow_dir.join("knowledge")).context("loading the knowledge base")?,
    );
    let llm_path = settings.flow_dir.join(crate::llm::CONFIG_FILE);
    let llm = Llm::load(&llm_path)
        .with_context(|| format!("loading the LLM config {}", llm_path.display()))?
        .map(Arc::new);
    match &llm {
        Some(_) => {
            tracing::info!(config = %llm_path.display(), "LLM arms configured: replies are worded by the model")
        }
        None => tracing::info!("no {}: template replies", llm_path.display()),
    }
    let workspaces = Workspaces::load(&settings.flow_dir).context("loading workspaces")?;
    if workspaces.is_default_only() {
        tracing::info!("no workspaces configured: the default workspace serves every number");
    }
    Ok(FlowFolder {
        flow,
        knowledge,
        llm,
        workspaces,
    })
}

/// What `ari serve` loads from the flow folder.
struct FlowFolder {
    flow: Arc<FlowConfigHandle>,
    knowledge: Arc<Library>,
    llm: Option<Arc<Llm>>,
    workspaces: Workspaces,
}

/// The store: Convex when configured, else the SQLite file, with its lock file held
/// (`<database>.lock`, refused when another `ari serve` holds it) and the dead previous run's
/// leases taken back (issue 17 item 4).
async fn open_store(
    settings: &Settings,
) -> anyhow::Result<(Arc<dyn Store>, Option<db_lock::DbLock>)> {
    // ARI_CONVEX_URL + ARI_CONVEX_DEPLOY_KEY select Convex (replicas share one deployment);
    // `connect` checks the key with one call, so a bad key stops the start naming the URL.
    match &settings.convex {
        Some(convex) => {
            let store = ConvexStore::connect(&convex.url, convex.deploy_key())
                .await
                .with_context(|| format!("opening the Convex store at {}", convex.url))?
                .with_limits(settings.store_limits)
                .with_replica_id(settings.replica_id.clone());
            tracing::info!(url = %convex.url, replica_id = %settings.replica_id, "store: Convex");
            // This replica's previous run under the same id is dead: its leases come back now.
            let taken = store
                .take_back_leases(crate::clock::now_ms())
                .await
                .context("taking back this replica's leases")?;
            log_taken_back(taken, "the previous run under this --replica-id is dead");
            Ok((Arc::new(store), None))
        }
        None => {
            let lock = db_lock::acquire(&settings.database)?;
            let store = SqliteStore::open_with(&settings.database, settings.store_limits)
                .await
                .with_context(|| format!("opening the store {}", settings.database.display()))?;
            take_back_leases(&store).await?;
            Ok((Arc::new(store), Some(lock)))
        }
    }
}

/// Takes back the previous run's leases (it is dead: this process holds the lock file), logs
/// `leases taken back` and counts them in `ari_leases_taken_back_total{kind=turn|send}`.
async fn take_back_leases(store: &SqliteStore) -> anyhow::Result<()> {
    let taken = store
        .take_back_leases(crate::clock::now_ms())
        .await
        .context("taking back the previous run's leases")?;
    log_taken_back(
        taken,
        "the previous run is dead (this process holds the lock file)",
    );
    Ok(())
}

/// Logs `leases taken back: <why>` with the counts and adds them to
/// `ari_leases_taken_back_total{kind=turn|send}`.
fn log_taken_back(taken: crate::store::sqlite::TakenBack, why: &str) {
    metrics::counter!(crate::telemetry::names::LEASES_TAKEN_BACK, "kind" => "turn")
        .increment(taken.turns);
    metrics::counter!(crate::telemetry::names::LEASES_TAKEN_BACK, "kind" => "send")
        .increment(taken.sends);
    tracing::info!(
        turns = taken.turns,
        sends = taken.sends,
        "leases taken back: {why}"
    );
}

/// Binds `--bind` (and `--metrics-bind`), logs `listening` with the limits.
async fn bind(
    settings: &Settings,
) -> anyhow::Result<(TcpListener, Option<TcpListener>, listen::HttpLimits)> {
    let limits = listen::HttpLimits::from_settings(&settings.http);
    let metrics_listener = match settings.metrics_bind {
        Some(bind) => Some(
            TcpListener::bind(bind)
                .await
                .with_context(|| format!("binding --metrics-bind {bind}"))?,
        ),
        None => None,
    };
    let listener = TcpListener::bind(settings.bind)
        .await
        .with_context(|| format!("binding {}", settings.bind))?;
    let addr = listener.local_addr().context("reading the bound address")?;
    if let Some(l) = &metrics_listener {
        let metrics_addr = l.local_addr().context("reading the metrics address")?;
        tracing::info!(metrics_addr = %metrics_addr, "GET /metrics served on its own address");
    }
    tracing::info!(
        addr = %addr,
        database = %settings.database.display(),
        max_connections = limits.max_connections,
        max_body_reads = limits.max_body_reads,
        header_read_timeout_ms = limits.header_read_timeout.as_millis() as u64,
        request_timeout_ms = limits.request_timeout.as_millis() as u64,
        "listening"
    );
    Ok((listener, metrics_listener, limits))
}

/// After the listener stopped: waits for the background tasks, lets the outbox finish its
/// sends (at most 20 s), closes the store.
async fn drain(
    tasks: Vec<tokio::task::JoinHandle<()>>,
    outbox: &OutboxSender,
    store: &dyn Store,
) -> anyhow::Result<()> {
    for task in tasks {
        let _ = task.await;
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !outbox.is_idle() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    store.close().await.context("closing the store")?;
    tracing::info!("shut down cleanly");
    Ok(())
}

/// How long a claimed conversation belongs to one worker (ms): well above a turn's model time
/// (`turn_budget_ms` in `llm.toml`, at most this minus 10 s: [`crate::llm::config`]), so only
/// a dead worker's lease expires.
pub const TURN_LEASE_MS: i64 = 60_000;

/// Resolves on SIGTERM or Ctrl-C (SIGINT).
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        () = ctrl_c => tracing::info!("Ctrl-C received: shutting down"),
        () = terminate => tracing::info!("SIGTERM received: shutting down"),
    }
}
