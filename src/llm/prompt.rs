//! The prompts in `prompts/`, compiled into the binary and rendered with minijinja.
//!
//! One system prompt per stage (`prompts/system/<stage>.j2`), all extending
//! `prompts/system/base.j2`, plus `prompts/extraction.j2`. The templates are embedded with
//! `include_str!` so a deployed binary cannot run with a missing or half-edited prompt; an
//! edit is a rebuild (and a snapshot-test diff). Undefined variables are errors, so a typo in
//! a template fails the snapshot tests instead of rendering an empty string.
//!
//! The greeting follows seed §11.1 (WIB hours 5-10 pagi, 11-14 siang, 15-17 sore, else malam),
//! in the configured zone rather than a fixed UTC+7 (§12.7).

use chrono::{DateTime, Timelike, Utc};
use chrono_tz::Tz;
use minijinja::{AutoEscape, Environment, UndefinedBehavior};
use serde::Serialize;

use super::request::{ExtractRequest, HISTORY_MESSAGES, ReplyRequest, Role, style_text};
use crate::flow::StageId;
use crate::flow::turn::SchedulingStep;
use crate::scheduling;

/// `(template name, source)` of every prompt.
const TEMPLATES: &[(&str, &str)] = &[
    (
        "system/base.j2",
        include_str!("../../prompts/system/base.j2"),
    ),
    (
        "system/greeting.j2",
        include_str!("../../prompts/system/greeting.j2"),
    ),
    (
        "system/qualifying.j2",
        include_str!("../../prompts/system/qualifying.j2"),
    ),
    (
        "system/scoring.j2",
        include_str!("../../prompts/system/scoring.j2"),
    ),
    (
        "system/booking.j2",
        include_str!("../../prompts/system/booking.j2"),
    ),
    (
        "system/scheduling.j2",
        include_str!("../../prompts/system/scheduling.j2"),
    ),
    (
        "system/handoff.j2",
        include_str!("../../prompts/system/handoff.j2"),
    ),
    (
        "system/completed.j2",
        include_str!("../../prompts/system/completed.j2"),
    ),
    ("extraction.j2", include_str!("../../prompts/extraction.j2")),
];

/// A template failed to compile or render (a bug in `prompts/`; the caller falls back).
#[derive(Debug, thiserror::Error)]
#[error("prompt template: {0}")]
pub struct PromptError(String);

impl From<minijinja::Error> for PromptError {
    fn from(e: minijinja::Error) -> Self {
        // The alternate form includes the template name and line.
        PromptError(format!("{e:#}"))
    }
}

/// The compiled templates. Build once ([`Prompts::new`]) and share.
#[derive(Debug)]
pub struct Prompts {
    env: Environment<'static>,
}

/// Seed §11.1 time-of-day word for a local hour.
pub fn time_of_day(now: DateTime<Utc>, tz: Tz) -> &'static str {
    match now.with_timezone(&tz).hour() {
        5..=10 => "pagi",
        11..=14 => "siang",
        15..=17 => "sore",
        _ => "malam",
    }
}

/// `Kamis, 26 November 2026` in `tz`.
pub fn today(now: DateTime<Utc>, tz: Tz) -> String {
    scheduling::format::long_date(now, tz)
}

/// `09:15 WIB` in `tz`.
fn clock(now: DateTime<Utc>, tz: Tz) -> String {
    let l = now.with_timezone(&tz);
    format!(
        "{:02}:{:02} {}",
        l.hour(),
        l.minute(),
        scheduling::format::zone_label(tz)
    )
}

#[derive(Serialize)]
struct SlotView {
    id: String,
    line: String,
}

#[derive(Serialize)]
struct ScoreView {
    total: u32,
    temperature: &'static str,
}

#[derive(Serialize)]
struct KnowledgeView<'a> {
    ids: &'a [String],
    text: &'a str,
}

