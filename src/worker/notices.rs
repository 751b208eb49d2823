//! Notices of a handoff or a released consultation: the consultant's WhatsApp message, the CRM
//! event (a webhook through the outbox) and the CRM tag. All queued into the turn's commit,
//! after the lead's replies.

use serde_json::json;

use super::turn::{Turn, TurnWork};
use crate::flow::{Assignee, HandoffReason, SlotOption, Snapshot};
use crate::handoff::fallback::{NoticeKind, NoticeVars, Notices};
use crate::handoff::{self, Consultant, HandoffNotice};
use crate::scheduling;
use crate::store::{Direction, Fallback, NewMessage, NewWebhook, SendRequest, TurnClaim};
use crate::telemetry::mask_phone;

/// The turn's conversation as its notices' fallbacks need it (issue 20).
pub(super) fn notices_of<'a>(turn: &'a Turn<'_>) -> Notices<'a> {
    Notices {
        handoff: &turn.config.handoff,
        crm_url: turn.deps.crm_webhook_url.as_deref(),
        workspace_id: &turn.key.workspace_id,
        conversation_id: turn.claim.conversation_id,
        contact_phone: &turn.key.contact_phone,
        contact_name: turn.claim.contact_name.as_deref(),
        at: turn.now,
    }
}

/// A slot as a template variable: `Kamis, 26 November 2026 09:00 WIB (60 menit)`.
pub(super) fn slot_label(slot: &SlotOption, tz: chrono_tz::Tz) -> String {
    let (date, time, minutes) = scheduling::confirmation_parts(slot, tz);
    format!(
        "{date} {time} {} ({minutes} menit)",
        scheduling::zone_label(tz)
    )
}

/// Appends the lead's replies and the consultant's relays that never arrived and nobody was
/// told about (issue 20 item 4) to a notice or relay `text`; the listed messages are marked
/// told in the turn's commit.
fn with_undelivered(turn: &Turn<'_>, work: &mut TurnWork, mut text: String) -> String {
    let (ids, lines) = handoff::fallback::undelivered_list(&turn.claim.recent);
    let fresh: Vec<(i64, String)> = ids
        .into_iter()
        .zip(lines)
        .filter(|(id, _)| !work.told_undelivered.contains(id))
        .collect();
    if fresh.is_empty() {
        return text;
    }
    text.push_str("\n\nBelum terkirim sebelumnya:");
    for (id, line) in fresh {
        text.push('\n');
        text.push_str(&line);
        work.told_undelivered.push(id);
    }
    text
}

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
    let booked = work.booked_slot.clone();
    let notice = HandoffNotice {
        reason,
        contact_phone: &turn.key.contact_phone,
        contact_name: turn.claim.contact_name.as_deref(),
        summary,
        digest: &digest,
        booked: booked.as_ref(),
    };
    if let Some(webhook) = crm_event(turn, snapshot, &notice) {
        work.webhooks.push(webhook);
    }
    // A person who took the conversation over needs no notice about it.
    if reason == "human_takeover" {
        return;
    }
    if let Some(message) = consultant_handoff(turn, work, &notice, to) {
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
    work: &mut TurnWork,
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
    let tz = scheduling::time_zone(&turn.config.scheduling);
    let text = handoff::consultant_message(&consultant, notice, tz);
    let text = with_undelivered(turn, work, text);
    let vars = NoticeVars {
        reason: handoff::reason_label(notice.reason).to_string(),
        slot: notice.booked.map(|s| slot_label(s, tz)),
        summary: handoff::fallback::handoff_summary(notice.summary, notice.digest),
    };
    let fallback = notices_of(turn).notice(NoticeKind::Handoff, &consultant.whatsapp, &text, &vars);
    Some(consultant_notice(
        turn.claim,
        &consultant.whatsapp,
        text,
        json!({"audience": "consultant", "handoff_reason": notice.reason}),
        Some(fallback),
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
    let message = with_undelivered(turn, work, message);
    let fallback = notices_of(turn).relay(&to.whatsapp, text, &message);
    work.notices.push(consultant_notice(
        turn.claim,
        &to.whatsapp,
        message,
        json!({"audience": "consultant", "relay": true}),
        Some(fallback),
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
    let tz = scheduling::time_zone(&turn.config.scheduling);
    let text = handoff::cancellation_message(
        &turn.key.contact_phone,
        turn.claim.contact_name.as_deref(),
        slot,
        reschedule,
        tz,
    );
    let vars = NoticeVars {
        reason: if reschedule {
            "lead mengganti jadwal; jadwal baru menyusul"
        } else {
            "lead membatalkan konsultasi"
        }
        .into(),
        slot: Some(slot_label(slot, tz)),
        summary: String::new(),
    };
    let fallback = notices_of(turn).notice(
        NoticeKind::Released,
        &slot.consultant_whatsapp,
        &text,
        &vars,
    );
    consultant_notice(
        turn.claim,
        &slot.consultant_whatsapp,
        text,
        json!({"audience": "consultant", "appointment_released": appointment_id}),
        Some(fallback),
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
    let vars = NoticeVars {
        reason: "jadwal konsultasi dipindah".into(),
        slot: Some(slot_label(to, tz)),
        summary: summary.to_string(),
    };
    for n in handoff::moves::move_notices(&moved, tz, &turn.config.persona.language) {
        let fallback = notices_of(turn).notice(NoticeKind::Moved, &n.to, &n.text, &vars);
        work.notices.push(consultant_notice(
            turn.claim,
            &n.to,
            n.text,
            json!({"audience": "consultant", "appointment_moved": to.id}),
            Some(fallback),
        ));
    }
}

/// A message to a consultant (E.164 `to`), sent from the conversation's business number and
/// logged in the conversation with `meta`; `fallback`: what goes instead if it cannot be
/// delivered.
fn consultant_notice(
    claim: &TurnClaim,
    to: &str,
    text: String,
    meta: serde_json::Value,
    fallback: Option<Fallback>,
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
            fallback,
            channel: crate::store::Channel::Whatsapp,
            interactive: None,
        }),
    }
}
