//! Typed shape of a flow file. Every struct denies unknown keys, so a typo in `ari.toml` is an
//! error naming the key, not a silently ignored setting.
//!
//! The field-by-field meaning is documented in `state-machines/ari.toml` and `README.flow.md`.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// One complete, validated flow configuration (the default file, or the default with one
/// workspace's overrides merged over it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlowConfig {
    /// Version of this file's layout; only `1` exists.
    pub schema_version: u32,
    /// How the bot presents itself.
    pub persona: Persona,
    /// Per-stage settings and reply texts.
    pub stages: Stages,
    /// Which fields and documents qualification asks for, in asking order.
    pub qualification: Qualification,
    /// Label and question per lead field (keys: see [`KNOWN_FIELDS`]).
    pub fields: BTreeMap<String, FieldSpec>,
    /// Label and question per document (keys: see [`KNOWN_DOCUMENTS`]).
    pub documents: BTreeMap<String, DocumentSpec>,
    /// Lead score weights and temperature thresholds (seed §6).
    pub scoring: Scoring,
    /// What happens after scoring: hot / warm / cold routing and the stuck limit (seed §7).
    pub routing: Routing,
    /// Handoff behaviour: phrases that ask for a person, quiet period.
    pub handoff: Handoff,
    /// When a message counts as a question for the knowledge base (seed §8, word-bounded).
    pub knowledge: Knowledge,
    /// Consultant weekly slots and booking rules (used by the scheduling stage).
    pub scheduling: Scheduling,
    /// Words the texts are built from that are not texts themselves (time of day, day and
    /// month names, "minutes"); translatable like the texts. Defaults: Indonesian.
    #[serde(default)]
    pub locale: Locale,
    /// The lead's appointment reminder texts (24 h and 2 h before); translatable like the
    /// texts. Defaults: Indonesian.
    #[serde(default)]
    pub reminders: ReminderTexts,
    /// Opt-out and resume (issue 18): the whole-message phrases (the base file's, every
    /// language's) and the two texts (translatable). Defaults: [`Consent::default`].
    #[serde(default)]
    pub consent: Consent,
    /// Follow-ups for a lead who went quiet mid-flow (issue 18): when, where, and the texts
    /// (translatable). Defaults: [`Followups::default`].
    #[serde(default)]
    pub followups: Followups,
    /// The labels of WhatsApp's buttons and lists (issue 19; `[interactive]`), translatable like
    /// the texts. Which stages send them: [`Stage::interactive`]. Defaults: Indonesian.
    #[serde(default)]
    pub interactive: InteractiveLabels,
    /// This flow in each other language, by code (`en`): `languages/<lang>.toml` (and the
    /// workspace's own `workspaces/<ws>/languages/<lang>.toml`) merged over it. Filled by the
    /// loader, never read from a file. The core picks one per conversation
    /// ([`FlowConfig::in_language`]); phrase lists stay the base file's, the union of all
    /// languages.
    #[serde(skip)]
    pub translations: BTreeMap<String, Arc<FlowConfig>>,
    /// The admin-edited colloquial → standard word map (`lexicon.toml`) applied before the
    /// extraction rules. Filled by the loader.
    #[serde(skip)]
    pub lexicon: Arc<Lexicon>,
}

impl FlowConfig {
    /// The flow with `language`'s texts; itself for its own language or one it has no texts
    /// for.
    pub fn in_language(&self, language: &str) -> &FlowConfig {
        if language == self.persona.language {
            return self;
        }
        self.translations.get(language).map_or(self, |t| t.as_ref())
    }

    /// Every language this flow has texts in: its own first, then the overlays'.
    pub fn languages(&self) -> Vec<String> {
        let mut out = vec![self.persona.language.clone()];
        out.extend(
            self.translations
                .keys()
                .filter(|l| **l != self.persona.language)
                .cloned(),
        );
        out
    }
}

/// Colloquial spellings → standard words (`taun` → `tahun`, `gw` → `saya`), whole words,
/// case-insensitive keys (stored lower-case). Empty when no `lexicon.toml` exists.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Lexicon {
    /// Lower-case colloquial word → its standard replacement (one or more words).
    pub words: BTreeMap<String, String>,
}

