//! Which model calls a turn needs (issue 15, "the fewest calls"). Pure functions of the lead's
//! text, the pending question and the rules' own reading ([`crate::flow::extract::extract`],
//! the same reader the core runs on the same normalised text).
//!
//! - **No extraction** when the text is a short yes/no or number answer ("ya", "mau kak",
//!   "1"), or when the rules read the pending question's answer and nothing else is left to
//!   read. The rules' reader reports what it read (fields, unknowns, documents), not what it
//!   skipped, so "nothing else left" is judged by shape: one clause (no comma, semicolon or line
//!   break), not a question, at most [`SHORT_FIELD_ANSWER_WORDS`] words. A longer text may hold
//!   facts the rules miss, and the model reads it.
//! - **No wording** of a template reply to a short yes/no or number answer: the template is sent
//!   as written, as booking, scheduling and handoff texts always are (`worker/wording.rs`).

use chrono::{DateTime, Datelike, Utc};

use crate::config::flow::FlowConfig;
use crate::flow::extract::{ExtractContext, Extracted, Pending, extract};
use crate::flow::intents::is_question;
use crate::flow::normalize::normalize;
use crate::flow::text::words;
use crate::flow::yesno::parse_answer;

/// Most words of a short yes/no or number answer ("sudah ada kak").
pub const SHORT_ANSWER_WORDS: usize = 3;

/// Most words of an answer the rules may read alone ("budget sekitar 500 juta kak").
pub const SHORT_FIELD_ANSWER_WORDS: usize = 6;

/// Why a turn needs no extraction call (the `reason` of `ari_llm_skipped_total`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoExtraction {
    /// A short yes/no or number answer: no lead field in it.
    ShortAnswer,
    /// The rules read the pending question's answer and nothing else is left.
    RulesRead,
    /// A person has taken the conversation over: the bot does not answer, so nothing the
    /// model could read changes what it does, and the lead's words stay with the person.
    HumanTakeover,
}

impl NoExtraction {
    /// Metric label: `short_answer`, `rules_read`, `human_takeover`.
    pub fn as_str(self) -> &'static str {
        match self {
            NoExtraction::ShortAnswer => "short_answer",
            NoExtraction::RulesRead => "rules_read",
            NoExtraction::HumanTakeover => "human_takeover",
        }
    }
}

/// `Some(HumanTakeover)` while a person has the conversation (handoff reason
/// `human_takeover`): no extraction call for the lead's messages then.
pub fn extraction_skipped_for(snapshot: &crate::flow::Snapshot) -> Option<NoExtraction> {
    (snapshot.handoff_reason() == Some(crate::flow::graph::HandoffReason::HumanTakeover))
        .then_some(NoExtraction::HumanTakeover)
}

/// True for a short yes/no or number answer: at most [`SHORT_ANSWER_WORDS`] words that read as
/// yes, no or "don't know" and ask nothing ("ya", "mau kak", "belum ada"), or at most two words
/// one of which is a number ("1", "yang 2").
pub fn short_answer(text: &str) -> bool {
    let w = words(text);
    if w.is_empty() || w.len() > SHORT_ANSWER_WORDS {
        return false;
    }
    let number = w.len() <= 2
        && w.iter()
            .any(|t| !t.is_empty() && t.chars().all(|c| c.is_ascii_digit()));
    number || parse_answer(text).is_some()
}

/// Whether the extraction call can be left out for the lead's `texts` of this turn, with
/// `pending` the question asked last; `None`: make the call.
pub fn extraction_needed(
    texts: &[String],
    pending: Option<&Pending>,
    cfg: &FlowConfig,
    now: DateTime<Utc>,
) -> Option<NoExtraction> {
    let raw = texts.join("\n");
    let text = normalize(&raw, &cfg.lexicon);
    if short_answer(&text) {
        return Some(NoExtraction::ShortAnswer);
    }
    let ctx = ExtractContext {
        pending,
        current_year: now
            .with_timezone(&crate::flow::schedule::time_zone(cfg))
            .year(),
        // Without a pending question the call is made anyway (below).
        opening: false,
    };
    let read = extract(&text, ctx);
    (pending_read(&read, pending?) && one_short_clause(&text)).then_some(NoExtraction::RulesRead)
}

/// The rules read an answer to `pending`: its field's value or "don't know", or its document's
/// yes/no.
fn pending_read(read: &Extracted, pending: &Pending) -> bool {
    match pending {
        Pending::Field(k) => read.fields.contains_key(k) || read.unknown.contains(k),
        Pending::Document(k) => read.documents.contains_key(k),
    }
}

/// One clause, not a question, at most [`SHORT_FIELD_ANSWER_WORDS`] words.
fn one_short_clause(text: &str) -> bool {
    !text.contains([',', ';', '\n'])
        && !is_question(text)
        && words(text).len() <= SHORT_FIELD_ANSWER_WORDS
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn cfg() -> FlowConfig {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("state-machines/ari.toml");
        crate::config::flow::load_file(&path).unwrap()
    }

    fn need(text: &str, pending: Option<Pending>) -> Option<NoExtraction> {
        let now = Utc.with_ymd_and_hms(2026, 11, 23, 2, 0, 0).unwrap();
        extraction_needed(&[text.to_string()], pending.as_ref(), &cfg(), now)
    }

    #[test]
    fn no_extraction_while_a_person_has_the_conversation() {
        use crate::flow::graph::HandoffReason;
        use crate::flow::turn::{HandoffData, StageSnapshot};
        let now = Utc.with_ymd_and_hms(2026, 11, 23, 2, 0, 0).unwrap();
        let handed = |reason| crate::flow::Snapshot {
            stage: StageSnapshot::Handoff(HandoffData {
                reason,
                at: now,
                last_ack_at: None,
                assignee: None,
            }),
            ..crate::flow::Snapshot::default()
        };
        assert_eq!(
            extraction_skipped_for(&handed(HandoffReason::HumanTakeover)),
            Some(NoExtraction::HumanTakeover)
        );
        assert_eq!(
            extraction_skipped_for(&handed(HandoffReason::HotLead)),
            None
        );
        assert_eq!(
            extraction_skipped_for(&crate::flow::Snapshot::default()),
            None
        );
    }

    #[test]
    fn short_yes_no_and_number_answers() {
        for t in ["ya", "mau kak", "belum ada", "1", "yang 2", "sudah ada kak"] {
            assert!(short_answer(t), "{t}");
        }
        for t in [
            "ada beasiswa ga",
            "ya?",
            "",
            "nama saya Budi",
            "saya mau ke Australia tahun 2027",
        ] {
            assert!(!short_answer(t), "{t}");
        }
    }

    #[test]
    fn the_rules_reading_the_pending_answer_alone_needs_no_model() {
        let field = |k: &str| Some(Pending::Field(k.into()));
        assert_eq!(
            need("nama saya Budi Santoso", field("name")),
            Some(NoExtraction::RulesRead)
        );
        assert_eq!(
            need("budget sekitar 500 juta", field("budget")),
            Some(NoExtraction::RulesRead)
        );
        assert_eq!(need("ya", field("name")), Some(NoExtraction::ShortAnswer));
        // The rules read nothing for the pending field: the model reads it.
        assert_eq!(need("panggil aja yang ganteng", field("email")), None);
        // More than the answer: the model reads the rest.
        assert_eq!(
            need(
                "nama saya Budi, kerja di bank, pengen ambil MBA",
                field("name")
            ),
            None
        );
        // No pending question (a first message): the model reads it.
        assert_eq!(need("Halo kak, mau tanya kuliah S2", None), None);
    }
}
