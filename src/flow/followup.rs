//! Follow-ups for a lead who went quiet (issue 18): when the next one falls due, and what it
//! says. Pure: the shell stores [`FollowupState::due`] with the conversation, queues a
//! `followup_due` control row when that time comes, and the core decides in an ordinary turn
//! ([`followup_turn`]) whether it still applies, so a follow-up is ordered against a lead
//! message that arrives at the same moment and goes out once, through the outbox.
//!
//! The rules (`[followups]`, [`crate::config::flow::Followups`]):
//! - a follow-up applies only in the configured stages: `qualifying` with a question pending,
//!   `booking` (the offer is open), `scheduling` (a slot is being chosen), and never after an
//!   opt-out ([`super::consent`]) or while a person has the conversation (stage `handoff`);
//! - nudge `k` falls due `after_hours[k]` after the lead's last message; one in the quiet hours
//!   waits until they end; a nudge that would then leave WhatsApp's 24 h window is not sent;
//! - after the nudges, when a template is configured, one template follows once the window
//!   closed (24 h after the lead's last message, out of the quiet hours);
//! - at most `max` per silence: any lead message starts the count again;
//! - a nudge is no re-ask: it leaves `qualification.max_asks`' count alone.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use super::graph::StageId;
use super::text::render;
use super::turn::{FieldValue, LeadState, Reply, SchedulingStep, Snapshot, StageSnapshot};
use crate::config::flow::{FlowConfig, Followups};
use crate::scheduling;

/// The follow-up template's body variables, in order (`{{1}}`, ...): what the README documents.
pub const FOLLOWUP_TEMPLATE_PARAMETERS: [&str; 1] = ["the lead's first name, or \"kak\""];

/// WhatsApp's customer-service window: free text only within 24 h of the lead's last message.
pub const WINDOW_HOURS: i64 = 24;

/// Where a conversation's follow-ups stand (in [`LeadState::followup`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FollowupState {
    /// The time of the lead's last message (any message, media and taps included).
    #[serde(default)]
    pub last_lead_at: Option<DateTime<Utc>>,
    /// Follow-ups sent since that message.
    #[serde(default)]
    pub sent: u32,
    /// Follow-ups sent in the whole conversation (for the consultant's summary).
    #[serde(default)]
    pub total: u32,
    /// The next follow-up, if one is scheduled.
    #[serde(default)]
    pub due: Option<FollowupDue>,
}

/// A scheduled follow-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FollowupDue {
    /// When it falls due (already out of the quiet hours).
    pub at: DateTime<Utc>,
    /// A nudge (free text, inside the window) or the approved template (after it).
    pub kind: FollowupKind,
}

/// What a follow-up sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FollowupKind {
    /// A free-text nudge, inside WhatsApp's 24 h window.
    Nudge,
    /// The configured approved template, after the window closed.
    Template,
}

/// What a due follow-up turn decided.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Send this nudge.
    Nudge(Reply),
    /// Send the approved template with these parameters (`{{1}}`: the first name or "kak").
    Template(Vec<String>),
    /// Nothing applies any more (a newer schedule, another stage, an opt-out).
    Nothing,
}

/// Whether the conversation, as `snapshot` leaves it, waits for the lead in a stage
/// follow-ups apply to.
fn applies(cfg: &Followups, snapshot: &Snapshot) -> bool {
    if !cfg.enabled || snapshot.lead.opted_out_at.is_some() {
        return false;
    }
    let stage = match &snapshot.stage {
        StageSnapshot::Qualifying if snapshot.lead.pending.is_some() => StageId::Qualifying,
        StageSnapshot::Booking => StageId::Booking,
        StageSnapshot::Scheduling(d) if d.step != SchedulingStep::AwaitingBooking => {
            StageId::Scheduling
        }
        _ => return false,
    };
    cfg.stages.iter().any(|s| s == stage.as_str())
}