/// The lead's reminder before a booked consultation (`[reminders]`), sent by the reminder task
/// in the conversation's language. Placeholders: `{date}` (long date, "Kamis, 3 Desember
/// 2026"), `{time}` ("09:00"), `{zone}` ("WIB"), `{consultant_name}`, `{duration}` (minutes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReminderTexts {
    /// 24 hours before.
    pub day_before: String,
    /// 2 hours before.
    pub two_hours: String,
}

/// The labels of the booking's buttons and lists (`[interactive]`, issue 19), in the
/// conversation's language. WhatsApp's limits (`ari check-config` enforces them;
/// [`crate::kapso::interactive`]): button titles and the list buttons at most 20 characters,
/// row and section titles at most 24, descriptions at most 72 (after the placeholders are
/// filled with their longest values).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct InteractiveLabels {
    /// Offer button: book.
    pub offer_yes: String,
    /// Offer button: not now.
    pub offer_no: String,
    /// Confirmation button: book the picked slot.
    pub confirm_yes: String,
    /// Confirmation button: choose another slot.
    pub confirm_change: String,
    /// The button that opens the day list.
    pub days_button: String,
    /// The day list's section title.
    pub days_section: String,
    /// A day row's description: `{count}` free slots, `{first}`-`{last}` their local start
    /// times ("09:00"), `{zone}` ("WIB").
    pub day_description: String,
    /// The button that opens the time list.
    pub times_button: String,
    /// The time list's section title.
    pub times_section: String,
    /// A time row's description: `{consultant_name}`, `{duration}` (minutes).
    pub time_description: String,
    /// The last row of a day's time list when more slots are free than fit.
    pub more_times: String,
    /// Its description: `{time}`, the last time shown ("13:00").
    pub more_times_description: String,
    /// Reminder button: the lead will attend.
    pub reminder_attend: String,
    /// Reminder button: move the consultation.
    pub reminder_reschedule: String,
    /// Reminder button: cancel it.
    pub reminder_cancel: String,
}

impl Default for InteractiveLabels {
    fn default() -> Self {
        InteractiveLabels {
            offer_yes: "Ya, jadwalkan".into(),
            offer_no: "Nanti dulu".into(),
            confirm_yes: "Konfirmasi".into(),
            confirm_change: "Ganti jadwal".into(),
            days_button: "Pilih hari".into(),
            days_section: "Hari tersedia".into(),
            day_description: "{count} slot, {first}-{last} {zone}".into(),
            times_button: "Pilih jam".into(),
            times_section: "Jam tersedia".into(),
            time_description: "{duration} menit dengan {consultant_name}".into(),
            more_times: "Jam lainnya".into(),
            more_times_description: "Slot setelah jam {time}".into(),
            reminder_attend: "Hadir".into(),
            reminder_reschedule: "Ganti jadwal".into(),
            reminder_cancel: "Batal".into(),
        }
    }
}

impl Default for ReminderTexts {
    fn default() -> Self {
        ReminderTexts {
            day_before: "Reminder: konsultasi kakak besok, {date} jam {time} {zone} dengan {consultant_name} ({duration} menit). Sampai ketemu ya kak! 🙏".into(),
            two_hours: "Reminder: konsultasi kakak 2 jam lagi, {date} jam {time} {zone} dengan {consultant_name} ({duration} menit). Sampai ketemu ya kak! 🙏".into(),
        }
    }
}

/// Opt-out and resume (`[consent]`, issue 18). A message opts out when it is nothing but an
/// opt-out (a phrase of `opt_out_phrases`, or a request in other words such as "jangan chat
/// saya lagi", "please stop messaging me": [`crate::flow::consent`]); a word inside a longer
/// message never does. The phrases stay the base file's (both languages); the texts are
/// translatable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Consent {
    /// Whole messages that opt out (case, punctuation and a polite word around them aside).
    pub opt_out_phrases: Vec<String>,
    /// Whole messages that resume after an opt-out.
    pub resume_phrases: Vec<String>,
    /// The one confirmation of an opt-out (no placeholders).
    pub opted_out: String,
    /// The answer to a resume (placeholder `{name}`).
    pub resumed: String,
}

