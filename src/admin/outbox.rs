//! The outbox's dead letters for operators (issue 20):
//!
//! - `GET /admin/outbox?state=failed[&after=<id>][&limit=<n>]` lists the rows of every
//!   conversation in one state (`failed` by default; also `needs_template`, `pending`, `sent`,
//!   `dry_run`), oldest first, with their last error and the reason they failed;
//! - `POST /admin/outbox/{id}/retry` requeues one failed row: pending again, due now, its
//!   attempts and age counted afresh; the outbox poller sends it within a second.
//!
//! Both need `Authorization: Bearer <ARI_ADMIN_TOKEN>`, like the other admin routes: 401 bad
//! token, 403 admin API disabled, 503 store unavailable.

use axum::Json;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::json;

use crate::server::{AppState, admin_error, check_admin};
use crate::store::{OutboxRow, OutboxState};

/// Most rows one list answer holds (`limit` is clipped to it).
pub const MAX_LIST: u32 = 500;

/// The routes of this module, merged into the service's router.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/outbox", get(list))
        .route("/admin/outbox/{id}/retry", post(retry))
}

#[derive(Deserialize)]
struct ListQuery {
    state: Option<String>,
    after: Option<i64>,
    limit: Option<u32>,
}

/// A row as the admin API shows it.
pub fn row_json(row: &OutboxRow) -> serde_json::Value {
    json!({
        "id": row.id,
        "conversation_id": row.conversation_id,
        "channel": row.channel.as_str(),
        "to": row.to,
        "body": row.body,
        "state": row.state.as_str(),
        "reason": row.reason.map(|r| r.as_str()),
        "error": row.error,
        "attempts": row.attempts,
        "queued_at_ms": row.queued_at_ms,
        "idempotency_key": row.idempotency_key,
        "kapso_message_id": row.kapso_message_id,
    })
}

/// `GET /admin/outbox?state=failed`: 200 `{"rows": [...], "next_after": <id or null>}` (pass
/// `next_after` as `after` for the next page); 400 for an unknown state.
async fn list(
    State(state): State<AppState>,
    Query(q): Query<ListQuery>,
    headers: HeaderMap,
) -> Response {
    if let Some(refusal) = check_admin(&state, &headers) {
        return refusal;
    }
    let name = q.state.as_deref().unwrap_or("failed");
    let Some(wanted) = OutboxState::parse(name) else {
        let known: Vec<&str> = OutboxState::ALL.iter().map(|s| s.as_str()).collect();
        return admin_error(
            StatusCode::BAD_REQUEST,
            "bad_state",
            format!("unknown state {name:?} (one of {})", known.join(", ")),
        );
    };
    let limit = q.limit.unwrap_or(100).clamp(1, MAX_LIST);
    match state
        .ingress
        .store
        .list_outbox(wanted, q.after.unwrap_or(0), limit)
        .await
    {
        Ok(rows) => {
            let next = (rows.len() == limit as usize)
                .then(|| rows.last().map(|r| r.id))
                .flatten();
            (
                StatusCode::OK,
                Json(json!({
                    "rows": rows.iter().map(row_json).collect::<Vec<_>>(),
                    "next_after": next,
                })),
            )
                .into_response()
        }
        Err(e) => admin_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "store_unavailable",
            e.to_string(),
        ),
    }
}

/// `POST /admin/outbox/{id}/retry`: 202 `{"status": "requeued", "row": {...}}`; 404 no such
/// row; 409 the row has not failed (pending, sent or dry run).
async fn retry(State(state): State<AppState>, Path(id): Path<i64>, headers: HeaderMap) -> Response {
    if let Some(refusal) = check_admin(&state, &headers) {
        return refusal;
    }
    let now = crate::clock::now_ms();
    match state.ingress.store.requeue_outbox(id, now).await {
        Ok(Some(row)) if row.state == OutboxState::Pending && row.queued_at_ms == now => {
            tracing::info!(
                outbox_id = id,
                channel = row.channel.as_str(),
                "outbox row requeued by an admin"
            );
            if let Some(wake) = &state.outbox_wake {
                wake.notify_one();
            }
            (
                StatusCode::ACCEPTED,
                Json(json!({"status": "requeued", "row": row_json(&row)})),
            )
                .into_response()
        }
        Ok(Some(row)) => admin_error(
            StatusCode::CONFLICT,
            "not_failed",
            format!(
                "outbox row {id} is {}: only a failed row can be retried",
                row.state.as_str()
            ),
        ),
        Ok(None) => admin_error(
            StatusCode::NOT_FOUND,
            "no_outbox_row",
            format!("no outbox row has id {id}"),
        ),
        Err(e) => admin_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "store_unavailable",
            e.to_string(),
        ),
    }
}
