//! The small scheduling interface the flow core uses: parse a day, pick a slot, format slots.
//!
//! The scheduling issue owns the real day/time parsing and slot generation (store-backed
//! capacity, atomic booking); it can replace these functions without touching the machine.
//! Slot times are shown in the configured time zone (Asia/Jakarta), never server-local time
//! (seed §12.7).

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Timelike, Utc, Weekday};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use super::text::{has_any, words};
use crate::config::flow::FlowConfig;
use crate::config::flow::validate::{parse_hhmm, parse_weekday};

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

const DAYS_ID: [&str; 7] = [
    "Senin", "Selasa", "Rabu", "Kamis", "Jumat", "Sabtu", "Minggu",
];
const MONTHS_SHORT: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "Mei", "Jun", "Jul", "Agu", "Sep", "Okt", "Nov", "Des",
];
const MONTHS_LONG: [&str; 12] = [
    "Januari",
    "Februari",
    "Maret",
    "April",
    "Mei",
    "Juni",
    "Juli",
    "Agustus",
    "September",
    "Oktober",
    "November",
    "Desember",
];

/// Indonesian weekday name (`Senin` ... `Minggu`).
pub fn day_name(d: Weekday) -> &'static str {
    DAYS_ID[d.num_days_from_monday() as usize]
}

/// The configured time zone (validated at load; Asia/Jakarta if somehow invalid).
pub fn time_zone(cfg: &FlowConfig) -> Tz {
    cfg.scheduling
        .time_zone
        .parse()
        .unwrap_or(chrono_tz::Asia::Jakarta)
}

/// A weekday named anywhere in the text, whole words ("hari kamis bisa?", "Jum'at", "Rabu?");
/// fixes the seed's whole-message-only parser (§9.1).
pub fn parse_day(text: &str) -> Option<Weekday> {
    let t = words(text);
    let table: &[(&[&str], Weekday)] = &[
        (&["senin", "monday", "mon"], Weekday::Mon),
        (&["selasa", "tuesday", "tue"], Weekday::Tue),
        (&["rabu", "wednesday", "wed"], Weekday::Wed),
        (&["kamis", "thursday", "thu"], Weekday::Thu),
        (
            &["jumat", "jum at", "jumaat", "friday", "fri"],
            Weekday::Fri,
        ),
        (&["sabtu", "saturday", "sat"], Weekday::Sat),
        (&["minggu", "ahad", "sunday", "sun"], Weekday::Sun),
    ];
    table
        .iter()
        .find(|(names, _)| has_any(&t, names))
        .map(|(_, d)| *d)
}

/// Which shown slot the lead picked: a button id equal to a slot id, a number ("1", "nomor 2",
/// "no 2", "2.", "pilih3", "yang pertama"), an exact time ("jam 13:00", "13.00"), or a time of
/// day (pagi / siang / sore). Index into `shown`.
pub fn pick_slot(text: &str, shown: &[SlotOption], tz: Tz) -> Option<usize> {
    if let Some(i) = shown.iter().position(|s| s.id == text.trim()) {
        return Some(i);
    }
    let t = words(text);
    let ordinals = ["pertama", "kedua", "ketiga", "keempat", "kelima"];
    let number = t.iter().enumerate().find_map(|(i, w)| {
        let prev = i.checked_sub(1).map(|p| t[p].as_str());
        let n: usize = w
            .strip_prefix("pilih")
            .unwrap_or(w)
            .parse()
            .ok()
            .or_else(|| ordinals.iter().position(|o| o == w).map(|p| p + 1))?;
        // A number followed by a time separator is a time, not a slot number.
        let is_time = t
            .get(i + 1)
            .is_some_and(|nx| nx.len() == 2 && nx.chars().all(|c| c.is_ascii_digit()))
            || prev == Some("jam");
        (!is_time).then_some(n)
    });
    if let Some(n) = number
        && (1..=shown.len()).contains(&n)
    {
        return Some(n - 1);
    }
    // Exact time "13:00" / "13.00" / "jam 13".
    let local_hm = |s: &SlotOption| {
        let l = s.start.with_timezone(&tz);
        (l.hour(), l.minute())
    };
    for (i, w) in t.iter().enumerate() {
        if let Ok(h) = w.parse::<u32>() {
            let m = t
                .get(i + 1)
                .and_then(|m| m.parse::<u32>().ok())
                .unwrap_or(0);
            if let Some(idx) = shown.iter().position(|s| local_hm(s) == (h, m)) {
                return Some(idx);
            }
        }
    }
    let window: Option<(u32, u32)> = if has_any(&t, &["pagi", "morning"]) {
        Some((6, 12))
    } else if has_any(&t, &["siang", "afternoon"]) {
        Some((12, 15))
    } else if has_any(&t, &["sore", "evening"]) {
        Some((15, 19))
    } else {
        None
    };
    let (a, b) = window?;
    shown.iter().position(|s| (a..b).contains(&local_hm(s).0))
}

