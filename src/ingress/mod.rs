//! Ingress: `POST /webhooks/kapso`, where Kapso delivers WhatsApp events.
//!
//! The handler's only job is to make a genuine delivery durable, once, and answer fast:
//! verify the signature over the raw body, parse the items, route each to a workspace, record
//! them in the inbox in one store round trip, answer 200. It runs no flow and calls nothing
//! remote, so it answers well inside Kapso's 10 s deadline (target: a few ms). What it answers:
//!
//! | case | status | stored |
//! |---|---|---|
//! | body over 256 KiB | 413 | nothing |
//! | `Content-Type` not JSON | 415 | nothing |
//! | signature missing or wrong | 401 | nothing |
//! | body not JSON, or not a JSON object | 400 | nothing |
//! | more items than `--max-batch-items` (500) | 413 | nothing |
//! | JSON with a lone surrogate escape (read as U+FFFD, [`surrogates`]) | 200 | + the body |
//! | accepted (including unknown event types) | 200 | delivery + items |
//! | redelivery (same `X-Idempotency-Key`) | 200 | nothing new |
//! | store cannot commit | 503 | nothing (Kapso retries after 10 s, 40 s, 90 s) |

pub mod events;
pub mod signature;
pub mod surrogates;
pub mod v1;

use std::sync::Arc;
use std::time::Instant;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;

use crate::config::settings::SignaturePolicy;
use crate::config::workspaces::{Route, Workspaces};
use crate::inbox::{EnqueueOutcome, EventKind, InboxState, NewDelivery, NewInboxItem};
use crate::store::{ConversationKey, Store};
use crate::telemetry::{mask_phone, names};

/// Largest accepted webhook body: 256 KiB (Kapso payloads are a few KiB, about 1.5 KiB per item
/// of a batch, and Kapso batches hold up to 100 items).
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// Items a delivery may hold unless `--max-batch-items` says otherwise.
pub const DEFAULT_MAX_BATCH_ITEMS: usize = 500;

/// The event names `ari_webhooks_total` labels deliveries with; any other is `other`, and a
/// delivery refused before its signature holds is `unverified`.
pub const KNOWN_EVENTS: &[&str] = &[
    "whatsapp.message.received",
    "whatsapp.message.sent",
    "whatsapp.message.delivered",
    "whatsapp.message.read",
    "whatsapp.message.failed",
    "whatsapp.conversation.created",
    "whatsapp.conversation.ended",
    "whatsapp.conversation.inactive",
    "workflow.execution.handoff",
    "workflow.execution.failed",
    "meta.message",
    "meta.status",
];

/// The metric label of an event name: itself when it is one of [`KNOWN_EVENTS`], else
/// `other`.
pub fn event_label(name: &str) -> &'static str {
    KNOWN_EVENTS
        .iter()
        .find(|k| **k == name)
        .copied()
        .unwrap_or("other")
}

/// The label of a delivery refused before its signature was checked or when it failed.
const UNVERIFIED: &str = "unverified";

/// Header carrying the signature (seed §13.1).
pub const SIGNATURE_HEADER: &str = "x-webhook-signature";
/// Header carrying Kapso's per-event dedup key.
pub const IDEMPOTENCY_HEADER: &str = "x-idempotency-key";
/// Header naming the event, e.g. `whatsapp.message.received`.
pub const EVENT_HEADER: &str = "x-webhook-event";
/// Header flagging a batched delivery (`true`).
pub const BATCH_HEADER: &str = "x-webhook-batch";

/// Longest idempotency key kept as given; a longer one is replaced by its SHA-256.
const MAX_KEY_LEN: usize = 200;

/// What the webhook handler needs.
#[derive(Clone)]
pub struct IngressState {
    pub store: Arc<dyn Store>,
    pub signature: SignaturePolicy,
    pub workspaces: Arc<Workspaces>,
    /// Where to signal conversations with new pending rows (the worker); `None` when no
    /// worker runs in this process (the worker's poll still finds the rows).
    pub arrivals: Option<mpsc::UnboundedSender<ConversationKey>>,
    /// Items a delivery may hold ([`DEFAULT_MAX_BATCH_ITEMS`]); more: 413.
    pub max_batch_items: usize,
}

fn error(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    (
        status,
        Json(json!({"error": code, "message": message.into()})),
    )
        .into_response()
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

/// Whether the content type is JSON (`application/json`, parameters such as `charset` allowed).
fn is_json(headers: &HeaderMap) -> bool {
    header_str(headers, header::CONTENT_TYPE.as_str())
        .and_then(|ct| ct.split(';').next())
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("application/json"))
}

