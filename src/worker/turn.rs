//! One turn of one conversation: claim it, run the flow core over its pending inbox rows,
//! commit the result in one transaction, hand the replies to the outbox sender.
//!
//! Store round trips for an inbound text message: `begin_turn` (1) and `commit_turn` (1) here,
//! plus the webhook's `enqueue_inbound` (1) and the sender's `record_send` (1): 4 in all, the
//! budget DESIGN.md sets.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Utc};
use serde_json::json;
use tokio::sync::watch;

use crate::config::flow::{FlowConfig, FlowConfigHandle};
use crate::flow::{
    self, BookingResult, Effect, InboundMessage as FlowMessage, InputEvent, Snapshot, TurnInput,
};
use crate::handoff;
use crate::inbox::{EventKind, InboundMessage, InboxRow, MessageType};
use crate::kapso::outbox::{OUTBOX_LEASE_MS, OutboxSender};
use crate::knowledge::{KnowledgeAnswer, Library};
use crate::llm::{ChatMessage, ExtractRequest, Llm, ReplyRequest, TYPING_REFRESH, keep_typing};
use crate::scheduling;
use crate::store::{
    BeginTurn, BookingOutcome, CommitOutcome, ConversationKey, ConversationSummary, Direction,
    LeadChange, NewAppointment, NewMessage, NewWebhook, SendRequest, Store, StoreError, TurnClaim,
    TurnCommit,
};
use crate::telemetry::{mask_phone, names};

/// The clock turns read (the flow core never reads one itself). `ari simulate` injects the
/// script's clock; the service uses the system clock.
pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// The system clock.
pub fn system_clock() -> Clock {
    Arc::new(Utc::now)
}

/// Lead-form answers of a contact (seed §5.1: a form filled before the chat), merged into the
/// flow every turn. The service has no form source yet (empty); `ari simulate` supplies the
/// script's.
pub type FormAnswers = Arc<dyn Fn(&ConversationKey) -> BTreeMap<String, String> + Send + Sync>;

/// No form answers for anyone.
pub fn no_form_answers() -> FormAnswers {
    Arc::new(|_| BTreeMap::new())
}

/// What a turn needs from the rest of the service.
pub struct TurnDeps {
    pub store: Arc<dyn Store>,
    pub flow: Arc<FlowConfigHandle>,
    pub outbox: Arc<OutboxSender>,
    pub clock: Clock,
    /// How long a claimed conversation is ours (ms); a turn taking longer loses it and its
    /// commit is rejected (then redone).
    pub lease_ms: i64,
    /// Mark the lead's message read with a typing indicator when a reply is coming.
    pub mark_read: bool,
    pub form_answers: FormAnswers,
    /// The knowledge bases questions are answered from.
    pub knowledge: Arc<Library>,
    /// The LLM that words replies and helps extraction; `None`: template replies.
    pub llm: Option<Arc<Llm>>,
    /// The CRM webhook URL each handoff is posted to (through the outbox); `None`: no CRM.
    pub crm_webhook_url: Option<String>,
}

/// How a turn ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TurnRun {
    /// Committed at `version` with this many replies queued; `summary` is the conversation
    /// after the turn (state, score, temperature, handoff reason).
    Committed {
        version: i64,
        replies: usize,
        summary: ConversationSummary,
    },
    /// Nothing was pending.
    Idle,
    /// Another worker holds the conversation.
    Busy,
    /// The conversation moved on while we worked: nothing written; redo from `begin_turn`.
    Stale,
    /// A newer message of the lead arrived during the LLM call: the call was dropped, nothing
    /// was written and the lease released; the next turn answers both messages.
    Superseded,
}

/// A turn failure (the inbox rows stay pending and are retried).
#[derive(Debug, thiserror::Error)]
pub enum TurnError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("conversation {conversation_id}: stored flow snapshot unreadable: {message}")]
    Snapshot {
        conversation_id: i64,
        message: String,
    },
}

