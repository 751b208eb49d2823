//! Transcripts for people: `ari simulate --script` and the interactive chat.

use super::{Outcome, Report, TurnRecord};
use crate::store::{Direction, StoredMessage};

/// Prints a script's transcript, its outcome and whether its expectations held.
pub fn print_transcript(report: &Report) {
    println!("== {}", report.name);
    for (i, t) in report.turns.iter().enumerate() {
        println!(
            "[{:>2}] {}  lead: {}",
            i + 1,
            t.at.format("%a %d %b %H:%M WIB"),
            t.lead
        );
        print_replies(t, "      ari: ", "           ");
        println!("      -> {}", status_line(t));
    }
    print_outcome(&report.outcome);
    if report.failures.is_empty() {
        println!("expect: met");
    } else {
        println!("expect: NOT met");
        for f in &report.failures {
            println!("  - {f}");
        }
    }
}

/// Prints one turn of the interactive chat: the replies, then the state line.
pub fn print_interactive_turn(t: &TurnRecord) {
    print_replies(t, "ari> ", "     ");
    println!("     [{}]", status_line(t));
}

fn print_replies(t: &TurnRecord, first: &str, rest: &str) {
    for reply in &t.replies {
        let mut lines = reply.lines();
        if let Some(line) = lines.next() {
            println!("{first}{line}");
        }
        for line in lines {
            println!("{rest}{line}");
        }
    }
    for to in &t.consultants_notified {
        println!("{rest}(consultant {to} notified)");
    }
}

/// `state qualifying, score 45 (warm), handoff -, language en`.
fn status_line(t: &TurnRecord) -> String {
    let language = t
        .reply_meta
        .last()
        .and_then(|m| m.get("language"))
        .and_then(|l| l.as_str())
        .unwrap_or("-");
    format!(
        "state {}, score {}{}, handoff {}, language {language}",
        t.state.as_deref().unwrap_or("-"),
        t.lead_score.map(|s| s.to_string()).unwrap_or("-".into()),
        t.lead_temperature
            .as_ref()
            .map(|x| format!(" ({x})"))
            .unwrap_or_default(),
        t.handoff_reason.as_deref().unwrap_or("-"),
    )
}

/// Prints where the conversation ended.
pub fn print_outcome(o: &Outcome) {
    println!(
        "outcome: state {}, temperature {}, score {}, handoff {}, appointments {}",
        o.final_state.as_deref().unwrap_or("-"),
        o.lead_temperature.as_deref().unwrap_or("-"),
        o.lead_score.map(|s| s.to_string()).unwrap_or("-".into()),
        o.handoff_reason.as_deref().unwrap_or("-"),
        o.appointments
    );
    if !o.fields.is_empty() {
        let fields: Vec<String> = o.fields.iter().map(|(k, v)| format!("{k}={v}")).collect();
        println!("fields: {}", fields.join(", "));
    }
}

/// Prints the messages sent to consultants (handoff notices, relays) in full.
pub fn print_consultant_notices(messages: &[StoredMessage]) {
    for m in messages.iter().filter(|m| {
        m.direction == Direction::Outbound
            && m.meta.get("audience").and_then(|a| a.as_str()) == Some("consultant")
    }) {
        println!("--- to the consultant:");
        println!("{}", m.text.as_deref().unwrap_or(""));
    }
}
