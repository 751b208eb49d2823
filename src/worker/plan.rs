//! The plan of a turn: what its claimed inbox rows mean for the flow core (events, in arrival
//! order), what they add to the conversation's message log, and what waits for after the
//! commit (delivery failures). Pure: no store, no clock.

use serde_json::json;

use crate::flow::{InboundMessage as FlowMessage, InputEvent};
use crate::inbox::{EventKind, InboundMessage, InboxRow, MessageType, StatusUpdate};
use crate::ingress::events::normalize_e164;
use crate::store::{Direction, FailReason, NewMessage};

/// Maps a stored inbound message to the flow's view of it. Every lead message maps to
/// something the core answers (a sticker or an unsupported type too); `None` only for a text
/// or reaction without any text.
fn to_flow_message(m: &InboundMessage) -> Option<FlowMessage> {
    let text = m.text.clone();
    let unreadable = |kind: &str| FlowMessage::Unreadable {
        message_type: kind.to_string(),
    };
    Some(match &m.message_type {
        MessageType::Text => FlowMessage::Text { text: text? },
        MessageType::Image | MessageType::Video => FlowMessage::Image { caption: text },
        MessageType::Document => FlowMessage::Document {
            filename: m.media.as_ref().and_then(|x| x.filename.clone()),
            caption: text,
        },
        MessageType::Sticker => unreadable("sticker"),
        MessageType::Audio => FlowMessage::Audio { transcript: text },
        MessageType::Interactive | MessageType::Button => FlowMessage::Interactive {
            id: m.reply_id.clone().unwrap_or_default(),
            title: text.unwrap_or_default(),
        },
        MessageType::Location => match m.location.as_ref() {
            Some(loc) => match (loc.latitude, loc.longitude) {
                (Some(latitude), Some(longitude)) => FlowMessage::Location {
                    latitude,
                    longitude,
                },
                _ => unreadable("location"),
            },
            None => unreadable("location"),
        },
        MessageType::Reaction => FlowMessage::Reaction { emoji: text? },
        MessageType::Contacts => unreadable("contacts"),
        MessageType::Template | MessageType::Other(_) => match text {
            Some(text) => FlowMessage::Text { text },
            None => unreadable("unsupported"),
        },
    })
}

/// What the pending inbox rows mean for the flow, in arrival order, and what they add to the
/// conversation's message log.
pub(super) struct Plan {
    pub(super) events: Vec<InputEvent>,
    pub(super) messages: Vec<NewMessage>,
    /// Outbound messages WhatsApp reported failed.
    pub(super) delivery_failures: Vec<DeliveryFailure>,
    /// The newest inbound wamid (for the read receipt and typing indicator).
    pub(super) last_inbound_wamid: Option<String>,
    /// The ad referral of the first lead message that carried one (issue 16 item 5).
    pub(super) lead_source: Option<crate::flow::LeadSource>,
    /// The lead's new number (E.164) from a `user_changed_number` system message (issue 16
    /// item 6): the commit moves the conversation to it ([`crate::store::TurnCommit::move_to`]).
    pub(super) number_change: Option<String>,
    /// The wamid the newest lead message replies to (WhatsApp's `context.id`; issue 16 item 7).
    pub(super) reply_context: Option<String>,
}

/// An outbound message WhatsApp reported failed (`whatsapp.message.failed`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct DeliveryFailure {
    /// Kapso's message id (the outbox row's `kapso_message_id`).
    pub(super) wamid: String,
    /// WhatsApp's errors, as recorded on the row.
    pub(super) error: String,
    pub(super) reason: FailReason,
}

/// Kapso's origin of a message imported from the phone's chat history (issue 16 item 7).
pub(super) const HISTORY_SYNC: &str = "history_sync";

/// Whether a later message row of the turn is another copy of the message `wamid` (its
/// enrichment row, [`crate::inbox::enrich`]).
fn completed_later(rows: &[InboxRow], i: usize, wamid: &str) -> bool {
    rows[i + 1..]
        .iter()
        .any(|r| r.kind == EventKind::Message && r.event.wamid() == Some(wamid))
}

