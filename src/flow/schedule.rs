//! The small scheduling interface the flow core uses: parse a day, pick a slot, format slots.
//!
//! The functions delegate to [`crate::scheduling`], which owns day/time parsing, slot
//! generation with capacity, slot choice and the texts; the store owns atomic booking.
//! Slot times are shown in the configured time zone (Asia/Jakarta), never server-local time
//! (seed §12.7).

use chrono::{DateTime, Datelike, Utc, Weekday};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::config::flow::FlowConfig;
use crate::scheduling;

/// A free consultation slot, pre-loaded by the shell (from the store) for booking/scheduling.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlotOption {
    /// Stable id the shell books by (e.g. `2026-11-26T09:00@+6281111000002`).
    pub id: String,
    /// Start instant (UTC).
    pub start: DateTime<Utc>,
    /// Length in minutes.
    pub duration_minutes: u32,
    /// Consultant's display name.
    pub consultant_name: String,
    /// Consultant's WhatsApp number, E.164.
    pub consultant_whatsapp: String,
}

/// Indonesian weekday name (`Senin` ... `Minggu`).
pub fn day_name(d: Weekday) -> &'static str {
    scheduling::day_name(d)
}

/// The configured time zone (validated at load; Asia/Jakarta if somehow invalid).
pub fn time_zone(cfg: &FlowConfig) -> Tz {
    scheduling::time_zone(&cfg.scheduling)
}

/// A weekday named anywhere in the text, whole words ("hari kamis bisa?", "Jum'at", "Rabu?");
/// fixes the seed's whole-message-only parser (§9.1). "minggu depan" (next week) is no Sunday.
pub fn parse_day(text: &str) -> Option<Weekday> {
    scheduling::weekday_in(text)
}

/// Which shown slot the lead picked: a button id equal to a slot id, a date ("tgl 3", "4
/// Desember", "the 4th", "on the 26th": the slot that day, narrowed by a time in the same
/// message, "10am on the 4th"), a list position ("1", "nomor 2", "no 2", "2.", "pilih3", "yang
/// ke-2", "yang pertama", "the second one", "option 2"), a weekday ("kamis", "kamis jam 10"),
/// an exact time ("jam 13:00", "13.00"), or a time of day (pagi / siang / sore). A date or
/// weekday with several shown slots and no time picks nothing. Index into `shown`; see
/// [`scheduling::choose_slot`].
pub fn pick_slot(text: &str, shown: &[SlotOption], tz: Tz) -> Option<usize> {
    scheduling::choose_slot(text, shown, tz)
}

/// `Kamis 26 Nov - 09:00 (60 menit)` in the configured time zone (seed §9.3 line format).
pub fn slot_line(s: &SlotOption, tz: Tz) -> String {
    scheduling::slot_line(s, tz)
}

/// Numbered slot lines, one per slot.
pub fn slot_lines(shown: &[SlotOption], tz: Tz) -> String {
    scheduling::slot_lines(shown, tz)
}

/// `- Kamis (3 slot)` per weekday with free slots, in chronological order of first slot.
pub fn available_days(slots: &[SlotOption], tz: Tz) -> String {
    scheduling::available_days(slots, tz)
}

/// Slots on a weekday (local), in order.
pub fn slots_on(slots: &[SlotOption], day: Weekday, tz: Tz) -> Vec<SlotOption> {
    slots
        .iter()
        .filter(|s| s.start.with_timezone(&tz).weekday() == day)
        .cloned()
        .collect()
}

/// `(date, time, duration)` for the booking confirmation: `Kamis, 26 November 2026`, `09:00`.
pub fn confirmation_parts(s: &SlotOption, tz: Tz) -> (String, String, String) {
    scheduling::confirmation_parts(s, tz)
}

/// Candidate slots from the configured weekly patterns: from tomorrow (local) through
/// `booking_window_days`, at least `min_notice_hours` ahead, each pattern cut into
/// `duration_minutes` pieces, ignoring bookings (the shell passes the store's bookings to
/// [`scheduling::free_slots`] instead).
pub fn candidate_slots(cfg: &FlowConfig, now: DateTime<Utc>) -> Vec<SlotOption> {
    scheduling::free_slots(&cfg.scheduling, now, &scheduling::Bookings::new())
}
