//! Day and time phrases in Indonesian and English → a structured query relative to `now` in
//! the configured zone.
//!
//! The seed only understood a whole message equal to a day name (§9.1: "hari senin", "Jum'at"
//! and "Rabu?" failed). Here a phrase can sit anywhere in the message: weekdays ("hari senin",
//! "jum'at", "Rabu?"), relative days ("besok", "lusa", "hari ini", "3 hari lagi"), weeks
//! ("minggu depan" = next week, while "minggu" alone or "hari minggu" = Sunday), "senin depan",
//! "next monday", dates ("25/11", "25-11", "25 November", "25 Nov", "November 25",
//! "tanggal 25"), times ("jam 10", "jam 10.30", "10:00", "pukul 14", "2pm") and parts of the day
//! ("pagi", "siang", "sore", "malam").
//!
//! Conventions (documented because chat is ambiguous):
//! - Weeks start on Monday (ISO). "senin depan" / "next monday" is the Monday of next week;
//!   "minggu depan" is next Monday through next Sunday.
//! - A date without a year is this year, or next year when it has already passed.
//! - A bare hour 1-6 without am/pm or a part of the day is afternoon ("jam 2" = 14:00): the
//!   consultants work office hours.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, Timelike, Utc, Weekday};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use super::words::{has_any, phrase_at, tokens};

/// Part of the day. Windows (local hours, `[start, end)`) are those of the flow's slot picker:
/// pagi 06-12, siang 12-15, sore 15-19, malam 19-24.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PartOfDay {
    /// "pagi", "morning".
    Pagi,
    /// "siang", "afternoon", "noon".
    Siang,
    /// "sore", "evening".
    Sore,
    /// "malam", "night", "tonight".
    Malam,
}

impl PartOfDay {
    /// `[start, end)` in local hours.
    pub fn hours(self) -> (u32, u32) {
        match self {
            PartOfDay::Pagi => (6, 12),
            PartOfDay::Siang => (12, 15),
            PartOfDay::Sore => (15, 19),
            PartOfDay::Malam => (19, 24),
        }
    }

    /// True when a local time falls in this part of the day.
    pub fn contains(self, t: NaiveTime) -> bool {
        let (a, b) = self.hours();
        (a..b).contains(&t.hour())
    }
}

/// The time half of a query.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimeQuery {
    /// An exact local time ("jam 10.30").
    At(NaiveTime),
    /// A part of the day ("sore").
    Part(PartOfDay),
}

/// The day half of a query, in local dates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DayQuery {
    /// One local date ("besok", "25/11", "senin depan").
    Date(NaiveDate),
    /// Any upcoming date with this weekday ("kamis"): the slot list shows the earliest ones.
    Weekday(Weekday),
    /// Local dates `from..=to` ("minggu depan", "akhir pekan").
    Range {
        /// First date, inclusive.
        from: NaiveDate,
        /// Last date, inclusive.
        to: NaiveDate,
    },
}

impl DayQuery {
    /// True when a local date satisfies this day.
    pub fn matches(&self, date: NaiveDate) -> bool {
        match *self {
            DayQuery::Date(d) => d == date,
            DayQuery::Weekday(w) => date.weekday() == w,
            DayQuery::Range { from, to } => (from..=to).contains(&date),
        }
    }
}

/// What a message says about when: a day, a time, or both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayTimeQuery {
    /// The day, if named.
    pub day: Option<DayQuery>,
    /// The time or part of the day, if named.
    pub time: Option<TimeQuery>,
}

/// Weekday words. "mon", "sat" and "sun" are left out: "mon maaf" (mohon maaf) and "sat set"
/// are chat words.
const WEEKDAYS: &[(&str, Weekday)] = &[
    ("senin", Weekday::Mon),
    ("monday", Weekday::Mon),
    ("selasa", Weekday::Tue),
    ("tuesday", Weekday::Tue),
    ("tue", Weekday::Tue),
    ("tues", Weekday::Tue),
    ("rabu", Weekday::Wed),
    ("wednesday", Weekday::Wed),
    ("wed", Weekday::Wed),
    ("kamis", Weekday::Thu),
    ("thursday", Weekday::Thu),
    ("thu", Weekday::Thu),
    ("thur", Weekday::Thu),
    ("thurs", Weekday::Thu),
    ("jumat", Weekday::Fri),
    ("jumaat", Weekday::Fri),
    ("friday", Weekday::Fri),
    ("fri", Weekday::Fri),
    ("sabtu", Weekday::Sat),
    ("saturday", Weekday::Sat),
    ("minggu", Weekday::Sun),
    ("ahad", Weekday::Sun),
    ("sunday", Weekday::Sun),
];

