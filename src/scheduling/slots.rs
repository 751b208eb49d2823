//! Free slots from the weekly rules (`[scheduling]` in the flow file), the booking window,
//! the minimum notice and the bookings already made.
//!
//! Fixes the seed's generator (§9.2): slots are computed in the configured zone, not server
//! time (§12.7); each rule's `start..end` is cut into `duration_minutes` pieces (the seed made
//! one slot per pattern and date); the booking window and minimum notice apply; capacity is per
//! slot and per consultant (the seed blocked every consultant at a booked instant).

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, TimeZone, Timelike, Utc};
use chrono_tz::Tz;

use super::SlotOption;
use super::format::local;
use super::parse::{DayTimeQuery, TimeQuery};
use crate::config::flow::validate::{parse_hhmm, parse_weekday};
use crate::config::flow::{Scheduling, SlotRule};

/// Bookings already made: slot id → number of active (not cancelled) bookings.
pub type Bookings = BTreeMap<String, u32>;

/// The configured time zone; Asia/Jakarta when the name does not parse (validated at load).
pub fn time_zone(cfg: &Scheduling) -> Tz {
    cfg.time_zone.parse().unwrap_or(chrono_tz::Asia::Jakarta)
}

/// Stable slot id the store books by: local date and time plus the consultant's number,
/// e.g. `2026-11-26T09:00@+6281111000002`. Two consultants at one time are two slots.
pub fn slot_id(date: NaiveDate, time: NaiveTime, consultant_whatsapp: &str) -> String {
    format!(
        "{}T{:02}:{:02}@{}",
        date,
        time.hour(),
        time.minute(),
        consultant_whatsapp
    )
}

/// Places left in a slot of `capacity` with `booked` bookings (never below zero). The store
/// calls this inside its booking transaction; generation uses the same rule.
pub fn capacity_left(capacity: u32, booked: u32) -> u32 {
    capacity.saturating_sub(booked)
}

/// Capacity of a concrete slot: that of the weekly rule that generates it (same weekday,
/// consultant, on the rule's duration grid), or 0 when no rule does (e.g. the rules changed
/// since the slot was shown).
pub fn capacity_for(cfg: &Scheduling, slot: &SlotOption) -> u32 {
    rule_for(cfg, slot).map_or(0, |r| r.capacity)
}

/// The meeting link of a concrete slot: its weekly rule's `meeting_url`, if it has one (read
/// when the booking is confirmed and when a reminder goes out, so an edited link applies).
pub fn meeting_url<'a>(cfg: &'a Scheduling, slot: &SlotOption) -> Option<&'a str> {
    rule_for(cfg, slot)
        .and_then(|r| r.meeting_url.as_deref())
        .map(str::trim)
        .filter(|u| !u.is_empty())
}

/// The weekly rule that generates `slot` (same weekday, consultant, on the rule's duration
/// grid), if any.
fn rule_for<'a>(cfg: &'a Scheduling, slot: &SlotOption) -> Option<&'a SlotRule> {
    let tz = time_zone(cfg);
    let l = local(slot.start, tz);
    let t = l.time();
    cfg.slots
        .iter()
        .filter(|r| {
            parse_weekday(&r.weekday) == Some(l.weekday())
                && r.consultant_whatsapp == slot.consultant_whatsapp
                && r.duration_minutes == slot.duration_minutes
        })
        .find_map(|r| {
            let (start, end) = (parse_hhmm(&r.start)?, parse_hhmm(&r.end)?);
            let step = i64::from(r.duration_minutes.max(1));
            let offset = (t - start).num_minutes();
            let fits = t >= start
                && offset % step == 0
                && t + Duration::minutes(step) <= end
                && t + Duration::minutes(step) > t;
            fits.then_some(r)
        })
}

/// The concrete free slots: local dates from tomorrow through `booking_window_days` (today is
/// never offered, seed §9.2), each rule's `start..end` cut into `duration_minutes` pieces,
/// starting at least `min_notice_hours` after `now`, with places left given `booked`. Sorted by
/// start, then id. Rules whose weekday or times do not parse are skipped (load-time validation
/// reports them). A local time that does not exist (a DST gap) is skipped; an ambiguous one
/// takes the earlier instant.
pub fn free_slots(cfg: &Scheduling, now: DateTime<Utc>, booked: &Bookings) -> Vec<SlotOption> {
    let tz = time_zone(cfg);
    let today = now.with_timezone(&tz).date_naive();
    let earliest = now + Duration::hours(i64::from(cfg.min_notice_hours));
    let mut out = Vec::new();
    for d in 1..=i64::from(cfg.booking_window_days) {
        let Some(date) = today.checked_add_signed(Duration::days(d)) else {
            break;
        };
        for rule in &cfg.slots {
            if parse_weekday(&rule.weekday) != Some(date.weekday()) {
                continue;
            }
            let (Some(start), Some(end)) = (parse_hhmm(&rule.start), parse_hhmm(&rule.end)) else {
                continue;
            };
            let step = Duration::minutes(i64::from(rule.duration_minutes.max(1)));
            let mut t = start;
            // `t < t + step` stops at midnight wrap-around (NaiveTime arithmetic wraps).
            while t + step <= end && t < t + step {
                if let Some(at) = tz.from_local_datetime(&date.and_time(t)).earliest() {
                    let utc = at.with_timezone(&Utc);
                    let id = slot_id(date, t, &rule.consultant_whatsapp);
                    let taken = booked.get(&id).copied().unwrap_or(0);
                    if utc >= earliest && capacity_left(rule.capacity, taken) > 0 {
                        out.push(SlotOption {
                            id,
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
    out.dedup_by(|a, b| a.id == b.id);
    out
}

/// Slots matching a parsed day/time query, in order. An exact time keeps slots starting then,
/// or, if none does, the slots running at that time; a part of the day keeps slots starting in
/// its window.
pub fn filter_slots(slots: &[SlotOption], q: &DayTimeQuery, tz: Tz) -> Vec<SlotOption> {
    let on_day: Vec<&SlotOption> = slots
        .iter()
        .filter(|s| {
            q.day
                .is_none_or(|d| d.matches(local(s.start, tz).date_naive()))
        })
        .collect();
    let keep: Vec<&SlotOption> = match q.time {
        None => on_day,
        Some(TimeQuery::Part(p)) => on_day
            .into_iter()
            .filter(|s| p.contains(local(s.start, tz).time()))
            .collect(),
        Some(TimeQuery::At(t)) => {
            let exact: Vec<&SlotOption> = on_day
                .iter()
                .copied()
                .filter(|s| local(s.start, tz).time() == t)
                .collect();
            if exact.is_empty() {
                on_day
                    .into_iter()
                    .filter(|s| {
                        let st = local(s.start, tz).time();
                        let end = st + Duration::minutes(i64::from(s.duration_minutes));
                        st <= t && (t < end || end < st)
                    })
                    .collect()
            } else {
                exact
            }
        }
    };
    keep.into_iter().cloned().collect()
}
