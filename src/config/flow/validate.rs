//! Checks that serde cannot express: every reply text a stage needs exists and uses only
//! placeholders the core fills, thresholds are ordered, weights sum to 100, fields and
//! documents are known, slot times are valid.

use std::collections::BTreeSet;
use std::sync::LazyLock;

use chrono::{NaiveTime, Weekday};
use regex::Regex;

use super::model::{FlowConfig, KNOWN_DOCUMENTS, KNOWN_FIELDS, REMINDER_PLACEHOLDERS, Stage};

/// One validation problem: the dotted key and the message. Located on a line by the loader.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Dotted key path, e.g. `scoring.weights`.
    pub key: String,
    /// What is wrong.
    pub message: String,
}

/// Placeholders every text may use, filled from lead data and the persona. A value the lead
/// has not given renders as an empty string, except `{name}` which falls back to "kak".
pub const LEAD_PLACEHOLDERS: &[&str] = &[
    "name",
    "bot_name",
    "email",
    "country",
    "budget",
    "timeline",
    "english_level",
    "program",
    "community_link",
    "score",
    "temperature",
    "lead_source",
];

/// A reply text the core renders: its stage, key, whether it must exist (when the stage is
/// enabled), and the placeholders it may use beyond [`LEAD_PLACEHOLDERS`].
#[derive(Debug, Clone, Copy)]
pub struct TextSpec {
    /// Stage name (`greeting` ... `completed`).
    pub stage: &'static str,
    /// Key under `stages.<stage>.texts`.
    pub key: &'static str,
    /// Missing is an error when the stage is enabled.
    pub required: bool,
    /// Extra placeholders this text may use.
    pub extra: &'static [&'static str],
}

const fn spec(stage: &'static str, key: &'static str, extra: &'static [&'static str]) -> TextSpec {
    TextSpec {
        stage,
        key,
        required: true,
        extra,
    }
}

/// Every text key the core uses, per stage. A key not listed here is an error ("unknown text").
pub const TEXT_SPECS: &[TextSpec] = &[
    spec("greeting", "greeting", &["time_of_day", "question"]),
    spec("greeting", "returning", &["time_of_day", "question"]),
    spec("qualifying", "ask_field", &["question", "field_label"]),
    spec(
        "qualifying",
        "ask_document",
        &["question", "document_label"],
    ),
    spec("qualifying", "unknown_noted", &["question", "field_label"]),
    spec("qualifying", "fallback", &["question"]),
    spec("qualifying", "knowledge_fallback", &["question"]),
    spec("qualifying", "knowledge_instruction", &["question", "tone"]),
    spec("qualifying", "file_received", &["question"]),
    spec("qualifying", "document_received", &["question"]),
    spec("qualifying", "voice_unreadable", &["question"]),
    spec("qualifying", "unreadable", &["question"]),
    spec("qualifying", "language_switched", &["question"]),
    spec("qualifying", "booking_after_questions", &["question"]),
    spec("qualifying", "later", &[]),
    spec("scoring", "warm_nurture", &[]),
    spec("scoring", "nurture_instruction", &["tone"]),
    spec("scoring", "knowledge_fallback", &[]),
    spec("scoring", "cold_community", &[]),
    spec("booking", "offer", &[]),
    spec("booking", "unclear", &[]),
    spec("booking", "question", &[]),
    spec("scheduling", "ask_day", &["available_days"]),
    spec("scheduling", "show_slots", &["day", "slots"]),
    spec(
        "scheduling",
        "no_slots_that_day",
        &["day", "available_days"],
    ),
    spec("scheduling", "no_slots_at_time", &["time", "day", "slots"]),
    spec("scheduling", "no_slots", &[]),
    spec("scheduling", "pick_unclear", &["slots", "slot_count"]),
    spec("scheduling", "confirm", &["slot", "consultant_name"]),
    spec(
        "scheduling",
        "booked",
        &["date", "time", "duration", "consultant_name", "meeting"],
    ),
    spec("scheduling", "meeting_link", &["meeting_url"]),
    spec("scheduling", "slot_taken", &["available_days"]),
    spec(
        "scheduling",
        "reschedule",
        &["available_days", "date", "time"],
    ),
    spec(
        "scheduling",
        "moved",
        &[
            "date",
            "time",
            "duration",
            "consultant_name",
            "old_date",
            "old_time",
            "meeting",
        ],
    ),
    spec("scheduling", "kept", &["date", "time"]),
    spec("handoff", "hot_lead", &[]),
    spec("handoff", "warm_lead", &[]),
    spec("handoff", "cold_lead", &[]),
    spec("handoff", "human_requested", &[]),
    spec("handoff", "stuck", &[]),
    spec("handoff", "acknowledgement", &[]),
    spec("handoff", "knowledge_fallback", &[]),
    spec("handoff", "knowledge_instruction", &["tone"]),
    spec("handoff", "resumed", &["question"]),
    spec("handoff", "cancelled", &["date", "time"]),
];