impl Default for Consent {
    fn default() -> Self {
        let list = |words: &[&str]| words.iter().map(|w| (*w).to_string()).collect();
        Consent {
            opt_out_phrases: list(&[
                "stop",
                "berhenti",
                "unsubscribe",
                "unsub",
                "stop all",
                "opt out",
                "optout",
                "berhenti langganan",
                "stop promo",
                "jangan hubungi saya",
            ]),
            resume_phrases: list(&[
                "mulai",
                "mulai lagi",
                "start",
                "start again",
                "resume",
                "unstop",
            ]),
            opted_out:
                "Baik kak, ARI tidak akan mengirim pesan lagi. Ketik MULAI kalau mau lanjut 🙏"
                    .into(),
            resumed: "Siap kak {name}, ARI aktif lagi 😊 Ada yang bisa dibantu?".into(),
        }
    }
}

/// Follow-ups (`[followups]`, issue 18): nudges to a lead who stopped answering while a
/// question, the consultation offer or a slot choice is pending. Nudge `k` falls due
/// `after_hours[k]` hours after the lead's last message (inside WhatsApp's 24 h window), moved
/// out of the quiet hours (local time of `scheduling.time_zone`, WIB by default); then, when
/// `after_window_template` is set, one approved template after the window closed. At most `max` per silence:
/// any lead message starts over; a takeover, a handoff or booking, an opt-out or a closed
/// conversation cancels them. Rules: [`crate::flow::followup`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Followups {
    /// Off: no follow-up is ever scheduled.
    pub enabled: bool,
    /// The stages a silence is followed up in: `qualifying`, `booking`, `scheduling`.
    pub stages: Vec<String>,
    /// Hours after the lead's last message, one nudge each, ascending, each under 24.
    pub after_hours: Vec<u32>,
    /// The approved template sent once after the 24 h window closed (`{{1}}`: the lead's first
    /// name, or "kak"); `None`: no follow-up after the window.
    pub after_window_template: Option<TemplateRef>,
    /// At most this many follow-ups (nudges and the template) per silence.
    pub max: u32,
    /// Quiet hours, local `HH:MM`: a follow-up due from `quiet_from` until `quiet_until` waits
    /// until `quiet_until`.
    pub quiet_from: String,
    /// End of the quiet hours, local `HH:MM`.
    pub quiet_until: String,
    /// The nudges' texts.
    pub texts: FollowupTexts,
}

impl Default for Followups {
    fn default() -> Self {
        Followups {
            enabled: true,
            stages: ["qualifying", "booking", "scheduling"]
                .map(String::from)
                .to_vec(),
            after_hours: vec![2, 20],
            after_window_template: None,
            max: 3,
            quiet_from: "21:00".into(),
            quiet_until: "08:00".into(),
            texts: FollowupTexts::default(),
        }
    }
}

/// The nudges' texts (`[followups.texts]`, translatable). `first` and `second` wrap the
/// pending step asked in other words (`{question}`; `{name}` the lead's first name): a
/// field's or document's `reask`, `booking`, `scheduling_days` (`{available_days}`) or
/// `scheduling_confirm` (`{slot}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FollowupTexts {
    /// The first nudge.
    pub first: String,
    /// Every later nudge.
    pub second: String,
    /// The consultation offer, asked again.
    pub booking: String,
    /// The day choice, asked again, with the days that have free slots.
    pub scheduling_days: String,
    /// The picked slot's confirmation, asked again.
    pub scheduling_confirm: String,
}

impl Default for FollowupTexts {
    fn default() -> Self {
        FollowupTexts {
            first: "Halo kak {name} 😊 Masih ada waktu buat lanjut? {question}".into(),
            second: "Kak {name}, saya follow up sekali lagi ya 🙏 {question}".into(),
            booking: "Konsultasi gratis 1-on-1 dengan konsultan kami masih bisa dijadwalkan. Mau saya atur? Cukup balas ya atau tidak.".into(),
            scheduling_days: "Ini jadwal konsultasi yang masih tersedia:\n{available_days}\n\nHari apa yang cocok?".into(),
            scheduling_confirm: "Slot {slot} masih bisa saya booking-kan. Balas \"ya\" untuk konfirmasi, atau sebut hari lain.".into(),
        }
    }
}

/// The placeholders a reminder text may use.
pub const REMINDER_PLACEHOLDERS: &[&str] = &[
    "date",
    "time",
    "zone",
    "consultant_name",
    "duration",
    "meeting",
];