/// Month words (Indonesian, English, their short and old spellings) → month number 1-12;
/// also what the LLM reply check reads dates with ([`crate::llm::guard`]).
pub(crate) const MONTHS: &[(&str, u32)] = &[
    ("januari", 1),
    ("january", 1),
    ("jan", 1),
    ("februari", 2),
    ("pebruari", 2),
    ("february", 2),
    ("feb", 2),
    ("maret", 3),
    ("march", 3),
    ("mar", 3),
    ("april", 4),
    ("apr", 4),
    ("mei", 5),
    ("may", 5),
    ("juni", 6),
    ("june", 6),
    ("jun", 6),
    ("juli", 7),
    ("july", 7),
    ("jul", 7),
    ("agustus", 8),
    ("august", 8),
    ("agu", 8),
    ("agt", 8),
    ("aug", 8),
    ("september", 9),
    ("sept", 9),
    ("sep", 9),
    ("oktober", 10),
    ("october", 10),
    ("okt", 10),
    ("oct", 10),
    ("november", 11),
    ("nopember", 11),
    ("nov", 11),
    ("nop", 11),
    ("desember", 12),
    ("december", 12),
    ("des", 12),
    ("dec", 12),
];

/// Words after which "minggu"/"pekan" means a week, not Sunday.
const WEEK_FOLLOWERS: &[&str] = &["depan", "ini", "lalu", "lagi", "besok"];

/// The month (1-12) a month word names ("desember", "dec", "nov"), Indonesian or English.
pub(super) fn month_of(word: &str) -> Option<u32> {
    MONTHS.iter().find(|(m, _)| *m == word).map(|(_, n)| *n)
}

fn weekday_word(word: &str) -> Option<Weekday> {
    WEEKDAYS.iter().find(|(w, _)| *w == word).map(|(_, d)| *d)
}

/// Position and weekday of the first weekday word, where "minggu" counts as Sunday only when
/// it is not "minggu depan/ini/lalu/lagi" or "2 minggu" (weeks), unless "hari" precedes it.
fn find_weekday(t: &[String]) -> Option<(usize, Weekday)> {
    t.iter().enumerate().find_map(|(i, w)| {
        let day = weekday_word(w)?;
        if w == "minggu" {
            let after_hari = i > 0 && t[i - 1] == "hari";
            let week_sense = t
                .get(i + 1)
                .is_some_and(|n| WEEK_FOLLOWERS.contains(&n.as_str()))
                || (i > 0 && t[i - 1].parse::<u32>().is_ok())
                || (i > 0 && matches!(t[i - 1].as_str(), "akhir" | "per" | "tiap" | "setiap"));
            if week_sense && !after_hari {
                return None;
            }
        }
        Some((i, day))
    })
}

/// A weekday named anywhere in `text`, without resolving dates: "hari kamis bisa?", "Jum'at",
/// "Rabu?", "senin depan" → Monday; "minggu depan" (next week) is not Sunday. Used where no
/// `now` is at hand (the flow's `parse_day`).
pub fn weekday_in(text: &str) -> Option<Weekday> {
    find_weekday(&tokens(text)).map(|(_, d)| d)
}

/// `H`, `H:MM`, `H.MM` → (hour, minute) if valid.
fn clock(tok: &str) -> Option<(u32, u32)> {
    let (h, m) = match tok.find([':', '.']) {
        Some(p) => {
            let (h, m) = (&tok[..p], &tok[p + 1..]);
            if m.len() != 2 {
                return None;
            }
            (h.parse::<u32>().ok()?, m.parse::<u32>().ok()?)
        }
        None => {
            if tok.len() > 2 {
                return None;
            }
            (tok.parse::<u32>().ok()?, 0)
        }
    };
    (h <= 24 && m <= 59).then_some((h % 24, m))
}

fn part_word(word: &str) -> Option<PartOfDay> {
    Some(match word {
        "pagi" | "morning" | "pgi" => PartOfDay::Pagi,
        "siang" | "afternoon" | "noon" | "siangan" => PartOfDay::Siang,
        "sore" | "evening" | "sorean" => PartOfDay::Sore,
        "malam" | "night" | "tonight" | "malem" | "mlm" => PartOfDay::Malam,
        _ => return None,
    })
}

/// Hour adjusted by a following am/pm or part-of-day word; `explicit` when such a word was used.
fn adjust_hour(h: u32, next: Option<&str>) -> (u32, bool) {
    match next {
        Some("pm") => (if h < 12 { h + 12 } else { h }, true),
        Some("am") => (if h == 12 { 0 } else { h }, true),
        Some(w) => match part_word(w) {
            Some(PartOfDay::Pagi) => (h, true),
            Some(PartOfDay::Siang) => (if h <= 6 { h + 12 } else { h }, true),
            Some(PartOfDay::Sore) | Some(PartOfDay::Malam) => {
                (if h < 12 { h + 12 } else { h }, true)
            }
            None => (h, false),
        },
        None => (h, false),
    }
}