#[derive(Serialize)]
struct FieldView<'a> {
    key: &'a str,
    label: &'a str,
    value: &'a str,
}

#[derive(Serialize)]
struct DocumentView<'a> {
    label: &'a str,
    answer: &'a str,
}

/// The system prompt's variables (all of them always defined: templates are strict).
#[derive(Serialize)]
struct SystemView<'a> {
    bot_name: &'a str,
    style: &'static str,
    tone: &'a str,
    today: String,
    clock: String,
    time_of_day: &'static str,
    stage: &'static str,
    known: Vec<FieldView<'a>>,
    unknown: &'a [String],
    missing: &'a [String],
    documents: Vec<DocumentView<'a>>,
    score: Option<ScoreView>,
    instruction: &'a str,
    question: &'a str,
    fallback: &'a str,
    knowledge: Option<KnowledgeView<'a>>,
    show_slots: bool,
    slots: Vec<SlotView>,
    step: Option<&'static str>,
    selected: Option<SlotView>,
    booked: bool,
    language: &'a str,
    language_name: &'a str,
}

#[derive(Serialize)]
struct ExtractionView<'a> {
    today: String,
    pending: Option<&'a str>,
    known: Vec<FieldView<'a>>,
}

fn step_name(s: SchedulingStep) -> &'static str {
    match s {
        SchedulingStep::AskingDay => "asking_day",
        SchedulingStep::ShowingSlots => "showing_slots",
        SchedulingStep::Confirming => "confirming",
        SchedulingStep::AwaitingBooking => "awaiting_booking",
    }
}

impl Prompts {
    /// Compiles the embedded templates.
    pub fn new() -> Result<Self, PromptError> {
        let mut env = Environment::new();
        env.set_trim_blocks(true);
        env.set_lstrip_blocks(true);
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_auto_escape_callback(|_| AutoEscape::None);
        for (name, source) in TEMPLATES {
            env.add_template(name, source)?;
        }
        Ok(Prompts { env })
    }

    /// The system prompt for a reply.
    pub fn system(&self, req: &ReplyRequest) -> Result<String, PromptError> {
        let tz = req.time_zone;
        let slot = |s: &crate::flow::SlotOption| SlotView {
            id: s.id.clone(),
            line: scheduling::slot_line(s, tz),
        };
        let view = SystemView {
            bot_name: &req.persona.bot_name,
            style: style_text(req.persona.greeting_style),
            tone: &req.persona.tone,
            today: today(req.now, tz),
            clock: clock(req.now, tz),
            time_of_day: time_of_day(req.now, tz),
            stage: req.stage.as_str(),
            known: req
                .lead
                .known
                .iter()
                .map(|f| FieldView {
                    key: &f.key,
                    label: &f.label,
                    value: &f.value,
                })
                .collect(),
            unknown: &req.lead.unknown,
            missing: &req.lead.missing,
            documents: req
                .lead
                .documents
                .iter()
                .map(|(label, answer)| DocumentView { label, answer })
                .collect(),
            score: req.lead.score.map(|(total, t)| ScoreView {
                total,
                temperature: t.as_str(),
            }),
            instruction: &req.instruction,
            question: &req.question,
            fallback: &req.fallback_text,
            knowledge: req.knowledge.as_ref().map(|k| KnowledgeView {
                ids: &k.entry_ids,
                text: &k.text,
            }),
            show_slots: matches!(req.stage, StageId::Booking | StageId::Scheduling),
            slots: req.slots.iter().map(slot).collect(),
            step: req.scheduling_step.map(step_name),
            selected: req.selected_slot.as_ref().map(slot),
            booked: req.booked,
            language: &req.language,
            language_name: &req.language_name,
        };
        let name = format!("system/{}.j2", req.stage.as_str());
        Ok(self.env.get_template(&name)?.render(&view)?)
    }