/// Maps a stored inbound message to the flow's view of it. `None` for what the flow ignores
/// (a message with neither text nor a kind the flow reads).
fn to_flow_message(m: &InboundMessage) -> Option<FlowMessage> {
    let text = m.text.clone();
    Some(match &m.message_type {
        MessageType::Text => FlowMessage::Text { text: text? },
        MessageType::Image | MessageType::Video | MessageType::Document | MessageType::Sticker => {
            FlowMessage::Image { caption: text }
        }
        MessageType::Audio => FlowMessage::Audio { transcript: text },
        MessageType::Interactive | MessageType::Button => FlowMessage::Interactive {
            id: m.reply_id.clone().unwrap_or_default(),
            title: text.unwrap_or_default(),
        },
        MessageType::Location => {
            let loc = m.location.as_ref()?;
            FlowMessage::Location {
                latitude: loc.latitude?,
                longitude: loc.longitude?,
            }
        }
        MessageType::Reaction => FlowMessage::Reaction { emoji: text? },
        MessageType::Contacts | MessageType::Template | MessageType::Other(_) => {
            FlowMessage::Text { text: text? }
        }
    })
}

/// What the pending inbox rows mean for the flow, in arrival order, and what they add to the
/// conversation's message log.
struct Plan {
    events: Vec<InputEvent>,
    messages: Vec<NewMessage>,
    /// `(kapso message id, error)` of outbound messages WhatsApp reported failed.
    delivery_failures: Vec<(String, String)>,
    /// The newest inbound wamid (for the read receipt and typing indicator).
    last_inbound_wamid: Option<String>,
}

fn plan(rows: &[InboxRow]) -> Plan {
    let mut plan = Plan {
        events: Vec::new(),
        messages: Vec::new(),
        delivery_failures: Vec::new(),
        last_inbound_wamid: None,
    };
    let mut batch: Vec<FlowMessage> = Vec::new();
    let flush = |batch: &mut Vec<FlowMessage>, events: &mut Vec<InputEvent>| {
        if !batch.is_empty() {
            events.push(InputEvent::Messages {
                messages: std::mem::take(batch),
            });
        }
    };
    for row in rows {
        match row.kind {
            EventKind::Message => {
                let Some(m) = &row.event.message else {
                    continue;
                };
                if let Some(fm) = to_flow_message(m) {
                    batch.push(fm);
                }
                plan.last_inbound_wamid = Some(m.wamid.clone());
                plan.messages.push(NewMessage {
                    direction: Direction::Inbound,
                    inbox_id: Some(row.id),
                    wamid: Some(m.wamid.clone()),
                    text: m.text.clone(),
                    meta: json!({"type": m.message_type}),
                    send: None,
                });
            }
            EventKind::Status => {
                let Some(s) = &row.event.status else { continue };
                if s.status == "sent" && s.origin.as_deref() == Some("business_app") {
                    // A consultant answered from the phone: the bot steps back.
                    flush(&mut batch, &mut plan.events);
                    plan.events.push(InputEvent::HumanTakeover);
                    plan.messages.push(NewMessage {
                        direction: Direction::Outbound,
                        inbox_id: Some(row.id),
                        wamid: Some(s.wamid.clone()),
                        text: s.text.clone(),
                        meta: json!({"origin": "business_app"}),
                        send: None,
                    });
                } else if s.status == "failed" {
                    let error = s
                        .errors
                        .iter()
                        .map(|e| {
                            format!(
                                "{} {}",
                                e.code.map(|c| c.to_string()).unwrap_or_default(),
                                e.title.as_deref().or(e.message.as_deref()).unwrap_or("")
                            )
                        })
                        .collect::<Vec<_>>()
                        .join("; ");
                    plan.delivery_failures.push((s.wamid.clone(), error));
                }
            }
            EventKind::Workflow => {
                if row.event_type == "workflow.execution.handoff" {
                    flush(&mut batch, &mut plan.events);
                    plan.events.push(InputEvent::HumanTakeover);
                }
            }
            EventKind::Control => {
                if row.event_type == crate::inbox::RESUME_EVENT {
                    flush(&mut batch, &mut plan.events);
                    plan.events.push(InputEvent::Resume);
                }
            }
            EventKind::Conversation | EventKind::Unknown => {}
        }
    }
    flush(&mut batch, &mut plan.events);
    plan
}