/// Stage names in flow order.
pub const STAGE_NAMES: &[&str] = &[
    "greeting",
    "qualifying",
    "scoring",
    "booking",
    "scheduling",
    "handoff",
    "completed",
];

/// Stages that may be disabled: a disabled greeting skips the greeting text; a disabled
/// booking or scheduling hands hot leads off instead of booking.
pub const OPTIONAL_STAGES: &[&str] = &["greeting", "booking", "scheduling"];

static PLACEHOLDER: LazyLock<Regex> = LazyLock::new(|| {
    #[allow(clippy::expect_used)]
    Regex::new(r"\{([^{}]*)\}").expect("static regex")
});
static E164: LazyLock<Regex> = LazyLock::new(|| {
    #[allow(clippy::expect_used)]
    Regex::new(r"^\+[1-9][0-9]{7,14}$").expect("static regex")
});

/// Placeholder names used in a template, in order (`{name}` → `name`).
pub fn placeholders(template: &str) -> Vec<String> {
    PLACEHOLDER
        .captures_iter(template)
        .map(|c| c[1].to_string())
        .collect()
}

/// Weekday from an English or Indonesian name (`monday`/`senin` ... `sunday`/`minggu`).
pub fn parse_weekday(s: &str) -> Option<Weekday> {
    Some(match s.trim().to_lowercase().as_str() {
        "monday" | "mon" | "senin" => Weekday::Mon,
        "tuesday" | "tue" | "selasa" => Weekday::Tue,
        "wednesday" | "wed" | "rabu" => Weekday::Wed,
        "thursday" | "thu" | "kamis" => Weekday::Thu,
        "friday" | "fri" | "jumat" => Weekday::Fri,
        "saturday" | "sat" | "sabtu" => Weekday::Sat,
        "sunday" | "sun" | "minggu" => Weekday::Sun,
        _ => return None,
    })
}

/// Local time from `HH:MM`.
pub fn parse_hhmm(s: &str) -> Option<NaiveTime> {
    NaiveTime::parse_from_str(s.trim(), "%H:%M").ok()
}

