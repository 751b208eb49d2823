//! One conversation as an operator sees it (issue 18):
//!
//! `DELETE /admin/contacts/{workspace}/{phone}` erases the contact's personal data (issue 18:
//! Indonesia's data-protection law, UU PDP, gives leads that right): messages, snapshot,
//! appointments, outbox texts and the raw inbox payloads, keeping only counters
//! ([`crate::store::Store::erase_contact`], which holds the conversation's lease so no turn runs
//! meanwhile). 200 with the receipt `{"status": "erased", "workspace_id", "conversation_id",
//! "messages", "appointments", "outbox_rows", "inbox_rows", "erased_at_ms"}`; 400 for a phone
//! that is not E.164 or a bad workspace id; 404 no such workspace or contact; 409 a turn is
//! running (try again in a few seconds).
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
use crate::store::{Appointment, ConversationKey, ConversationRecord, EraseOutcome, StoreError};

/// The routes of this module, merged into the service's router.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/conversations/{id}", get(show))
        .route(
            "/admin/contacts/{workspace}/{phone}",
            axum::routing::delete(erase),
        )
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

/// `DELETE /admin/contacts/{workspace}/{phone}`.
async fn erase(
    State(state): State<AppState>,
    Path((workspace, phone)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    if let Some(refusal) = check_admin(&state, &headers) {
        return refusal;
    }
    if !crate::server::is_admin_id(&workspace) || !state.ingress.workspaces.knows(&workspace) {
        return admin_error(
            StatusCode::NOT_FOUND,
            "no_workspace",
            format!("no workspace {workspace:?} is configured (workspaces.toml)"),
        );
    }
    let Some(contact) = crate::ingress::events::normalize_e164(&phone) else {
        return admin_error(
            StatusCode::BAD_REQUEST,
            "invalid_phone",
            format!("{phone:?} is not an E.164 phone number (+62...)"),
        );
    };
    let key = ConversationKey {
        workspace_id: workspace,
        contact_phone: contact,
    };
    let store = &state.ingress.store;
    match store.erase_contact(&key, crate::clock::now_ms()).await {
        Ok(EraseOutcome::Erased(receipt)) => {
            tracing::info!(
                conversation = receipt.conversation_id,
                workspace = key.workspace_id,
                "contact erased on an operator's request"
            );
            let mut body = json!({"status": "erased", "workspace_id": key.workspace_id});
            if let (Some(b), Ok(Value::Object(r))) =
                (body.as_object_mut(), serde_json::to_value(&receipt))
            {
                b.extend(r);
            }
            (StatusCode::OK, Json(body)).into_response()
        }
        Ok(EraseOutcome::Busy) => admin_error(
            StatusCode::CONFLICT,
            "turn_running",
            "a turn of this conversation is running; try again in a few seconds",
        ),
        Ok(EraseOutcome::NotFound) => admin_error(
            StatusCode::NOT_FOUND,
            "no_contact",
            "no conversation of this contact in this workspace",
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
        "previous_phone": record.previous_phone,
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