/// The slots to offer now: the configured weekly slots in the booking window, minus those whose
/// capacity is used up (one store read, only in booking and scheduling turns).
async fn free_slots(
    deps: &TurnDeps,
    key: &ConversationKey,
    config: &FlowConfig,
    now: DateTime<Utc>,
) -> Result<Vec<crate::flow::SlotOption>, StoreError> {
    let window_ms = i64::from(config.scheduling.booking_window_days.saturating_add(1)) * 86_400_000;
    let booked = deps
        .store
        .booked_slots(
            &key.workspace_id,
            now.timestamp_millis(),
            now.timestamp_millis() + window_ms,
        )
        .await?;
    let booked: scheduling::Bookings = booked.into_iter().collect();
    Ok(scheduling::free_slots(&config.scheduling, now, &booked))
}

/// A reply to the lead, from `(text, meta)`.
fn lead_reply((text, meta): (String, serde_json::Value), send: &Option<SendRequest>) -> NewMessage {
    NewMessage {
        direction: Direction::Outbound,
        inbox_id: None,
        wamid: None,
        text: Some(text),
        meta,
        send: send.clone(),
    }
}

/// Destinations that fit what the lead told (country, IELTS, yearly budget), best first, as a
/// knowledge answer (seed §8 `findMatchingDestinations`, which the old processor never used).
fn recommendations(
    index: &crate::knowledge::KnowledgeIndex,
    snapshot: &Snapshot,
    country: Option<&str>,
) -> KnowledgeAnswer {
    use crate::knowledge::{
        LeadProfile, parse_budget_idr, parse_ielts, recommend, recommendation_text,
    };
    let profile = LeadProfile {
        country: country
            .map(str::to_string)
            .or_else(|| snapshot.field("country").map(str::to_string)),
        ielts: snapshot.field("english_level").and_then(parse_ielts),
        budget_idr: snapshot.field("budget").and_then(parse_budget_idr),
    };
    let picks = recommend(&index.kb().destinations, &profile, 3);
    KnowledgeAnswer {
        entry_ids: picks.iter().map(|d| d.id.clone()).collect(),
        text: recommendation_text(&picks, &profile),
    }
}

/// Whether a template reply may be worded by the LLM: the conversational stages' replies.
/// Booking, scheduling and handoff texts carry exact dates, slot lists and confirmations, and
/// are sent as written so a model can never alter them.
fn worded_by_llm(template: &str) -> bool {
    matches!(
        template.split('.').next(),
        Some("greeting" | "qualifying" | "scoring" | "completed")
    )
}

/// The texts the flow reads in a batch of messages (text, captions, transcripts, button titles).
fn texts_of(batch: &[FlowMessage]) -> Vec<String> {
    batch
        .iter()
        .filter_map(|m| match m {
            FlowMessage::Text { text } => Some(text.clone()),
            FlowMessage::Image { caption } => caption.clone(),
            FlowMessage::Audio { transcript } => transcript.clone(),
            FlowMessage::Interactive { title, .. } => Some(title.clone()),
            FlowMessage::Location { .. } | FlowMessage::Reaction { .. } => None,
        })
        .collect()
}

/// The outcome of a future raced against a newer message of the lead.
enum Raced<T> {
    Done(T),
    Interrupted,
}

