//! The expectations of a script: per turn, at the end, and over the whole conversation (no
//! question asked over and over, every reply in the lead's language, every message answered).
//! Each failure is one readable line; a turn's names its number.

use chrono::Utc;
use serde_json::Value;

use super::script::{Expect, TurnExpect};
use super::{Outcome, TurnRecord};

/// Whether a stored outbound message went to the lead (not a consultant notice, a relay, a CRM
/// call, or a person's own message from the business app).
pub fn is_lead_facing(meta: &Value) -> bool {
    meta.get("audience").is_none() && meta.get("origin").is_none()
}

/// The template key of a reply's meta (`stage.key`, `knowledge`...).
pub fn template_of(meta: &Value) -> Option<&str> {
    meta.get("template").and_then(Value::as_str)
}

/// The pending field or document a reply asks for (`meta.pending`), if any.
pub fn pending_of(meta: &Value) -> Option<&str> {
    meta.get("pending").and_then(Value::as_str)
}

/// The language a reply was written in (`meta.language`).
pub fn language_of(meta: &Value) -> Option<&str> {
    meta.get("language").and_then(Value::as_str)
}

/// Checks an outcome against the end expectations.
pub fn check(expect: &Expect, outcome: &Outcome) -> Vec<String> {
    let mut failures = Vec::new();
    let shown = |v: &Option<String>| v.clone().unwrap_or_else(|| "none".into());
    let mut same = |what: &str, want: &Option<String>, got: &Option<String>| {
        if let Some(w) = want
            && got.as_ref() != Some(w)
        {
            failures.push(format!("{what}: expected {w}, got {}", shown(got)));
        }
    };
    same("final_state", &expect.final_state, &outcome.final_state);
    same(
        "lead_temperature",
        &expect.lead_temperature,
        &outcome.lead_temperature,
    );
    same(
        "handoff_reason",
        &expect.handoff_reason,
        &outcome.handoff_reason,
    );
    same("lead_status", &expect.lead_status, &outcome.lead_status);
    failures.extend(score_bounds(expect, outcome));
    if let Some(n) = expect.appointments
        && outcome.appointments != n
    {
        failures.push(format!(
            "appointments: expected {n}, got {}",
            outcome.appointments
        ));
    }
    if let Some(want) = expect.booked_slot {
        let want = want.with_timezone(&Utc);
        if !outcome.booked.iter().any(|b| b.starts_at == want) {
            let got: Vec<String> = outcome
                .booked
                .iter()
                .map(|b| b.starts_at.to_rfc3339())
                .collect();
            failures.push(format!(
                "booked_slot: expected {}, booked [{}]",
                want.to_rfc3339(),
                got.join(", ")
            ));
        }
    }
    failures.extend(fields(expect, outcome));
    failures
}

fn score_bounds(expect: &Expect, outcome: &Outcome) -> Vec<String> {
    let score = outcome.lead_score.unwrap_or(0);
    let mut failures = Vec::new();
    if let Some(min) = expect.min_lead_score
        && score < min
    {
        failures.push(format!("lead_score: expected at least {min}, got {score}"));
    }
    if let Some(max) = expect.max_lead_score
        && score > max
    {
        failures.push(format!("lead_score: expected at most {max}, got {score}"));
    }
    failures
}

fn fields(expect: &Expect, outcome: &Outcome) -> Vec<String> {
    let mut failures = Vec::new();
    for (key, want) in &expect.fields {
        let got = outcome.fields.get(key);
        let ok = match got {
            Some(v) if want == "?" => v == "?",
            Some(v) => v != "?" && v.to_lowercase().contains(&want.to_lowercase()),
            None => false,
        };
        if !ok {
            failures.push(format!(
                "fields.{key}: expected {want:?}, got {}",
                got.map(|g| format!("{g:?}"))
                    .unwrap_or_else(|| "nothing".into())
            ));
        }
    }
    failures
}