/// Plans a turn from its claimed inbox rows: the lead's rapid messages become one
/// [`InputEvent::Messages`], a takeover or resume splits them, failed statuses are set aside for
/// after the commit.
pub(super) fn plan(rows: &[InboxRow]) -> Plan {
    let mut plan = Plan {
        events: Vec::new(),
        messages: Vec::new(),
        delivery_failures: Vec::new(),
        last_inbound_wamid: None,
        lead_source: None,
        number_change: None,
        reply_context: None,
    };
    let mut batch: Vec<FlowMessage> = Vec::new();
    let flush = |batch: &mut Vec<FlowMessage>, events: &mut Vec<InputEvent>| {
        if !batch.is_empty() {
            events.push(InputEvent::Messages {
                messages: std::mem::take(batch),
            });
        }
    };
    for (i, row) in rows.iter().enumerate() {
        let event = match row.kind {
            EventKind::Message => {
                batch.extend(read_message(rows, i, &mut plan));
                None
            }
            EventKind::Status => read_status(row, &mut plan),
            // A Kapso workflow handed the conversation to a person.
            EventKind::Workflow => (row.event_type == "workflow.execution.handoff")
                .then_some(InputEvent::HumanTakeover),
            EventKind::Control => control_event(row),
            // A person ended the conversation in Kapso: the handoff closes.
            EventKind::Conversation => row.event.ended_by_agent.then_some(InputEvent::Close),
            EventKind::Unknown => None,
        };
        if let Some(event) = event {
            flush(&mut batch, &mut plan.events);
            plan.events.push(event);
        }
    }
    flush(&mut batch, &mut plan.events);
    if plan
        .events
        .iter()
        .any(|e| matches!(e, InputEvent::Messages { .. }))
    {
        // The lead wrote: a follow-up due at the same moment no longer applies (issue 18).
        plan.events
            .retain(|e| !matches!(e, InputEvent::FollowupDue { .. }));
    }
    plan
}

/// The lead's message of `rows[i]`, recorded in `plan` and returned for the flow; `None` for
/// a copy completed by a later row of this turn (read once, complete) and for history sync
/// (recorded, never read as the lead writing now: no turn, no read mark, no reply).
fn read_message(rows: &[InboxRow], i: usize, plan: &mut Plan) -> Option<FlowMessage> {
    let row = &rows[i];
    let m = row.event.message.as_ref()?;
    if completed_later(rows, i, &m.wamid) {
        return None;
    }
    if m.message_type == MessageType::Other("system".into()) {
        // WhatsApp's notice (a changed number or user id), not the lead writing: recorded,
        // never answered.
        let to = changed_number(row);
        plan.messages.push(NewMessage {
            direction: Direction::Inbound,
            inbox_id: Some(row.id),
            wamid: Some(m.wamid.clone()),
            text: m.text.clone(),
            meta: json!({"type": "system", "changed_number_to": to}),
            send: None,
        });
        plan.number_change = to.or(plan.number_change.take());
        return None;
    }
    let history = m.origin.as_deref() == Some(HISTORY_SYNC);
    let meta = if history {
        json!({"type": m.message_type, "origin": HISTORY_SYNC})
    } else {
        json!({"type": m.message_type})
    };
    plan.messages.push(NewMessage {
        direction: Direction::Inbound,
        inbox_id: Some(row.id),
        wamid: Some(m.wamid.clone()),
        text: m.text.clone(),
        meta,
        send: None,
    });
    if history {
        return None;
    }
    if plan.lead_source.is_none() {
        plan.lead_source = m.referral.clone();
    }
    plan.last_inbound_wamid = Some(m.wamid.clone());
    plan.reply_context = m.context_id.clone();
    to_flow_message(m)
}