/// Runs `work` unless a newer message arrives first (`arrivals` changes). Without `arrivals`,
/// or once nobody can signal any more, `work` simply runs to the end.
async fn race<T>(
    work: impl std::future::Future<Output = T>,
    arrivals: &mut Option<watch::Receiver<u64>>,
) -> Raced<T> {
    let Some(rx) = arrivals.as_mut() else {
        return Raced::Done(work.await);
    };
    let mut work = std::pin::pin!(work);
    tokio::select! {
        out = &mut work => Raced::Done(out),
        changed = rx.changed() => match changed {
            Ok(()) => Raced::Interrupted,
            Err(_) => Raced::Done(work.await),
        },
    }
}

/// Ends an interrupted turn: nothing is written, the lease is released so the next turn (with
/// the newer message) starts at once.
async fn supersede(deps: &TurnDeps, claim: &TurnClaim) -> Result<TurnRun, TurnError> {
    tracing::info!(
        conversation = claim.conversation_id,
        "a newer message arrived during the LLM call: the turn starts again with it"
    );
    deps.store
        .release_turn(claim.conversation_id, &claim.lease_token)
        .await?;
    Ok(TurnRun::Superseded)
}

/// A message to a consultant (E.164 `to`), sent from the conversation's business number and
/// logged in the conversation with `meta`.
fn consultant_notice(
    claim: &TurnClaim,
    to: &str,
    text: String,
    meta: serde_json::Value,
) -> NewMessage {
    NewMessage {
        direction: Direction::Outbound,
        inbox_id: None,
        wamid: None,
        text: Some(text),
        meta,
        send: claim.phone_number_id.as_ref().map(|pnid| SendRequest {
            phone_number_id: pnid.clone(),
            to: to.to_string(),
        }),
    }
}

/// Runs one turn for `key`. See the module docs.
///
/// `arrivals`, when given, changes whenever a newer message of this lead arrives; an LLM call
/// in flight is then dropped and the turn ends as [`TurnRun::Superseded`].
pub async fn take_turn(
    deps: &TurnDeps,
    key: &ConversationKey,
    mut arrivals: Option<watch::Receiver<u64>>,
) -> Result<TurnRun, TurnError> {
    let now = (deps.clock)();
    let claim = match deps
        .store
        .begin_turn(key, now.timestamp_millis(), deps.lease_ms)
        .await?
    {
        BeginTurn::Claimed(claim) => *claim,
        BeginTurn::Idle => return Ok(TurnRun::Idle),
        BeginTurn::Busy { .. } => return Ok(TurnRun::Busy),
    };
    if let Some(rx) = arrivals.as_mut() {
        // Arrivals up to now are in this claim (or in the next turn's): only newer ones count.
        rx.borrow_and_update();
    }
    let started = Instant::now();
    let result = run_claimed(deps, key, &claim, now, arrivals).await;
    metrics::histogram!(names::TURN_SECONDS).record(started.elapsed().as_secs_f64());
    result
}