/// The delivery's idempotency key: Kapso's header, or the SHA-256 of the body when absent
/// (what Kapso itself uses for Meta-kind webhooks), so a redelivery is still recognised.
fn idempotency_key(headers: &HeaderMap, body: &[u8]) -> String {
    match header_str(headers, IDEMPOTENCY_HEADER) {
        Some(k) if k.len() <= MAX_KEY_LEN => k.to_string(),
        Some(k) => format!("sha256:{}", hex::encode(Sha256::digest(k.as_bytes()))),
        None => format!("sha256:{}", hex::encode(Sha256::digest(body))),
    }
}

/// The signature step: the 401 to answer when the signature is missing or wrong (nothing is
/// stored), `None` to go on; with `--insecure-no-signature`, a warning on every request.
fn check_signature(state: &IngressState, headers: &HeaderMap, body: &[u8]) -> Option<Response> {
    match &state.signature {
        SignaturePolicy::Verify(secrets) => {
            let valid =
                header_str(headers, SIGNATURE_HEADER).is_some_and(|sig| secrets.verify(body, sig));
            if !valid {
                count(UNVERIFIED, "bad_signature");
                metrics::counter!(names::SIGNATURE_FAILURES).increment(1);
                let why = if headers.contains_key(SIGNATURE_HEADER) {
                    "X-Webhook-Signature does not match the body"
                } else {
                    "X-Webhook-Signature is missing"
                };
                tracing::warn!("webhook refused: {why}");
                return Some(error(StatusCode::UNAUTHORIZED, "bad_signature", why));
            }
        }
        SignaturePolicy::Insecure => {
            tracing::warn!(
                "accepting an UNSIGNED webhook: --insecure-no-signature is on; never run this in production"
            );
        }
    }
    None
}

/// Parses the body as JSON. A body that parses only once its lone UTF-16 surrogate escapes are
/// rewritten to U+FFFD ([`surrogates`], issue 16 item 1) is accepted, and comes back with the
/// original body (kept verbatim beside the delivery's rows). Anything else that is not JSON is
/// the parser's error (answered 400).
fn parse_json(body: &[u8]) -> Result<(serde_json::Value, Option<String>), serde_json::Error> {
    let first = match serde_json::from_slice(body) {
        Ok(value) => return Ok((value, None)),
        Err(e) => e,
    };
    let Some(repaired) = surrogates::repair_lone_surrogates(body) else {
        return Err(first);
    };
    let value = serde_json::from_slice(&repaired).map_err(|_| first)?;
    metrics::counter!(names::REPAIRED).increment(1);
    tracing::warn!(
        "webhook body has lone UTF-16 surrogate escapes: read as U+FFFD, original body kept"
    );
    Ok((value, Some(String::from_utf8_lossy(body).into_owned())))
}

/// Counts a delivery; `event` is [`UNVERIFIED`] or an [`event_label`], never the request's own
/// text.
fn count(event: &'static str, outcome: &'static str) {
    metrics::counter!(names::WEBHOOKS, "event" => event, "outcome" => outcome).increment(1);
}

/// `POST /webhooks/kapso`. See the module documentation for the status codes.
pub async fn kapso_webhook(
    State(state): State<IngressState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let started = Instant::now();
    let response = handle(&state, &headers, body).await;
    metrics::histogram!(names::HANDLER_SECONDS).record(started.elapsed().as_secs_f64());
    response
}

async fn handle(
    state: &IngressState,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = match readable(body) {
        Ok(b) => b,
        Err(refused) => return *refused,
    };
    if !is_json(headers) {
        count(UNVERIFIED, "bad_content_type");
        return error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "bad_content_type",
            "Content-Type must be application/json",
        );
    }
    if let Some(refused) = check_signature(state, headers, &body) {
        return refused;
    }
    let Parsed {
        items,
        original_body,
        label,
    } = match parse_items(state, headers, &body) {
        Ok(parsed) => parsed,
        Err(refused) => return *refused,
    };
    let delivery = delivery_of(state, headers, &body, original_body, items);
    let kinds: Vec<(EventKind, InboxState)> = delivery
        .items
        .iter()
        .map(|i| (i.event.kind, i.state))
        .collect();
    let to_signal = conversations_to_signal(&delivery);
    let key = delivery.idempotency_key.clone();
    match state.store.enqueue_inbound(delivery).await {
        Ok(EnqueueOutcome::DuplicateDelivery) => {
            count(label, "duplicate");
            metrics::counter!(names::DUPLICATES, "level" => "delivery").increment(1);
            tracing::info!(idempotency_key = %key, "redelivery acknowledged; nothing new stored");
            (
                StatusCode::OK,
                Json(json!({"status": "duplicate", "stored": 0})),
            )
                .into_response()
        }
        Ok(EnqueueOutcome::Accepted {
            stored,
            duplicates,
            enriched,
        }) => {
            count(label, "accepted");
            let stored_counts = Stored {
                stored,
                duplicates,
                enriched,
            };
            accepted(state, &key, &kinds, to_signal, stored_counts)
        }
        Err(e) => {
            count(label, "store_unavailable");
            tracing::error!(idempotency_key = %key, error = %e, "inbox commit failed; answering 503 so Kapso retries");
            error(
                StatusCode::SERVICE_UNAVAILABLE,
                "store_unavailable",
                "the inbox cannot be written right now; retry later",
            )
        }
    }
}

