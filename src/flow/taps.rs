//! The ids of ARI's own reply buttons and list rows (issue 19): what a lead's tap sends back
//! (`button_reply.id` / `list_reply.id`, stored as [`super::InboundMessage::Interactive`]).
//!
//! Ids are stable and carry what the flow needs, so a tap on an older message still reads:
//!
//! | id | what |
//! |---|---|
//! | `ari:offer:yes` / `ari:offer:no` | the consultation offer's buttons |
//! | `ari:confirm:yes` / `ari:confirm:no` | the confirmation's buttons (book / another slot) |
//! | `ari:day:2026-12-03` | a day row of the day list (local date) |
//! | `ari:more:2026-12-03T13:00` | "more times": that day's slots after 13:00 (local) |
//! | a slot's own id (`2026-11-26T09:00@+62…`) | a time row of the time list |
//! | `ari:reminder:attend` / `…:reschedule` / `…:cancel` | a reminder's buttons |
//!
//! The yes/no ids end in `yes`/`no`, which is how [`super::machine`] reads any yes/no button.
//! Row ids stay under WhatsApp's 200 characters, button ids under 256.

use chrono::{NaiveDate, NaiveTime};

/// The offer's "book" button.
pub const OFFER_YES: &str = "ari:offer:yes";
/// The offer's "not now" button.
pub const OFFER_NO: &str = "ari:offer:no";
/// The confirmation's "book" button.
pub const CONFIRM_YES: &str = "ari:confirm:yes";
/// The confirmation's "another slot" button.
pub const CONFIRM_NO: &str = "ari:confirm:no";
/// A reminder's "I will attend" button.
pub const REMINDER_ATTEND: &str = "ari:reminder:attend";
/// A reminder's "reschedule" button.
pub const REMINDER_RESCHEDULE: &str = "ari:reminder:reschedule";
/// A reminder's "cancel" button.
pub const REMINDER_CANCEL: &str = "ari:reminder:cancel";

/// What one of ARI's ids means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tap {
    /// An offer or confirmation button (read as the yes/no answer by its id's ending).
    YesNo,
    /// A day row: show that day's slots.
    Day(NaiveDate),
    /// "More times": that day's slots after this local time.
    MoreTimes(NaiveDate, NaiveTime),
    /// A reminder button.
    Reminder(ReminderChoice),
}

/// A reminder button.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReminderChoice {
    /// The lead will attend (passed to the consultant like any message).
    Attend,
    /// Move the consultation.
    Reschedule,
    /// Cancel it.
    Cancel,
}

impl Tap {
    /// Reads one of ARI's ids (`None`: not ARI's, e.g. a slot id or a stranger's button).
    pub fn parse(id: &str) -> Option<Tap> {
        let rest = id.trim().strip_prefix("ari:")?;
        match rest {
            "offer:yes" | "offer:no" | "confirm:yes" | "confirm:no" => Some(Tap::YesNo),
            "reminder:attend" => Some(Tap::Reminder(ReminderChoice::Attend)),
            "reminder:reschedule" => Some(Tap::Reminder(ReminderChoice::Reschedule)),
            "reminder:cancel" => Some(Tap::Reminder(ReminderChoice::Cancel)),
            _ => {
                if let Some(d) = rest.strip_prefix("day:") {
                    return NaiveDate::parse_from_str(d, "%Y-%m-%d").ok().map(Tap::Day);
                }
                let (d, t) = rest.strip_prefix("more:")?.split_once('T')?;
                Some(Tap::MoreTimes(
                    NaiveDate::parse_from_str(d, "%Y-%m-%d").ok()?,
                    NaiveTime::parse_from_str(t, "%H:%M").ok()?,
                ))
            }
        }
    }
}

/// The id of a day row.
pub fn day_id(date: NaiveDate) -> String {
    format!("ari:day:{}", date.format("%Y-%m-%d"))
}

/// The id of a "more times" row: `date`'s slots after `after` (local).
pub fn more_id(date: NaiveDate, after: NaiveTime) -> String {
    format!(
        "ari:more:{}T{}",
        date.format("%Y-%m-%d"),
        after.format("%H:%M")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_read_back() {
        let d = NaiveDate::from_ymd_opt(2026, 12, 3).unwrap();
        let t = NaiveTime::from_hms_opt(13, 0, 0).unwrap();
        assert_eq!(Tap::parse(&day_id(d)), Some(Tap::Day(d)));
        assert_eq!(Tap::parse(&more_id(d, t)), Some(Tap::MoreTimes(d, t)));
        assert_eq!(Tap::parse(OFFER_YES), Some(Tap::YesNo));
        assert_eq!(Tap::parse(CONFIRM_NO), Some(Tap::YesNo));
        assert_eq!(
            Tap::parse(REMINDER_CANCEL),
            Some(Tap::Reminder(ReminderChoice::Cancel))
        );
        assert_eq!(Tap::parse("2026-11-26T09:00@+6281111000002"), None);
        assert_eq!(Tap::parse("ari:day:kamis"), None);
        assert_eq!(Tap::parse("ari:nope"), None);
    }
}