/// All problems of a deserialized config; empty means valid.
pub fn validate(cfg: &FlowConfig) -> Vec<Problem> {
    let mut out = Vec::new();
    let mut err = |key: String, message: String| out.push(Problem { key, message });

    if cfg.schema_version != 1 {
        err(
            "schema_version".into(),
            "only schema_version 1 exists".into(),
        );
    }
    if cfg.persona.bot_name.trim().is_empty() {
        err("persona.bot_name".into(), "must not be empty".into());
    }
    let link = cfg.persona.community_link.trim();
    if !link.is_empty() && !link.starts_with("https://") {
        err(
            "persona.community_link".into(),
            "must be empty or an https:// link".into(),
        );
    }

    for stage in STAGE_NAMES {
        let Some(s) = cfg.stages.get(stage) else {
            continue;
        };
        check_stage(stage, s, &mut err);
    }

    check_fields(cfg, &mut err);
    check_reminders(cfg, &mut err);
    check_consent(cfg, &mut err);
    check_followups(cfg, &mut err);
    check_interactive(cfg, &mut err);
    for (key, list, len) in [
        ("locale.weekdays", &cfg.locale.weekdays, 7),
        ("locale.months_short", &cfg.locale.months_short, 12),
        ("locale.months_long", &cfg.locale.months_long, 12),
    ] {
        if list.len() != len || list.iter().any(|w| w.trim().is_empty()) {
            err(
                key.into(),
                format!("needs {len} non-empty names, first to last"),
            );
        }
    }

    let w = cfg.scoring.weights;
    let sum = w.basic + w.qualification + w.documents + w.engagement;
    if sum != 100 {
        err(
            "scoring.weights".into(),
            format!(
                "weights must sum to 100, they sum to {sum} ({} + {} + {} + {})",
                w.basic, w.qualification, w.documents, w.engagement
            ),
        );
    }
    if cfg.scoring.hot_threshold > 100 {
        err("scoring.hot_threshold".into(), "must be at most 100".into());
    }
    if cfg.scoring.warm_threshold >= cfg.scoring.hot_threshold {
        err(
            "scoring.warm_threshold".into(),
            format!(
                "thresholds out of order: warm ({}) must be below hot ({})",
                cfg.scoring.warm_threshold, cfg.scoring.hot_threshold
            ),
        );
    }
    if cfg.routing.stuck_limit == 0 {
        err("routing.stuck_limit".into(), "must be at least 1".into());
    }
    if cfg.handoff.human_request_phrases.is_empty() {
        err(
            "handoff.human_request_phrases".into(),
            "needs at least one phrase".into(),
        );
    }
    for (i, p) in cfg.handoff.human_request_phrases.iter().enumerate() {
        if p.trim().is_empty() {
            err(
                format!("handoff.human_request_phrases[{i}]"),
                "empty phrase".into(),
            );
        }
    }
    check_handoff(cfg, &mut err);
    if cfg.knowledge.topic_keywords.is_empty() {
        err(
            "knowledge.topic_keywords".into(),
            "needs at least one keyword".into(),
        );
    }
    check_scheduling(cfg, &mut err);
    out
}

fn check_stage(stage: &str, s: &Stage, err: &mut impl FnMut(String, String)) {
    let base = format!("stages.{stage}");
    if !s.enabled && !OPTIONAL_STAGES.contains(&stage) {
        err(
            format!("{base}.enabled"),
            format!("stage {stage} cannot be disabled (only greeting, booking, scheduling can)"),
        );
    }
    if s.name.trim().is_empty() {
        err(format!("{base}.name"), "must not be empty".into());
    }
    let specs: Vec<&TextSpec> = TEXT_SPECS.iter().filter(|t| t.stage == stage).collect();
    for (key, text) in &s.texts {
        let Some(spec) = specs.iter().find(|t| t.key == key) else {
            let known: Vec<&str> = specs.iter().map(|t| t.key).collect();
            err(
                format!("{base}.texts.{key}"),
                format!(
                    "unknown text `{key}` for stage {stage}; known: {}",
                    if known.is_empty() {
                        "none".to_string()
                    } else {
                        known.join(", ")
                    }
                ),
            );
            continue;
        };
        if text.trim().is_empty() && spec.required && s.enabled {
            err(format!("{base}.texts.{key}"), "text is empty".into());
        }
        for ph in placeholders(text) {
            if !LEAD_PLACEHOLDERS.contains(&ph.as_str()) && !spec.extra.contains(&ph.as_str()) {
                err(
                    format!("{base}.texts.{key}"),
                    format!(
                        "placeholder {{{ph}}} does not exist here; allowed: {}",
                        allowed(spec.extra)
                    ),
                );
            }
        }
    }
    if s.enabled {
        for spec in specs {
            if spec.required && !s.texts.contains_key(spec.key) {
                err(
                    format!("{base}.texts.{}", spec.key),
                    format!("missing text `{}`", spec.key),
                );
            }
        }
    }
}