async fn run_claimed(
    deps: &TurnDeps,
    key: &ConversationKey,
    claim: &TurnClaim,
    now: DateTime<Utc>,
    mut arrivals: Option<watch::Receiver<u64>>,
) -> Result<TurnRun, TurnError> {
    let mut snapshot = match &claim.snapshot {
        Some(value) => {
            Snapshot::from_json(&value.to_string()).map_err(|e| TurnError::Snapshot {
                conversation_id: claim.conversation_id,
                message: e.to_string(),
            })?
        }
        None => Snapshot::new(),
    };
    let config = deps.flow.current().for_workspace(&key.workspace_id);
    let plan = plan(&claim.inbound);
    let plan_last_wamid = plan.last_inbound_wamid.clone();
    let mut messages = plan.messages;
    let send = claim.phone_number_id.as_ref().map(|pnid| SendRequest {
        phone_number_id: pnid.clone(),
        to: key.contact_phone.clone(),
    });
    let mut replies = 0;
    let mut transitions = Vec::new();
    let mut events: VecDeque<InputEvent> = plan.events.into();
    // The knowledge answer found for this turn's question, used by the next `AskLlm`.
    let mut knowledge: Option<KnowledgeAnswer> = None;
    // The slot booked in this turn (its consultant gets the lead).
    let mut booked_slot: Option<crate::flow::SlotOption> = None;
    // Consultant notifications, queued after the lead's replies.
    let mut notices: Vec<NewMessage> = Vec::new();
    // CRM changes of this turn (status only when set, tags only added).
    let mut lead = LeadChange::default();
    // CRM webhook calls of this turn (one per handoff).
    let mut webhooks: Vec<NewWebhook> = Vec::new();
    // The conversation as the LLM sees it: recent messages, then this turn's.
    let history: Vec<ChatMessage> = claim
        .recent
        .iter()
        .filter_map(|m| {
            let text = m.text.clone()?;
            Some(match m.direction {
                Direction::Inbound => ChatMessage::lead(text),
                Direction::Outbound => ChatMessage::assistant(text),
            })
        })
        .chain(
            messages
                .iter()
                .filter(|m| m.direction == Direction::Inbound)
                .filter_map(|m| m.text.clone().map(ChatMessage::lead)),
        )
        .collect();
    let mut typing_shown = false;
    let show_typing = || {
        if let (Some(pnid), Some(wamid)) = (&claim.phone_number_id, &plan_last_wamid) {
            deps.outbox.mark_read(pnid.clone(), wamid.clone());
        }
    };
    if claim.snapshot.is_none()
        && let Some(llm) = &deps.llm
    {
        llm.record_new_lead(&key.contact_phone);
    }
    while let Some(event) = events.pop_front() {
        let free_slots = if flow::needs_free_slots(&snapshot) {
            Some(free_slots(deps, key, &config, now).await?)
        } else {
            None
        };
        let mut llm_fields = BTreeMap::new();
        if let (Some(llm), InputEvent::Messages { messages: batch }) = (&deps.llm, &event) {
            let latest = texts_of(batch);
            if !latest.is_empty() {
                let req = ExtractRequest::for_turn(
                    &key.contact_phone,
                    &snapshot,
                    &config,
                    history.clone(),
                    latest,
                    now,
                );
                match race(llm.extract(&req), &mut arrivals).await {
                    Raced::Interrupted => return supersede(deps, claim).await,
                    Raced::Done(Ok(found)) => llm_fields = found.fields,
                    Raced::Done(Err(e)) => {
                        tracing::warn!(error = %e, "LLM extraction failed; rules only")
                    }
                }
            }
        }
        let input = TurnInput {
            now,
            event,
            form_answers: (deps.form_answers)(key),
            free_slots,
            llm_fields,
        };
        let out = flow::run_turn(&snapshot, &input, &config);
        snapshot = out.snapshot;
        transitions.extend(out.transitions);
        for effect in out.effects {
            // With an LLM, conversational template replies are worded by the model (the
            // template is the fallback); replies with exact facts stay verbatim.
            let effect = match effect {
                Effect::Reply(r) if deps.llm.is_some() && worded_by_llm(&r.template) => {
                    Effect::AskLlm {
                        instruction: String::new(),
                        fallback: r,
                    }
                }
                other => other,
            };
            let (text, meta) = match effect {
                Effect::Reply(r) => (r.text, json!({"template": r.template})),
                Effect::AskLlm {
                    instruction,
                    fallback,
                } => {
                    // Without an LLM (or when it fails): the knowledge base's answer (if any) and
                    // the core's pending question, or else the core's template fallback.
                    let template_reply = match knowledge.clone() {
                        Some(k) if !k.text.trim().is_empty() => {
                            let question =
                                fallback.values.get("question").cloned().unwrap_or_default();
                            let text = if question.is_empty() {
                                k.text
                            } else {
                                format!("{}\n\n{question}", k.text)
                            };
                            (
                                text,
                                json!({"template": "knowledge", "knowledge_ids": k.entry_ids}),
                            )
                        }
                        _ => (
                            fallback.text.clone(),
                            json!({"template": fallback.template}),
                        ),
                    };
                    let Some(llm) = &deps.llm else {
                        knowledge = None;
                        replies += 1;
                        messages.push(lead_reply(template_reply, &send));
                        continue;
                    };
                    let req = ReplyRequest::for_ask_llm(
                        &key.contact_phone,
                        &snapshot,
                        &config,
                        &instruction,
                        &fallback,
                        knowledge.take(),
                        input.free_slots.as_deref(),
                        history.clone(),
                        now,
                    );
                    if deps.mark_read && !typing_shown {
                        typing_shown = true;
                        show_typing();
                    }
                    let call = keep_typing(llm.reply(&req), TYPING_REFRESH, || {
                        if deps.mark_read {
                            show_typing();
                        }
                        std::future::ready(())
                    });
                    match race(call, &mut arrivals).await {
                        Raced::Interrupted => return supersede(deps, claim).await,
                        Raced::Done(Ok(r)) => (
                            r.text,
                            json!({
                                "template": fallback.template,
                                "llm": {"model": r.model, "arm": r.arm,
                                        "prompt_tokens": r.prompt_tokens,
                                        "completion_tokens": r.completion_tokens,
                                        "latency_ms": r.latency_ms},
                            }),
                        ),
                        Raced::Done(Err(e)) => {
                            tracing::warn!(error = %e, kind = e.kind(), "LLM reply failed; template reply sent");
                            template_reply
                        }
                    }
                }
                Effect::SearchKnowledge {
                    query,
                    country,
                    recommend,
                } => {
                    let answer = deps.knowledge.index(&key.workspace_id).map(|i| {
                        if recommend {
                            recommendations(&i, &snapshot, country.as_deref())
                        } else {
                            i.answer(&query, country.as_deref(), 2)
                        }
                    });
                    if let Some(a) = &answer {
                        tracing::info!(entries = ?a.entry_ids, conversation = claim.conversation_id, "knowledge search");
                    }
                    knowledge = answer;
                    continue;
                }
                Effect::Handoff { reason, summary } => {
                    let reason = reason.as_str();
                    tracing::info!(reason, contact = %mask_phone(&key.contact_phone), "handed off to a consultant");
                    if let Some(tag) = handoff::tag_for(reason)
                        && !lead.add_tags.iter().any(|t| t == tag)
                    {
                        lead.add_tags.push(tag.to_string());
                    }
                    let lead_texts: Vec<&str> = claim
                        .recent
                        .iter()
                        .filter(|m| m.direction == Direction::Inbound)
                        .filter_map(|m| m.text.as_deref())
                        .chain(
                            messages
                                .iter()
                                .filter(|m| m.direction == Direction::Inbound)
                                .filter_map(|m| m.text.as_deref()),
                        )
                        .collect();
                    let digest = handoff::digest(&lead_texts);
                    let notice = handoff::HandoffNotice {
                        reason,
                        contact_phone: &key.contact_phone,
                        contact_name: claim.contact_name.as_deref(),
                        summary: &summary,
                        digest: &digest,
                        booked: booked_slot.as_ref(),
                    };
                    if let Some(url) = &deps.crm_webhook_url {
                        let event = handoff::crm_event(
                            &notice,
                            claim.conversation_id,
                            &key.workspace_id,
                            &snapshot.lead,
                            now,
                        );
                        webhooks.push(NewWebhook {
                            url: url.clone(),
                            body: event.to_string(),
                        });
                    }
                    // A person who took the conversation over needs no notice about it.
                    if reason == "human_takeover" {
                        continue;
                    }
                    let Some(consultant) = handoff::assign(
                        &config.scheduling,
                        claim.conversation_id,
                        booked_slot.as_ref(),
                    ) else {
                        tracing::warn!("no consultant configured: the handoff notice goes nowhere");
                        continue;
                    };
                    let text = handoff::consultant_message(
                        &consultant,
                        &notice,
                        scheduling::time_zone(&config.scheduling),
                    );
                    notices.push(consultant_notice(
                        claim,
                        &consultant.whatsapp,
                        text,
                        json!({"audience": "consultant", "handoff_reason": reason}),
                    ));
                    continue;
                }
                Effect::BookSlot { slot, notes } => {
                    let outcome = deps
                        .store
                        .book_slot(NewAppointment {
                            conversation_id: claim.conversation_id,
                            workspace_id: key.workspace_id.clone(),
                            slot_id: slot.id.clone(),
                            starts_at_ms: slot.start.timestamp_millis(),
                            duration_minutes: slot.duration_minutes,
                            consultant_name: slot.consultant_name.clone(),
                            consultant_whatsapp: slot.consultant_whatsapp.clone(),
                            capacity: scheduling::capacity_for(&config.scheduling, &slot),
                            notes,
                            now_ms: now.timestamp_millis(),
                        })
                        .await?;
                    let result = match outcome {
                        BookingOutcome::Booked { appointment_id } => {
                            tracing::info!(appointment = appointment_id, slot = %slot.id, "consultation booked");
                            booked_slot = Some(slot.clone());
                            lead.status = Some("booked".to_string());
                            if let Some(llm) = &deps.llm {
                                llm.record_booking(&key.contact_phone);
                            }
                            BookingResult::Booked {
                                slot_id: slot.id,
                                appointment_id: appointment_id.to_string(),
                            }
                        }
                        BookingOutcome::Full => {
                            tracing::info!(slot = %slot.id, "slot taken meanwhile; offering fresh options");
                            BookingResult::SlotTaken { slot_id: slot.id }
                        }
                    };
                    events.push_front(InputEvent::BookingResult { result });
                    continue;
                }
                Effect::CancelAppointment {
                    appointment_id,
                    slot,
                    reschedule,
                } => {
                    let cancelled = match appointment_id.parse::<i64>() {
                        Ok(id) => {
                            deps.store
                                .cancel_appointment(
                                    claim.conversation_id,
                                    id,
                                    now.timestamp_millis(),
                                )
                                .await?
                        }
                        Err(_) => false,
                    };
                    tracing::info!(appointment = %appointment_id, reschedule, cancelled, "lead released a booked consultation");
                    if cancelled {
                        let text = handoff::cancellation_message(
                            &key.contact_phone,
                            claim.contact_name.as_deref(),
                            &slot,
                            reschedule,
                            scheduling::time_zone(&config.scheduling),
                        );
                        notices.push(consultant_notice(
                            claim,
                            &slot.consultant_whatsapp,
                            text,
                            json!({"audience": "consultant", "appointment_released": appointment_id}),
                        ));
                    }
                    continue;
                }
                Effect::UpdateLead(update) => {
                    if let Some(status) = update.status {
                        lead.status = Some(status);
                    }
                    continue;
                }
                Effect::OfferSlots { .. } => continue,
            };
            if send.is_none() {
                tracing::error!(contact = %mask_phone(&key.contact_phone), "no business number known for this conversation; reply stored, not sent");
            }
            replies += 1;
            messages.push(lead_reply((text, meta), &send));
        }
    }
    messages.extend(notices);
    if replies > 0 && deps.mark_read && !typing_shown {
        show_typing();
    }
    let score = snapshot.lead.score.as_ref();
    let summary = ConversationSummary {
        flow_state: Some(snapshot.stage_id().as_str().to_string()),
        lead_score: score.map(|s| i64::from(s.total)),
        lead_temperature: score.map(|s| s.temperature.as_str().to_string()),
        handoff_reason: snapshot.handoff_reason().map(|r| r.as_str().to_string()),
    };
    let commit = TurnCommit {
        conversation_id: claim.conversation_id,
        version: claim.version,
        lease_token: claim.lease_token.clone(),
        consumed_inbox_ids: claim.inbound.iter().map(|r| r.id).collect(),
        snapshot: serde_json::to_value(&snapshot).map_err(|e| TurnError::Snapshot {
            conversation_id: claim.conversation_id,
            message: e.to_string(),
        })?,
        summary: summary.clone(),
        messages,
        now_ms: now.timestamp_millis(),
        outbox_lease_ms: OUTBOX_LEASE_MS,
        lead,
        webhooks,
    };
    match deps.store.commit_turn(commit).await? {
        CommitOutcome::Committed { version, outbox } => {
            for (from, to) in &transitions {
                tracing::info!(
                    from = from.as_str(),
                    to = to.as_str(),
                    conversation = claim.conversation_id,
                    "flow transition"
                );
            }
            deps.outbox.deliver(outbox);
            for (wamid, error) in plan.delivery_failures {
                match deps.store.record_delivery_failure(&wamid, &error).await {
                    Ok(Some(id)) => {
                        tracing::warn!(outbox_id = id, %error, "WhatsApp reported a reply as failed")
                    }
                    Ok(None) => {
                        tracing::info!(%error, "a message we did not send was reported failed")
                    }
                    Err(e) => tracing::warn!(error = %e, "cannot record a delivery failure"),
                }
            }
            Ok(TurnRun::Committed {
                version,
                replies,
                summary,
            })
        }
        CommitOutcome::Stale => Ok(TurnRun::Stale),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inbox::{InboundEvent, InboxState, StatusUpdate};

    fn row(id: i64, event: InboundEvent) -> InboxRow {
        InboxRow {
            id,
            delivery_key: format!("d{id}"),
            kind: event.kind,
            event_type: event.event_type.clone(),
            workspace_id: Some("default".into()),
            state: InboxState::Pending,
            event,
            raw: json!({}),
            received_at_ms: 0,
        }
    }

    fn text(id: i64, t: &str) -> InboxRow {
        let mut e = InboundEvent::unknown("whatsapp.message.received");
        e.kind = EventKind::Message;
        e.message = Some(InboundMessage {
            wamid: format!("wamid.{id}"),
            timestamp: None,
            message_type: MessageType::Text,
            text: Some(t.into()),
            reply_id: None,
            media: None,
            location: None,
            reacts_to: None,
            context_id: None,
            origin: None,
        });
        row(id, e)
    }

    fn status(id: i64, status: &str, origin: Option<&str>) -> InboxRow {
        let mut e = InboundEvent::unknown(format!("whatsapp.message.{status}"));
        e.kind = EventKind::Status;
        e.status = Some(StatusUpdate {
            wamid: format!("wamid.out{id}"),
            status: status.into(),
            timestamp: None,
            recipient: None,
            origin: origin.map(str::to_string),
            direction: Some("outbound".into()),
            text: Some("Halo, saya konsultan".into()),
            errors: vec![],
        });
        row(id, e)
    }

    #[test]
    fn rapid_messages_form_one_turn_and_a_takeover_splits_them() {
        let p = plan(&[
            text(1, "halo"),
            text(2, "mau tanya"),
            status(3, "sent", Some("business_app")),
            text(4, "oke"),
            status(5, "delivered", None),
        ]);
        assert_eq!(p.events.len(), 3);
        assert!(matches!(&p.events[0], InputEvent::Messages { messages } if messages.len() == 2));
        assert_eq!(p.events[1], InputEvent::HumanTakeover);
        assert!(matches!(&p.events[2], InputEvent::Messages { messages } if messages.len() == 1));
        // Three inbound messages and the consultant's message are logged; the status is not.
        assert_eq!(p.messages.len(), 4);
        assert_eq!(p.last_inbound_wamid.as_deref(), Some("wamid.4"));
    }

    #[test]
    fn failed_statuses_are_collected_not_turned_into_events() {
        let mut failed = status(1, "failed", None);
        if let Some(s) = failed.event.status.as_mut() {
            s.errors.push(crate::inbox::StatusError {
                code: Some(131047),
                title: Some("Re-engagement message".into()),
                message: None,
            });
        }
        let p = plan(&[failed]);
        assert!(p.events.is_empty());
        assert_eq!(p.delivery_failures.len(), 1);
        assert!(p.delivery_failures[0].1.contains("131047"));
    }
}
