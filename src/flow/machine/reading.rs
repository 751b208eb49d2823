//! Reading a turn, before the state machine runs: what the lead's messages hold (words,
//! media, a button, documents named by files), what event they are, the conversation's
//! language after them, and what the words teach about the lead (fields, "don't know"s,
//! documents). The handlers in `machine.rs` act on what this finds.

use super::*;
use crate::flow::taps::{ReminderChoice, Tap};

/// Form-answer aliases (seed §6.2 alias chains) → canonical field keys.
pub(super) fn canonical_field(key: &str) -> Option<&'static str> {
    Some(match key.trim().to_lowercase().as_str() {
        "name" | "nama" | "full_name" | "nama_lengkap" => "name",
        "email" | "e-mail" => "email",
        "english_level" | "english" | "ielts" | "ielts_score" | "bahasa_inggris" => "english_level",
        "budget" | "budget_range" => "budget",
        "timeline" | "kapan" => "timeline",
        "country" | "negara" | "destination_country" | "negara_tujuan" => "country",
        "program" | "jurusan" => "program",
        "activity" | "status" | "pekerjaan" => "activity",
        "notes" | "catatan" => "notes",
        _ => return None,
    })
}

/// Applies changed form answers; returns the fields set.
pub(super) fn merge_form(
    lead: &mut LeadState,
    form: &BTreeMap<String, String>,
) -> BTreeMap<String, FieldValue> {
    let mut changed = BTreeMap::new();
    for (k, v) in form {
        let Some(key) = canonical_field(k) else {
            continue;
        };
        let v = v.trim();
        if v.is_empty() || lead.form_seen.get(key).map(String::as_str) == Some(v) {
            continue;
        }
        lead.form_seen.insert(key.to_string(), v.to_string());
        let value = if key == "country" {
            normalize_country(v)
        } else {
            v.to_string()
        };
        let fv = FieldValue::Known(value);
        if lead.fields.get(key) != Some(&fv) {
            lead.fields.insert(key.to_string(), fv.clone());
            changed.insert(key.to_string(), fv);
        }
    }
    changed
}

/// What a turn's event is, before dispatch.
pub(super) struct Prepared {
    pub(super) event: Option<Event>,
    /// The lead's words as written (language detection, the LLM).
    pub(super) raw: String,
    /// The same after the lexicon (`flow::normalize`): what the rules read.
    pub(super) text: String,
    pub(super) interactive_id: Option<String>,
    /// What the turn held besides words (the last media message without text).
    pub(super) media: Option<Media>,
    /// Documents the file names of this turn's documents name ("IELTS.pdf": `english_test`).
    pub(super) named_documents: Vec<String>,
}

/// A message without words the core answers all the same (DESIGN.md: every lead message gets
/// an answer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Media {
    /// A document, photo or video without caption: acknowledged.
    File,
    /// A voice note without transcript: the lead is asked to type.
    Voice,
    /// A sticker, location, contact card or unsupported type: a short reply.
    Unreadable,
}

pub(super) fn prepare(input: &TurnInput, cfg: &FlowConfig) -> Prepared {
    let mut prepared = Prepared {
        event: None,
        raw: String::new(),
        text: String::new(),
        interactive_id: None,
        media: None,
        named_documents: Vec::new(),
    };
    let event = match &input.event {
        InputEvent::Messages { messages } => {
            let texts = read_messages(messages, &mut prepared);
            prepared.raw = texts.join("\n");
            prepared.text = normalize(&prepared.raw, &cfg.lexicon);
            message_event(&prepared, cfg)
        }
        InputEvent::HumanTakeover => Some(Event::HumanTakeover),
        InputEvent::Resume => Some(Event::Resume),
        InputEvent::Close => Some(Event::Close),
        InputEvent::TurnFailed => Some(Event::Stuck),
        InputEvent::BookingResult { result } => Some(Event::Booking(result.clone())),
        // Decided before the machine runs ([`super::followup_output`]).
        InputEvent::FollowupDue { .. } | InputEvent::MarketingPreference { .. } => None,
    };
    prepared.event = event;
    prepared
}

