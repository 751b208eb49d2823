//! The prompts, rendered with minijinja: the repository's `prompts/` compiled into the binary
//! as defaults, each overridden at run time by `<flow_dir>/prompts/<name>` when that file
//! exists (issue 15: admins edit prompts without a rebuild).
//!
//! One system prompt per stage (`system/<stage>.j2`), all extending `system/base.j2`, plus
//! `extraction.j2`. The defaults are embedded with `include_str!`, so a missing file means the
//! default, never a missing prompt. Overrides are compiled at start ([`Prompts::load`]; a broken
//! one stops the start) and on every flow reload ([`Prompts::reload`], SIGHUP or a file change):
//! a broken one is refused with `file:line` and the previous prompts keep running. Undefined
//! variables are errors, so a typo in a template fails the snapshot tests instead of rendering
//! an empty string.
//!
//! The greeting follows seed §11.1 (WIB hours 5-10 pagi, 11-14 siang, 15-17 sore, else malam),
//! in the configured zone rather than a fixed UTC+7 (§12.7).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arc_swap::ArcSwap;
use chrono::{DateTime, Timelike, Utc};
use chrono_tz::Tz;
use minijinja::{AutoEscape, Environment, UndefinedBehavior};
use serde::Serialize;

use super::request::{ExtractRequest, HISTORY_MESSAGES, ReplyRequest, Role, style_text};
use crate::flow::StageId;
use crate::flow::turn::SchedulingStep;
use crate::sanitize;
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

/// The folder inside the flow folder whose files override the compiled prompts, by the same
/// relative names (`prompts/system/greeting.j2`, `prompts/extraction.j2`).
pub const PROMPTS_DIR: &str = "prompts";

/// The compiled templates. Build once ([`Prompts::new`] or [`Prompts::load`]) and share;
/// [`Prompts::reload`] swaps them atomically (a render in flight keeps the set it started with).
#[derive(Debug)]
pub struct Prompts {
    env: ArcSwap<Environment<'static>>,
}

/// A template that fails to compile: `file:line: message`, the file being the override's path
/// or `prompts/<name> (compiled default)`.
fn located(flow_dir: Option<&Path>, overridden: &[String], e: &minijinja::Error) -> PromptError {
    let name = e.name().unwrap_or("?").to_string();
    let file = match flow_dir {
        Some(dir) if overridden.contains(&name) => dir.join(PROMPTS_DIR).join(&name),
        _ => PathBuf::from(format!("{PROMPTS_DIR}/{name} (compiled default)")),
    };
    let line = e.line().unwrap_or(0);
    let detail = e.detail().map(|d| format!(": {d}")).unwrap_or_default();
    PromptError(format!("{}:{line}: {}{detail}", file.display(), e.kind()))
}

/// The defaults, each replaced by `<flow_dir>/prompts/<name>` when it exists, every template
/// compiled (syntax; an `extends` parent is looked up only when rendering). Returns the
/// environment and the overridden names.
fn build(flow_dir: Option<&Path>) -> Result<(Environment<'static>, Vec<String>), PromptError> {
    let mut env = Environment::new();
    env.set_trim_blocks(true);
    env.set_lstrip_blocks(true);
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_auto_escape_callback(|_| AutoEscape::None);
    let mut overridden = Vec::new();
    for (name, source) in TEMPLATES {
        let file = flow_dir.map(|d| d.join(PROMPTS_DIR).join(name));
        match file.filter(|f| f.is_file()) {
            Some(f) => {
                let text = std::fs::read_to_string(&f)
                    .map_err(|e| PromptError(format!("{}: {e}", f.display())))?;
                overridden.push((*name).to_string());
                env.add_template_owned(name.to_string(), text)
                    .map_err(|e| located(flow_dir, &overridden, &e))?;
            }
            None => env
                .add_template(name, source)
                .map_err(|e| located(None, &[], &e))?,
        }
    }
    for (name, _) in TEMPLATES {
        env.get_template(name)
            .map_err(|e| located(flow_dir, &overridden, &e))?;
    }
    Ok((env, overridden))
}