/// The turn a failure line names (`turn 3: ...`), if any.
pub fn turn_number(failure: &str) -> Option<usize> {
    failure
        .strip_prefix("turn ")?
        .split(':')
        .next()?
        .parse()
        .ok()
}

/// Checks one turn's `expect` (turn numbers from 1).
pub fn turn(number: usize, expect: &TurnExpect, record: &TurnRecord) -> Vec<String> {
    let mut failures = Vec::new();
    if let Some(state) = &expect.state
        && record.state.as_ref() != Some(state)
    {
        failures.push(format!(
            "turn {number}: state: expected {state}, got {}",
            record.state.as_deref().unwrap_or("none")
        ));
    }
    if !expect.reply_contains_any.is_empty() {
        let replies: Vec<String> = record.replies.iter().map(|r| r.to_lowercase()).collect();
        let hit = expect
            .reply_contains_any
            .iter()
            .any(|w| replies.iter().any(|r| r.contains(&w.to_lowercase())));
        if !hit {
            failures.push(format!(
                "turn {number}: no reply contains any of {:?}; replies: {:?}",
                expect.reply_contains_any, record.replies
            ));
        }
    }
    if !expect.notice_contains_any.is_empty() {
        let notices: Vec<String> = record.notices.iter().map(|n| n.to_lowercase()).collect();
        let hit = expect
            .notice_contains_any
            .iter()
            .any(|w| notices.iter().any(|n| n.contains(&w.to_lowercase())));
        if !hit {
            failures.push(format!(
                "turn {number}: no consultant notice contains any of {:?}; notices: {:?}",
                expect.notice_contains_any, record.notices
            ));
        }
    }
    if let Some(key) = &expect.reply_key
        && !record
            .reply_meta
            .iter()
            .any(|m| template_of(m) == Some(key))
    {
        let keys: Vec<&str> = record.reply_meta.iter().filter_map(template_of).collect();
        failures.push(format!(
            "turn {number}: no reply has template {key}; templates: {keys:?}"
        ));
    }
    if let Some(lang) = &expect.reply_language {
        let got: Vec<&str> = record
            .reply_meta
            .iter()
            .map(|m| language_of(m).unwrap_or("no recorded language"))
            .collect();
        if got.is_empty() || got.iter().any(|l| l != lang) {
            failures.push(format!(
                "turn {number}: reply_language: expected {lang}, the replies are in {got:?}"
            ));
        }
    }
    if let Some(n) = expect.replies
        && record.replies.len() != n
    {
        failures.push(format!(
            "turn {number}: replies: expected {n}, got {}: {:?}",
            record.replies.len(),
            record.replies
        ));
    }
    if let Some(want) = &expect.notified {
        let mut want: Vec<&str> = want.iter().map(String::as_str).collect();
        let mut got: Vec<&str> = record
            .consultants_notified
            .iter()
            .map(String::as_str)
            .collect();
        want.sort_unstable();
        want.dedup();
        got.sort_unstable();
        got.dedup();
        if want != got {
            failures.push(format!(
                "turn {number}: notified: expected {want:?}, got {got:?}"
            ));
        }
    }
    failures
}

/// The checks over the whole conversation, in turn order: `max_same_reply`,
/// `reply_language`, `every_message_answered`.
pub fn conversation(expect: &Expect, records: &[TurnRecord]) -> Vec<String> {
    let mut failures = Vec::new();
    failures.extend(same_reply(expect.max_same_reply.unwrap_or(2), records));
    if let Some(lang) = &expect.reply_language {
        failures.extend(reply_language(lang, records));
    }
    if expect.every_message_answered.unwrap_or(true) {
        failures.extend(unanswered(records));
    }
    failures
}