/// The words of a batch of messages (texts, captions, transcripts, button titles), and what
/// else it held (media, a button id, documents named by file names).
pub(super) fn read_messages(messages: &[InboundMessage], prepared: &mut Prepared) -> Vec<String> {
    let mut texts = Vec::new();
    for m in messages {
        match m {
            InboundMessage::Text { text } => texts.push(text.clone()),
            InboundMessage::Image { caption: Some(c) } => {
                prepared.named_documents.extend(caption_documents(c));
                texts.push(c.clone());
            }
            InboundMessage::Image { caption: None } => prepared.media = Some(Media::File),
            InboundMessage::Document { filename, caption } => {
                if let Some(f) = filename {
                    prepared
                        .named_documents
                        .extend(crate::flow::media::documents_named(f));
                }
                match caption {
                    Some(c) => {
                        prepared.named_documents.extend(caption_documents(c));
                        texts.push(c.clone());
                    }
                    None => prepared.media = Some(Media::File),
                }
            }
            InboundMessage::Audio {
                transcript: Some(t),
            } => texts.push(t.clone()),
            InboundMessage::Audio { transcript: None } => prepared.media = Some(Media::Voice),
            InboundMessage::Interactive { id, title } => {
                prepared.interactive_id = Some(id.clone());
                // ARI's own booking buttons and rows are read by their ids alone (issue 19):
                // their titles ("Ganti jadwal", "Kamis, 26 Nov") are labels, not words. A
                // reminder's "Hadir" is passed to the consultant as written.
                if !matches!(
                    Tap::parse(id),
                    Some(Tap::YesNo | Tap::Day(_) | Tap::MoreTimes(..))
                ) {
                    texts.push(title.clone());
                }
            }
            InboundMessage::Location { .. } | InboundMessage::Unreadable { .. } => {
                prepared.media = Some(Media::Unreadable);
            }
            InboundMessage::Reaction { .. } => {}
        }
    }
    let named_file = messages.iter().any(|m| {
        matches!(
            m,
            InboundMessage::Document { .. } | InboundMessage::Image { .. }
        )
    }) && !prepared.named_documents.is_empty();
    if !texts.iter().all(|t| t.trim().is_empty()) {
        // Words were sent too: they are what the turn answers; a file whose name or caption
        // names a document is still acknowledged as that document.
        prepared.media = named_file.then_some(Media::File);
    }
    texts
}

/// The documents a sent file's caption names ("ini transkrip S1 aku kak"): the file is that
/// document, unless the caption says the lead lacks it ("paspor belum ada, ini KTP").
pub(super) fn caption_documents(caption: &str) -> Vec<String> {
    if crate::flow::yesno::parse_possession(caption) == Some(YesNo::No) {
        return Vec::new();
    }
    crate::flow::media::documents_named(caption)
}

/// What a lead's messages ask of the flow: a person, a reschedule, a cancel, or a plain
/// message; `None` for a turn with nothing to answer (a reaction).
pub(super) fn message_event(prepared: &Prepared, cfg: &FlowConfig) -> Option<Event> {
    let (raw, text) = (&prepared.raw, &prepared.text);
    let says = |phrases: &[String]| mentions_any(raw, phrases) || mentions_any(text, phrases);
    if let Some(tap) = prepared.interactive_id.as_deref().and_then(Tap::parse) {
        // A tap on one of ARI's buttons means what its id says, whatever its label.
        return Some(match tap {
            Tap::Reminder(ReminderChoice::Reschedule) => Event::RescheduleRequested,
            Tap::Reminder(ReminderChoice::Cancel) => Event::CancelRequested,
            _ => Event::Message,
        });
    }
    if text.trim().is_empty() && prepared.interactive_id.is_none() {
        prepared.media.map(|_| Event::Message)
    } else if says(&cfg.handoff.human_request_phrases)
        || crate::flow::intents::asks_for_human(raw)
        || crate::flow::intents::asks_for_human(text)
    {
        Some(Event::HumanRequested)
    } else if says(&cfg.scheduling.reschedule_phrases)
        || crate::flow::rebook::asks_to_move(raw)
        || crate::flow::rebook::asks_to_move(text)
    {
        Some(Event::RescheduleRequested)
    } else if says(&cfg.scheduling.cancel_phrases)
        || crate::flow::rebook::asks_to_cancel(raw)
        || crate::flow::rebook::asks_to_cancel(text)
    {
        Some(Event::CancelRequested)
    } else {
        Some(Event::Message)
    }
}

