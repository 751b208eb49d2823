//! Appointment reminders: 24 h and 2 h before a booked consultation, to the lead and to the
//! consultant (issue 6). None after a cancel (cancelled appointments are not listed).
//!
//! When a reminder time comes, the worker's due loop ([`super::due`]) runs this pass: it lists
//! the booked appointments of the next 25 h, asks
//! [`scheduling::due_reminders`] which reminders are due, and records each one with
//! [`Store::record_reminder`], which marks it sent and queues its messages in the same
//! transaction: a reminder goes out once, even with several replicas running the pass.
//!
//! WhatsApp accepts free text only within 24 h of the lead's last message. Outside that window
//! the lead's reminder is the approved template `scheduling.reminder_template` (its body's
//! `{{1}}` date, `{{2}}` time, `{{3}}` consultant); without one it is skipped (logged). A text
//! reminder WhatsApp refuses with 131047 after all goes as that template too, queued in the
//! same write (or, without one, is recorded `needs_template`). The consultant's reminder is
//! text, with the fallbacks of every consultant notice (`handoff::fallback`).
//!
//! A lead who opted out ("STOP", [`crate::flow::consent`]) gets no reminder; the consultant
//! still does.

use chrono::{DateTime, Utc};

use super::TurnDeps;
use crate::config::flow::{FlowConfig, TemplateRef};
use crate::flow::SlotOption;
use crate::handoff;
use crate::handoff::fallback::{NoticeKind, NoticeVars, Notices, template_body};
use crate::kapso::outbox::OUTBOX_LEASE_MS;
use crate::sanitize::template_var;
use crate::scheduling::{self, ReminderInput, ReminderKind};
use crate::store::{
    Channel, Fallback, NewReminder, QueuedRow, ReminderMessage, StoreError, UpcomingAppointment,
};
use crate::telemetry::mask_phone;

/// WhatsApp's customer-service window: free text only within 24 h of the lead's last message.
const WINDOW_MS: i64 = 24 * 3_600_000;

/// How far ahead appointments are listed: the 24 h reminder plus a margin (ms).
const HORIZON_MS: i64 = 25 * 3_600_000;

fn kind_of(name: &str) -> Option<ReminderKind> {
    ReminderKind::ALL.into_iter().find(|k| k.as_str() == name)
}

fn slot_of(u: &UpcomingAppointment) -> SlotOption {
    let a = &u.appointment;
    SlotOption {
        id: a.slot_id.clone(),
        start: DateTime::from_timestamp_millis(a.starts_at_ms).unwrap_or_default(),
        duration_minutes: a.duration_minutes,
        consultant_name: a.consultant_name.clone(),
        consultant_whatsapp: a.consultant_whatsapp.clone(),
    }
}

/// Records and queues every reminder due at `now`; returns how many were recorded.
pub async fn run_once(deps: &TurnDeps, now: DateTime<Utc>) -> Result<usize, StoreError> {
    let now_ms = now.timestamp_millis();
    let upcoming = deps
        .store
        .upcoming_appointments(now_ms, now_ms + HORIZON_MS, 500)
        .await?;
    let mut recorded = 0;
    for u in upcoming {
        let config = deps.flow.current().for_workspace(&u.key.workspace_id);
        let tz = scheduling::time_zone(&config.scheduling);
        let slot = slot_of(&u);
        let input = ReminderInput {
            start: slot.start,
            booked_at: DateTime::from_timestamp_millis(u.booked_at_ms).unwrap_or_default(),
            cancelled: false,
            sent: u.reminders_sent.iter().filter_map(|k| kind_of(k)).collect(),
        };
        let due = scheduling::due_reminders(&input, now);
        // The consent record is read only when a reminder is due (one read per reminder).
        let opted_out = !due.is_empty() && opted_out(deps, &u).await?;
        for kind in due {
            let Some(pnid) = &u.phone_number_id else {
                tracing::warn!(
                    appointment = u.appointment.id,
                    "no business number for this conversation; reminder not sent"
                );
                continue;
            };
            let lead = if opted_out {
                tracing::info!(
                    appointment = u.appointment.id,
                    kind = kind.as_str(),
                    "the lead opted out of messages: only the consultant is reminded"
                );
                None
            } else {
                lead_reminder(&u, kind, &slot, &config, now_ms)
            };
            let mut messages: Vec<ReminderMessage> = lead.into_iter().collect();
            let text = handoff::consultant_reminder(
                &u.key.contact_phone,
                u.contact_name.as_deref(),
                &slot,
                kind,
                tz,
            );
            let notices = Notices {
                handoff: &config.handoff,
                crm_url: deps.crm_webhook_url.as_deref(),
                workspace_id: &u.key.workspace_id,
                conversation_id: u.appointment.conversation_id,
                contact_phone: &u.key.contact_phone,
                contact_name: u.contact_name.as_deref(),
                at: now,
            };
            let vars = NoticeVars {
                reason: match kind {
                    ReminderKind::DayBefore => "pengingat: konsultasi besok",
                    ReminderKind::TwoHours => "pengingat: konsultasi 2 jam lagi",
                }
                .into(),
                slot: Some(super::notices::slot_label(&slot, tz)),
                summary: String::new(),
            };
            let fallback = notices.notice(
                NoticeKind::Reminder,
                &slot.consultant_whatsapp,
                &text,
                &vars,
            );
            messages.push(ReminderMessage {
                to: slot.consultant_whatsapp.clone(),
                body: text,
                channel: Channel::Whatsapp,
                fallback: Some(fallback),
                interactive: None,
            });
            let reminder = NewReminder {
                appointment_id: u.appointment.id,
                conversation_id: u.appointment.conversation_id,
                kind: kind.as_str().to_string(),
                messages,
                phone_number_id: pnid.clone(),
                contact_phone: u.key.contact_phone.clone(),
                now_ms,
                outbox_lease_ms: OUTBOX_LEASE_MS,
                language: Some(lead_language(&u, &config)),
            };
            if let Some(rows) = deps.store.record_reminder(reminder).await? {
                tracing::info!(
                    appointment = u.appointment.id,
                    kind = kind.as_str(),
                    "appointment reminder queued"
                );
                deps.outbox.deliver(rows);
                recorded += 1;
            }
        }
    }
    Ok(recorded)
}