/// Translatable words used inside texts (dates, slot lists, the greeting's time of day).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Locale {
    /// Greeting words by local hour: 05-10, 11-14, 15-17, otherwise (`{time_of_day}`).
    pub morning: String,
    pub midday: String,
    pub afternoon: String,
    pub evening: String,
    /// Monday first.
    pub weekdays: Vec<String>,
    /// January first, as in slot lines (`26 Nov`).
    pub months_short: Vec<String>,
    /// January first, as in long dates (`26 November 2026`).
    pub months_long: Vec<String>,
    /// The unit after a duration in slot lines (`60 menit`).
    pub minutes: String,
    /// The unit after a count of free slots in a day list (`3 slot`).
    pub slots: String,
    /// The language's name as the LLM prompt names it ("bahasa Indonesia", "English"): the
    /// model is told to reply in it.
    pub language_name: String,
    /// The lead summary consultants get is written in the workspace's `persona.language`
    /// with these words. Its "Key info" heading.
    pub summary_key_info: String,
    /// Its "Dokumen" heading.
    pub summary_documents: String,
    /// A document the lead has ("ada").
    pub summary_has: String,
    /// A document the lead does not have yet ("belum").
    pub summary_not_yet: String,
    /// A field or document the lead could not tell ("tidak tahu").
    pub summary_unknown: String,
    /// The heading of the score reasons ("Alasan skor").
    pub summary_reasons: String,
    /// The heading of the lead's language ("Bahasa lead").
    pub summary_language: String,
    /// The heading of the ad the lead came from ("Sumber lead").
    pub summary_source: String,
    /// The heading of the follow-ups sent to the quiet lead ("Follow-up terkirim", issue 18).
    pub summary_followups: String,
    /// The whole summary of a lead with nothing known yet.
    pub summary_empty: String,
}

impl Default for Locale {
    fn default() -> Self {
        let v = |xs: &[&str]| xs.iter().map(|x| (*x).to_string()).collect();
        Locale {
            morning: "pagi".into(),
            midday: "siang".into(),
            afternoon: "sore".into(),
            evening: "malam".into(),
            weekdays: v(&[
                "Senin", "Selasa", "Rabu", "Kamis", "Jumat", "Sabtu", "Minggu",
            ]),
            months_short: v(&[
                "Jan", "Feb", "Mar", "Apr", "Mei", "Jun", "Jul", "Agu", "Sep", "Okt", "Nov", "Des",
            ]),
            months_long: v(&[
                "Januari",
                "Februari",
                "Maret",
                "April",
                "Mei",
                "Juni",
                "Juli",
                "Agustus",
                "September",
                "Oktober",
                "November",
                "Desember",
            ]),
            minutes: "menit".into(),
            slots: "slot".into(),
            language_name: "bahasa Indonesia".into(),
            summary_key_info: "Key info".into(),
            summary_documents: "Dokumen".into(),
            summary_has: "ada".into(),
            summary_not_yet: "belum".into(),
            summary_unknown: "tidak tahu".into(),
            summary_reasons: "Alasan skor".into(),
            summary_language: "Bahasa lead".into(),
            summary_source: "Sumber lead".into(),
            summary_followups: "Follow-up terkirim".into(),
            summary_empty: "Lead dari WhatsApp via ARI. Lihat conversation history untuk detail."
                .into(),
        }
    }
}

/// Field keys the extractor and the scorer understand (seed §5.2 plus `program`).
pub const KNOWN_FIELDS: &[&str] = &[
    "name",
    "email",
    "english_level",
    "budget",
    "timeline",
    "country",
    "program",
    "activity",
    "notes",
];

/// Document keys the scorer understands, 7.5 points each at default weights (seed §5.4, §6.2).
pub const KNOWN_DOCUMENTS: &[&str] = &["passport", "cv", "english_test", "transcript"];

/// The bot persona (seed §11.1 section 1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Persona {
    /// Name the bot introduces itself with (`{bot_name}`).
    pub bot_name: String,
    /// Free-text tone for the LLM instruction, e.g. "santai dan friendly".
    pub tone: String,
    /// `formal`, `professional`, `casual` or `friendly` (seed §11.1).
    pub greeting_style: GreetingStyle,
    /// BCP 47 language of the texts, e.g. `id`.
    pub language: String,
    /// WhatsApp community link sent to cold leads (`{community_link}`); empty = none.
    pub community_link: String,
}

