//! Which of the shown slots the lead picked.
//!
//! The seed (§9.4 `parseSlotSelection`) took only "N", "nomor N" and "pilih N" and a time-of-day
//! word; "no 2", "2." and "yang pertama" failed. Order here: an interactive button id (the
//! slot id), a number in the list ("1", "nomor 2", "no 2", "no. 2", "2.", "pilih3", "opsi 2",
//! "yang pertama/kedua", "yang terakhir"), an exact time ("jam 10", "10:00", "2pm", or a bare
//! hour beyond the list length, "13"), then a part of the day ("sore"). A weekday in the message
//! narrows the time match ("kamis jam 10").

use chrono::{Datelike, Timelike};
use chrono_tz::Tz;

use super::SlotOption;
use super::format::local;
use super::parse::{TimeQuery, time_in, weekday_in};
use super::words::tokens;

const ORDINALS: &[(&str, usize)] = &[
    ("pertama", 1),
    ("first", 1),
    ("kesatu", 1),
    ("kedua", 2),
    ("second", 2),
    ("ketiga", 3),
    ("third", 3),
    ("keempat", 4),
    ("fourth", 4),
    ("kelima", 5),
    ("fifth", 5),
    ("keenam", 6),
    ("sixth", 6),
    ("ketujuh", 7),
    ("kedelapan", 8),
    ("kesembilan", 9),
    ("kesepuluh", 10),
];

/// Number words, only after a cue ("nomor dua", "yang tiga") or alone: "salah satu" is "any".
const NUMBER_WORDS: &[(&str, usize)] = &[
    ("satu", 1),
    ("dua", 2),
    ("tiga", 3),
    ("empat", 4),
    ("lima", 5),
    ("one", 1),
    ("two", 2),
    ("three", 3),
    ("four", 4),
    ("five", 5),
];

const NUMBER_CUES: &[&str] = &[
    "nomor", "nomer", "no", "nr", "pilih", "opsi", "option", "slot", "yang", "number", "num",
];

/// Words before a number that make it not a list number (a time or a date).
const NOT_LIST_BEFORE: &[&str] = &["jam", "pukul", "pkl", "at", "tanggal", "tgl", "jm"];

/// Words after a number that make it not a list number.
const NOT_LIST_AFTER: &[&str] = &[
    "am",
    "pm",
    "hari",
    "minggu",
    "pekan",
    "bulan",
    "jam",
    "menit",
    "pagi",
    "siang",
    "sore",
    "malam",
    "jan",
    "januari",
    "feb",
    "februari",
    "mar",
    "maret",
    "apr",
    "april",
    "mei",
    "jun",
    "juni",
    "jul",
    "juli",
    "agu",
    "agustus",
    "sep",
    "september",
    "okt",
    "oktober",
    "nov",
    "november",
    "des",
    "desember",
];

/// The list number (1-based) the text names, if any.
fn list_number(t: &[String], len: usize) -> Option<usize> {
    if t.iter().any(|w| w == "terakhir" || w == "last") && len > 0 {
        return Some(len);
    }
    t.iter().enumerate().find_map(|(i, w)| {
        let prev = i.checked_sub(1).map(|p| t[p].as_str());
        let next = t.get(i + 1).map(String::as_str);
        if let Some((_, n)) = ORDINALS.iter().find(|(o, _)| o == w) {
            return Some(*n);
        }
        if let Some((_, n)) = NUMBER_WORDS.iter().find(|(o, _)| o == w) {
            let cued = prev.is_some_and(|p| NUMBER_CUES.contains(&p)) || t.len() == 1;
            return cued.then_some(*n);
        }
        if !w.chars().all(|c| c.is_ascii_digit()) || w.len() > 3 {
            return None;
        }
        if prev.is_some_and(|p| NOT_LIST_BEFORE.contains(&p))
            || next.is_some_and(|n| NOT_LIST_AFTER.contains(&n))
        {
            return None;
        }
        w.parse().ok()
    })
}

/// Index into `shown` of the slot the lead picked, or `None`.
pub fn choose_slot(text: &str, shown: &[SlotOption], tz: Tz) -> Option<usize> {
    let trimmed = text.trim();
    if let Some(i) = shown.iter().position(|s| s.id == trimmed) {
        return Some(i);
    }
    let t = tokens(text);
    let number = list_number(&t, shown.len());
    if let Some(n) = number
        && (1..=shown.len()).contains(&n)
    {
        return Some(n - 1);
    }
    let day = weekday_in(text);
    let on_day = |s: &SlotOption| day.is_none_or(|d| local(s.start, tz).weekday() == d);
    let time = time_in(text).or_else(|| {
        // A bare hour that is no list number ("13" with three slots shown).
        number
            .filter(|n| (7..=23).contains(n))
            .and_then(|n| chrono::NaiveTime::from_hms_opt(u32::try_from(n).ok()?, 0, 0))
            .map(TimeQuery::At)
    })?;
    match time {
        TimeQuery::At(at) => shown
            .iter()
            .position(|s| on_day(s) && local(s.start, tz).time() == at)
            .or_else(|| {
                // Same hour ("jam 10" when the slot is 10:30).
                shown.iter().position(|s| {
                    let l = local(s.start, tz);
                    on_day(s) && l.hour() == at.hour() && at.minute() == 0
                })
            }),
        TimeQuery::Part(p) => shown
            .iter()
            .position(|s| on_day(s) && p.contains(local(s.start, tz).time())),
    }
}
