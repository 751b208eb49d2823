//! Notices of a handoff or a released consultation: the consultant's WhatsApp message, the CRM
//! event (a webhook through the outbox) and the CRM tag. All queued into the turn's commit,
//! after the lead's replies.

use serde_json::json;

use super::turn::{Turn, TurnWork};
use crate::flow::{Assignee, HandoffReason, SlotOption, Snapshot};
use crate::handoff::{self, Consultant, HandoffNotice};
use crate::scheduling;
use crate::store::{Direction, NewMessage, NewWebhook, SendRequest, TurnClaim};
use crate::telemetry::mask_phone;

/// [`crate::flow::Effect::Handoff`]: tags the lead for the CRM, posts the CRM event (when a CRM
/// is configured) and notifies the assigned consultant `to`, except after a human takeover (the
/// person who took over needs no notice).
pub(super) fn handoff(
    turn: &Turn<'_>,
    work: &mut TurnWork,
    snapshot: &Snapshot,
    reason: HandoffReason,
    summary: &str,
    to: Option<&Assignee>,
) {
    let reason = reason.as_str();
    tracing::info!(reason, contact = %mask_phone(&turn.key.contact_phone), "handed off to a consultant");
    if let Some(tag) = handoff::tag_for(reason)
        && !work.lead.add_tags.iter().any(|t| t == tag)
    {
        work.lead.add_tags.push(tag.to_string());
    }
    let digest = lead_digest(turn, work);
    let notice = HandoffNotice {
        reason,
        contact_phone: &turn.key.contact_phone,
        contact_name: turn.claim.contact_name.as_deref(),
        summary,
        digest: &digest,
        booked: work.booked_slot.as_ref(),
    };
    if let Some(webhook) = crm_event(turn, snapshot, &notice) {
        work.webhooks.push(webhook);
    }
    // A person who took the conversation over needs no notice about it.
    if reason == "human_takeover" {
        return;
    }
    if let Some(message) = consultant_handoff(turn, &notice, to) {
        work.notices.push(message);
    }
}

/// What the lead asked about, from the lead's recent and new messages.
fn lead_digest(turn: &Turn<'_>, work: &TurnWork) -> String {
    let lead_texts: Vec<&str> = turn
        .claim
        .recent
        .iter()
        .filter(|m| m.direction == Direction::Inbound)
        .filter_map(|m| m.text.as_deref())
        .chain(
            work.messages
                .iter()
                .filter(|m| m.direction == Direction::Inbound)
                .filter_map(|m| m.text.as_deref()),
        )
        .collect();
    handoff::digest(&lead_texts)
}

/// The handoff's CRM event, to the configured CRM webhook; `None` without one.
fn crm_event(
    turn: &Turn<'_>,
    snapshot: &Snapshot,
    notice: &HandoffNotice<'_>,
) -> Option<NewWebhook> {
    let url = turn.deps.crm_webhook_url.as_ref()?;
    let event = handoff::crm_event(
        notice,
        turn.claim.conversation_id,
        &turn.key.workspace_id,
        &snapshot.lead,
        turn.now,
    );
    Some(NewWebhook {
        url: url.clone(),
        body: event.to_string(),
    })
}

/// The handoff message to the consultant who gets the lead (`to`: the booked slot's, else the
/// round-robin pick the core recorded); `None` when no consultant is configured.
fn consultant_handoff(
    turn: &Turn<'_>,
    notice: &HandoffNotice<'_>,
    to: Option<&Assignee>,
) -> Option<NewMessage> {
    let Some(to) = to else {
        tracing::warn!("no consultant configured: the handoff notice goes nowhere");
        return None;
    };
    let consultant = Consultant {
        name: to.name.clone(),
        whatsapp: to.whatsapp.clone(),
    };
    let scheduling_cfg = &turn.config.scheduling;
    let text =
        handoff::consultant_message(&consultant, notice, scheduling::time_zone(scheduling_cfg));
    Some(consultant_notice(
        turn.claim,
        &consultant.whatsapp,
        text,
        json!({"audience": "consultant", "handoff_reason": notice.reason}),
    ))
}

/// [`crate::flow::Effect::Relay`]: the lead's message, passed to the consultant who has the
/// lead (`to`, recorded in the handoff), and to the CRM webhook as a
/// [`handoff::webhook::RELAY_EVENT`] when one is configured.
pub(super) fn relay(
    turn: &Turn<'_>,
    work: &mut TurnWork,
    snapshot: &Snapshot,
    text: &str,
    to: Option<&Assignee>,
) {
    if let Some(url) = &turn.deps.crm_webhook_url {
        let event = handoff::relay_event(
            &handoff::RelayedMessage {
                contact_phone: &turn.key.contact_phone,
                contact_name: turn.claim.contact_name.as_deref(),
                text,
                consultant: to,
                reason: snapshot.handoff_reason().map(|r| r.as_str()),
            },
            turn.claim.conversation_id,
            &turn.key.workspace_id,
            turn.now,
        );
        work.webhooks.push(NewWebhook {
            url: url.clone(),
            body: event.to_string(),
        });
    }
    let Some(to) = to else {
        tracing::warn!("no consultant configured: a handed-off lead's message is relayed nowhere");
        return;
    };
    let message = handoff::relay_message(
        &turn.key.contact_phone,
        turn.claim.contact_name.as_deref(),
        text,
    );
    work.notices.push(consultant_notice(
        turn.claim,
        &to.whatsapp,
        message,
        json!({"audience": "consultant", "relay": true}),
    ));
}

/// The message telling a booked consultation's consultant that the lead cancelled it (or is
/// choosing another slot, with `reschedule`).
pub(super) fn appointment_released(
    turn: &Turn<'_>,
    appointment_id: &str,
    slot: &SlotOption,
    reschedule: bool,
) -> NewMessage {
    let text = handoff::cancellation_message(
        &turn.key.contact_phone,
        turn.claim.contact_name.as_deref(),
        slot,
        reschedule,
        scheduling::time_zone(&turn.config.scheduling),
    );
    consultant_notice(
        turn.claim,
        &slot.consultant_whatsapp,
        text,
        json!({"audience": "consultant", "appointment_released": appointment_id}),
    )
}

/// [`crate::flow::Effect::MoveAppointment`] done: the consultants of the released and the new
/// slot are told (one message when they are the same person).
pub(super) fn appointment_moved(
    turn: &Turn<'_>,
    work: &mut TurnWork,
    from: &SlotOption,
    to: &SlotOption,
    summary: &str,
) {
    let moved = handoff::moves::Move {
        contact_phone: &turn.key.contact_phone,
        contact_name: turn.claim.contact_name.as_deref(),
        from,
        to,
        summary,
    };
    let tz = scheduling::time_zone(&turn.config.scheduling);
    for n in handoff::moves::move_notices(&moved, tz, &turn.config.persona.language) {
        work.notices.push(consultant_notice(
            turn.claim,
            &n.to,
            n.text,
            json!({"audience": "consultant", "appointment_moved": to.id}),
        ));
    }
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
