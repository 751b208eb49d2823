//! One conversation as an operator sees it (issue 18):
//!
//! `GET /admin/conversations/{id}` answers 200 with the lead's state (stage, handoff reason,
//! score, temperature, language, fields), the next scheduled follow-up and the next reminder
//! (ms since the epoch and RFC 3339, UTC), the consent record (`opted_out_at`), and the
//! conversation's appointments; 404 when no conversation has that id. Like the other admin
//! routes it needs `Authorization: Bearer <ARI_ADMIN_TOKEN>`: 401 bad token, 403 admin API
//! disabled, 503 store unavailable. Two store reads besides the key: the record and the
//! appointments.

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::flow::Snapshot;
use crate::scheduling::ReminderKind;
use crate::server::{AppState, admin_error, check_admin};
use crate::store::{Appointment, ConversationKey, ConversationRecord, StoreError};

/// The routes of this module, merged into the service's router.
pub fn routes() -> Router<AppState> {
    Router::new().route("/admin/conversations/{id}", get(show))
}

/// `GET /admin/conversations/{id}`.
async fn show(State(state): State<AppState>, Path(id): Path<i64>, headers: HeaderMap) -> Response {
    if let Some(refusal) = check_admin(&state, &headers) {
        return refusal;
    }
    match read(&state, id).await {
        Ok(Some(body)) => (StatusCode::OK, Json(body)).into_response(),
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

async fn read(state: &AppState, id: i64) -> Result<Option<Value>, StoreError> {
    let store = &state.ingress.store;
    let Some(key) = store.conversation_key(id).await? else {
        return Ok(None);
    };
    let Some(record) = store.conversation_record(&key).await? else {
        return Ok(None);
    };
    let appointments = store.conversation_appointments(&key).await?;
    Ok(Some(view(
        &key,
        &record,
        &appointments,
        crate::clock::now(),
    )))
}

/// The answer's body: see the module's doc.
pub fn view(
    key: &ConversationKey,
    record: &ConversationRecord,
    appointments: &[Appointment],
    now: DateTime<Utc>,
) -> Value {
    let snapshot = record
        .snapshot
        .as_ref()
        .and_then(|v| Snapshot::from_json(&v.to_string()).ok());
    let lead = snapshot.as_ref().map(|s| &s.lead);
    let next_reminder = appointments
        .iter()
        .filter(|a| a.status == "booked")
        .flat_map(|a| {
            ReminderKind::ALL.into_iter().filter_map(move |k| {
                let start = DateTime::from_timestamp_millis(a.starts_at_ms)?;
                let due = start - k.offset();
                (due > now).then(|| json!({"appointment_id": a.id, "kind": k.as_str(), "at": due.to_rfc3339(), "at_ms": due.timestamp_millis()}))
            })
        })
        .min_by_key(|v| v["at_ms"].as_i64());
    json!({
        "conversation_id": record.conversation_id,
        "workspace_id": key.workspace_id,
        "contact": key.contact_phone,
        "state": record.summary.flow_state,
        "handoff_reason": record.summary.handoff_reason,
        "lead_score": record.summary.lead_score,
        "lead_temperature": record.summary.lead_temperature,
        "lead_status": record.lead_status,
        "language": record.summary.language,
        "tags": record.tags,
        "fields": lead.map(|l| serde_json::to_value(&l.fields).unwrap_or(Value::Null)),
        "next_followup": lead.and_then(|l| l.followup.due).map(|d| json!({
            "at": d.at.to_rfc3339(),
            "at_ms": d.at.timestamp_millis(),
            "kind": d.kind,
            "sent_since_last_message": lead.map_or(0, |l| l.followup.sent),
        })),
        "followups_sent": lead.map_or(0, |l| l.followup.total),
        "last_lead_message_at": lead.and_then(|l| l.followup.last_lead_at).map(|t| t.to_rfc3339()),
        "next_reminder": next_reminder,
        "consent": {
            "opted_out": lead.is_some_and(|l| l.opted_out_at.is_some()),
            "opted_out_at": lead.and_then(|l| l.opted_out_at).map(|t| t.to_rfc3339()),
        },
        "appointments": appointments.iter().map(|a| json!({
            "id": a.id,
            "slot_id": a.slot_id,
            "starts_at": DateTime::from_timestamp_millis(a.starts_at_ms).map(|t| t.to_rfc3339()),
            "status": a.status,
            "consultant": a.consultant_name,
        })).collect::<Vec<_>>(),
    })
}