/// The next follow-up after `sent` of them since the lead's message at `last`: the next nudge
/// still inside the window, else the template once the window closed, else none.
pub fn schedule(cfg: &Followups, tz: Tz, last: DateTime<Utc>, sent: u32) -> Option<FollowupDue> {
    if sent >= cfg.max {
        return None;
    }
    let window_end = last + Duration::hours(WINDOW_HOURS);
    for hours in cfg.after_hours.iter().skip(sent as usize) {
        let at = out_of_quiet_hours(cfg, tz, last + Duration::hours(i64::from(*hours)));
        if at < window_end {
            return Some(FollowupDue {
                at,
                kind: FollowupKind::Nudge,
            });
        }
    }
    cfg.after_window_template.as_ref()?;
    let at = out_of_quiet_hours(cfg, tz, window_end + Duration::minutes(1));
    Some(FollowupDue {
        at,
        kind: FollowupKind::Template,
    })
}

/// `at`, or the end of the quiet hours when `at` falls inside them (local time of `tz`).
/// Unreadable `HH:MM` settings (refused by `check-config`) mean no quiet hours.
pub fn out_of_quiet_hours(cfg: &Followups, tz: Tz, at: DateTime<Utc>) -> DateTime<Utc> {
    let parse = |s: &str| NaiveTime::parse_from_str(s, "%H:%M").ok();
    let (Some(start), Some(end)) = (parse(&cfg.quiet_from), parse(&cfg.quiet_until)) else {
        return at;
    };
    let local = at.with_timezone(&tz);
    let time = local.time();
    let quiet = if start <= end {
        time >= start && time < end
    } else {
        time >= start || time < end
    };
    if !quiet {
        return at;
    }
    let mut day = local.date_naive();
    if start > end && time >= start {
        day = day.succ_opt().unwrap_or(day);
    }
    tz.from_local_datetime(&day.and_time(end))
        .earliest()
        .map_or(at, |t| t.with_timezone(&Utc))
}

/// The follow-up state after a turn: `lead_wrote` restarts the count at `now`; the next
/// follow-up is scheduled when the conversation waits for the lead in a stage follow-ups
/// apply to, and cleared otherwise (a handoff, a booking, a takeover, an opt-out, a close).
pub fn after_turn(snapshot: &mut Snapshot, cfg: &FlowConfig, now: DateTime<Utc>, lead_wrote: bool) {
    let f = &mut snapshot.lead.followup;
    if lead_wrote {
        f.last_lead_at = Some(now);
        f.sent = 0;
    }
    let next = match snapshot.lead.followup.last_lead_at {
        Some(last) if applies(&cfg.followups, snapshot) => schedule(
            &cfg.followups,
            super::schedule::time_zone(cfg),
            last,
            snapshot.lead.followup.sent,
        ),
        _ => None,
    };
    snapshot.lead.followup.due = next;
}

/// A follow-up that fell due at `due_at` (the time the shell queued it for): what it sends.
/// Nothing when the schedule moved on meanwhile (a lead message, another follow-up) or the
/// conversation no longer waits for the lead. On a send, the count goes up; `free` are the
/// free slots the shell pre-loaded (for a day choice asked again).
pub fn followup_turn(
    snapshot: &mut Snapshot,
    cfg: &FlowConfig,
    due_at: DateTime<Utc>,
    free: &[super::SlotOption],
) -> Decision {
    let Some(due) = snapshot.lead.followup.due else {
        return Decision::Nothing;
    };
    if (due.at - due_at).num_seconds().abs() > 1 || !applies(&cfg.followups, snapshot) {
        return Decision::Nothing;
    }
    let decision = match due.kind {
        FollowupKind::Template => Decision::Template(vec![
            first_name(&snapshot.lead).unwrap_or_else(|| "kak".into()),
        ]),
        FollowupKind::Nudge => match nudge(snapshot, cfg, free) {
            Some(reply) => Decision::Nudge(reply),
            None => return Decision::Nothing,
        },
    };
    let f = &mut snapshot.lead.followup;
    f.total += 1;
    f.sent = match decision {
        // The template is the last follow-up of a silence, even when a nudge was skipped.
        Decision::Template(_) => f.sent.saturating_add(1).max(cfg.followups.max),
        _ => f.sent + 1,
    };
    decision
}