fn allowed(extra: &[&str]) -> String {
    LEAD_PLACEHOLDERS
        .iter()
        .chain(extra.iter())
        .map(|p| format!("{{{p}}}"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn check_fields(cfg: &FlowConfig, err: &mut impl FnMut(String, String)) {
    let q = &cfg.qualification;
    if q.required_fields.is_empty() {
        err(
            "qualification.required_fields".into(),
            "needs at least one field".into(),
        );
    }
    let mut seen = BTreeSet::new();
    for (list, name) in [
        (&q.required_fields, "required_fields"),
        (&q.important_fields, "important_fields"),
    ] {
        for (i, f) in list.iter().enumerate() {
            let key = format!("qualification.{name}[{i}]");
            if !KNOWN_FIELDS.contains(&f.as_str()) {
                err(
                    key,
                    format!("unknown field `{f}`; known: {}", KNOWN_FIELDS.join(", ")),
                );
            } else if !seen.insert(f.clone()) {
                err(key, format!("field `{f}` listed twice"));
            } else if !cfg.fields.contains_key(f) {
                err(key, format!("field `{f}` has no [fields.{f}] question"));
            }
        }
    }
    let mut seen_docs = BTreeSet::new();
    for (i, d) in q.document_order.iter().enumerate() {
        let key = format!("qualification.document_order[{i}]");
        if !KNOWN_DOCUMENTS.contains(&d.as_str()) {
            err(
                key,
                format!(
                    "unknown document `{d}`; known: {}",
                    KNOWN_DOCUMENTS.join(", ")
                ),
            );
        } else if !seen_docs.insert(d.clone()) {
            err(key, format!("document `{d}` listed twice"));
        } else if !cfg.documents.contains_key(d) {
            err(
                key,
                format!("document `{d}` has no [documents.{d}] question"),
            );
        }
    }
    for (k, f) in &cfg.fields {
        if !KNOWN_FIELDS.contains(&k.as_str()) {
            err(
                format!("fields.{k}"),
                format!("unknown field `{k}`; known: {}", KNOWN_FIELDS.join(", ")),
            );
        }
        if f.question.trim().is_empty() {
            err(format!("fields.{k}.question"), "missing question".into());
        }
        check_lead_placeholders(&format!("fields.{k}.question"), &f.question, err);
    }
    for (k, d) in &cfg.documents {
        if !KNOWN_DOCUMENTS.contains(&k.as_str()) {
            err(
                format!("documents.{k}"),
                format!(
                    "unknown document `{k}`; known: {}",
                    KNOWN_DOCUMENTS.join(", ")
                ),
            );
        }
        if d.question.trim().is_empty() {
            err(format!("documents.{k}.question"), "missing question".into());
        }
        check_lead_placeholders(&format!("documents.{k}.question"), &d.question, err);
    }
}

/// `[consent]`: texts not empty, `opted_out` without placeholders, `resumed` with `{name}` at
/// most; no empty phrase.
fn check_consent(cfg: &FlowConfig, err: &mut impl FnMut(String, String)) {
    let c = &cfg.consent;
    for (key, text, allowed) in [
        ("opted_out", &c.opted_out, &[][..]),
        ("resumed", &c.resumed, &["name"][..]),
    ] {
        if text.trim().is_empty() {
            err(format!("consent.{key}"), "text is empty".into());
        }
        for ph in placeholders(text) {
            if !allowed.contains(&ph.as_str()) {
                err(
                    format!("consent.{key}"),
                    format!("placeholder {{{ph}}} does not exist here"),
                );
            }
        }
    }
    for (key, list) in [
        ("opt_out_phrases", &c.opt_out_phrases),
        ("resume_phrases", &c.resume_phrases),
    ] {
        if list.iter().any(|p| p.trim().is_empty()) {
            err(format!("consent.{key}"), "a phrase is empty".into());
        }
    }
}

/// `[followups]` (issue 18): known stages; nudge hours ascending, each from 1 to 23 (inside
/// WhatsApp's 24 h window); quiet hours as `HH:MM`; texts not empty, with their own
/// placeholders only.
fn check_followups(cfg: &FlowConfig, err: &mut impl FnMut(String, String)) {
    let f = &cfg.followups;
    for s in &f.stages {
        if !["qualifying", "booking", "scheduling"].contains(&s.as_str()) {
            err(
                "followups.stages".into(),
                format!("`{s}` is not qualifying, booking or scheduling"),
            );
        }
    }
    let ascending = f.after_hours.windows(2).all(|w| w[0] < w[1]);
    if !ascending || f.after_hours.iter().any(|h| *h == 0 || *h >= 24) {
        err(
            "followups.after_hours".into(),
            "needs ascending hours from 1 to 23 (a nudge goes inside the 24 h window)".into(),
        );
    }
    for (key, value) in [
        ("quiet_from", &f.quiet_from),
        ("quiet_until", &f.quiet_until),
    ] {
        if chrono::NaiveTime::parse_from_str(value, "%H:%M").is_err() {
            err(
                format!("followups.{key}"),
                format!("`{value}` is not HH:MM"),
            );
        }
    }
    let t = &f.texts;
    for (key, text, allowed) in [
        ("first", &t.first, &["name", "question"][..]),
        ("second", &t.second, &["name", "question"][..]),
        ("booking", &t.booking, &[][..]),
        (
            "scheduling_days",
            &t.scheduling_days,
            &["available_days"][..],
        ),
        ("scheduling_confirm", &t.scheduling_confirm, &["slot"][..]),
    ] {
        if text.trim().is_empty() {
            err(format!("followups.texts.{key}"), "text is empty".into());
        }
        for ph in placeholders(text) {
            if !allowed.contains(&ph.as_str()) {
                err(
                    format!("followups.texts.{key}"),
                    format!("placeholder {{{ph}}} does not exist here"),
                );
            }
        }
    }
}

/// `[interactive]` (issue 19): every label within WhatsApp's limits
/// ([`crate::kapso::interactive`]), descriptions with their placeholders filled with the
/// longest values this flow can give them (its longest consultant name, duration and zone), and
/// the buttons of one message different. Every language is checked (each language's flow is
/// validated on its own).
fn check_interactive(cfg: &FlowConfig, err: &mut impl FnMut(String, String)) {
    use crate::kapso::interactive::{
        MAX_BUTTON_TITLE, MAX_LIST_BUTTON, MAX_ROW_DESCRIPTION, MAX_ROW_TITLE,
    };
    let l = &cfg.interactive;
    let slots = &cfg.scheduling.slots;
    let longest = |f: &dyn Fn(&crate::config::flow::SlotRule) -> String| {
        slots
            .iter()
            .map(f)
            .max_by_key(|s| s.chars().count())
            .unwrap_or_default()
    };
    let name = longest(&|s| s.consultant_name.clone());
    let duration = longest(&|s| s.duration_minutes.to_string());
    let zone = crate::scheduling::zone_label(crate::scheduling::time_zone(&cfg.scheduling));
    let fill = |t: &str| {
        [
            ("{count}", "10"),
            ("{first}", "23:59"),
            ("{last}", "23:59"),
            ("{time}", "23:59"),
            ("{zone}", zone.as_str()),
            ("{consultant_name}", name.as_str()),
            ("{duration}", duration.as_str()),
        ]
        .iter()
        .fold(t.to_string(), |t, (k, v)| t.replace(k, v))
    };
    let checks: [(&str, String, usize); 15] = [
        ("offer_yes", l.offer_yes.clone(), MAX_BUTTON_TITLE),
        ("offer_no", l.offer_no.clone(), MAX_BUTTON_TITLE),
        ("confirm_yes", l.confirm_yes.clone(), MAX_BUTTON_TITLE),
        ("confirm_change", l.confirm_change.clone(), MAX_BUTTON_TITLE),
        (
            "reminder_attend",
            l.reminder_attend.clone(),
            MAX_BUTTON_TITLE,
        ),
        (
            "reminder_reschedule",
            l.reminder_reschedule.clone(),
            MAX_BUTTON_TITLE,
        ),
        (
            "reminder_cancel",
            l.reminder_cancel.clone(),
            MAX_BUTTON_TITLE,
        ),
        ("days_button", l.days_button.clone(), MAX_LIST_BUTTON),
        ("times_button", l.times_button.clone(), MAX_LIST_BUTTON),
        ("days_section", l.days_section.clone(), MAX_ROW_TITLE),
        ("times_section", l.times_section.clone(), MAX_ROW_TITLE),
        ("more_times", l.more_times.clone(), MAX_ROW_TITLE),
        (
            "day_description",
            fill(&l.day_description),
            MAX_ROW_DESCRIPTION,
        ),
        (
            "time_description",
            fill(&l.time_description),
            MAX_ROW_DESCRIPTION,
        ),
        (
            "more_times_description",
            fill(&l.more_times_description),
            MAX_ROW_DESCRIPTION,
        ),
    ];
    for (key, text, max) in checks {
        let n = text.chars().count();
        if text.trim().is_empty() || n > max {
            err(
                format!("interactive.{key}"),
                format!("{n} characters ({text:?}); WhatsApp takes 1 to {max}"),
            );
        }
    }
    let pairs = [
        ("offer_no", &l.offer_yes, &l.offer_no),
        ("confirm_change", &l.confirm_yes, &l.confirm_change),
        (
            "reminder_reschedule",
            &l.reminder_attend,
            &l.reminder_reschedule,
        ),
        (
            "reminder_cancel",
            &l.reminder_reschedule,
            &l.reminder_cancel,
        ),
        ("reminder_cancel", &l.reminder_attend, &l.reminder_cancel),
    ];
    for (key, a, b) in pairs {
        if a == b {
            err(
                format!("interactive.{key}"),
                "the same title as another button of its message (WhatsApp wants them different)"
                    .into(),
            );
        }
    }
}

/// `[reminders]`: not empty, and only [`REMINDER_PLACEHOLDERS`].
fn check_reminders(cfg: &FlowConfig, err: &mut impl FnMut(String, String)) {
    let r = &cfg.reminders;
    for (key, text) in [("day_before", &r.day_before), ("two_hours", &r.two_hours)] {
        if text.trim().is_empty() {
            err(format!("reminders.{key}"), "text is empty".into());
        }
        for ph in placeholders(text) {
            if !REMINDER_PLACEHOLDERS.contains(&ph.as_str()) {
                err(
                    format!("reminders.{key}"),
                    format!(
                        "placeholder {{{ph}}} does not exist here; allowed: {}",
                        REMINDER_PLACEHOLDERS
                            .iter()
                            .map(|p| format!("{{{p}}}"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                );
            }
        }
    }
}

fn check_lead_placeholders(key: &str, text: &str, err: &mut impl FnMut(String, String)) {
    for ph in placeholders(text) {
        if !LEAD_PLACEHOLDERS.contains(&ph.as_str()) {
            err(
                key.to_string(),
                format!(
                    "placeholder {{{ph}}} does not exist here; allowed: {}",
                    allowed(&[])
                ),
            );
        }
    }
}

/// Handoff timing and who gets the leads: relays after a takeover start before the bot
/// resumes, and a flow that hands off has a consultant to notify (one named in
/// `scheduling.slots`, `handoff::consultants`).
fn check_handoff(cfg: &FlowConfig, err: &mut impl FnMut(String, String)) {
    let h = &cfg.handoff;
    if h.takeover_resume_minutes > 0 && h.relay_after_minutes >= h.takeover_resume_minutes {
        err(
            "handoff.relay_after_minutes".into(),
            format!(
                "must be below takeover_resume_minutes ({} >= {}): after a takeover, relays must start before the bot resumes",
                h.relay_after_minutes, h.takeover_resume_minutes
            ),
        );
    }
    if let Some(team) = &h.fallback_whatsapp
        && !E164.is_match(team)
    {
        err(
            "handoff.fallback_whatsapp".into(),
            format!("`{team}` is not an E.164 number (+62...)"),
        );
    }
    for (key, template) in [
        ("handoff.consultant_template", &h.consultant_template),
        ("handoff.relay_template", &h.relay_template),
        (
            "scheduling.reminder_template",
            &cfg.scheduling.reminder_template,
        ),
        (
            "followups.after_window_template",
            &cfg.followups.after_window_template,
        ),
    ] {
        if let Some(t) = template
            && (t.name.trim().is_empty() || t.language.trim().is_empty())
        {
            err(
                key.into(),
                "needs the approved template's name and language code".into(),
            );
        }
    }
    if cfg.stages.handoff.enabled && crate::handoff::consultants(&cfg.scheduling).is_empty() {
        err(
            "scheduling.slots".into(),
            "handoff is enabled but no consultant is configured to notify (name one in scheduling.slots)"
                .into(),
        );
    }
}

fn check_scheduling(cfg: &FlowConfig, err: &mut impl FnMut(String, String)) {
    let s = &cfg.scheduling;
    if s.time_zone.parse::<chrono_tz::Tz>().is_err() {
        err(
            "scheduling.time_zone".into(),
            format!(
                "unknown time zone `{}` (use an IANA name such as Asia/Jakarta)",
                s.time_zone
            ),
        );
    }
    if !(1..=90).contains(&s.booking_window_days) {
        err(
            "scheduling.booking_window_days".into(),
            "must be between 1 and 90".into(),
        );
    }
    if s.max_slots_shown == 0 {
        err(
            "scheduling.max_slots_shown".into(),
            "must be at least 1".into(),
        );
    }
    if cfg.stages.scheduling.enabled && s.slots.is_empty() {
        err(
            "scheduling.slots".into(),
            "scheduling is enabled but no consultant slot is configured".into(),
        );
    }
    for (i, slot) in s.slots.iter().enumerate() {
        let base = format!("scheduling.slots[{i}]");
        if parse_weekday(&slot.weekday).is_none() {
            err(
                format!("{base}.weekday"),
                format!(
                    "`{}` is not a weekday (monday..sunday or senin..minggu)",
                    slot.weekday
                ),
            );
        }
        if let Some(url) = &slot.meeting_url
            && !url.trim().starts_with("https://")
        {
            err(
                format!("{base}.meeting_url"),
                format!("`{url}` is not an https:// link"),
            );
        }
        let start = parse_hhmm(&slot.start);
        let end = parse_hhmm(&slot.end);
        if start.is_none() {
            err(
                format!("{base}.start"),
                format!("`{}` is not HH:MM", slot.start),
            );
        }
        if end.is_none() {
            err(
                format!("{base}.end"),
                format!("`{}` is not HH:MM", slot.end),
            );
        }
        if let (Some(a), Some(b)) = (start, end) {
            if b <= a {
                err(format!("{base}.end"), "must be after start".into());
            } else if i64::from(slot.duration_minutes) > (b - a).num_minutes() {
                err(
                    format!("{base}.duration_minutes"),
                    "longer than the start..end window".into(),
                );
            }
        }
        if slot.duration_minutes == 0 {
            err(
                format!("{base}.duration_minutes"),
                "must be at least 1".into(),
            );
        }
        if slot.capacity == 0 {
            err(format!("{base}.capacity"), "must be at least 1".into());
        }
        if slot.consultant_name.trim().is_empty() {
            err(
                format!("{base}.consultant_name"),
                "must not be empty".into(),
            );
        }
        if !E164.is_match(&slot.consultant_whatsapp) {
            err(
                format!("{base}.consultant_whatsapp"),
                format!(
                    "`{}` is not an E.164 number (+62...)",
                    slot.consultant_whatsapp
                ),
            );
        }
    }
}