/// The answer a turn gives to a yes/no question: a `yes`/`no` button id, else the text.
pub(super) fn answer_of(text: &str, interactive_id: Option<&str>) -> Option<YesNo> {
    match interactive_id.map(|s| s.trim().to_lowercase()) {
        Some(id) if id.ends_with("yes") || id.ends_with("ya") => Some(YesNo::Yes),
        Some(id) if id.ends_with("no") || id.ends_with("tidak") => Some(YesNo::No),
        // A question is no answer ("emang gratis kak? ga ada biaya tersembunyi kan?"): only
        // its parts that ask nothing answer ("iya boleh, kapan?" is a yes).
        _ if crate::flow::intents::is_question(text) => {
            crate::flow::yesno::answer_and_question(text).0
        }
        _ => parse_yes_no(text),
    }
}

/// "Sounds good, could we do the 2nd at 3pm?": a yes that opens a question about when is a
/// yes (the day and time are read by the scheduling step), not a question instead of an answer.
/// So is a question proposing a day or time with a yes word ("senin depan bisa?", "kamis jam
/// 10 boleh?").
pub(super) fn yes_with_a_time(text: &str, now: DateTime<Utc>, tz: chrono_tz::Tz) -> Option<YesNo> {
    let first = text.split([',', '.', '!', ';']).next()?;
    let opens_with_yes = first.len() < text.len() && parse_yes_no(first) == Some(YesNo::Yes);
    let proposes =
        crate::flow::intents::is_question(text) && parse_yes_no(text) == Some(YesNo::Yes);
    ((opens_with_yes || proposes) && scheduling::parse_day_time(text, now, tz).is_some())
        .then_some(YesNo::Yes)
}

/// The conversation's language after the lead's words of this turn (`flow::language`):
/// returns the language they were confidently written in (or asked for), if any.
pub(super) fn read_language(
    lead: &mut LeadState,
    prepared: &Prepared,
    cfg: &FlowConfig,
) -> Option<String> {
    if prepared.raw.trim().is_empty() {
        return None;
    }
    let mut state = crate::flow::language::LanguageState {
        current: lead.language.take(),
        settled: lead.language_settled,
        challenger: lead.language_challenger.take(),
    };
    let decided = crate::flow::language::after_message(
        &mut state,
        &prepared.raw,
        &cfg.languages(),
        &cfg.persona.language,
    );
    lead.language = state.current;
    lead.language_settled = state.settled;
    lead.language_challenger = state.challenger;
    decided
}

/// "batal" / "ganti jadwal" only mean something while a booked consultation is ahead;
/// otherwise they are ordinary words of an ordinary message. While a new slot is chosen for
/// it, words keeping it ("ga jadi, tetap yang lama") come first (`KeepBooking`).
pub(super) fn booking_event(
    event: Event,
    stage: &StageSnapshot,
    lead: &LeadState,
    now: DateTime<Utc>,
    text: &str,
) -> Event {
    let upcoming = lead
        .appointment
        .as_ref()
        .is_some_and(|a| a.slot.start > now);
    let moving = matches!(stage, StageSnapshot::Scheduling(d) if d.moving.is_some());
    let words_event = matches!(
        event,
        Event::Message | Event::CancelRequested | Event::RescheduleRequested
    );
    if upcoming && moving && words_event && crate::flow::rebook::keeps_booking(text) {
        return Event::KeepBooking;
    }
    match event {
        Event::CancelRequested | Event::RescheduleRequested if !upcoming => Event::Message,
        other => other,
    }
}