/// `26 Nov - 09:00 (60 menit)` in the configured time zone (seed §9.3 line format).
pub fn slot_line(s: &SlotOption, tz: Tz) -> String {
    let l = s.start.with_timezone(&tz);
    format!(
        "{} {} {} - {:02}:{:02} ({} menit)",
        day_name(l.weekday()),
        l.day(),
        MONTHS_SHORT[l.month0() as usize],
        l.hour(),
        l.minute(),
        s.duration_minutes
    )
}

/// Numbered slot lines, one per slot.
pub fn slot_lines(shown: &[SlotOption], tz: Tz) -> String {
    shown
        .iter()
        .enumerate()
        .map(|(i, s)| format!("{}. {}", i + 1, slot_line(s, tz)))
        .collect::<Vec<_>>()
        .join("\n")
}

/// `- Kamis (3 slot)` per weekday with free slots, in chronological order of first slot.
pub fn available_days(slots: &[SlotOption], tz: Tz) -> String {
    let mut days: Vec<(Weekday, usize)> = Vec::new();
    for s in slots {
        let d = s.start.with_timezone(&tz).weekday();
        match days.iter_mut().find(|(w, _)| *w == d) {
            Some((_, n)) => *n += 1,
            None => days.push((d, 1)),
        }
    }
    days.iter()
        .map(|(d, n)| format!("- {} ({n} slot)", day_name(*d)))
        .collect::<Vec<_>>()
        .join("\n")
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
    let l = s.start.with_timezone(&tz);
    (
        format!(
            "{}, {} {} {}",
            day_name(l.weekday()),
            l.day(),
            MONTHS_LONG[l.month0() as usize],
            l.year()
        ),
        format!("{:02}:{:02}", l.hour(), l.minute()),
        s.duration_minutes.to_string(),
    )
}

/// Candidate slots from the configured weekly patterns: from tomorrow (local) through
/// `booking_window_days`, at least `min_notice_hours` ahead, each pattern cut into
/// `duration_minutes` pieces. Ignores bookings and capacity (the store's job). A stand-in
/// until the scheduling issue's generator exists; also used by tests.
pub fn candidate_slots(cfg: &FlowConfig, now: DateTime<Utc>) -> Vec<SlotOption> {
    let tz = time_zone(cfg);
    let today: NaiveDate = now.with_timezone(&tz).date_naive();
    let earliest = now + Duration::hours(i64::from(cfg.scheduling.min_notice_hours));
    let mut out = Vec::new();
    for d in 1..=i64::from(cfg.scheduling.booking_window_days) {
        let date = today + Duration::days(d);
        for rule in &cfg.scheduling.slots {
            if parse_weekday(&rule.weekday) != Some(date.weekday()) {
                continue;
            }
            let (Some(start), Some(end)) = (parse_hhmm(&rule.start), parse_hhmm(&rule.end)) else {
                continue;
            };
            let step = Duration::minutes(i64::from(rule.duration_minutes.max(1)));
            let mut t = start;
            while t + step <= end && t < t + step {
                if let Some(local) = tz.from_local_datetime(&date.and_time(t)).single() {
                    let utc = local.with_timezone(&Utc);
                    if utc >= earliest {
                        out.push(SlotOption {
                            id: format!(
                                "{}T{:02}:{:02}@{}",
                                date,
                                t.hour(),
                                t.minute(),
                                rule.consultant_whatsapp
                            ),
                            start: utc,
                            duration_minutes: rule.duration_minutes,
                            consultant_name: rule.consultant_name.clone(),
                            consultant_whatsapp: rule.consultant_whatsapp.clone(),
                        });
                    }
                }
                t += step;
            }
        }
    }
    out.sort_by(|a, b| a.start.cmp(&b.start).then(a.id.cmp(&b.id)));
    out
}