/// The time or part of the day in `text`, if any ("jam 10", "10:00", "2pm", "sore"). Pure: no
/// date is involved, so slot choice can use it without `now`.
pub fn time_in(text: &str) -> Option<TimeQuery> {
    time_of(&tokens(text))
}

fn time_of(t: &[String]) -> Option<TimeQuery> {
    for (i, w) in t.iter().enumerate() {
        let next = t.get(i + 1).map(String::as_str);
        let cue = i > 0 && matches!(t[i - 1].as_str(), "jam" | "pukul" | "pkl" | "at" | "jm");
        let has_sep = w.contains(':') || w.contains('.');
        let ampm = matches!(next, Some("am" | "pm"));
        if !(cue || has_sep || ampm) {
            continue;
        }
        // "25.11" is not a time (hour 25), "10.30" is.
        let Some((h, m)) = clock(w) else { continue };
        if !cue && !ampm && w.contains('.') && h > 23 {
            continue;
        }
        let (mut h, explicit) = adjust_hour(h, next);
        if !explicit && (1..=6).contains(&h) {
            h += 12;
        }
        if let Some(time) = NaiveTime::from_hms_opt(h % 24, m, 0) {
            return Some(TimeQuery::At(time));
        }
    }
    t.iter().find_map(|w| part_word(w)).map(TimeQuery::Part)
}

/// Next date on or after `from` with day-of-month `day`, within a year.
fn next_day_of_month(from: NaiveDate, day: u32) -> Option<NaiveDate> {
    (0..13).find_map(|k| {
        let month0 = from.month0() + k;
        let year = from.year() + (month0 / 12) as i32;
        let d = NaiveDate::from_ymd_opt(year, month0 % 12 + 1, day)?;
        (d >= from).then_some(d)
    })
}

/// A date `day`/`month` (optional year): this year, or next year once passed.
fn resolve_dm(today: NaiveDate, day: u32, month: u32, year: Option<i32>) -> Option<NaiveDate> {
    match year {
        Some(y) => NaiveDate::from_ymd_opt(y, month, day),
        None => {
            let d = NaiveDate::from_ymd_opt(today.year(), month, day);
            match d {
                Some(d) if d >= today => Some(d),
                _ => NaiveDate::from_ymd_opt(today.year() + 1, month, day),
            }
        }
    }
}

fn year_of(tok: Option<&String>) -> Option<i32> {
    let y: i32 = tok?.parse().ok()?;
    match y {
        2000..=2100 => Some(y),
        _ => None,
    }
}

/// An explicit calendar date in the tokens.
fn date_of(t: &[String], today: NaiveDate) -> Option<NaiveDate> {
    for (i, w) in t.iter().enumerate() {
        // 25/11, 25-11, 25/11/2026, 25-11-26
        if w.contains('/') || (w.contains('-') && !w.contains(':')) {
            let parts: Vec<&str> = w.split(['/', '-']).collect();
            let nums: Option<Vec<u32>> = parts.iter().map(|p| p.parse().ok()).collect();
            if let Some(nums) = nums {
                let found = match nums.as_slice() {
                    [d, m] => resolve_dm(today, *d, *m, None),
                    [d, m, y] => {
                        let y = if *y < 100 { 2000 + *y } else { *y };
                        resolve_dm(today, *d, *m, i32::try_from(y).ok())
                    }
                    _ => None,
                };
                if found.is_some() {
                    return found;
                }
            }
        }
        // 25 November (2026)
        if let Ok(d) = w.parse::<u32>()
            && let Some(m) = t.get(i + 1).and_then(|n| month_of(n))
            && let Some(found) = resolve_dm(today, d, m, year_of(t.get(i + 2)))
        {
            return Some(found);
        }
        // 4th, the 26th (this month or next), 25th November
        if let Ok(d) = w.parse::<u32>()
            && t.get(i + 1)
                .is_some_and(|n| matches!(n.as_str(), "st" | "nd" | "rd" | "th"))
        {
            let found = match t.get(i + 2).and_then(|n| month_of(n)) {
                Some(m) => resolve_dm(today, d, m, year_of(t.get(i + 3))),
                None if t.get(i + 2).is_some_and(|n| {
                    matches!(n.as_str(), "one" | "option" | "slot" | "choice")
                }) =>
                {
                    None
                }
                None => next_day_of_month(today, d),
            };
            if found.is_some() {
                return found;
            }
        }
        // November 25(th) (2026)
        if let Some(m) = month_of(w)
            && let Some(d) = t.get(i + 1).and_then(|n| n.parse::<u32>().ok())
        {
            let mut y = t.get(i + 2);
            if y.is_some_and(|s| matches!(s.as_str(), "st" | "nd" | "rd" | "th")) {
                y = t.get(i + 3);
            }
            if let Some(found) = resolve_dm(today, d, m, year_of(y)) {
                return Some(found);
            }
        }
        // tanggal 25
        if matches!(w.as_str(), "tanggal" | "tgl" | "tangal")
            && let Some(d) = t.get(i + 1).and_then(|n| n.parse::<u32>().ok())
            && let Some(found) = next_day_of_month(today, d)
        {
            return Some(found);
        }
    }
    None
}