/// Greeting style (seed §11.1: formal → "sopan dan formal", professional → "profesional tapi
/// ramah", otherwise "santai dan friendly").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GreetingStyle {
    /// Polite and formal.
    Formal,
    /// Professional but warm.
    Professional,
    /// Relaxed.
    Casual,
    /// Relaxed and friendly.
    Friendly,
}

/// The seven stages of the flow (DESIGN.md "The flow").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Stages {
    /// First inbound message: greet and ask the first question.
    pub greeting: Stage,
    /// Learn the required fields and documents.
    pub qualifying: Stage,
    /// Score and route (transient, same turn).
    pub scoring: Stage,
    /// Offer a consultation.
    pub booking: Stage,
    /// Pick a day and a slot, confirm.
    pub scheduling: Stage,
    /// A person takes over; the bot stays quiet.
    pub handoff: Stage,
    /// End of this cycle.
    pub completed: Stage,
}

impl Stages {
    /// The stage settings by stable stage name (`greeting` ... `completed`).
    pub fn get(&self, name: &str) -> Option<&Stage> {
        match name {
            "greeting" => Some(&self.greeting),
            "qualifying" => Some(&self.qualifying),
            "scoring" => Some(&self.scoring),
            "booking" => Some(&self.booking),
            "scheduling" => Some(&self.scheduling),
            "handoff" => Some(&self.handoff),
            "completed" => Some(&self.completed),
            _ => None,
        }
    }
}

/// One stage's settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Stage {
    /// Disabled stages are skipped (greeting, booking, scheduling only; see validation).
    pub enabled: bool,
    /// Display name shown by `ari flow graph` and to consultants.
    pub name: String,
    /// What the stage is for (documentation, and the LLM instruction's context).
    pub goal: String,
    /// An example exchange (documentation for admins and the LLM).
    pub sample_script: String,
    /// When the stage is done (documentation; the guards in code decide).
    pub exit_criteria: String,
    /// Reply templates by key; `{placeholder}`s are filled from lead data. The allowed keys and
    /// placeholders per stage are listed in [`crate::config::flow::validate::TEXT_SPECS`].
    #[serde(default)]
    pub texts: BTreeMap<String, String>,
    /// Send this stage's choices as WhatsApp reply buttons and lists (issue 19; booking: the
    /// offer; scheduling: the day and time lists and the confirmation), the text reply being
    /// the fallback. Off when absent.
    #[serde(default)]
    pub interactive: bool,
}

/// Which fields and documents qualification asks for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Qualification {
    /// Asked one per reply, in this order, until each is known or unknown (seed §5.2).
    pub required_fields: Vec<String>,
    /// Learned when volunteered and shown to consultants, never asked (seed §5.2).
    pub important_fields: Vec<String>,
    /// Document yes/no questions, asked in this order after the required fields (seed §5.4).
    pub document_order: Vec<String>,
    /// How many times one field or document question is asked before it is recorded as not
    /// given and the flow moves on (issue 14's re-ask policy; the second ask is the `reask`
    /// wording). Default 2.
    #[serde(default = "default_max_asks")]
    pub max_asks: u32,
}

fn default_max_asks() -> u32 {
    2
}

/// A lead field's label and question (seed §5.2 labels, §5.3 questions).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldSpec {
    /// Human label, e.g. "nama lengkap".
    pub label: String,
    /// The question asking for it.
    pub question: String,
    /// The second, differently worded ask, with an example answer (issue 14's re-ask policy);
    /// empty: the first question again behind the fallback text.
    #[serde(default)]
    pub reask: String,
}

/// A document's label (used in score reasons) and yes/no question (seed §5.4, §6.3).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DocumentSpec {
    /// Label, e.g. "Paspor".
    pub label: String,
    /// The yes/no question.
    pub question: String,
    /// The second, differently worded ask; empty: the first question again.
    #[serde(default)]
    pub reask: String,
}

/// Lead score weights and thresholds (seed §6.1, §6.3).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scoring {
    /// Component maxima in points; must sum to 100.
    pub weights: Weights,
    /// Score at or above which a lead is hot (seed: 70).
    pub hot_threshold: u32,
    /// Score at or above which a lead is warm (seed: 40); must be below `hot_threshold`.
    pub warm_threshold: u32,
}

