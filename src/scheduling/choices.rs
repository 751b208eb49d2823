//! The booking's steps as WhatsApp buttons and lists (issue 19), built from the step's text
//! reply (the body, and the fallback when the interactive form cannot go), the slots and the
//! `[interactive]` labels of the conversation's language. Ids: [`crate::flow::taps`].
//!
//! - offer: buttons `offer_yes` / `offer_no`;
//! - day list: one row per local day with free slots (the first 10 days), title `Kamis, 26 Nov`,
//!   description `day_description`;
//! - time list: the slots shown (their own ids), title `Kamis 26 Nov, 09:00`, description
//!   `time_description`, and a last "more times" row when the last shown day has later free
//!   slots (so at most 9 slot rows then);
//! - confirmation: buttons `confirm_yes` / `confirm_change`;
//! - reminder: buttons `reminder_attend` / `reminder_reschedule` / `reminder_cancel`.
//!
//! Titles and descriptions filled from data are cut to WhatsApp's limits
//! ([`crate::kapso::interactive::fit`]); a body over the limit gives `None` (the text goes
//! alone).

use chrono::{Datelike, NaiveDate, Timelike};
use chrono_tz::Tz;

use super::format::{day_name_in, local, zone_label};
use crate::config::flow::{InteractiveLabels, Locale};
use crate::flow::schedule::SlotOption;
use crate::flow::taps;
use crate::kapso::interactive::{
    Action, Choice, Interactive, MAX_ROW_DESCRIPTION, MAX_ROW_TITLE, MAX_ROWS, Section, fit,
};

/// Where the slots are read: zone, words and labels.
#[derive(Clone, Copy)]
pub struct Words<'a> {
    /// The configured zone.
    pub tz: Tz,
    /// Day and month names of the conversation's language.
    pub locale: &'a Locale,
    /// The `[interactive]` labels of that language.
    pub labels: &'a InteractiveLabels,
}

fn buttons(body: &str, choices: Vec<Choice>) -> Option<Interactive> {
    let i = Interactive {
        body: body.to_string(),
        footer: None,
        action: Action::Buttons(choices),
    };
    i.problems().is_empty().then_some(i)
}

/// The consultation offer's buttons.
pub fn offer(body: &str, labels: &InteractiveLabels) -> Option<Interactive> {
    buttons(
        body,
        vec![
            Choice::new(taps::OFFER_YES, &labels.offer_yes),
            Choice::new(taps::OFFER_NO, &labels.offer_no),
        ],
    )
}

/// The confirmation's buttons.
pub fn confirm(body: &str, labels: &InteractiveLabels) -> Option<Interactive> {
    buttons(
        body,
        vec![
            Choice::new(taps::CONFIRM_YES, &labels.confirm_yes),
            Choice::new(taps::CONFIRM_NO, &labels.confirm_change),
        ],
    )
}

/// A reminder's buttons.
pub fn reminder(body: &str, labels: &InteractiveLabels) -> Option<Interactive> {
    buttons(
        body,
        vec![
            Choice::new(taps::REMINDER_ATTEND, &labels.reminder_attend),
            Choice::new(taps::REMINDER_RESCHEDULE, &labels.reminder_reschedule),
            Choice::new(taps::REMINDER_CANCEL, &labels.reminder_cancel),
        ],
    )
}

fn fill(template: &str, values: &[(&str, String)]) -> String {
    values.iter().fold(template.to_string(), |t, (k, v)| {
        t.replace(&format!("{{{k}}}"), v)
    })
}

fn hhmm(s: &SlotOption, tz: Tz) -> String {
    let l = local(s.start, tz);
    format!("{:02}:{:02}", l.hour(), l.minute())
}

fn list(body: &str, button: &str, section: &str, rows: Vec<Choice>) -> Option<Interactive> {
    let i = Interactive {
        body: body.to_string(),
        footer: None,
        action: Action::List {
            button: button.to_string(),
            sections: vec![Section {
                title: Some(fit(section, MAX_ROW_TITLE)),
                rows,
            }],
        },
    };
    i.problems().is_empty().then_some(i)
}

/// The day list: the days of `free` (in order), at most 10. `None` without free slots.
pub fn day_list(body: &str, free: &[SlotOption], w: Words<'_>) -> Option<Interactive> {
    let mut days: Vec<(NaiveDate, Vec<&SlotOption>)> = Vec::new();
    for s in free {
        let d = local(s.start, w.tz).date_naive();
        match days.iter_mut().find(|(x, _)| *x == d) {
            Some((_, v)) => v.push(s),
            None => days.push((d, vec![s])),
        }
    }
    let rows = days
        .iter()
        .take(MAX_ROWS)
        .map(|(d, slots)| {
            let description = fill(
                &w.labels.day_description,
                &[
                    ("count", slots.len().to_string()),
                    (
                        "first",
                        slots.first().map(|s| hhmm(s, w.tz)).unwrap_or_default(),
                    ),
                    (
                        "last",
                        slots.last().map(|s| hhmm(s, w.tz)).unwrap_or_default(),
                    ),
                    ("zone", zone_label(w.tz)),
                ],
            );
            Choice {
                id: taps::day_id(*d),
                title: fit(&day_title(*d, w.locale), MAX_ROW_TITLE),
                description: Some(fit(&description, MAX_ROW_DESCRIPTION)),
            }
        })
        .collect();
    list(body, &w.labels.days_button, &w.labels.days_section, rows)
}