/// No more than `max` consecutive lead-facing replies with the same template key for the same
/// pending question (replies that ask nothing pending are not counted).
fn same_reply(max: usize, records: &[TurnRecord]) -> Option<String> {
    let mut run: Option<(String, String, usize)> = None;
    for (i, r) in records.iter().enumerate() {
        for meta in &r.reply_meta {
            let (Some(template), Some(pending)) = (template_of(meta), pending_of(meta)) else {
                run = None;
                continue;
            };
            run = match run.take() {
                Some((t, p, n)) if t == template && p == pending => Some((t, p, n + 1)),
                _ => Some((template.to_string(), pending.to_string(), 1)),
            };
            if let Some((t, p, n)) = &run
                && *n > max
            {
                return Some(format!(
                    "turn {}: max_same_reply: {n} replies in a row with template {t} for {p} (at most {max})",
                    i + 1
                ));
            }
        }
    }
    None
}

/// From the first lead message whose language was confidently detected (or from the first
/// reply, when none was), every lead-facing reply carries `lang`.
fn reply_language(lang: &str, records: &[TurnRecord]) -> Option<String> {
    let from = records
        .iter()
        .position(|r| r.trace.language_detected.is_some())
        .unwrap_or(0);
    records.iter().enumerate().skip(from).find_map(|(i, r)| {
        r.reply_meta.iter().find_map(|m| {
            let got = language_of(m);
            (got != Some(lang)).then(|| {
                format!(
                    "turn {}: reply_language: expected {lang}, a reply ({}) is in {}",
                    i + 1,
                    template_of(m).unwrap_or("?"),
                    got.unwrap_or("no recorded language")
                )
            })
        })
    })
}

/// Each lead message gets a reply, or (while handed off) a message to the consultant; a
/// message written while a person has the conversation (after a takeover, until a resume, a
/// close or the bot answering again) is not checked: the person reads it in the business app.
/// Nor is an opt-out repeated after its one confirmation.
fn unanswered(records: &[TurnRecord]) -> Option<String> {
    let mut taken_over = false;
    for (i, r) in records.iter().enumerate() {
        let during_takeover = taken_over && r.state_before.as_deref() == Some("handoff");
        taken_over = r.state.as_deref() == Some("handoff")
            && r.handoff_reason.as_deref() == Some("human_takeover");
        // An opt-out repeated after its confirmation is left unanswered on purpose: the lead
        // asked for no more messages and was told once (issue 18).
        let repeated_opt_out = r.trace.rules.iter().any(|x| x == "consent_repeated");
        if during_takeover || !r.lead_message || is_reaction(r) || repeated_opt_out {
            continue;
        }
        let relayed =
            r.state_before.as_deref() == Some("handoff") && !r.consultants_notified.is_empty();
        if r.replies.is_empty() && !relayed {
            return Some(format!(
                "turn {}: every_message_answered: {:?} got no reply",
                i + 1,
                r.lead
            ));
        }
    }
    None
}

