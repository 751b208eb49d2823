//! Which of the shown slots the lead picked.
//!
//! The seed (§9.4 `parseSlotSelection`) took only "N", "nomor N" and "pilih N" and a time-of-day
//! word; "no 2", "2." and "yang pertama" failed. Order here:
//! 1. an interactive button id (the slot id);
//! 2. a date ("tgl 3", "tanggal 26", "4 Desember", "Desember 4", "the 4th", "on the 26th",
//!    "26/11"): the shown slots on that day of the month — a day is never a list position, so
//!    "10am on the 4th" is no slot number 4 (issue 13);
//! 3. a number in the list ("1", "nomor 2", "no 2", "no. 2", "2.", "pilih3", "opsi 2", "option
//!    2", "yang ke-2", "yang pertama/kedua", "the second one", "the 2nd one", "yang terakhir");
//! 4. a weekday ("kamis"), an exact time ("jam 10", "10:00", "2pm", or a bare hour beyond the
//!    list length, "13") or a part of the day ("sore"); a weekday narrows the time match
//!    ("kamis jam 10"), and a day of the month beyond the list ("yang 26") counts as a date.
//!
//! A date or weekday alone picks only when exactly one shown slot is on it; with several it
//! picks nothing, so the flow lists that day's slots. A time in the same message narrows to
//! that time ("10am on the 4th", "kamis jam 10").

use chrono::{Datelike, Timelike};
use chrono_tz::Tz;

use super::SlotOption;
use super::format::local;
use super::parse::{TimeQuery, month_of, time_in, weekday_in};
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

/// Ordinal suffixes ("4th", "2nd"): a day of the month unless a list word follows.
const ORDINAL_SUFFIXES: &[&str] = &["st", "nd", "rd", "th"];

/// Words after "2nd"/"4th" that make it a list position ("the 2nd one", "4th option").
const LIST_WORDS: &[&str] = &["one", "option", "slot", "choice", "pilihan", "opsi"];

/// Words before a number that name a day of the month.
const DATE_CUES: &[&str] = &["tanggal", "tgl", "tangal", "tg", "date"];

/// Words after a number that make it not a list number.
const NOT_LIST_AFTER: &[&str] = &[
    "st",
    "nd",
    "rd",
    "th",
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
        // "the 2nd one", "4th option": a position.
        if next.is_some_and(|n| ORDINAL_SUFFIXES.contains(&n))
            && t.get(i + 2)
                .is_some_and(|n| LIST_WORDS.contains(&n.as_str()))
        {
            return w.parse().ok();
        }
        if prev.is_some_and(|p| NOT_LIST_BEFORE.contains(&p))
            || next.is_some_and(|n| NOT_LIST_AFTER.contains(&n))
        {
            return None;
        }
        w.parse().ok()
    })
}

/// A day of the month the text names, with its month when given: "tgl 3", "tanggal 26",
/// "4 Desember", "Desember 4", "Dec 4th", "the 4th", "on the 26th", "4th of December", "26/11".
fn date_named(t: &[String]) -> Option<(u32, Option<u32>)> {
    let day = |w: &str| w.parse::<u32>().ok().filter(|d| (1..=31).contains(d));
    for (i, w) in t.iter().enumerate() {
        let next = t.get(i + 1).map(String::as_str);
        let month_after = |from: usize| {
            let from = if t.get(from).is_some_and(|n| n == "of") {
                from + 1
            } else {
                from
            };
            t.get(from).and_then(|m| month_of(m))
        };
        if w.contains(['/', '-']) {
            let parts: Vec<&str> = w.split(['/', '-']).collect();
            if let [d, m, ..] = parts.as_slice()
                && let (Some(d), Ok(m)) = (day(d), m.parse::<u32>())
                && (1..=12).contains(&m)
            {
                return Some((d, Some(m)));
            }
            continue;
        }
        if DATE_CUES.contains(&w.as_str())
            && let Some(d) = next.and_then(day)
        {
            return Some((d, month_after(i + 2)));
        }
        if let Some(d) = day(w) {
            if next.is_some_and(|n| ORDINAL_SUFFIXES.contains(&n)) {
                if t.get(i + 2)
                    .is_some_and(|n| LIST_WORDS.contains(&n.as_str()))
                {
                    continue; // "the 2nd one"
                }
                return Some((d, month_after(i + 2)));
            }
            if let Some(m) = next.and_then(month_of) {
                return Some((d, Some(m)));
            }
        }
        if let Some(m) = month_of(w)
            && let Some(d) = next.and_then(day)
        {
            return Some((d, Some(m)));
        }
    }
    None
}

/// Among `candidates` (indices into `shown`), the one at `time`, or the only one.
fn pick_among(
    candidates: &[usize],
    time: Option<TimeQuery>,
    shown: &[SlotOption],
    tz: Tz,
) -> Option<usize> {
    let at_local = |i: usize| local(shown[i].start, tz);
    match time {
        None => match candidates {
            [only] => Some(*only),
            _ => None,
        },
        Some(TimeQuery::At(at)) => candidates
            .iter()
            .copied()
            .find(|&i| at_local(i).time() == at)
            .or_else(|| {
                // Same hour ("jam 10" when the slot is 10:30).
                candidates
                    .iter()
                    .copied()
                    .find(|&i| at_local(i).hour() == at.hour() && at.minute() == 0)
            }),
        Some(TimeQuery::Part(p)) => candidates
            .iter()
            .copied()
            .find(|&i| p.contains(at_local(i).time())),
    }
}

/// Index into `shown` of the slot the lead picked, or `None`.
pub fn choose_slot(text: &str, shown: &[SlotOption], tz: Tz) -> Option<usize> {
    let trimmed = text.trim();
    if let Some(i) = shown.iter().position(|s| s.id == trimmed) {
        return Some(i);
    }
    let t = tokens(text);
    let time = time_in(text);
    let on_date = |d: u32, m: Option<u32>| -> Vec<usize> {
        (0..shown.len())
            .filter(|&i| {
                let l = local(shown[i].start, tz);
                l.day() == d && m.is_none_or(|m| l.month() == m)
            })
            .collect()
    };
    if let Some((d, m)) = date_named(&t) {
        return pick_among(&on_date(d, m), time, shown, tz);
    }
    let number = list_number(&t, shown.len());
    if let Some(n) = number
        && (1..=shown.len()).contains(&n)
    {
        return Some(n - 1);
    }
    let day = weekday_in(text);
    let on_day: Vec<usize> = (0..shown.len())
        .filter(|&i| day.is_none_or(|d| local(shown[i].start, tz).weekday() == d))
        .collect();
    let time = time.or_else(|| {
        // A bare hour that is no list number ("13" with three slots shown).
        number
            .filter(|n| (7..=23).contains(n))
            .and_then(|n| chrono::NaiveTime::from_hms_opt(u32::try_from(n).ok()?, 0, 0))
            .map(TimeQuery::At)
    });
    match (time, day) {
        (Some(time), _) => pick_among(&on_day, Some(time), shown, tz),
        (None, Some(_)) => pick_among(&on_day, None, shown, tz),
        (None, None) => {
            // A day of the month beyond the list and past any hour ("yang 26").
            let d = number.filter(|n| (24..=31).contains(n))?;
            pick_among(&on_date(u32::try_from(d).ok()?, None), None, shown, tz)
        }
    }
}