    /// The extraction call's system prompt.
    pub fn extraction(&self, req: &ExtractRequest) -> Result<String, PromptError> {
        let view = ExtractionView {
            today: today(req.now, req.time_zone),
            pending: req.pending_field.as_deref(),
            known: req
                .known
                .iter()
                .map(|(k, v)| FieldView {
                    key: k,
                    label: k,
                    value: v,
                })
                .collect(),
        };
        Ok(self.env.get_template("extraction.j2")?.render(&view)?)
    }
}

/// The extraction call's user message: the recent history (at most [`HISTORY_MESSAGES`],
/// under `RIWAYAT:`, as `Lead: …` / `Bot: …` lines), then the lead's newest message(s) under
/// `PESAN TERBARU:`, each message once (the request's history holds no `latest` message:
/// [`ExtractRequest::for_turn`]).
pub fn extraction_transcript(req: &ExtractRequest) -> String {
    let mut transcript = String::new();
    let skip = req.history.len().saturating_sub(HISTORY_MESSAGES);
    if req.history.len() > skip {
        transcript.push_str("RIWAYAT:\n");
        for m in req.history.iter().skip(skip) {
            let who = match m.role {
                Role::Lead => "Lead",
                Role::Assistant => "Bot",
            };
            transcript.push_str(&format!("{who}: {}\n", m.text));
        }
        transcript.push('\n');
    }
    transcript.push_str("PESAN TERBARU:\n");
    transcript.push_str(&req.latest.join("\n"));
    transcript
}

/// Texts in a rendered system prompt that must never reach the lead: the first line (the
/// persona sentence), the section headers, and the lines of the rules section. The reply check
/// rejects a reply containing any of them.
pub fn leak_markers(prompt: &str) -> Vec<String> {
    let mut markers = Vec::new();
    let mut in_rules = false;
    for (i, line) in prompt.lines().enumerate() {
        let line = line.trim();
        if i == 0 && !line.is_empty() {
            markers.push(line.to_string());
        }
        if let Some(header) = line.strip_prefix("## ") {
            in_rules = header.starts_with("ATURAN");
            // "TAHAP: QUALIFYING" as a whole; the word "TAHAP" alone is ordinary.
            markers.push(header.to_string());
        } else if in_rules && let Some(rule) = line.strip_prefix("- ") {
            markers.push(rule.to_string());
        }
    }
    markers
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn greeting_windows_follow_the_seed_in_jakarta_time() {
        let tz = chrono_tz::Asia::Jakarta;
        let at = |h| Utc.with_ymd_and_hms(2026, 11, 26, h, 0, 0).unwrap();
        // 22:00 UTC = 05:00 WIB next day.
        assert_eq!(time_of_day(at(22), tz), "pagi");
        assert_eq!(time_of_day(at(3), tz), "pagi"); // 10:00
        assert_eq!(time_of_day(at(4), tz), "siang"); // 11:00
        assert_eq!(time_of_day(at(7), tz), "siang"); // 14:00
        assert_eq!(time_of_day(at(8), tz), "sore"); // 15:00
        assert_eq!(time_of_day(at(10), tz), "sore"); // 17:00
        assert_eq!(time_of_day(at(11), tz), "malam"); // 18:00
        assert_eq!(time_of_day(at(21), tz), "malam"); // 04:00
        assert_eq!(today(at(20), tz), "Jumat, 27 November 2026");
    }

    #[test]
    fn templates_compile() {
        assert!(Prompts::new().is_ok());
    }

    #[test]
    fn markers_are_headers_first_line_and_rules() {
        let m = leak_markers(
            "Kamu adalah ARI.\n\n## DATA LEAD\n- Negara: X\n\n## ATURAN BALASAN\n- Satu pertanyaan.\n",
        );
        assert_eq!(
            m,
            vec![
                "Kamu adalah ARI.",
                "DATA LEAD",
                "ATURAN BALASAN",
                "Satu pertanyaan."
            ]
        );
    }
}