/// The nudge: `first` or `second`, wrapping the pending step asked in other words.
fn nudge(snapshot: &mut Snapshot, cfg: &FlowConfig, free: &[super::SlotOption]) -> Option<Reply> {
    let texts = &cfg.followups.texts;
    let tz = super::schedule::time_zone(cfg);
    let question = match &mut snapshot.stage {
        StageSnapshot::Qualifying => snapshot.lead.question_text(cfg, true)?,
        StageSnapshot::Booking => texts.booking.clone(),
        StageSnapshot::Scheduling(d) if d.step == SchedulingStep::Confirming => {
            let slot = d.selected.as_ref()?;
            let line = scheduling::slot_line_in(slot, tz, &cfg.locale);
            render(&texts.scheduling_confirm, &values(&[("slot", line)]))
        }
        StageSnapshot::Scheduling(d) => {
            // The list shown earlier may be stale: the day is asked again, with today's days.
            d.step = SchedulingStep::AskingDay;
            d.shown.clear();
            let days = scheduling::available_days_in(free, tz, &cfg.locale);
            render(&texts.scheduling_days, &values(&[("available_days", days)]))
        }
        _ => return None,
    };
    let (key, template) = if snapshot.lead.followup.sent == 0 {
        ("first", &texts.first)
    } else {
        ("second", &texts.second)
    };
    let name = first_name(&snapshot.lead).unwrap_or_default();
    let vals = values(&[("name", name.clone()), ("question", question)]);
    let template = if name.is_empty() {
        without_name(template)
    } else {
        template.clone()
    };
    Some(Reply {
        template: format!("followups.{key}"),
        text: render(&template, &vals),
        values: vals,
    })
}

/// `template` with its `{name}` left out, with the comma or space that joined it ("Halo kak
/// {name} 😊" → "Halo kak 😊", "{name}, just…" → "Just…").
fn without_name(template: &str) -> String {
    let mut out = template.to_string();
    for gap in [", {name}", " {name}", "{name}, ", "{name} ", "{name}"] {
        out = out.replace(gap, "");
    }
    let mut chars = out.chars();
    match chars.next() {
        Some(c) if template.starts_with("{name}") => c.to_uppercase().chain(chars).collect(),
        _ => out,
    }
}

fn values(pairs: &[(&str, String)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_string(), v.clone()))
        .collect()
}