/// Monday of the week containing `d`.
fn monday_of(d: NaiveDate) -> NaiveDate {
    d - Duration::days(i64::from(d.weekday().num_days_from_monday()))
}

/// "besok", "lusa", "hari ini", "3 hari lagi", "in 2 days".
fn relative_of(t: &[String], today: NaiveDate) -> Option<NaiveDate> {
    let plus = |n: i64| today.checked_add_signed(Duration::days(n));
    if has_any(t, &["day after tomorrow", "lusa", "besok lusa"]) {
        return plus(2);
    }
    if has_any(
        t,
        &["besok", "besuk", "bsk", "tomorrow", "tmr", "tmrw", "esok"],
    ) {
        return plus(1);
    }
    if has_any(
        t,
        &[
            "hari ini",
            "today",
            "tonight",
            "sekarang",
            "skrg",
            "nanti malam",
        ],
    ) {
        return plus(0);
    }
    if has_any(t, &["seminggu lagi", "in a week"]) {
        return plus(7);
    }
    for (i, w) in t.iter().enumerate() {
        if let Ok(n) = w.parse::<i64>()
            && (1..=60).contains(&n)
            && (phrase_at(t, i + 1, "hari lagi")
                || (i > 0 && t[i - 1] == "in" && phrase_at(t, i + 1, "days")))
        {
            return plus(n);
        }
    }
    None
}

/// Parses the day and time in `text`, relative to `now` in `tz`. `None` when the message names
/// neither. Never panics.
pub fn parse_day_time(text: &str, now: DateTime<Utc>, tz: Tz) -> Option<DayTimeQuery> {
    let t = tokens(text);
    let today = now.with_timezone(&tz).date_naive();
    let time = time_of(&t);
    let day = day_of(&t, today);
    (day.is_some() || time.is_some()).then_some(DayTimeQuery { day, time })
}

fn day_of(t: &[String], today: NaiveDate) -> Option<DayQuery> {
    if let Some(d) = date_of(t, today) {
        return Some(DayQuery::Date(d));
    }
    if let Some(d) = relative_of(t, today) {
        return Some(DayQuery::Date(d));
    }
    let next_monday = monday_of(today) + Duration::days(7);
    let next_week = has_any(
        t,
        &["minggu depan", "pekan depan", "next week", "minggu besok"],
    );
    let this_week = has_any(t, &["minggu ini", "pekan ini", "this week"]);
    if let Some((i, day)) = find_weekday(t) {
        let offset = i64::from(day.num_days_from_monday());
        let explicit_next = t.get(i + 1).is_some_and(|n| n == "depan")
            || (i > 0 && t[i - 1] == "next")
            || next_week;
        if explicit_next {
            return Some(DayQuery::Date(next_monday + Duration::days(offset)));
        }
        let explicit_this =
            t.get(i + 1).is_some_and(|n| n == "ini") || (i > 0 && t[i - 1] == "this") || this_week;
        if explicit_this {
            // The coming one, today included.
            let ahead =
                (day.num_days_from_monday() + 7 - today.weekday().num_days_from_monday()) % 7;
            return Some(DayQuery::Date(today + Duration::days(i64::from(ahead))));
        }
        return Some(DayQuery::Weekday(day));
    }
    if next_week {
        return Some(DayQuery::Range {
            from: next_monday,
            to: next_monday + Duration::days(6),
        });
    }
    if this_week {
        return Some(DayQuery::Range {
            from: today,
            to: monday_of(today) + Duration::days(6),
        });
    }
    if has_any(
        t,
        &[
            "akhir pekan",
            "akhir minggu",
            "weekend",
            "wiken",
            "weekends",
        ],
    ) {
        let sat = (5 + 7 - today.weekday().num_days_from_monday()) % 7;
        let from = if today.weekday() == Weekday::Sun {
            today
        } else {
            today + Duration::days(i64::from(sat))
        };
        let to = monday_of(from) + Duration::days(6);
        return Some(DayQuery::Range { from, to });
    }
    if has_any(t, &["bulan depan", "next month"]) {
        let (y, m) = if today.month() == 12 {
            (today.year() + 1, 1)
        } else {
            (today.year(), today.month() + 1)
        };
        let (y2, m2) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
        let from = NaiveDate::from_ymd_opt(y, m, 1)?;
        let to = NaiveDate::from_ymd_opt(y2, m2, 1)? - Duration::days(1);
        return Some(DayQuery::Range { from, to });
    }
    None
}