fn is_reaction(r: &TurnRecord) -> bool {
    r.inbound_meta
        .iter()
        .any(|m| m.get("type").and_then(Value::as_str) == Some("reaction"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn record(lead: bool, metas: Vec<Value>, state: &str) -> TurnRecord {
        TurnRecord {
            at: chrono::DateTime::parse_from_rfc3339("2026-11-23T09:00:00+07:00").unwrap(),
            lead: "x".into(),
            lead_message: lead,
            replies: metas.iter().map(|_| "reply".to_string()).collect(),
            reply_meta: metas,
            consultants_notified: vec![],
            notices: vec![],
            inbound_meta: vec![],
            trace: Default::default(),
            state_before: Some(state.into()),
            state: Some(state.into()),
            lead_score: None,
            lead_temperature: None,
            handoff_reason: None,
            store_round_trips: 0,
        }
    }

    fn ask(pending: &str) -> Value {
        json!({"template": "qualifying.fallback", "pending": pending, "language": "id"})
    }

    #[test]
    fn the_same_question_three_times_fails_and_twice_passes() {
        let twice = vec![
            record(true, vec![ask("budget")], "qualifying"),
            record(true, vec![ask("budget")], "qualifying"),
        ];
        assert!(same_reply(2, &twice).is_none());
        let mut thrice = twice.clone();
        thrice.push(record(true, vec![ask("budget")], "qualifying"));
        let f = same_reply(2, &thrice).unwrap();
        assert!(f.starts_with("turn 3:") && f.contains("budget"), "{f}");
        // Another pending question breaks the run.
        let mixed = vec![
            twice[0].clone(),
            record(true, vec![ask("email")], "qualifying"),
            twice[1].clone(),
        ];
        assert!(same_reply(2, &mixed).is_none());
    }

    #[test]
    fn a_reply_in_another_language_fails_from_the_detected_message_on() {
        let mut first = record(
            true,
            vec![json!({"template": "greeting.greeting", "language": "id"})],
            "greeting",
        );
        let second = record(
            true,
            vec![json!({"template": "qualifying.ask_field", "language": "id"})],
            "qualifying",
        );
        assert!(
            reply_language("en", &[first.clone(), second.clone()])
                .unwrap()
                .starts_with("turn 1:")
        );
        let mut detected = second.clone();
        detected.trace.language_detected = Some("en".into());
        // Detected only at turn 2: turn 1's Indonesian greeting is not held against it.
        first.reply_meta[0]["language"] = json!("id");
        let f = reply_language("en", &[first, detected]).unwrap();
        assert!(f.starts_with("turn 2:"), "{f}");
    }

    #[test]
    fn a_turn_language_needs_a_reply_and_every_reply_in_it() {
        let expect = TurnExpect {
            reply_language: Some("id".into()),
            ..TurnExpect::default()
        };
        let id = json!({"template": "qualifying.language_switched", "language": "id"});
        let en = json!({"template": "knowledge", "language": "en"});
        let both = record(true, vec![id.clone(), en], "qualifying");
        let f = turn(3, &expect, &both);
        assert!(
            f.len() == 1 && f[0].starts_with("turn 3: reply_language"),
            "{f:?}"
        );
        assert!(turn(3, &expect, &record(true, vec![], "qualifying")).len() == 1);
        assert!(turn(3, &expect, &record(true, vec![id], "qualifying")).is_empty());
    }

    #[test]
    fn messages_are_not_checked_while_a_person_has_the_conversation_but_are_after_it() {
        let mut taken = record(false, vec![], "handoff");
        taken.handoff_reason = Some("human_takeover".into());
        let mut silent = record(true, vec![], "handoff");
        silent.handoff_reason = Some("human_takeover".into());
        assert!(unanswered(&[taken.clone(), silent.clone()]).is_none());
        // Closed by an admin: the next lead message must be answered again.
        let mut closed = record(false, vec![], "completed");
        closed.state_before = Some("handoff".into());
        let mut unanswered_after = record(true, vec![], "completed");
        unanswered_after.state_before = Some("completed".into());
        let f = unanswered(&[taken, silent, closed, unanswered_after]).unwrap();
        assert!(f.starts_with("turn 4:"), "{f}");
    }

    #[test]
    fn a_lead_message_without_a_reply_fails_unless_relayed_in_handoff() {
        let silent = record(true, vec![], "qualifying");
        assert!(unanswered(&[silent]).unwrap().contains("got no reply"));
        let mut relayed = record(true, vec![], "handoff");
        relayed.consultants_notified = vec!["+6281111000001".into()];
        assert!(unanswered(&[relayed]).is_none());
        let clock = record(false, vec![], "qualifying");
        assert!(unanswered(&[clock]).is_none());
    }

    #[test]
    fn fields_match_by_substring_and_question_mark_means_not_given() {
        let mut outcome = Outcome::default();
        outcome.fields.insert("budget".into(), "500 juta".into());
        outcome.fields.insert("timeline".into(), "?".into());
        let mut expect = Expect::default();
        expect.fields.insert("budget".into(), "500".into());
        expect.fields.insert("timeline".into(), "?".into());
        assert!(check(&expect, &outcome).is_empty());
        expect.fields.insert("email".into(), "a@b.co".into());
        expect.fields.insert("budget".into(), "600".into());
        assert_eq!(check(&expect, &outcome).len(), 2);
    }
}