/// The new number (E.164) of a `system` message of type `user_changed_number` (Meta's system
/// messages reference: `system.wa_id`, older payloads `system.new_wa_id`; in a Kapso v2 item
/// under `message.system`), `None` for any other message.
fn changed_number(row: &InboxRow) -> Option<String> {
    let system = row
        .raw
        .get("system")
        .or_else(|| row.raw.get("message").and_then(|m| m.get("system")))?;
    if system.get("type")?.as_str()? != "user_changed_number" {
        return None;
    }
    let id = system.get("wa_id").or_else(|| system.get("new_wa_id"))?;
    let id = id
        .as_str()
        .map(str::to_string)
        .or_else(|| id.as_u64().map(|n| n.to_string()))?;
    normalize_e164(&id)
}

/// A status row: a consultant's message from the phone (recorded; the bot steps back), or a
/// failed outbound message (its failure recorded; a 131050 refusal is a marketing stop).
fn read_status(row: &InboxRow, plan: &mut Plan) -> Option<InputEvent> {
    let s = row.event.status.as_ref()?;
    if s.status == "sent" && s.origin.as_deref() == Some("business_app") {
        plan.messages.push(NewMessage {
            direction: Direction::Outbound,
            inbox_id: Some(row.id),
            wamid: Some(s.wamid.clone()),
            text: s.text.clone(),
            meta: json!({"origin": "business_app"}),
            send: None,
        });
        return Some(InputEvent::HumanTakeover);
    }
    if s.status != "failed" {
        return None;
    }
    plan.delivery_failures.push(DeliveryFailure {
        wamid: s.wamid.clone(),
        error: delivery_error(s),
        reason: delivery_reason(s),
    });
    s.errors
        .iter()
        .any(|e| e.code == Some(crate::kapso::CODE_MARKETING_STOPPED))
        .then_some(InputEvent::MarketingPreference { stopped: true })
}

/// An operator's command or a queued shell event ([`crate::inbox`]'s control events).
fn control_event(row: &InboxRow) -> Option<InputEvent> {
    match row.event_type.as_str() {
        crate::inbox::RESUME_EVENT => Some(InputEvent::Resume),
        crate::inbox::CLOSE_EVENT => Some(InputEvent::Close),
        crate::inbox::TURN_STUCK_EVENT => Some(InputEvent::TurnFailed),
        crate::inbox::FOLLOWUP_DUE_EVENT => followup_due(&row.raw),
        crate::inbox::MARKETING_STOPPED_EVENT => {
            Some(InputEvent::MarketingPreference { stopped: true })
        }
        crate::inbox::MARKETING_RESUMED_EVENT => {
            Some(InputEvent::MarketingPreference { stopped: false })
        }
        _ => None,
    }
}

/// A queued follow-up's event: the due time it was queued for (`due_at_ms` in its raw JSON).
fn followup_due(raw: &serde_json::Value) -> Option<InputEvent> {
    let ms = raw.get("due_at_ms")?.as_i64()?;
    Some(InputEvent::FollowupDue {
        due_at: chrono::DateTime::from_timestamp_millis(ms)?,
    })
}

/// Whether `phone` (E.164) is one of the workspace's consultants (`scheduling.slots`): such a
/// number's messages are recorded and never run through the flow as a lead's.
pub(super) fn from_consultant(config: &crate::config::flow::FlowConfig, phone: &str) -> bool {
    crate::handoff::consultants(&config.scheduling)
        .iter()
        .any(|c| c.whatsapp == phone || normalize_e164(&c.whatsapp).as_deref() == Some(phone))
}

/// Why WhatsApp failed an outbound message: 131047 is the closed 24 h window (its template
/// version may go instead), anything else a reported failure.
fn delivery_reason(s: &StatusUpdate) -> FailReason {
    if s.errors
        .iter()
        .any(|e| e.code == Some(crate::kapso::CODE_WINDOW_CLOSED))
    {
        FailReason::WindowClosed
    } else {
        FailReason::ReportedFailed
    }
}