/// The body, or the refusal of one that could not be read (too large, cut off). Nothing the
/// request says is a label before its signature holds (issue 21 item 2).
fn readable(body: Result<Bytes, BytesRejection>) -> Result<Bytes, Box<Response>> {
    body.map_err(|rejection| {
        let status = rejection.status();
        let outcome = if status == StatusCode::PAYLOAD_TOO_LARGE {
            "too_large"
        } else {
            "unreadable_body"
        };
        count(UNVERIFIED, outcome);
        tracing::warn!(%status, "webhook body refused: {}", rejection.body_text());
        Box::new(error(status, outcome, rejection.body_text()))
    })
}

/// A delivery's items, each with its raw JSON.
type Items = Vec<(crate::inbox::InboundEvent, serde_json::Value)>;

/// A signed body, read.
struct Parsed {
    items: Items,
    /// The body as received, when a string in it was repaired (lone surrogates).
    original_body: Option<String>,
    /// The metric label: the header's event from the fixed list, overruled by the body's.
    label: &'static str,
}

/// A signed body's items with their raw JSON, the original body when a string was repaired,
/// and the metric label (the header's event from the fixed list, overruled by the body's); or
/// the refusal: 400 for a body that is not JSON or not an event, 413 over the batch cap.
fn parse_items(
    state: &IngressState,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<Parsed, Box<Response>> {
    let mut label = header_str(headers, EVENT_HEADER).map_or("none", event_label);
    let (value, original_body) = parse_json(body).map_err(|e| {
        count(label, "malformed");
        Box::new(error(
            StatusCode::BAD_REQUEST,
            "malformed",
            format!("body is not valid JSON: {e}"),
        ))
    })?;
    let batch_header =
        header_str(headers, BATCH_HEADER).is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let version = header_str(headers, v1::PAYLOAD_VERSION_HEADER);
    let items = events::parse_body(
        &value,
        header_str(headers, EVENT_HEADER),
        batch_header,
        version,
    )
    .map_err(|e| {
        count(label, "malformed");
        Box::new(error(StatusCode::BAD_REQUEST, "malformed", e.to_string()))
    })?;
    if let Some((first, _)) = items.first() {
        label = event_label(&first.event_type);
    }
    if items.len() > state.max_batch_items {
        count(label, "too_many_items");
        tracing::warn!(
            items = items.len(),
            max = state.max_batch_items,
            "webhook refused: too many items in one delivery"
        );
        return Err(Box::new(error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_many_items",
            format!(
                "a delivery may hold at most {} items, this one holds {}",
                state.max_batch_items,
                items.len()
            ),
        )));
    }
    Ok(Parsed {
        items,
        original_body,
        label,
    })
}

/// The delivery the store records: its idempotency key, the request id the router set or
/// kept (a UUID: anything else was replaced), and each item routed to its workspace.
fn delivery_of(
    state: &IngressState,
    headers: &HeaderMap,
    body: &Bytes,
    original_body: Option<String>,
    items: Items,
) -> NewDelivery {
    let request_id = header_str(headers, "x-request-id")
        .filter(|id| is_uuid(id))
        .unwrap_or_default()
        .to_string();
    NewDelivery {
        idempotency_key: idempotency_key(headers, body),
        event_header: header_str(headers, EVENT_HEADER).map(str::to_string),
        request_id,
        received_at_ms: crate::clock::now_ms(),
        original_body,
        body_hash: Some(format!("sha256:{}", hex::encode(Sha256::digest(body)))),
        items: items
            .into_iter()
            .map(|(event, raw)| route_item(&state.workspaces, event, raw))
            .collect(),
    }
}

/// The conversations whose pending rows this delivery adds (their workers are woken).
fn conversations_to_signal(delivery: &NewDelivery) -> Vec<ConversationKey> {
    let mut keys: Vec<ConversationKey> = delivery
        .items
        .iter()
        .filter(|i| i.state == InboxState::Pending)
        .filter_map(|i| {
            Some(ConversationKey {
                workspace_id: i.workspace_id.clone()?,
                contact_phone: i.event.contact_phone.clone()?,
            })
        })
        .collect();
    keys.dedup();
    keys
}