/// What learning from a message found; the handlers' guards and the stuck count read it.
#[derive(Debug, Clone, Default)]
pub(super) struct Learned {
    /// A field or document was learned or changed.
    pub(super) learned: bool,
    /// The pending field was answered "don't know".
    pub(super) unknown_noted: bool,
    /// The text repeats a field's known value ("Actually, let's go with Germany." after
    /// "between the Netherlands and Germany"): understood, though nothing changed. It decides
    /// the reply (no "didn't catch that"), not the stuck count.
    pub(super) confirmed: bool,
    /// The text asks a knowledge question.
    pub(super) knowledge_question: bool,
    /// The extraction rules that read something (`flow::extract::RULES`).
    pub(super) rules: Vec<String>,
}

/// Learns from a message's text: the rule-based fields (a knowledge question never corrects a
/// known field), then the LLM's fields where the rules found nothing, the "don't know"
/// answers and the documents. Counts the turn.
pub(super) fn learn(
    lead: &mut LeadState,
    update: &mut LeadUpdate,
    text: &str,
    input: &TurnInput,
    cfg: &FlowConfig,
) -> Learned {
    let mut found = Learned {
        // "could we switch to English please?" asks for a language, not about English.
        knowledge_question: is_knowledge_question(
            &crate::flow::language::without_requests(text, &cfg.languages()),
            &cfg.knowledge.topic_keywords,
            &cfg.knowledge.question_words,
        ),
        ..Learned::default()
    };
    let pending = lead.pending.clone();
    let ex = extract(
        text,
        ExtractContext {
            pending: pending.as_ref(),
            current_year: current_year(cfg, input.now),
            opening: lead.turns == 0 && pending.is_none() && !lead.fields.contains_key("name"),
        },
    );
    found.rules = ex.rules().iter().map(|r| (*r).to_string()).collect();
    // "I've decided on Japan. Any scholarship there?": what a statement beside the question
    // says still corrects a known field.
    let stated = found
        .knowledge_question
        .then(|| crate::flow::extract::statement_part(text))
        .filter(|s| !s.is_empty())
        .map(|s| {
            let context = ExtractContext {
                pending: pending.as_ref(),
                current_year: current_year(cfg, input.now),
                opening: false,
            };
            extract(&s, context).fields
        })
        .unwrap_or_default();
    for (k, v) in &ex.fields {
        if found.knowledge_question && lead.fields.contains_key(k) && stated.get(k) != Some(v) {
            continue; // "kalau di UK berapa?" asks, it does not correct
        }
        if k == "name"
            && matches!(lead.fields.get(k), Some(FieldValue::Known(_)))
            && !ex.readings.contains("name.introduced")
        {
            continue; // only "nama saya ..." corrects a known name, not "aku WFH"
        }
        let fv = FieldValue::Known(v.clone());
        if lead.fields.get(k) != Some(&fv) {
            lead.fields.insert(k.clone(), fv.clone());
            update.fields.insert(k.clone(), fv);
            found.learned = true;
        } else {
            found.confirmed = true;
        }
    }
    // Fields the LLM read in this turn's messages (validated by the shell): used only where
    // the rules found nothing and the field is not known yet, so rules always win.
    for (k, v) in &input.llm_fields {
        let field_known = cfg.fields.contains_key(k);
        if field_known && !ex.fields.contains_key(k) && !lead.fields.contains_key(k) {
            let fv = FieldValue::Known(v.clone());
            lead.fields.insert(k.clone(), fv.clone());
            update.fields.insert(k.clone(), fv);
            found.learned = true;
        }
    }
    for k in &ex.unknown {
        if !lead.fields.contains_key(k) {
            lead.fields.insert(k.clone(), FieldValue::Unknown);
            update.fields.insert(k.clone(), FieldValue::Unknown);
            found.learned = true;
            if pending == Some(Pending::Field(k.clone())) {
                found.unknown_noted = true;
            }
        }
    }
    for (d, yn) in &ex.documents {
        if !cfg.documents.contains_key(d) {
            continue; // "semua ada kecuali IELTS" names every document; the flow asks its own
        }
        if lead.documents.get(d) != Some(yn) {
            lead.documents.insert(d.clone(), *yn);
            found.learned = true;
        }
    }
    lead.turns += 1;
    found
}
