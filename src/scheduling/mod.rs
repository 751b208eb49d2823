//! Consultation scheduling, the pure parts: free slots from weekly rules, day/time phrases in
//! Indonesian and English, slot choice, yes/no confirmation, reminder timing and the Indonesian
//! texts. No I/O and no clock reads: `now` is always a parameter, so every rule is testable with
//! an injected instant.
//!
//! Replaces the seed's scheduling (`scheduling.ts`, seed §9), whose defects are regression
//! tests here: server-local time instead of WIB (§12.7), one slot per pattern and date, no
//! booking window or capacity (§9.2), whole-message day names (§9.1), "no 2" / "2." not
//! understood and "yakin?" read as yes (§9.4).
//!
//! All calendar arithmetic happens in the configured zone (Asia/Jakarta by default); instants
//! are `DateTime<Utc>`. The store does the atomic capacity check at booking time, using
//! [`slots::capacity_left`] with the same rule as generation.

pub mod choices;
pub mod choose;
pub mod confirm;
pub mod format;
pub mod parse;
pub mod reminders;
pub mod slots;
mod words;

pub use crate::flow::schedule::SlotOption;
pub use choose::choose_slot;
pub use confirm::{Confirmation, parse_confirmation};
pub use format::{
    available_days, available_days_in, booking_confirmation, confirmation_parts,
    confirmation_parts_in, day_name, day_name_in, long_date_in, meeting_line, slot_line,
    slot_line_in, slot_lines, slot_lines_in, zone_label,
};
pub use parse::{DayQuery, DayTimeQuery, PartOfDay, TimeQuery, parse_day_time, weekday_in};
pub use reminders::{ReminderInput, ReminderKind, due_reminders, next_reminder_at, reminder_text};
pub use slots::{
    Bookings, capacity_for, capacity_left, filter_slots, free_slots, meeting_url, slot_id,
    time_zone,
};