/// What the store did with an accepted delivery's items.
struct Stored {
    stored: usize,
    duplicates: usize,
    enriched: usize,
}

/// An accepted delivery: the workers woken, the counters, the log line and the 200.
fn accepted(
    state: &IngressState,
    key: &str,
    kinds: &[(EventKind, InboxState)],
    to_signal: Vec<ConversationKey>,
    s: Stored,
) -> Response {
    // An enriched copy completed a pending row or queued an enrichment row: the
    // conversation's turn (or its voice-note grace) has news too.
    if let Some(arrivals) = &state.arrivals
        && s.stored + s.enriched > 0
    {
        for key in to_signal {
            // A closed channel means the worker stopped (shutdown): its poll or the next
            // start picks the rows up.
            let _ = arrivals.send(key);
        }
    }
    if s.duplicates > 0 {
        metrics::counter!(names::DUPLICATES, "level" => "item").increment(s.duplicates as u64);
    }
    for (kind, st) in kinds {
        metrics::counter!(names::INBOX_ITEMS, "kind" => kind.as_str(), "state" => st.as_str())
            .increment(1);
    }
    if s.enriched > 0 {
        metrics::counter!(names::ENRICHED).increment(s.enriched as u64);
    }
    tracing::info!(
        idempotency_key = %key,
        items = kinds.len(),
        stored = s.stored,
        duplicates = s.duplicates,
        enriched = s.enriched,
        "webhook accepted"
    );
    (
        StatusCode::OK,
        Json(json!({"status": "accepted", "stored": s.stored, "duplicates": s.duplicates})),
    )
        .into_response()
}

/// Whether `id` is a UUID in its canonical form (`8-4-4-4-12` hex digits).
pub fn is_uuid(id: &str) -> bool {
    id.len() == 36 && uuid::Uuid::try_parse(id).is_ok()
}

/// Whether an item needs the worker: messages, workflow handoffs, a person's message sent from
/// the WhatsApp Business app (human takeover), failed sends (recorded on the outbox row) and a
/// conversation a person ended (closes a handoff). Other statuses (`sent` by ARI, `delivered`,
/// `read`), other conversation events and unknown events are only recorded.
fn needs_worker(event: &crate::inbox::InboundEvent) -> bool {
    match event.kind {
        EventKind::Message | EventKind::Workflow | EventKind::Control => true,
        EventKind::Status => event.status.as_ref().is_some_and(|s| {
            s.status == "failed"
                || (s.status == "sent" && s.origin.as_deref() == Some("business_app"))
        }),
        // A person ended the conversation: it closes a handoff.
        EventKind::Conversation => event.ended_by_agent,
        EventKind::Unknown => false,
    }
}

/// Decides an item's workspace and inbox state, and logs what cannot be processed.
fn route_item(
    workspaces: &Workspaces,
    event: crate::inbox::InboundEvent,
    raw: serde_json::Value,
) -> NewInboxItem {
    let route = workspaces.route(event.phone_number_id.as_deref());
    let (workspace_id, mut state) = match route {
        Route::Workspace(ws) => (Some(ws), InboxState::Pending),
        Route::Unknown => (None, InboxState::Pending),
        Route::Unroutable => {
            metrics::counter!(names::UNROUTABLE).increment(1);
            tracing::warn!(
                phone_number_id = event.phone_number_id.as_deref().unwrap_or(""),
                event = %event.event_type,
                "no workspace serves this business number; stored as unroutable"
            );
            (None, InboxState::Unroutable)
        }
    };
    if state == InboxState::Pending && event.kind == EventKind::Message {
        match &event.contact_phone {
            Some(phone) => {
                tracing::debug!(contact = %mask_phone(phone), wamid = event.wamid().unwrap_or(""), "inbound message")
            }
            None => {
                tracing::warn!(
                    wamid = event.wamid().unwrap_or(""),
                    "message without a sender phone (business-scoped user id): stored, cannot be answered"
                );
                state = InboxState::NoSender;
            }
        }
    }
    if state == InboxState::Pending && !needs_worker(&event) {
        // Recorded for the record; nothing to do, so no turn is spent on it.
        state = InboxState::Done;
    }
    if event.kind == EventKind::Unknown {
        tracing::info!(event = %event.event_type, "event type not handled yet: stored raw");
    }
    NewInboxItem {
        event,
        raw,
        workspace_id,
        state,
    }
}