/// Component maxima; the seed's rules are scaled by `configured / seed default`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Weights {
    /// Form completeness, valid email, country (seed: 25).
    pub basic: u32,
    /// English, budget, timeline, program (seed: 35, actually up to 38).
    pub qualification: u32,
    /// Documents ready (seed: 30).
    pub documents: u32,
    /// Engagement (seed: 10, default value 5).
    pub engagement: u32,
}

/// What a hot lead gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LeadAction {
    /// Offer a consultation (booking stage).
    Book,
    /// Hand off to a consultant directly.
    Handoff,
}

/// Routing after scoring (seed §7).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Routing {
    /// Hot leads: `book` (default) or `handoff`.
    pub hot_lead_action: LeadAction,
    /// Warm leads are nurtured for this many inbound messages (seed `WARM_LEAD_MAX_MESSAGES`: 5).
    pub warm_nurture_limit: u32,
    /// After the nurture limit: `book` or `handoff`.
    pub warm_after_limit: LeadAction,
    /// Turns in a row with nothing learned and no stage change before a `stuck` handoff (10).
    pub stuck_limit: u32,
}

/// Handoff behaviour.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Handoff {
    /// While handed off, at most one short acknowledgement per this many minutes.
    pub quiet_period_minutes: u32,
    /// After a person took over (replied from the WhatsApp Business app, or a Kapso workflow
    /// handed off), the bot answers again once the person has been silent this many minutes
    /// and the lead writes. 0 = only an admin's resume hands the conversation back.
    #[serde(default = "default_takeover_resume_minutes")]
    pub takeover_resume_minutes: u32,
    /// After a person took over, a lead message is relayed to the assigned consultant only
    /// when no person has written to the lead for this many minutes (a person who wrote just
    /// now reads it in the business app). Must be below `takeover_resume_minutes` when that
    /// is not 0 (`check-config`).
    #[serde(default = "default_relay_after_minutes")]
    pub relay_after_minutes: u32,
    /// A handoff with a booked consultation closes this many hours after the consultation's
    /// end: the lead's next message then starts a new cycle. 0 = only a close (admin API,
    /// Kapso's conversation ended by an agent) ends it.
    #[serde(default = "default_close_after_hours")]
    pub close_after_hours: u32,
    /// Phrases (matched on word boundaries, case-insensitive) that mean "I want a person".
    pub human_request_phrases: Vec<String>,
    /// The approved WhatsApp template a consultant's notice goes as when WhatsApp refuses its
    /// text outside the consultant's 24 h window (131047): body `{{1}}` lead, `{{2}}` reason,
    /// `{{3}}` slot, `{{4}}` summary ([`crate::handoff::fallback::CONSULTANT_TEMPLATE_PARAMETERS`]).
    /// `None`: such a notice is recorded as `needs_template` and goes to the CRM webhook and the
    /// team number instead.
    #[serde(default)]
    pub consultant_template: Option<TemplateRef>,
    /// The approved template a relayed lead message goes as outside the consultant's window:
    /// `{{1}}` lead, `{{2}}` the messages (at most one per 24 h per consultant; relays failing
    /// while it waits are merged into it) ([`crate::handoff::fallback::RELAY_TEMPLATE_PARAMETERS`]).
    #[serde(default)]
    pub relay_template: Option<TemplateRef>,
    /// A team number (E.164) that gets a copy of every consultant notice that cannot be
    /// delivered (refused, given up, or no template outside the window). `None`: no copy.
    #[serde(default)]
    pub fallback_whatsapp: Option<String>,
}

fn default_takeover_resume_minutes() -> u32 {
    1440
}

fn default_relay_after_minutes() -> u32 {
    10
}

fn default_close_after_hours() -> u32 {
    24
}

/// Knowledge-question detection (seed §8, with whole-word matching and a question cue).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Knowledge {
    /// Topic words (universities, costs, requirements, scholarships...).
    pub topic_keywords: Vec<String>,
    /// Question cues; a message is a question if it has a topic word and a cue or a `?`.
    pub question_words: Vec<String>,
    /// Words (whole) that ask for recommendations ("kampus yang cocok?"): the answer lists
    /// destinations filtered by the lead's country, IELTS and budget instead of search hits.
    #[serde(default = "default_recommendation_words")]
    pub recommendation_words: Vec<String>,
}

fn default_recommendation_words() -> Vec<String> {
    [
        "rekomendasi",
        "rekomen",
        "cocok",
        "saran",
        "sarankan",
        "recommend",
        "recommendation",
        "suggest",
    ]
    .map(String::from)
    .to_vec()
}

