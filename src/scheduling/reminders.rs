//! When the 24 h and 2 h appointment reminders are due: a pure function of the appointment and
//! `now`, so the reminder worker can run at any cadence and tests inject the clock.
//!
//! The seed (§9.4, Reminders) had one cron reminder 45-75 minutes ahead, with the wrong time
//! shown (UTC stored as WIB). Booking products remind at 24 h and 2 h (peers §6).
//!
//! Rules:
//! - A reminder is due from `start - offset` until the next one takes over: the 24 h reminder
//!   until `start - 2 h`, the 2 h reminder until `start`. A worker that was down never sends a
//!   stale "tomorrow" reminder two hours before the meeting.
//! - A reminder whose due time came before the booking is skipped (booked 5 h ahead: no 24 h
//!   reminder; the confirmation just went out).
//! - Nothing after a cancel, nothing already sent. A reschedule is a new start: the store
//!   resets `sent` with it.

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use super::SlotOption;
use std::collections::BTreeMap;

use super::format::{hhmm, long_date_in, zone_label};
use crate::config::flow::FlowConfig;

/// Which reminder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReminderKind {
    /// 24 hours before the start.
    DayBefore,
    /// 2 hours before the start.
    TwoHours,
}

impl ReminderKind {
    /// Both kinds, earliest first.
    pub const ALL: [ReminderKind; 2] = [ReminderKind::DayBefore, ReminderKind::TwoHours];

    /// How long before the start it is due.
    pub fn offset(self) -> Duration {
        match self {
            ReminderKind::DayBefore => Duration::hours(24),
            ReminderKind::TwoHours => Duration::hours(2),
        }
    }

    /// Stable key for the store (`reminder_24h`, `reminder_2h`).
    pub fn as_str(self) -> &'static str {
        match self {
            ReminderKind::DayBefore => "reminder_24h",
            ReminderKind::TwoHours => "reminder_2h",
        }
    }

    /// Until when it is still worth sending (exclusive).
    fn expires(self, start: DateTime<Utc>) -> DateTime<Utc> {
        match self {
            ReminderKind::DayBefore => start - ReminderKind::TwoHours.offset(),
            ReminderKind::TwoHours => start,
        }
    }
}

/// What the reminder rule needs to know about one appointment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReminderInput {
    /// Appointment start (UTC).
    pub start: DateTime<Utc>,
    /// When it was booked (or last rescheduled).
    pub booked_at: DateTime<Utc>,
    /// Cancelled appointments get no reminder.
    pub cancelled: bool,
    /// Reminders already sent for this start.
    pub sent: Vec<ReminderKind>,
}

/// Reminders due at `now` (at most one, since the windows do not overlap).
pub fn due_reminders(appt: &ReminderInput, now: DateTime<Utc>) -> Vec<ReminderKind> {
    if appt.cancelled {
        return Vec::new();
    }
    ReminderKind::ALL
        .into_iter()
        .filter(|k| {
            let due = appt.start - k.offset();
            !appt.sent.contains(k)
                && appt.booked_at < due
                && due <= now
                && now < k.expires(appt.start)
        })
        .collect()
}

/// The next instant a reminder becomes due after `now` (for the worker's wake-up), if any.
pub fn next_reminder_at(appt: &ReminderInput, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    if appt.cancelled {
        return None;
    }
    ReminderKind::ALL
        .into_iter()
        .filter(|k| !appt.sent.contains(k))
        .map(|k| appt.start - k.offset())
        .filter(|due| *due > now && appt.booked_at < *due)
        .min()
}

/// The reminder text for the lead from the flow's `[reminders]` texts of the conversation's
/// language (`cfg` is that language's flow), with its day and month names and the zone label:
/// `Reminder: konsultasi kakak besok, Kamis, 26 November 2026 jam 09:00 WIB dengan Kak Rina
/// (60 menit)...`.
pub fn reminder_text(kind: ReminderKind, slot: &SlotOption, tz: Tz, cfg: &FlowConfig) -> String {
    let template = match kind {
        ReminderKind::DayBefore => &cfg.reminders.day_before,
        ReminderKind::TwoHours => &cfg.reminders.two_hours,
    };
    let values = BTreeMap::from([
        (
            "date".to_string(),
            long_date_in(slot.start, tz, &cfg.locale),
        ),
        ("time".to_string(), hhmm(slot.start, tz)),
        ("zone".to_string(), zone_label(tz)),
        ("consultant_name".to_string(), slot.consultant_name.clone()),
        ("duration".to_string(), slot.duration_minutes.to_string()),
        ("meeting".to_string(), super::meeting_line(slot, cfg)),
    ]);
    crate::flow::text::render(template, &values)
}
