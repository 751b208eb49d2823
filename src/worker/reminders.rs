//! Appointment reminders: 24 h and 2 h before a booked consultation, to the lead and to the
//! consultant (issue 6). None after a cancel (cancelled appointments are not listed).
//!
//! Every minute the task lists the booked appointments of the next 25 h, asks
//! [`scheduling::due_reminders`] which reminders are due, and records each one with
//! [`Store::record_reminder`], which marks it sent and queues its messages in the same
//! transaction: a reminder goes out once, even with several replicas running this task.
//!
//! WhatsApp accepts free text only within 24 h of the lead's last message. Outside that window
//! a reminder needs an approved template, which ARI cannot send yet: the lead's reminder is then
//! skipped (logged) and the consultant's still goes.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::TurnDeps;
use crate::flow::SlotOption;
use crate::handoff;
use crate::kapso::outbox::OUTBOX_LEASE_MS;
use crate::scheduling::{self, ReminderInput, ReminderKind};
use crate::store::{NewReminder, StoreError, UpcomingAppointment};
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
        for kind in scheduling::due_reminders(&input, now) {
            let Some(pnid) = &u.phone_number_id else {
                tracing::warn!(
                    appointment = u.appointment.id,
                    "no business number for this conversation; reminder not sent"
                );
                continue;
            };
            let mut messages = Vec::new();
            if u.last_inbound_ms.is_some_and(|t| now_ms - t < WINDOW_MS) {
                messages.push((
                    u.key.contact_phone.clone(),
                    scheduling::reminder_text(kind, &slot, tz),
                ));
            } else {
                tracing::warn!(appointment = u.appointment.id, contact = %mask_phone(&u.key.contact_phone), kind = kind.as_str(),
                    "the lead's 24 h window is closed (a template message would be needed): lead reminder skipped");
            }
            messages.push((
                slot.consultant_whatsapp.clone(),
                handoff::consultant_reminder(
                    &u.key.contact_phone,
                    u.contact_name.as_deref(),
                    &slot,
                    kind,
                    tz,
                ),
            ));
            let reminder = NewReminder {
                appointment_id: u.appointment.id,
                conversation_id: u.appointment.conversation_id,
                kind: kind.as_str().to_string(),
                messages,
                phone_number_id: pnid.clone(),
                contact_phone: u.key.contact_phone.clone(),
                now_ms,
                outbox_lease_ms: OUTBOX_LEASE_MS,
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

/// Runs [`run_once`] every `interval` until `shutdown`.
pub fn spawn(
    deps: Arc<TurnDeps>,
    interval: Duration,
    mut shutdown: watch::Receiver<bool>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = shutdown.changed() => return,
            }
            if *shutdown.borrow() {
                return;
            }
            if let Err(e) = run_once(&deps, (deps.clock)()).await {
                tracing::warn!(error = %e, "reminder pass failed; retried next minute");
            }
        }
    })
}