/// Consultant slots and booking rules.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scheduling {
    /// IANA time zone of the slot times, e.g. `Asia/Jakarta`.
    pub time_zone: String,
    /// Slots are offered from tomorrow up to this many days ahead.
    pub booking_window_days: u32,
    /// A slot must start at least this many hours after now.
    pub min_notice_hours: u32,
    /// At most this many slots are listed per reply (seed §9.3: 5).
    pub max_slots_shown: u32,
    /// Weekly availability patterns.
    pub slots: Vec<SlotRule>,
    /// The approved WhatsApp template a lead's reminder uses outside the 24 h window; `None`:
    /// such reminders are skipped.
    #[serde(default)]
    pub reminder_template: Option<TemplateRef>,
    /// Phrases (whole words) that cancel an upcoming booked consultation ("batal").
    #[serde(default = "default_cancel_phrases")]
    pub cancel_phrases: Vec<String>,
    /// Phrases (whole words) that move an upcoming booked consultation ("ganti jadwal").
    /// Checked before the cancel phrases.
    #[serde(default = "default_reschedule_phrases")]
    pub reschedule_phrases: Vec<String>,
    /// Phrases (whole words) meaning "any time suits me" while a slot is chosen: the earliest
    /// free slot (on the day named, if one is) is proposed for a yes/no confirmation.
    #[serde(default = "default_any_time_phrases")]
    pub any_time_phrases: Vec<String>,
}

fn default_any_time_phrases() -> Vec<String> {
    [
        "terserah",
        "kapan aja",
        "kapan saja",
        "kapanpun",
        "kapan pun",
        "bebas",
        "jam berapa aja",
        "jam berapa saja",
        "yang paling cepat",
        "paling cepat",
        "paling awal",
        "secepatnya",
        "any time",
        "anytime",
        "whenever",
        "any day",
        "earliest",
        "as soon as possible",
        "asap",
        "up to you",
        "you choose",
        "any slot",
    ]
    .map(String::from)
    .to_vec()
}

/// An approved WhatsApp template: its name and language code as approved at Meta.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplateRef {
    pub name: String,
    /// Language code, e.g. `id` or `en_US`.
    pub language: String,
    /// The payload ids of the template's quick-reply buttons, by button index (issue 19): sent
    /// as `{"type":"button","sub_type":"quick_reply","index":"<i>","parameters":[{"type":
    /// "payload","payload":<id>}]}` components and returned as the tapped button's id. For
    /// `scheduling.reminder_template`: `ari:reminder:attend`, `ari:reminder:reschedule`,
    /// `ari:reminder:cancel` in the template's button order. Empty: none sent.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub quick_replies: Vec<String>,
}

fn default_cancel_phrases() -> Vec<String> {
    [
        "batal",
        "batalkan",
        "cancel",
        "tidak jadi",
        "gak jadi",
        "nggak jadi",
        "ga jadi",
    ]
    .map(String::from)
    .to_vec()
}

fn default_reschedule_phrases() -> Vec<String> {
    [
        "ganti jadwal",
        "ubah jadwal",
        "pindah jadwal",
        "jadwal ulang",
        "reschedule",
        "ganti hari",
        "ganti jam",
    ]
    .map(String::from)
    .to_vec()
}

/// One weekly availability pattern: `start..end` cut into `duration_minutes` slots.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlotRule {
    /// `monday` ... `sunday` (or `senin` ... `minggu`).
    pub weekday: String,
    /// Local start time `HH:MM`.
    pub start: String,
    /// Local end time `HH:MM`, after `start`.
    pub end: String,
    /// Length of one consultation in minutes.
    pub duration_minutes: u32,
    /// Consultant's display name.
    pub consultant_name: String,
    /// Consultant's WhatsApp number, E.164 (`+62...`).
    pub consultant_whatsapp: String,
    /// Leads per slot (1 = one-on-one).
    pub capacity: u32,
    /// The consultant's meeting room (`https://`, e.g. a Google Meet or Zoom link), sent in
    /// the booking confirmation and the reminders (`scheduling.texts.meeting_link`). Without
    /// one, no text mentions a link: the consultant sends the details.
    #[serde(default)]
    pub meeting_url: Option<String>,
}