/// Whether the lead opted out of messages (the consent record in the stored snapshot, issue
/// 18): a proactive message such as a reminder is then not sent to the lead. An unreadable
/// snapshot counts as not opted out (the turn that reads it fails loudly).
async fn opted_out(deps: &TurnDeps, u: &UpcomingAppointment) -> Result<bool, StoreError> {
    let record = deps.store.conversation_record(&u.key).await?;
    Ok(record
        .and_then(|r| r.snapshot)
        .and_then(|v| crate::flow::Snapshot::from_json(&v.to_string()).ok())
        .is_some_and(|s| s.lead.opted_out_at.is_some()))
}

/// The conversation's language (stored with the conversation): the persona's when none was
/// detected yet, or when the flow has no texts in it.
fn lead_language(u: &UpcomingAppointment, config: &FlowConfig) -> String {
    match &u.language {
        Some(l) if config.languages().contains(l) => l.clone(),
        _ => config.persona.language.clone(),
    }
}

/// The lead's reminder: text within WhatsApp's 24 h window (with the template version queued
/// instead if WhatsApp refuses it with 131047 after all), else the approved
/// `scheduling.reminder_template`; `None` (logged) when the window is closed and no template
/// is configured.
fn lead_reminder(
    u: &UpcomingAppointment,
    kind: ReminderKind,
    slot: &SlotOption,
    config: &FlowConfig,
    now_ms: i64,
) -> Option<ReminderMessage> {
    let tz = scheduling::time_zone(&config.scheduling);
    let template = config
        .scheduling
        .reminder_template
        .as_ref()
        .map(|t| reminder_template(t, slot, tz));
    if u.last_inbound_ms.is_some_and(|t| now_ms - t < WINDOW_MS) {
        let fallback = match &template {
            Some(body) => Fallback {
                window_closed: vec![QueuedRow {
                    channel: Channel::WhatsappTemplate,
                    to: u.key.contact_phone.clone(),
                    body: body.clone(),
                    once: None,
                    fallback: None,
                }],
                ..Fallback::default()
            },
            None => Fallback {
                needs_template: true,
                ..Fallback::default()
            },
        };
        let in_language = config.in_language(&lead_language(u, config));
        let body = scheduling::reminder_text(kind, slot, tz, in_language);
        return Some(ReminderMessage {
            to: u.key.contact_phone.clone(),
            interactive: reminder_buttons(config, in_language, &body),
            body,
            channel: Channel::Whatsapp,
            fallback: Some(fallback),
        });
    }
    let Some(body) = template else {
        tracing::warn!(appointment = u.appointment.id, contact = %mask_phone(&u.key.contact_phone), kind = kind.as_str(),
            "the lead's 24 h window is closed and no scheduling.reminder_template is configured: lead reminder skipped");
        return None;
    };
    Some(ReminderMessage {
        to: u.key.contact_phone.clone(),
        body,
        channel: Channel::WhatsappTemplate,
        fallback: None,
        interactive: None,
    })
}

/// Inside the window, the lead's reminder carries the buttons "Hadir", "Ganti jadwal",
/// "Batal" (issue 19; `[interactive]` labels of the lead's language) when the handoff stage,
/// where a booked lead is, has `interactive = true`; the text is their fallback.
fn reminder_buttons(config: &FlowConfig, in_language: &FlowConfig, body: &str) -> Option<String> {
    if !config.stages.handoff.interactive {
        return None;
    }
    crate::scheduling::choices::reminder(body, &in_language.interactive)
        .map(|i| i.to_meta().to_string())
}

/// Outside the window only an approved template may be sent: `{{1}}` date, `{{2}}` time with
/// its zone, `{{3}}` consultant ([`crate::handoff::fallback::REMINDER_TEMPLATE_PARAMETERS`]).
fn reminder_template(t: &TemplateRef, slot: &SlotOption, tz: chrono_tz::Tz) -> String {
    let (date, time, _) = scheduling::confirmation_parts(slot, tz);
    template_body(
        t,
        &[
            template_var(&date, 80),
            template_var(&format!("{time} {}", scheduling::zone_label(tz)), 80),
            template_var(&slot.consultant_name, 80),
        ],
    )
}