/// `Kamis, 26 Nov`.
fn day_title(d: NaiveDate, locale: &Locale) -> String {
    let month = locale.months_short.get(d.month0() as usize);
    format!(
        "{}, {} {}",
        day_name_in(d.weekday(), locale),
        d.day(),
        month.map_or("", String::as_str)
    )
}

/// The time list of the `shown` slots, with a "more times" row when `free` has later slots on
/// the last shown slot's day. `None` when nothing is shown.
pub fn time_list(
    body: &str,
    shown: &[SlotOption],
    free: &[SlotOption],
    w: Words<'_>,
) -> Option<Interactive> {
    let last = shown.last()?;
    let last_local = local(last.start, w.tz);
    let more = free.iter().any(|s| {
        let l = local(s.start, w.tz);
        l.date_naive() == last_local.date_naive() && l > last_local
    }) || shown.len() > MAX_ROWS;
    let fits = if more { MAX_ROWS - 1 } else { MAX_ROWS };
    let mut rows: Vec<Choice> = shown
        .iter()
        .take(fits)
        .map(|s| {
            let title = format!("{}, {}", day_title_short(s, w), hhmm(s, w.tz));
            let description = fill(
                &w.labels.time_description,
                &[
                    ("consultant_name", s.consultant_name.clone()),
                    ("duration", s.duration_minutes.to_string()),
                ],
            );
            Choice {
                id: s.id.clone(),
                title: fit(&title, MAX_ROW_TITLE),
                description: Some(fit(&description, MAX_ROW_DESCRIPTION)),
            }
        })
        .collect();
    if more {
        let after = rows
            .len()
            .checked_sub(1)
            .and_then(|i| shown.get(i))
            .unwrap_or(last);
        let at = local(after.start, w.tz);
        rows.push(Choice {
            id: taps::more_id(at.date_naive(), at.time()),
            title: fit(&w.labels.more_times, MAX_ROW_TITLE),
            description: Some(fit(
                &fill(
                    &w.labels.more_times_description,
                    &[("time", hhmm(after, w.tz))],
                ),
                MAX_ROW_DESCRIPTION,
            )),
        });
    }
    list(body, &w.labels.times_button, &w.labels.times_section, rows)
}

/// `Kamis 26 Nov` of a slot.
fn day_title_short(s: &SlotOption, w: Words<'_>) -> String {
    day_title(local(s.start, w.tz).date_naive(), w.locale).replacen(',', "", 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    fn slot(day: u32, hour: u32) -> SlotOption {
        SlotOption {
            id: format!("2026-11-{day}T{hour:02}:00@+6281111000001"),
            start: Utc.with_ymd_and_hms(2026, 11, day, hour - 7, 0, 0).unwrap(),
            duration_minutes: 60,
            consultant_name: "Rina".into(),
            consultant_whatsapp: "+6281111000001".into(),
        }
    }

    fn words<'a>(locale: &'a Locale, labels: &'a InteractiveLabels) -> Words<'a> {
        Words {
            tz: chrono_tz::Asia::Jakarta,
            locale,
            labels,
        }
    }

    #[test]
    fn days_are_rows_with_stable_ids() {
        let (locale, labels) = (Locale::default(), InteractiveLabels::default());
        let free = vec![slot(26, 9), slot(26, 13), slot(27, 10)];
        let l = day_list("Hari apa?", &free, words(&locale, &labels)).unwrap();
        let rows: Vec<_> = l.choices().into_iter().cloned().collect();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].id, "ari:day:2026-11-26");
        assert_eq!(rows[0].title, "Kamis, 26 Nov");
        assert_eq!(
            rows[0].description.as_deref(),
            Some("2 slot, 09:00-13:00 WIB")
        );
        assert!(day_list("x", &[], words(&locale, &labels)).is_none());
    }

    #[test]
    fn a_full_day_ends_with_more_times() {
        let (locale, labels) = (Locale::default(), InteractiveLabels::default());
        let free: Vec<_> = [9, 10, 11, 13, 14, 15]
            .iter()
            .map(|h| slot(26, *h))
            .collect();
        let l = time_list("Jam?", &free[..5], &free, words(&locale, &labels)).unwrap();
        let rows: Vec<_> = l.choices().into_iter().cloned().collect();
        assert_eq!(rows.len(), 6);
        assert_eq!(rows[0].id, free[0].id);
        assert_eq!(rows[0].title, "Kamis 26 Nov, 09:00");
        assert_eq!(rows[5].id, "ari:more:2026-11-26T14:00");
        assert_eq!(rows[5].title, "Jam lainnya");
        let all = time_list("Jam?", &free[5..], &free, words(&locale, &labels)).unwrap();
        assert_eq!(all.choices().len(), 1);
        // 12 shown: 9 rows and "more".
        let many: Vec<_> = (0..12).map(|i| slot(26, 8 + i)).collect();
        let l = time_list("Jam?", &many, &many, words(&locale, &labels)).unwrap();
        assert_eq!(l.choices().len(), 10);
        assert!(l.problems().is_empty());
    }
}