/// What WhatsApp said about a failed outbound message (`code title` per error, `; `-joined),
/// recorded on its outbox row.
fn delivery_error(s: &StatusUpdate) -> String {
    s.errors
        .iter()
        .map(|e| {
            format!(
                "{} {}",
                e.code.map(|c| c.to_string()).unwrap_or_default(),
                e.title.as_deref().or(e.message.as_deref()).unwrap_or("")
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// True when `events` hold a lead message that is not a reaction: the read mark and "typing…"
/// go out before a model call only then (issue 15).
pub(super) fn lead_wrote(events: &[InputEvent]) -> bool {
    events.iter().any(|e| match e {
        InputEvent::Messages { messages } => messages
            .iter()
            .any(|m| !matches!(m, FlowMessage::Reaction { .. })),
        _ => false,
    })
}

/// The texts the flow reads in a batch of messages (text, captions, transcripts, button titles).
pub(super) fn texts_of(batch: &[FlowMessage]) -> Vec<String> {
    batch
        .iter()
        .filter_map(|m| match m {
            FlowMessage::Text { text } => Some(text.clone()),
            FlowMessage::Image { caption } | FlowMessage::Document { caption, .. } => {
                caption.clone()
            }
            FlowMessage::Audio { transcript } => transcript.clone(),
            FlowMessage::Interactive { title, .. } => Some(title.clone()),
            FlowMessage::Location { .. }
            | FlowMessage::Reaction { .. }
            | FlowMessage::Unreadable { .. } => None,
        })
        .collect()
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
            referral: None,
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
        assert!(lead_wrote(&p.events));
    }

    /// History Kapso syncs from the phone is recorded, and is no lead writing now.
    #[test]
    fn history_sync_messages_are_recorded_and_start_no_turn() {
        let mut old = text(1, "halo kak, dulu aku pernah tanya");
        if let Some(m) = old.event.message.as_mut() {
            m.origin = Some("history_sync".into());
        }
        let p = plan(&[old.clone()]);
        assert!(p.events.is_empty(), "{:?}", p.events);
        assert_eq!(p.messages.len(), 1);
        assert_eq!(p.messages[0].meta["origin"], "history_sync");
        assert_eq!(p.last_inbound_wamid, None);
        assert!(!lead_wrote(&p.events));
        // A live message after it is a turn as ever.
        let p = plan(&[old, text(2, "mau tanya S2")]);
        assert!(
            matches!(&p.events[..], [InputEvent::Messages { messages }] if messages.len() == 1)
        );
        assert_eq!(p.last_inbound_wamid.as_deref(), Some("wamid.2"));
    }

    #[test]
    fn a_reaction_alone_is_no_lead_writing() {
        let reaction = InputEvent::Messages {
            messages: vec![FlowMessage::Reaction {
                emoji: "👍".into()
            }],
        };
        assert!(!lead_wrote(&[reaction, InputEvent::HumanTakeover]));
        assert!(!lead_wrote(&[]));
    }

    #[test]
    fn a_close_and_a_conversation_ended_by_a_person_become_close_events() {
        let mut close = InboundEvent::unknown(crate::inbox::CLOSE_EVENT);
        close.kind = EventKind::Control;
        let mut ended = InboundEvent::unknown(crate::inbox::CONVERSATION_ENDED_EVENT);
        ended.kind = EventKind::Conversation;
        ended.ended_by_agent = true;
        let mut idle = ended.clone();
        idle.ended_by_agent = false;
        let p = plan(&[text(1, "halo"), row(2, close), row(3, idle), row(4, ended)]);
        assert_eq!(p.events.len(), 3);
        assert_eq!(p.events[1], InputEvent::Close);
        assert_eq!(p.events[2], InputEvent::Close);
    }

    fn followup_row(id: i64, due_ms: i64) -> InboxRow {
        let mut e = InboundEvent::unknown(crate::inbox::FOLLOWUP_DUE_EVENT);
        e.kind = EventKind::Control;
        let mut r = row(id, e);
        r.raw = json!({"due_at_ms": due_ms});
        r
    }

    /// Issue 18: a follow-up queued at the moment the lead writes is not sent: the turn that
    /// reads both drops it (before or after the message), and consumes its row.
    #[test]
    fn a_follow_up_due_with_a_lead_message_in_the_same_turn_is_dropped() {
        let due = 1_764_000_000_000;
        let alone = plan(&[followup_row(1, due)]);
        assert_eq!(
            alone.events,
            vec![InputEvent::FollowupDue {
                due_at: chrono::DateTime::from_timestamp_millis(due).unwrap()
            }]
        );
        for rows in [
            vec![followup_row(1, due), text(2, "maaf baru bales")],
            vec![text(1, "halo"), followup_row(2, due)],
        ] {
            let p = plan(&rows);
            assert!(
                matches!(&p.events[..], [InputEvent::Messages { .. }]),
                "{:?}",
                p.events
            );
        }
        // A row without its due time is no follow-up.
        let mut bad = followup_row(1, due);
        bad.raw = json!({});
        assert!(plan(&[bad]).events.is_empty());
    }

    /// A message and its enrichment row in one turn: the lead's message is read once, as the
    /// complete copy (the transcript), not as a voice note to type and then the transcript.
    #[test]
    fn a_message_and_its_enrichment_row_are_read_once_complete() {
        let voice = |id: i64, transcript: Option<&str>| {
            let mut r = text(id, "");
            if let Some(m) = r.event.message.as_mut() {
                m.wamid = "wamid.V".into();
                m.message_type = MessageType::Audio;
                m.text = transcript.map(str::to_string);
            }
            r
        };
        let p = plan(&[
            voice(1, None),
            text(2, "halo"),
            voice(3, Some("budget 500jt")),
        ]);
        let InputEvent::Messages { messages } = &p.events[0] else {
            panic!("{:?}", p.events);
        };
        assert_eq!(
            messages,
            &vec![
                FlowMessage::Text {
                    text: "halo".into()
                },
                FlowMessage::Audio {
                    transcript: Some("budget 500jt".into())
                },
            ]
        );
        assert_eq!(p.messages.len(), 2);
        assert_eq!(p.messages[1].text.as_deref(), Some("budget 500jt"));
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
        assert!(p.delivery_failures[0].error.contains("131047"));
        assert_eq!(p.delivery_failures[0].reason, FailReason::WindowClosed);
    }

    /// A `system` message (issue 16 item 6): recorded, never answered; a changed number in
    /// Meta's and Kapso's shapes gives the new number.
    fn system(raw: serde_json::Value) -> InboxRow {
        let mut r = text(1, "");
        if let Some(m) = r.event.message.as_mut() {
            m.message_type = MessageType::Other("system".into());
            m.text = None;
        }
        r.raw = raw;
        r
    }

    #[test]
    fn a_changed_number_is_recorded_unanswered_in_meta_and_kapso_shapes() {
        let meta = json!({"type": "system", "system": {"type": "user_changed_number",
            "wa_id": "6281298765432", "body": "changed"}});
        let kapso = json!({"message": {"type": "system", "system": {
            "type": "user_changed_number", "new_wa_id": 6281298765432_u64}}});
        for raw in [meta, kapso] {
            let p = plan(&[system(raw)]);
            assert!(p.events.is_empty(), "never answered");
            assert_eq!(p.number_change.as_deref(), Some("+6281298765432"));
            assert_eq!(p.messages.len(), 1, "recorded");
        }
        // Another system message (a user id change without a number) moves nothing and is not
        // answered either.
        let other = json!({"system": {"type": "user_changed_user_id"}});
        let p = plan(&[system(other)]);
        assert_eq!(p.number_change, None);
        assert!(p.events.is_empty());
    }
}
