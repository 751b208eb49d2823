//! Scheduling: the day/time parser (≥ 40 phrases under an injected `now`), slot generation
//! across a month boundary, minimum notice, booking window, capacity, slot choice, yes/no,
//! reminder timing with an injected clock, and parsers that never panic.

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, TimeZone, Utc, Weekday};
use chrono_tz::Asia::Jakarta;
use chrono_tz::Tz;
use proptest::prelude::*;

use ari::config::flow::{Scheduling, SlotRule};
use ari::scheduling::parse::time_in;
use ari::scheduling::{
    Bookings, Confirmation, DayQuery, DayTimeQuery, PartOfDay, ReminderInput, ReminderKind,
    SlotOption, TimeQuery, available_days, booking_confirmation, capacity_for, capacity_left,
    choose_slot, due_reminders, filter_slots, free_slots, meeting_line, meeting_url,
    next_reminder_at, parse_confirmation, parse_day_time, reminder_text, slot_line, weekday_in,
    zone_label,
};

/// A local (WIB) instant.
fn wib(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
    Jakarta
        .with_ymd_and_hms(y, m, d, h, min, 0)
        .single()
        .unwrap()
        .with_timezone(&Utc)
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn hm(h: u32, m: u32) -> NaiveTime {
    NaiveTime::from_hms_opt(h, m, 0).unwrap()
}

fn rule(weekday: &str, start: &str, end: &str, who: &str, capacity: u32) -> SlotRule {
    SlotRule {
        weekday: weekday.into(),
        start: start.into(),
        end: end.into(),
        duration_minutes: 60,
        consultant_name: format!("Kak {who}"),
        consultant_whatsapp: match who {
            "Rina" => "+6281111000001".into(),
            _ => "+6281111000002".into(),
        },
        capacity,
        meeting_url: None,
    }
}

fn cfg(rules: Vec<SlotRule>) -> Scheduling {
    Scheduling {
        time_zone: "Asia/Jakarta".into(),
        booking_window_days: 14,
        min_notice_hours: 12,
        max_slots_shown: 5,
        slots: rules,
        cancel_phrases: vec![],
        reschedule_phrases: vec![],
        any_time_phrases: vec![],
        reminder_template: None,
    }
}

fn default_rules() -> Vec<SlotRule> {
    vec![
        rule("monday", "09:00", "12:00", "Rina", 1),
        rule("tuesday", "09:00", "12:00", "Rina", 1),
        rule("kamis", "13:00", "16:00", "Budi", 1),
    ]
}

fn ids(slots: &[SlotOption]) -> Vec<String> {
    slots.iter().map(|s| s.id.clone()).collect()
}

// --- Day/time parser ------------------------------------------------------------------------

/// Wednesday 25 November 2026, 10:00 WIB.
fn parse_now() -> DateTime<Utc> {
    wib(2026, 11, 25, 10, 0)
}

fn q(day: Option<DayQuery>, time: Option<TimeQuery>) -> Option<DayTimeQuery> {
    Some(DayTimeQuery { day, time })
}

fn on(y: i32, m: u32, d: u32) -> Option<DayQuery> {
    Some(DayQuery::Date(date(y, m, d)))
}

fn wd(w: Weekday) -> Option<DayQuery> {
    Some(DayQuery::Weekday(w))
}

fn range(a: (i32, u32, u32), b: (i32, u32, u32)) -> Option<DayQuery> {
    Some(DayQuery::Range {
        from: date(a.0, a.1, a.2),
        to: date(b.0, b.1, b.2),
    })
}

fn at(h: u32, m: u32) -> Option<TimeQuery> {
    Some(TimeQuery::At(hm(h, m)))
}

fn part(p: PartOfDay) -> Option<TimeQuery> {
    Some(TimeQuery::Part(p))
}

#[test]
fn day_time_phrases() {
    use PartOfDay::*;
    let cases: Vec<(&str, Option<DayTimeQuery>)> = vec![
        // Relative days (today is Wednesday 25 November 2026).
        ("besok", q(on(2026, 11, 26), None)),
        ("Besok bisa kak?", q(on(2026, 11, 26), None)),
        ("lusa", q(on(2026, 11, 27), None)),
        ("hari ini", q(on(2026, 11, 25), None)),
        ("tomorrow", q(on(2026, 11, 26), None)),
        ("day after tomorrow", q(on(2026, 11, 27), None)),
        ("3 hari lagi", q(on(2026, 11, 28), None)),
        ("seminggu lagi", q(on(2026, 12, 2), None)),
        // Weekdays anywhere in the message (seed §9.1 rejected these).
        ("senin", q(wd(Weekday::Mon), None)),
        ("hari senin", q(wd(Weekday::Mon), None)),
        ("Jum'at", q(wd(Weekday::Fri), None)),
        ("jumat aja", q(wd(Weekday::Fri), None)),
        ("Rabu?", q(wd(Weekday::Wed), None)),
        ("SABTU", q(wd(Weekday::Sat), None)),
        ("minggu", q(wd(Weekday::Sun), None)),
        ("hari minggu", q(wd(Weekday::Sun), None)),
        ("kalau thursday gimana", q(wd(Weekday::Thu), None)),
        // "minggu" is also "week".
        (
            "minggu depan",
            q(range((2026, 11, 30), (2026, 12, 6)), None),
        ),
        ("pekan depan", q(range((2026, 11, 30), (2026, 12, 6)), None)),
        ("next week", q(range((2026, 11, 30), (2026, 12, 6)), None)),
        ("minggu ini", q(range((2026, 11, 25), (2026, 11, 29)), None)),
        ("hari minggu depan", q(on(2026, 12, 6), None)),
        ("jumat minggu depan", q(on(2026, 12, 4), None)),
        // "X depan" / "next X": that day in next week.
        ("senin depan", q(on(2026, 11, 30), None)),
        ("next monday", q(on(2026, 11, 30), None)),
        ("rabu depan", q(on(2026, 12, 2), None)),
        ("kamis ini", q(on(2026, 11, 26), None)),
        ("this friday", q(on(2026, 11, 27), None)),
        ("rabu ini", q(on(2026, 11, 25), None)),
        (
            "akhir pekan",
            q(range((2026, 11, 28), (2026, 11, 29)), None),
        ),
        ("weekend", q(range((2026, 11, 28), (2026, 11, 29)), None)),
        ("bulan depan", q(range((2026, 12, 1), (2026, 12, 31)), None)),
        // Dates; a passed date is next year's.
        ("25/11", q(on(2026, 11, 25), None)),
        ("24/11", q(on(2027, 11, 24), None)),
        ("1/12", q(on(2026, 12, 1), None)),
        ("01-12", q(on(2026, 12, 1), None)),
        ("25-12-2026", q(on(2026, 12, 25), None)),
        ("3/1", q(on(2027, 1, 3), None)),
        ("25 November", q(on(2026, 11, 25), None)),
        ("30 Nov", q(on(2026, 11, 30), None)),
        ("2 Desember", q(on(2026, 12, 2), None)),
        ("November 30", q(on(2026, 11, 30), None)),
        ("Dec 3rd", q(on(2026, 12, 3), None)),
        ("5 Januari 2027", q(on(2027, 1, 5), None)),
        ("tanggal 30", q(on(2026, 11, 30), None)),
        ("tgl 2", q(on(2026, 12, 2), None)),
        ("31/2", None),
        // A day of the month by its ordinal: this month, or next once passed.
        ("the 30th", q(on(2026, 11, 30), None)),
        ("Ok then the 4th", q(on(2026, 12, 4), None)),
        ("on the 2nd at 10am", q(on(2026, 12, 2), at(10, 0))),
        ("the 3rd of December", q(on(2026, 12, 3), None)),
        ("25th November", q(on(2026, 11, 25), None)),
        ("the 2nd one", None),
        ("the 4th option", None),
        // Times.
        ("jam 10", q(None, at(10, 0))),
        ("jam 10.30", q(None, at(10, 30))),
        ("10:00", q(None, at(10, 0))),
        ("pukul 14", q(None, at(14, 0))),
        ("pukul 13.00 WIB", q(None, at(13, 0))),
        ("2pm", q(None, at(14, 0))),
        ("10 am", q(None, at(10, 0))),
        ("12pm", q(None, at(12, 0))),
        ("jam 2 siang", q(None, at(14, 0))),
        ("jam 11 siang", q(None, at(11, 0))),
        ("jam 4 sore", q(None, at(16, 0))),
        ("jam 7 malam", q(None, at(19, 0))),
        ("jam 9 pagi", q(None, at(9, 0))),
        ("jam 2", q(None, at(14, 0))),
        // Parts of the day.
        ("pagi", q(None, part(Pagi))),
        ("siang aja", q(None, part(Siang))),
        ("sore", q(None, part(Sore))),
        ("malam", q(None, part(Malam))),
        ("morning", q(None, part(Pagi))),
        ("afternoon please", q(None, part(Siang))),
        // Combined.
        ("besok jam 10", q(on(2026, 11, 26), at(10, 0))),
        ("besok pagi", q(on(2026, 11, 26), part(Pagi))),
        ("kamis pagi", q(wd(Weekday::Thu), part(Pagi))),
        ("bisa hari jumat sore kak?", q(wd(Weekday::Fri), part(Sore))),
        ("senin depan jam 2 siang", q(on(2026, 11, 30), at(14, 0))),
        ("25/11 jam 13:00", q(on(2026, 11, 25), at(13, 0))),
        ("tomorrow at 3pm", q(on(2026, 11, 26), at(15, 0))),
        ("next monday morning", q(on(2026, 11, 30), part(Pagi))),
        ("tanggal 1 jam 9", q(on(2026, 12, 1), at(9, 0))),
        // Nothing about when.
        ("halo kak", None),
        ("saya mau konsultasi", None),
        ("", None),
        ("mau kuliah ke Australia", None),
        ("2", None),
        ("nomor 3", None),
        ("IPK 3.5, IELTS 6.5", None),
        ("budget 500 juta", None),
        ("2 minggu lagi", None),
        ("mon maaf kak", None),
    ];
    assert!(cases.len() >= 40);
    let mut failures = Vec::new();
    for (text, want) in &cases {
        let got = parse_day_time(text, parse_now(), Jakarta);
        if &got != want {
            failures.push(format!("{text:?}: want {want:?}\n    got {got:?}"));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn today_is_the_local_date_not_the_utc_one() {
    // 2026-11-25 23:30 WIB is still the 25th in UTC (16:30) — and 00:30 WIB on the 26th is the
    // 25th in UTC (17:30): "besok" is the 27th then.
    let late = wib(2026, 11, 26, 0, 30);
    assert_eq!(
        parse_day_time("besok", late, Jakarta).and_then(|q| q.day),
        Some(DayQuery::Date(date(2026, 11, 27)))
    );
}

#[test]
fn weekday_in_without_now() {
    assert_eq!(weekday_in("hari kamis bisa?"), Some(Weekday::Thu));
    assert_eq!(weekday_in("Jum'at"), Some(Weekday::Fri));
    assert_eq!(weekday_in("minggu depan aja"), None);
    assert_eq!(weekday_in("hari minggu"), Some(Weekday::Sun));
    assert_eq!(weekday_in("senin depan"), Some(Weekday::Mon));
    assert_eq!(weekday_in("mon maaf"), None);
    assert_eq!(time_in("jam 10.30"), Some(TimeQuery::At(hm(10, 30))));
}

// --- Slot generation ------------------------------------------------------------------------

#[test]
fn slots_across_a_month_boundary() {
    // Saturday 28 November 2026, 10:00 WIB; window 14 days: 29 Nov ..= 12 Dec.
    let now = wib(2026, 11, 28, 10, 0);
    let slots = free_slots(&cfg(default_rules()), now, &Bookings::new());
    // Mon 30 Nov, Tue 1 Dec, Thu 3 Dec, Mon 7, Tue 8, Thu 10 Dec: 3 slots each.
    assert_eq!(slots.len(), 18);
    assert_eq!(slots[0].id, "2026-11-30T09:00@+6281111000001");
    assert_eq!(
        slots[0].start,
        Utc.with_ymd_and_hms(2026, 11, 30, 2, 0, 0).unwrap()
    );
    assert_eq!(slots[3].id, "2026-12-01T09:00@+6281111000001");
    assert_eq!(
        slots[3].start,
        Utc.with_ymd_and_hms(2026, 12, 1, 2, 0, 0).unwrap()
    );
    assert_eq!(slots[6].id, "2026-12-03T13:00@+6281111000002");
    assert_eq!(slots[6].consultant_name, "Kak Budi");
    assert_eq!(slots.last().unwrap().id, "2026-12-10T15:00@+6281111000002");
    assert!(slots.windows(2).all(|w| w[0].start <= w[1].start));
    assert_eq!(
        slot_line(&slots[3], Jakarta),
        "Selasa 1 Des - 09:00 (60 menit)"
    );
    assert_eq!(
        available_days(&slots, Jakarta),
        "- Senin (6 slot)\n- Selasa (6 slot)\n- Kamis (6 slot)"
    );
}

#[test]
fn local_date_and_utc_instant_differ_across_the_boundary() {
    // 06:00 WIB on 1 December is 23:00 UTC on 30 November: the date is the local one.
    let now = wib(2026, 11, 28, 10, 0);
    let slots = free_slots(
        &cfg(vec![rule("tuesday", "06:00", "07:00", "Rina", 1)]),
        now,
        &Bookings::new(),
    );
    assert_eq!(slots[0].id, "2026-12-01T06:00@+6281111000001");
    assert_eq!(
        slots[0].start,
        Utc.with_ymd_and_hms(2026, 11, 30, 23, 0, 0).unwrap()
    );
}

#[test]
fn year_boundary() {
    let now = wib(2026, 12, 28, 10, 0); // Monday
    let slots = free_slots(
        &cfg(vec![rule("friday", "09:00", "10:00", "Rina", 1)]),
        now,
        &Bookings::new(),
    );
    assert_eq!(
        ids(&slots),
        [
            "2027-01-01T09:00@+6281111000001",
            "2027-01-08T09:00@+6281111000001"
        ]
    );
}

#[test]
fn minimum_notice() {
    // Sunday 29 November 20:00 WIB; Monday 09:00 is 13 h away, 10:00 is 14 h away.
    let now = wib(2026, 11, 29, 20, 0);
    let mut c = cfg(default_rules());
    c.min_notice_hours = 14;
    let slots = free_slots(&c, now, &Bookings::new());
    assert_eq!(slots[0].id, "2026-11-30T10:00@+6281111000001");
    c.min_notice_hours = 13;
    assert_eq!(
        free_slots(&c, now, &Bookings::new())[0].id,
        "2026-11-30T09:00@+6281111000001"
    );
    c.min_notice_hours = 0;
    assert_eq!(
        free_slots(&c, now, &Bookings::new())[0].id,
        "2026-11-30T09:00@+6281111000001"
    );
}

#[test]
fn today_is_never_offered() {
    // Monday 06:00 WIB with no notice: Monday's 09:00 is today, so the first is Tuesday.
    let mut c = cfg(default_rules());
    c.min_notice_hours = 0;
    let slots = free_slots(&c, wib(2026, 11, 30, 6, 0), &Bookings::new());
    assert_eq!(slots[0].id, "2026-12-01T09:00@+6281111000001");
}

#[test]
fn booking_window() {
    let now = wib(2026, 11, 28, 10, 0); // Saturday
    let mut c = cfg(default_rules());
    c.booking_window_days = 2; // Sunday, Monday
    let slots = free_slots(&c, now, &Bookings::new());
    assert_eq!(slots.len(), 3);
    assert!(slots.iter().all(|s| s.id.starts_with("2026-11-30")));
    c.booking_window_days = 3; // the last day counts
    assert_eq!(free_slots(&c, now, &Bookings::new()).len(), 6);
    c.booking_window_days = 0;
    assert!(free_slots(&c, now, &Bookings::new()).is_empty());
}

#[test]
fn capacity() {
    let now = wib(2026, 11, 28, 10, 0);
    let mut rules = default_rules();
    rules.push(rule("monday", "09:00", "10:00", "Budi", 2));
    let c = cfg(rules);
    let rina = "2026-11-30T09:00@+6281111000001".to_string();
    let budi = "2026-11-30T09:00@+6281111000002".to_string();
    let all = free_slots(&c, now, &Bookings::new());
    assert!(all.iter().any(|s| s.id == rina) && all.iter().any(|s| s.id == budi));

    // One booking fills Rina's one-on-one slot but not Budi's slot of two at the same time
    // (the seed blocked every consultant at a booked instant).
    let mut booked = Bookings::new();
    booked.insert(rina.clone(), 1);
    booked.insert(budi.clone(), 1);
    let free = free_slots(&c, now, &booked);
    assert!(!free.iter().any(|s| s.id == rina));
    assert!(free.iter().any(|s| s.id == budi));
    assert_eq!(free.len(), all.len() - 1);

    booked.insert(budi.clone(), 2);
    assert!(!free_slots(&c, now, &booked).iter().any(|s| s.id == budi));

    // Over-booked (capacity lowered later) never underflows.
    booked.insert(budi.clone(), 5);
    assert!(!free_slots(&c, now, &booked).iter().any(|s| s.id == budi));
    assert_eq!(capacity_left(2, 1), 1);
    assert_eq!(capacity_left(1, 3), 0);

    // Capacity 0 is never offered.
    let closed = cfg(vec![rule("monday", "09:00", "12:00", "Rina", 0)]);
    assert!(free_slots(&closed, now, &Bookings::new()).is_empty());

    // The store finds a slot's capacity from the rules at confirmation time.
    let slot = all.iter().find(|s| s.id == budi).unwrap();
    assert_eq!(capacity_for(&c, slot), 2);
    let gone = cfg(default_rules());
    assert_eq!(capacity_for(&gone, slot), 0);
    let rina_slot = all.iter().find(|s| s.id == rina).unwrap();
    assert_eq!(capacity_for(&gone, rina_slot), 1);
    let mut off_grid = rina_slot.clone();
    off_grid.start += Duration::minutes(30);
    assert_eq!(capacity_for(&gone, &off_grid), 0);
}

#[test]
fn rules_are_cut_into_durations() {
    let mut r = rule("monday", "09:00", "12:00", "Rina", 1);
    r.duration_minutes = 45;
    let slots = free_slots(&cfg(vec![r]), wib(2026, 11, 28, 10, 0), &Bookings::new());
    let first_day: Vec<String> = slots
        .iter()
        .filter(|s| s.id.starts_with("2026-11-30"))
        .map(|s| s.id[11..16].to_string())
        .collect();
    assert_eq!(first_day, ["09:00", "09:45", "10:30", "11:15"]);
}

#[test]
fn other_zones_and_a_bad_zone_name() {
    let mut c = cfg(vec![rule("monday", "09:00", "10:00", "Rina", 1)]);
    c.time_zone = "Asia/Makassar".into();
    let s = free_slots(&c, wib(2026, 11, 28, 10, 0), &Bookings::new());
    assert_eq!(
        s[0].start,
        Utc.with_ymd_and_hms(2026, 11, 30, 1, 0, 0).unwrap()
    );
    assert_eq!(zone_label(chrono_tz::Asia::Makassar), "WITA");
    assert_eq!(zone_label(Jakarta), "WIB");
    c.time_zone = "Mars/Olympus".into();
    let s = free_slots(&c, wib(2026, 11, 28, 10, 0), &Bookings::new());
    assert_eq!(
        s[0].start,
        Utc.with_ymd_and_hms(2026, 11, 30, 2, 0, 0).unwrap()
    );
}

#[test]
fn filter_by_parsed_query() {
    let now = wib(2026, 11, 28, 10, 0);
    let slots = free_slots(&cfg(default_rules()), now, &Bookings::new());
    let pick = |text: &str| {
        ids(&filter_slots(
            &slots,
            &parse_day_time(text, now, Jakarta).unwrap(),
            Jakarta,
        ))
    };
    assert_eq!(
        pick("senin depan jam 10"),
        ["2026-11-30T10:00@+6281111000001"]
    );
    assert_eq!(
        pick("kamis sore"),
        [
            "2026-12-03T15:00@+6281111000002",
            "2026-12-10T15:00@+6281111000002"
        ]
    );
    // 10:30 falls inside the 10:00 slot.
    assert_eq!(pick("1/12 jam 10.30"), ["2026-12-01T10:00@+6281111000001"]);
    assert_eq!(pick("minggu depan").len(), 9);
    assert!(pick("besok").is_empty()); // Sunday: no rule
    assert_eq!(pick("selasa").len(), 6);
}

// --- Slot choice ----------------------------------------------------------------------------

fn shown() -> Vec<SlotOption> {
    let mk = |id: &str, start: DateTime<Utc>| SlotOption {
        id: id.into(),
        start,
        duration_minutes: 60,
        consultant_name: "Kak Rina".into(),
        consultant_whatsapp: "+6281111000001".into(),
    };
    vec![
        mk("slot-a", wib(2026, 11, 30, 9, 0)),
        mk("slot-b", wib(2026, 11, 30, 13, 0)),
        mk("slot-c", wib(2026, 12, 3, 17, 30)),
    ]
}

#[test]
fn choosing_a_slot() {
    let s = shown();
    let cases: &[(&str, Option<usize>)] = &[
        // The seed's table (§9.4), with its failures fixed.
        ("1", Some(0)),
        ("2", Some(1)),
        ("3", Some(2)),
        ("4", None),
        ("0", None),
        ("nomor 2", Some(1)),
        ("pilih3", Some(2)),
        ("Pilih 1 ya", Some(0)),
        ("no 2", Some(1)),
        ("no. 2", Some(1)),
        ("2.", Some(1)),
        ("yang pertama", Some(0)),
        ("yang kedua aja kak", Some(1)),
        ("yang terakhir", Some(2)),
        ("nomor dua", Some(1)),
        ("opsi 3", Some(2)),
        ("malam", None),
        ("pagi", Some(0)),
        ("siang dong", Some(1)),
        ("sore", Some(2)),
        // By time.
        ("jam 13:00", Some(1)),
        ("13.00", Some(1)),
        ("jam 1 siang", Some(1)),
        ("13", Some(1)),
        ("jam 17.30", Some(2)),
        ("5.30 sore", Some(2)),
        ("jam 9", Some(0)),
        ("jam 10", None),
        // A weekday narrows the time.
        ("kamis sore", Some(2)),
        ("senin sore", None),
        // Button ids.
        ("slot-c", Some(2)),
        ("  slot-b ", Some(1)),
        // Not a choice.
        ("salah satu", None),
        ("tanggal 2", None),
        ("gimana ya", None),
        ("", None),
    ];
    let mut failures = Vec::new();
    for (text, want) in cases {
        let got = choose_slot(text, &s, Jakarta);
        if got != *want {
            failures.push(format!("{text:?}: want {want:?}, got {got:?}"));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
    assert_eq!(choose_slot("1", &[], Jakarta), None);
}

#[test]
fn choosing_a_slot_by_date_on_the_first_list() {
    // Shown: Mon 30 Nov 09:00, Mon 30 Nov 13:00, Thu 3 Dec 17:30.
    let s = shown();
    let cases: &[(&str, Option<usize>)] = &[
        ("tgl 3", Some(2)),
        ("tanggal 3 aja kak", Some(2)),
        ("yg tanggal 3", Some(2)),
        ("3 Desember", Some(2)),
        ("Desember 3", Some(2)),
        ("Dec 3rd please", Some(2)),
        ("the 3rd", Some(2)),
        ("on the 3rd", Some(2)),
        ("3/12", Some(2)),
        ("the 3rd of December", Some(2)),
        ("3 desember jam 17.30", Some(2)),
        // Two slots on the 30th: the time decides, or nothing.
        ("tgl 30", None),
        ("yang tanggal 30 jam 13", Some(1)),
        ("30 Nov jam 9", Some(0)),
        ("9am on the 30th", Some(0)),
        ("1pm on the 30th", Some(1)),
        ("the 30th in the afternoon", Some(1)),
        ("30 november sore", None),
        ("yang 30", None),
        // No slot that day.
        ("10am on the 4th", None),
        ("tanggal 4", None),
        ("3 November", None),
    ];
    let mut failures = Vec::new();
    for (text, want) in cases {
        let got = choose_slot(text, &s, Jakarta);
        if got != *want {
            failures.push(format!("{text:?}: want {want:?}, got {got:?}"));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

/// A longer list, where a day of the month and a list position differ: the 4th is Friday's
/// slot, the fourth slot is Thursday's.
#[test]
fn a_day_of_the_month_is_no_list_position() {
    let mk = |id: &str, start: DateTime<Utc>| SlotOption {
        id: id.into(),
        start,
        duration_minutes: 60,
        consultant_name: "Kak Rina".into(),
        consultant_whatsapp: "+6281111000001".into(),
    };
    let s = vec![
        mk("a", wib(2026, 12, 1, 9, 0)),  // Selasa 1 Des 09:00
        mk("b", wib(2026, 12, 1, 14, 0)), // Selasa 1 Des 14:00
        mk("c", wib(2026, 12, 2, 10, 0)), // Rabu 2 Des 10:00
        mk("d", wib(2026, 12, 3, 10, 0)), // Kamis 3 Des 10:00
        mk("e", wib(2026, 12, 4, 10, 0)), // Jumat 4 Des 10:00
    ];
    let cases: &[(&str, Option<usize>)] = &[
        // By date.
        ("10am on the 4th", Some(4)),
        ("the 4th", Some(4)),
        ("on the 4th", Some(4)),
        ("4 Desember", Some(4)),
        ("yg tgl 4", Some(4)),
        ("the 2nd", Some(2)),
        ("tgl 2 aja", Some(2)),
        ("tgl 1", None),
        ("tgl 1 jam 14", Some(1)),
        ("1 Des siang", Some(1)),
        ("tanggal 5", None),
        // By weekday, narrowed by the time.
        ("kamis", Some(3)),
        ("kamis jam 10", Some(3)),
        ("jumat jam 10 ya", Some(4)),
        ("rabu aja", Some(2)),
        ("selasa", None),
        ("selasa pagi", Some(0)),
        ("Tuesday 2pm", Some(1)),
        // By position.
        ("4", Some(3)),
        ("yang ke-4", Some(3)),
        ("nomor 4", Some(3)),
        ("option 4", Some(3)),
        ("the fourth one", Some(3)),
        ("the 4th one", Some(3)),
        ("2", Some(1)),
        ("the second one", Some(1)),
        ("the 2nd option", Some(1)),
        ("yang terakhir", Some(4)),
    ];
    let mut failures = Vec::new();
    for (text, want) in cases {
        let got = choose_slot(text, &s, Jakarta);
        if got != *want {
            failures.push(format!("{text:?}: want {want:?}, got {got:?}"));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

// --- Confirmation ---------------------------------------------------------------------------

#[test]
fn confirmation_words() {
    use Confirmation::*;
    let cases: &[(&str, Option<Confirmation>)] = &[
        ("ya", Some(Yes)),
        ("Ya!", Some(Yes)),
        ("iya", Some(Yes)),
        ("iya kak boleh", Some(Yes)),
        ("oke", Some(Yes)),
        ("ok", Some(Yes)),
        ("ok sip", Some(Yes)),
        ("okay", Some(Yes)),
        ("boleh", Some(Yes)),
        ("siap kak", Some(Yes)),
        ("yes", Some(Yes)),
        ("betul", Some(Yes)),
        ("benar", Some(Yes)),
        ("setuju", Some(Yes)),
        ("gas", Some(Yes)),
        ("deal", Some(Yes)),
        ("gapapa", Some(Yes)),
        ("tidak apa-apa", Some(Yes)),
        ("no problem", Some(Yes)),
        ("tidak", Some(No)),
        ("nggak", Some(No)),
        ("gak jadi", Some(No)),
        ("no", Some(No)),
        ("ganti", Some(No)),
        ("yang lain", Some(No)),
        ("ya tapi ganti jam", Some(No)),
        ("oke, yang lain aja", Some(No)),
        ("jangan dulu", Some(No)),
        ("batal", Some(No)),
        // The seed's prefix match read "yakin?" as yes.
        ("yakin?", None),
        ("", None),
        ("ya kak", Some(Yes)),
        ("bisa kak", Some(Yes)),
        ("hmm", None),
        ("kapan ya?", None),
        ("gimana ya", None),
        ("yayasan", None),
    ];
    let mut failures = Vec::new();
    for (text, want) in cases {
        let got = parse_confirmation(text);
        if got != *want {
            failures.push(format!("{text:?}: want {want:?}, got {got:?}"));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

// --- Reminders ------------------------------------------------------------------------------

fn appt(booked_at: DateTime<Utc>) -> ReminderInput {
    ReminderInput {
        start: wib(2026, 12, 3, 9, 0),
        booked_at,
        cancelled: false,
        sent: Vec::new(),
    }
}

#[test]
fn reminder_timing() {
    let start = wib(2026, 12, 3, 9, 0);
    let mut a = appt(wib(2026, 11, 28, 10, 0));
    let due = |a: &ReminderInput, now| due_reminders(a, now);
    assert!(due(&a, start - Duration::hours(25)).is_empty());
    assert_eq!(
        next_reminder_at(&a, start - Duration::hours(25)),
        Some(start - Duration::hours(24))
    );
    assert_eq!(
        due(&a, start - Duration::hours(24)),
        [ReminderKind::DayBefore]
    );
    // A late worker still sends the 24 h one until the 2 h one takes over...
    assert_eq!(
        due(&a, start - Duration::hours(3)),
        [ReminderKind::DayBefore]
    );
    // ...then only the 2 h one.
    assert_eq!(
        due(&a, start - Duration::hours(2)),
        [ReminderKind::TwoHours]
    );
    a.sent.push(ReminderKind::DayBefore);
    assert!(due(&a, start - Duration::hours(23)).is_empty());
    assert_eq!(
        next_reminder_at(&a, start - Duration::hours(23)),
        Some(start - Duration::hours(2))
    );
    assert_eq!(
        due(&a, start - Duration::minutes(90)),
        [ReminderKind::TwoHours]
    );
    a.sent.push(ReminderKind::TwoHours);
    assert!(due(&a, start - Duration::minutes(90)).is_empty());
    assert_eq!(next_reminder_at(&a, start - Duration::minutes(90)), None);
    // Nothing at or after the start.
    let fresh = appt(wib(2026, 11, 28, 10, 0));
    assert!(due(&fresh, start).is_empty());
    assert!(due(&fresh, start + Duration::hours(1)).is_empty());
}

#[test]
fn no_reminders_after_cancel() {
    let start = wib(2026, 12, 3, 9, 0);
    let mut a = appt(wib(2026, 11, 28, 10, 0));
    a.cancelled = true;
    for h in [30, 24, 10, 2, 1] {
        assert!(
            due_reminders(&a, start - Duration::hours(h)).is_empty(),
            "{h}"
        );
    }
    assert_eq!(next_reminder_at(&a, start - Duration::hours(30)), None);
}

#[test]
fn late_booking_skips_the_day_before_reminder() {
    let start = wib(2026, 12, 3, 9, 0);
    let a = appt(start - Duration::hours(5));
    assert!(due_reminders(&a, start - Duration::hours(4)).is_empty());
    assert_eq!(
        next_reminder_at(&a, start - Duration::hours(5)),
        Some(start - Duration::hours(2))
    );
    assert_eq!(
        due_reminders(&a, start - Duration::hours(2)),
        [ReminderKind::TwoHours]
    );
    // Booked 1 h ahead: no reminder at all (the confirmation suffices).
    let b = appt(start - Duration::hours(1));
    assert!(due_reminders(&b, start - Duration::minutes(30)).is_empty());
    assert_eq!(next_reminder_at(&b, start - Duration::hours(1)), None);
}

#[test]
fn reminder_and_confirmation_texts_are_in_wib() {
    let slot = SlotOption {
        id: "2026-12-03T09:00@+6281111000001".into(),
        start: wib(2026, 12, 3, 9, 0),
        duration_minutes: 60,
        consultant_name: "Kak Rina".into(),
        consultant_whatsapp: "+6281111000001".into(),
    };
    let set = ari::config::flow::load_dir(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("state-machines"),
    )
    .unwrap();
    let id = set.default.as_ref();
    let t = reminder_text(ReminderKind::DayBefore, &slot, Jakarta, id);
    assert!(
        t.contains("besok, Kamis, 3 Desember 2026 jam 09:00 WIB dengan Kak Rina (60 menit)"),
        "{t}"
    );
    let t = reminder_text(ReminderKind::TwoHours, &slot, Jakarta, id);
    assert!(t.contains("2 jam lagi"), "{t}");
    // In the conversation's language: English words, English day and month names.
    let en = id.in_language("en");
    let t = reminder_text(ReminderKind::DayBefore, &slot, Jakarta, en);
    assert!(
        t.contains("tomorrow, Thursday, 3 December 2026 at 09:00 WIB with Kak Rina (60 minutes)"),
        "{t}"
    );
    let t = reminder_text(ReminderKind::TwoHours, &slot, Jakarta, en);
    assert!(t.contains("in 2 hours"), "{t}");
    let c = booking_confirmation(&slot, Jakarta);
    assert!(
        c.contains(
            "Tanggal: Kamis, 3 Desember 2026\nJam: 09:00 WIB\nDurasi: 60 menit\nKonsultan: Kak Rina"
        ),
        "{c}"
    );
}

// --- Never panic ----------------------------------------------------------------------------

proptest! {
    #[test]
    fn parsers_never_panic(s in "\\PC{0,60}", secs in -2_000_000_000i64..8_000_000_000i64) {
        let now = DateTime::<Utc>::from_timestamp(secs, 0).unwrap_or_default();
        let tz: Tz = Jakarta;
        let _ = parse_day_time(&s, now, tz);
        let _ = weekday_in(&s);
        let _ = time_in(&s);
        let _ = choose_slot(&s, &shown(), tz);
        let _ = parse_confirmation(&s);
    }

    #[test]
    fn date_like_strings_never_panic(d in 0u32..100, m in 0u32..100, y in 0u32..10000, sep in "[-/.: ]") {
        let s = format!("{d}{sep}{m}{sep}{y} jam {d}{sep}{m} {m} nov {d}");
        let _ = parse_day_time(&s, parse_now(), Jakarta);
        let _ = choose_slot(&s, &shown(), Jakarta);
    }
}

/// The meeting link is sent only when the slot's weekly rule has one (the shipped Kak Rina
/// rules do, Kak Dimas's do not): in the reminders and the `{meeting}` line, in the
/// conversation's language. No shipped text promises a link otherwise.
#[test]
fn the_meeting_link_goes_out_only_when_the_slot_has_one() {
    let set = ari::config::flow::load_dir(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("state-machines"),
    )
    .unwrap();
    let id = set.default.as_ref();
    let en = id.in_language("en");
    let slot = |who: &str, wa: &str, day: u32| SlotOption {
        id: format!("2026-12-{day:02}T09:00@{wa}"),
        start: wib(2026, 12, day, 9, 0),
        duration_minutes: 60,
        consultant_name: who.into(),
        consultant_whatsapp: wa.into(),
    };
    // Monday 7 Dec (Kak Rina's day) and Thursday 3 Dec (Kak Dimas's).
    let rina = slot("Kak Rina", "+6281111000001", 7);
    let dimas = slot("Kak Dimas", "+6281111000002", 3);
    let link = "https://meet.google.com/ari-kak-rina";
    assert_eq!(meeting_url(&id.scheduling, &rina), Some(link));
    assert_eq!(meeting_url(&id.scheduling, &dimas), None);
    assert_eq!(meeting_line(&rina, id), format!("\nLink meeting: {link}"));
    assert_eq!(meeting_line(&rina, en), format!("\nMeeting link: {link}"));
    assert_eq!(meeting_line(&dimas, id), "");
    let t = reminder_text(ReminderKind::TwoHours, &rina, Jakarta, en);
    assert!(t.ends_with(&format!("\nMeeting link: {link}")), "{t}");
    let t = reminder_text(ReminderKind::DayBefore, &dimas, Jakarta, id);
    assert!(!t.to_lowercase().contains("link"), "{t}");
    for cfg in [id, en] {
        let booked = &cfg.stages.scheduling.texts["booked"];
        assert!(booked.contains("{meeting}"), "{booked}");
        assert!(!booked.to_lowercase().contains("link"), "{booked}");
    }
}