/// `ari check-config`: compiles the prompts of `flow_dir` (defaults and overrides) as `ari
/// serve` does. `Ok(None)` when `flow_dir` has no `prompts/` folder, else a one-line summary.
pub fn check_dir(flow_dir: &Path) -> Result<Option<String>, PromptError> {
    let dir = flow_dir.join(PROMPTS_DIR);
    if !dir.is_dir() {
        return Ok(None);
    }
    let (_, overridden) = build(Some(flow_dir))?;
    Ok(Some(format!(
        "{}: valid ({} override(s): {})",
        dir.display(),
        overridden.len(),
        overridden.join(", ")
    )))
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
    /// The lead's value as prompt data ([`sanitize::prompt`]: one line, so no value can add a
    /// line or a section to the prompt).
    value: String,
}

/// Characters of a lead field value shown in a prompt.
const PROMPT_VALUE_MAX_CHARS: usize = 120;

/// A lead value as the prompts quote it (`"…"`, issue 21 item 5: quoted as data): one line
/// ([`sanitize::prompt`]), its own double quotes turned into single ones so it cannot close the
/// quote.
fn data(value: &str) -> String {
    sanitize::prompt(value, PROMPT_VALUE_MAX_CHARS).replace('"', "'")
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
    /// The ad the lead came from, `""` without one.
    lead_source: &'a str,
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
        Self::load(None)
    }

    /// The embedded templates, overridden by `<flow_dir>/prompts/<name>` files; `Err` names the
    /// broken file and line.
    pub fn load(flow_dir: Option<&Path>) -> Result<Self, PromptError> {
        let (env, _) = build(flow_dir)?;
        Ok(Prompts {
            env: ArcSwap::from_pointee(env),
        })
    }

    /// Re-reads `flow_dir`'s overrides. Valid: they apply from the next render and the
    /// overridden names are returned. Invalid: the previous prompts stay, `Err` names the file
    /// and line.
    pub fn reload(&self, flow_dir: &Path) -> Result<Vec<String>, PromptError> {
        let (env, overridden) = build(Some(flow_dir))?;
        self.env.store(Arc::new(env));
        Ok(overridden)
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
                    value: data(&f.value),
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
            lead_source: req.lead.source.as_deref().unwrap_or(""),
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
        Ok(self.env.load().get_template(&name)?.render(&view)?)
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
                    value: data(v),
                })
                .collect(),
        };
        Ok(self
            .env
            .load()
            .get_template("extraction.j2")?
            .render(&view)?)
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
            transcript.push_str(&format!(
                "{who}: {}\n",
                sanitize::prompt(&m.text, usize::MAX)
            ));
        }
        transcript.push('\n');
    }
    transcript.push_str("PESAN TERBARU:\n");
    let latest: Vec<String> = req
        .latest
        .iter()
        .map(|t| sanitize::prompt(t, usize::MAX))
        .collect();
    transcript.push_str(&latest.join("\n"));
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
    fn an_override_replaces_a_default_and_a_broken_one_is_refused_with_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let system = dir.path().join("prompts/system");
        std::fs::create_dir_all(&system).unwrap();
        let file = system.join("greeting.j2");
        std::fs::write(
            &file,
            "{% extends \"system/base.j2\" %}\n{% block stage %}X{% endblock %}\n",
        )
        .unwrap();
        let p = Prompts::load(Some(dir.path())).unwrap();
        assert_eq!(p.reload(dir.path()).unwrap(), vec!["system/greeting.j2"]);
        std::fs::write(
            &file,
            "{% extends \"system/base.j2\" %}\n{% block stage %}\n{% if %}\n",
        )
        .unwrap();
        let e = p.reload(dir.path()).unwrap_err().to_string();
        assert!(e.contains(&format!("{}:3:", file.display())), "{e}");
        assert!(Prompts::load(Some(dir.path())).is_err());
        let summary = check_dir(dir.path()).unwrap_err().to_string();
        assert!(summary.contains("greeting.j2:3:"), "{summary}");
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
