//! Texts for slots and bookings, always in the configured zone (seed §9.3 formats; the seed
//! formatted in server time, §12.7). Day and month names and units come from the flow's
//! [`Locale`] in the conversation's language (the `*_in` functions); the plain functions use the
//! default Indonesian locale (`id-ID` names).

use chrono::{DateTime, Datelike, Timelike, Utc, Weekday};
use chrono_tz::Tz;

use super::SlotOption;
use crate::config::flow::Locale;

const DAYS_ID: [&str; 7] = [
    "Senin", "Selasa", "Rabu", "Kamis", "Jumat", "Sabtu", "Minggu",
];
const MONTHS_SHORT: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "Mei", "Jun", "Jul", "Agu", "Sep", "Okt", "Nov", "Des",
];

/// An instant in the configured zone.
pub fn local(at: DateTime<Utc>, tz: Tz) -> DateTime<Tz> {
    at.with_timezone(&tz)
}

/// Indonesian weekday name (`Senin` ... `Minggu`).
pub fn day_name(d: Weekday) -> &'static str {
    DAYS_ID[d.num_days_from_monday() as usize]
}

/// Indonesian zone label: WIB (UTC+7: Jakarta, Pontianak), WITA (UTC+8: Makassar), WIT (UTC+9:
/// Jayapura); other zones by their IANA name.
pub fn zone_label(tz: Tz) -> String {
    match tz {
        chrono_tz::Asia::Jakarta | chrono_tz::Asia::Pontianak => "WIB".to_string(),
        chrono_tz::Asia::Makassar => "WITA".to_string(),
        chrono_tz::Asia::Jayapura => "WIT".to_string(),
        other => other.name().to_string(),
    }
}

/// `Kamis 26 Nov - 09:00 (60 menit)` (seed §9.3 line, with the weekday in front).
pub fn slot_line(s: &SlotOption, tz: Tz) -> String {
    let l = local(s.start, tz);
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

/// Numbered slot lines, one per slot (`1. Kamis 26 Nov - 09:00 (60 menit)`).
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
    available_days_in(slots, tz, &Locale::default())
}

/// Long local date, `Kamis, 26 November 2026`.
pub fn long_date(at: DateTime<Utc>, tz: Tz) -> String {
    long_date_in(at, tz, &Locale::default())
}

/// Local `HH:MM`.
pub fn hhmm(at: DateTime<Utc>, tz: Tz) -> String {
    let l = local(at, tz);
    format!("{:02}:{:02}", l.hour(), l.minute())
}

/// `(date, time, duration)` for the booking confirmation: `Kamis, 26 November 2026`, `09:00`,
/// `60`.
pub fn confirmation_parts(s: &SlotOption, tz: Tz) -> (String, String, String) {
    (
        long_date(s.start, tz),
        hhmm(s.start, tz),
        s.duration_minutes.to_string(),
    )
}

/// The booking confirmation (seed §9.4 `formatBookingConfirmation`, with the consultant's name
/// and the real zone label): used when no flow template is configured.
pub fn booking_confirmation(s: &SlotOption, tz: Tz) -> String {
    let (date, time, duration) = confirmation_parts(s, tz);
    format!(
        "Oke, saya booking konsultasi untuk kamu:\n\nTanggal: {date}\nJam: {time} {}\nDurasi: {duration} menit\nKonsultan: {}\n\nSampai ketemu!",
        zone_label(tz),
        s.consultant_name
    )
}

/// A name from a locale list by index, or `?` when an admin's list is too short (validation
/// requires full lists; this only keeps formatting total).
fn pick(list: &[String], i: usize) -> &str {
    list.get(i).map_or("?", String::as_str)
}

/// Weekday name in `locale` (`Thursday`).
pub fn day_name_in(d: Weekday, locale: &Locale) -> &str {
    pick(&locale.weekdays, d.num_days_from_monday() as usize)
}

/// `Thursday 26 Nov - 09:00 (60 minutes)` in `locale`.
pub fn slot_line_in(s: &SlotOption, tz: Tz, locale: &Locale) -> String {
    let l = local(s.start, tz);
    format!(
        "{} {} {} - {:02}:{:02} {} ({} {})",
        day_name_in(l.weekday(), locale),
        l.day(),
        pick(&locale.months_short, l.month0() as usize),
        l.hour(),
        l.minute(),
        zone_label(tz),
        s.duration_minutes,
        locale.minutes
    )
}

/// Numbered slot lines in `locale`, one per slot.
pub fn slot_lines_in(shown: &[SlotOption], tz: Tz, locale: &Locale) -> String {
    shown
        .iter()
        .enumerate()
        .map(|(i, s)| format!("{}. {}", i + 1, slot_line_in(s, tz, locale)))
        .collect::<Vec<_>>()
        .join("\n")
}

/// `- Thursday (3 slots)` per weekday with free slots, in `locale`.
pub fn available_days_in(slots: &[SlotOption], tz: Tz, locale: &Locale) -> String {
    let mut days: Vec<(Weekday, usize)> = Vec::new();
    for s in slots {
        let d = local(s.start, tz).weekday();
        match days.iter_mut().find(|(w, _)| *w == d) {
            Some((_, n)) => *n += 1,
            None => days.push((d, 1)),
        }
    }
    days.iter()
        .map(|(d, n)| format!("- {} ({n} {})", day_name_in(*d, locale), locale.slots))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Long local date in `locale`, `Thursday, 26 November 2026`.
pub fn long_date_in(at: DateTime<Utc>, tz: Tz, locale: &Locale) -> String {
    let l = local(at, tz);
    format!(
        "{}, {} {} {}",
        day_name_in(l.weekday(), locale),
        l.day(),
        pick(&locale.months_long, l.month0() as usize),
        l.year()
    )
}

/// The `{meeting}` placeholder of the booking confirmation, the move and the reminders: a new
/// line with `scheduling.texts.meeting_link` filled with the slot's meeting link
/// ([`super::meeting_url`]), or nothing when the slot has none, so that no text promises a
/// link ARI does not have.
pub fn meeting_line(slot: &SlotOption, cfg: &crate::config::flow::FlowConfig) -> String {
    let (Some(url), Some(text)) = (
        super::meeting_url(&cfg.scheduling, slot),
        cfg.stages.scheduling.texts.get("meeting_link"),
    ) else {
        return String::new();
    };
    let values = std::collections::BTreeMap::from([("meeting_url".to_string(), url.to_string())]);
    format!("\n{}", crate::flow::text::render(text, &values))
}

/// `(date, time, duration)` for the booking confirmation, in `locale`.
pub fn confirmation_parts_in(s: &SlotOption, tz: Tz, locale: &Locale) -> (String, String, String) {
    (
        long_date_in(s.start, tz, locale),
        hhmm(s.start, tz),
        s.duration_minutes.to_string(),
    )
}