/// The lead's first name, when known, sanitised for a WhatsApp text ([`crate::sanitize`]).
fn first_name(lead: &LeadState) -> Option<String> {
    match lead.fields.get("name") {
        Some(FieldValue::Known(n)) => n
            .split_whitespace()
            .next()
            .map(|first| crate::sanitize::lead_value(first, crate::sanitize::NAME_MAX_CHARS))
            .filter(|first| !first.is_empty()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wib(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn cfg() -> Followups {
        Followups::default()
    }

    const TZ: Tz = chrono_tz::Asia::Jakarta;

    #[test]
    fn nudges_at_2_and_20_hours_then_nothing_without_a_template() {
        let last = wib("2026-11-23T10:00:00+07:00");
        let first = schedule(&cfg(), TZ, last, 0).unwrap();
        assert_eq!(first.at, wib("2026-11-23T12:00:00+07:00"));
        assert_eq!(first.kind, FollowupKind::Nudge);
        let second = schedule(&cfg(), TZ, last, 1).unwrap();
        assert_eq!(
            second.at,
            wib("2026-11-24T08:00:00+07:00"),
            "06:00 is quiet"
        );
        assert_eq!(schedule(&cfg(), TZ, last, 2), None);
    }

    #[test]
    fn quiet_hours_move_a_nudge_to_their_end() {
        let last = wib("2026-11-23T19:30:00+07:00");
        let first = schedule(&cfg(), TZ, last, 0).unwrap();
        assert_eq!(first.at, wib("2026-11-24T08:00:00+07:00"));
        // 20 h after 19:30 is 15:30 the next day: not quiet.
        let second = schedule(&cfg(), TZ, last, 1).unwrap();
        assert_eq!(second.at, wib("2026-11-24T15:30:00+07:00"));
        // Just after midnight is quiet too.
        let at = out_of_quiet_hours(&cfg(), TZ, wib("2026-11-24T00:10:00+07:00"));
        assert_eq!(at, wib("2026-11-24T08:00:00+07:00"));
    }

    #[test]
    fn a_nudge_pushed_out_of_the_window_gives_way_to_the_template() {
        let mut c = cfg();
        c.after_hours = vec![2, 23];
        let last = wib("2026-11-23T07:00:00+07:00");
        // 23 h after 07:00 is 06:00, quiet until 08:00: past the window (07:00).
        assert_eq!(schedule(&c, TZ, last, 1), None);
        c.after_window_template = Some(crate::config::flow::TemplateRef {
            name: "followup".into(),
            language: "id".into(),
            quick_replies: Vec::new(),
        });
        let t = schedule(&c, TZ, last, 1).unwrap();
        assert_eq!(t.kind, FollowupKind::Template);
        assert_eq!(t.at, wib("2026-11-24T08:00:00+07:00"));
        // At most `max`: two nudges and the template.
        assert_eq!(
            schedule(&c, TZ, last, 2).unwrap().kind,
            FollowupKind::Template
        );
        assert_eq!(schedule(&c, TZ, last, 3), None);
    }

    #[test]
    fn an_unknown_name_leaves_no_gap() {
        assert_eq!(
            without_name("Halo kak {name} 😊 Lanjut?"),
            "Halo kak 😊 Lanjut?"
        );
        assert_eq!(
            without_name("{name}, just following up"),
            "Just following up"
        );
        assert_eq!(without_name("Hi {name}, ok"), "Hi, ok");
    }

    /// The template is sent once, also when a nudge that would have left the window was
    /// skipped (one nudge, then the template, then nothing).
    #[test]
    fn the_template_is_the_last_follow_up_of_a_silence() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/state-machines/ari.toml");
        let mut cfg = crate::config::flow::load_file(std::path::Path::new(path)).unwrap();
        cfg.followups.after_hours = vec![2, 23];
        cfg.followups.after_window_template = Some(crate::config::flow::TemplateRef {
            name: "followup".into(),
            language: "id".into(),
            quick_replies: Vec::new(),
        });
        let mut snapshot = Snapshot::new();
        snapshot.stage = StageSnapshot::Qualifying;
        snapshot.lead.pending = Some(super::super::extract::Pending::Field("email".into()));
        let last = wib("2026-11-23T07:00:00+07:00");
        after_turn(&mut snapshot, &cfg, last, true);
        let mut kinds = Vec::new();
        while let Some(due) = snapshot.lead.followup.due {
            match followup_turn(&mut snapshot, &cfg, due.at, &[]) {
                Decision::Nudge(_) => kinds.push("nudge"),
                Decision::Template(_) => kinds.push("template"),
                Decision::Nothing => panic!("a due follow-up sent nothing"),
            }
            after_turn(&mut snapshot, &cfg, due.at, false);
            assert!(kinds.len() <= 3, "{kinds:?}");
        }
        assert_eq!(kinds, ["nudge", "template"]);
    }

    #[test]
    fn no_quiet_hours_when_start_equals_end() {
        let mut c = cfg();
        c.quiet_from = "00:00".into();
        c.quiet_until = "00:00".into();
        let at = wib("2026-11-24T03:00:00+07:00");
        assert_eq!(out_of_quiet_hours(&c, TZ, at), at);
    }
}
