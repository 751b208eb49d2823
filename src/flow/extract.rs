//! Learning lead fields from chat, rule-based, Indonesian and English.
//!
//! The seed never extracted anything from chat (§12.5): a WhatsApp-only lead scored 5 forever.
//! This module reads name, email, English level, budget, timeline, destination country,
//! program and activity out of one turn's text, plus "I cannot tell you" answers and document
//! yes/no answers. Matching is on whole words (or anchored regexes), never substrings: the
//! seed's "us" inside "Australia" and "au" inside "mau" are regression tests below.
//!
//! Issue 13 ("understanding free chat, in the lead's language") widened the readings, in both
//! languages and in chat slang ("taun", "blm", "ga"), for text that a lexicon may or may not
//! have normalized first:
//! - budget ([`budget`]): magnitudes (k, rb, ribu, juta, jt, million, miliar, M, billion),
//!   currencies before or after (Rp, IDR, rupiah, USD, $, dollars, GBP, £, pounds, AUD, euro...),
//!   spelled-out numbers ("lima ratus juta"), ranges, " per bulan" / " total";
//! - timeline ([`timeline`]): "next September", "in about 3 years", "2029an", "taun depan",
//!   "abis lulus", "after I graduate";
//! - "don't know / don't have" answers for every field ("belum tau", "no idea", "no budget yet",
//!   "ga punya email", "I haven't taken any test"), aimed by the field the clause names, else at
//!   the pending question. "belum bisa bahasa inggris" is a value (`english_level` "pemula"),
//!   not an unknown: it tells the consultant what they need to know.
//! - a bare name leading a longer answer to the name question ("Hendra Wijaya, mau S2"),
//!   "Name's Rizky", "call me Rizky", "it's Rizky here";
//! - documents: a document the answer names wins over the pending one ("Yes, I have my
//!   transcript" answers the transcript, not the pending passport); questions answer nothing.

mod budget;
mod timeline;

pub use budget::{
    BUDGET_FOREIGN_MAX, BUDGET_FOREIGN_MIN, BUDGET_IDR_MAX, BUDGET_IDR_MIN, budget_in_bounds,
};

use std::collections::{BTreeMap, BTreeSet};
use std::sync::LazyLock;

use regex::Regex;
use serde::{Deserialize, Serialize};

use super::intents::{asks_by_words, is_question};
use super::text::{find_phrase, has_any, has_phrase, words};
use super::yesno::{YesNo, parse_possession, parse_yes_no};

/// The named extraction rules, as traces and `ari test --coverage` name them.
/// Each reads one kind of thing: `field.<key>` a field's value, `unknown_answer` a "don't
/// know" for a field, `document_answer` a yes/no for a document. Finer rules
/// (`<field>.<reading>`, `document_answer.<how>`) name a particular reading and are reported
/// alongside their field's rule.
pub const RULES: &[&str] = &[
    "field.name",
    "name.bare",
    "name.introduced",
    "name.opening",
    "field.email",
    "field.english_level",
    "english_level.cannot_speak",
    "english_level.estimate",
    "field.budget",
    "budget.spelled_out",
    "budget.foreign",
    "budget.bare_number",
    "field.timeline",
    "timeline.relative",
    "timeline.after_graduation",
    "field.country",
    "field.program",
    "field.activity",
    "unknown_answer",
    "document_answer",
    "document_answer.named",
    "document_answer.pending",
    "document_answer.score",
];

/// What one turn's text taught us.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Extracted {
    /// Field key → normalized value (keys from `config::flow::KNOWN_FIELDS`).
    pub fields: BTreeMap<String, String>,
    /// Fields the lead cannot or will not give ("belum tau", "rahasia", "no budget yet",
    /// "ga punya email").
    pub unknown: BTreeSet<String>,
    /// Document key → answer, for documents named in the text (these win), or else the
    /// pending document.
    pub documents: BTreeMap<String, YesNo>,
    /// The finer [`RULES`] (`name.bare`, `budget.spelled_out`...) that read something here.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub readings: BTreeSet<String>,
}

impl Extracted {
    /// The [`RULES`] that read something here, in [`RULES`] order.
    pub fn rules(&self) -> Vec<&'static str> {
        RULES
            .iter()
            .copied()
            .filter(|r| match *r {
                "unknown_answer" => !self.unknown.is_empty(),
                "document_answer" => !self.documents.is_empty(),
                rule => match rule.strip_prefix("field.") {
                    Some(k) => self.fields.contains_key(k),
                    None => self.readings.contains(rule),
                },
            })
            .collect()
    }

    /// True when nothing was learned.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty() && self.unknown.is_empty() && self.documents.is_empty()
    }
}

/// What the bot asked last, so a bare answer ("Budi Santoso", "belum ada") lands on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "key", rename_all = "snake_case")]
pub enum Pending {
    /// A lead field question (`name`, `budget`...).
    Field(String),
    /// A document yes/no question (`passport`...).
    Document(String),
}

#[allow(clippy::expect_used)]
fn re(pattern: &str) -> Regex {
    Regex::new(pattern).expect("static regex")
}

/// A link, which names no one.
static URL: LazyLock<Regex> = LazyLock::new(|| re(r"(?i)\b(?:https?://|www\.)\S+"));
static EMAIL: LazyLock<Regex> =
    LazyLock::new(|| re(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"));

/// "dot" / "titik" spelled out between words of an email ("budi dot santoso").
static SPOKEN_DOT: LazyLock<Regex> = LazyLock::new(|| re(r"(?i)\s+(?:dot|titik)\s+"));

/// "at" / "et" spelled out between words of an email ("santoso at gmail").
static SPOKEN_AT: LazyLock<Regex> = LazyLock::new(|| re(r"(?i)\s+(?:at|et)\s+"));

static NAME_INTRO: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?i)\b(?:nama\s+(?:saya|aku|gue|gw|ku|lengkap\s+saya|lengkapku)|namaku|nmaku|namaq|nmaq|nm\s+(?:saya|aku|gue|gw)|nama\s+lengkap|nama\s*:|my\s+name\s+is|my\s+name['’]?s|name['’]s|name\s*:|(?:you\s+can\s+|just\s+)?call\s+me|panggil\s+(?:saja|aja)|panggil\s+(?:saya|aku)|biasa\s+dipanggil|saya\s+dengan|aku\s+dengan|dengan\s+kak)\s*(?:adalah\s+|is\s+|:\s*)?([\p{L}'][\p{L}'.]*(?:\s+[\p{L}'][\p{L}'.]*){0,3})",
    )
});
/// "panggil Dika aja kak": a name to be called by ("panggil konsultannya dong" has no "aja").
static NAME_PANGGIL: LazyLock<Regex> =
    LazyLock::new(|| re(r"(?i)\bpanggil\s+([\p{L}']+)\s+(?:aja|saja|ya|deh)\b"));
/// "it's Rizky here", "this is Kevin here": the name capitalized ("it's cold here" is none; the
/// lowercase form counts when the name question is pending, see [`leading_name`]).
static NAME_HERE: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?:^(?:[Hh]i|[Hh]ello|[Hh]ey|[Hh]alo|[Hh]ai)(?:\s+kak)?[,!]?\s+|^|[,.!]\s*|\b(?:[Ii]t['’]?s|[Tt]his\s+is|[Ii]ni)\s+)(\p{Lu}[\p{L}']+(?:\s+\p{Lu}[\p{L}']+){0,2})\s+(?:here|di\s*sini)\b",
    )
});
static NAME_CAPITALIZED: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?:^|[\s,.!])(?:[Ss]aya|[Aa]ku|I'm|I am|[Ii]m|[Tt]his is|[Ii]ni)\s+(\p{Lu}[\p{L}']+(?:\s+\p{Lu}[\p{L}']+){0,3})",
    )
});
static NAME_LOWER_WHOLE: LazyLock<Regex> =
    LazyLock::new(|| re(r"(?i)^\s*(?:saya|aku)\s+([\p{L}']+(?:\s+[\p{L}']+)?)\s*[.!]?\s*$"));
/// Answering the name question: "hi im sarah", "i'm sarah", "halo kak, aku dewi".
static NAME_LOWER_INTRO: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?i)^\s*(?:(?:hi|hai|halo|hallo|hello|hey|oh|ah|eh|ok|oke|okay|sorry|maaf|right|iya|yes|sure)(?:\s+(?:kak|right|sorry))?\s*[,!.]?\s*){0,2}(?:saya|aku|i['’]?m|i\s+am|this\s+is|it['’]?s)\s+([\p{L}']+(?:\s+[\p{L}']+)?)\s*[.!]?\s*$",
    )
});

static TEST_NAME: LazyLock<Regex> =
    LazyLock::new(|| re(r"(?i)\b(ielts|toefl(?:\s+(?:ibt|itp|pbt))?|toeic|duolingo|det|pte)\b"));
/// The score after a test name, before anything else ("IELTS saya 7.0", "toefl: 550").
static SCORE_AFTER: LazyLock<Regex> = LazyLock::new(|| {
    // After a character that is neither a letter nor a digit: the "2" of "s2" ("syarat
    // ielts buat s2") is part of a word, not a score.
    re(r"^(?:\D{0,19}?[^\p{L}\d])?(\d{1,3}(?:[.,]\d{1,2})?)\b")
});
/// A score before its test: "7.5 on IELTS", "I got 6.5 in the IELTS Academic", "dapet 90 di
/// TOEFL iBT".
static SCORE_BEFORE: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?i)\b(\d{1,3}(?:[.,]\d)?)\s+(?:(?:on|in|at|for|di|untuk|buat|pas)\s+)?(?:(?:the|my|tes|test)\s+)?(ielts|toefl(?:\s+(?:ibt|itp|pbt))?|toeic|duolingo|pte)\b",
    )
});
/// "I scored 6.5", "got a 7", "dapet 6.5": a score by its verb (English named elsewhere).
static SCORED: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?i)\b(?:scored|got|get|dapet|dapat|nilainya|skornya)\s+(?:an?\s+|around\s+|about\s+|sekitar\s+)?(\d(?:[.,]\d)?)\b",
    )
});
/// A band-like number as the whole answer to the English question: "maybe around 6 now",
/// "kira2 5.5 kak" (0-9, halves).
static BAND_ESTIMATE: LazyLock<Regex> =
    LazyLock::new(|| re(r"(?i)(?:^|\s)([0-9](?:[.,][05])?)(?:\s|$|[?!.,])"));
static BARE_SCORE: LazyLock<Regex> =
    LazyLock::new(|| re(r"(?i)\b(skor|score|band|nilai)\s*(?:saya\s+)?(\d(?:[.,]\d)?)\b"));
static CEFR: LazyLock<Regex> = LazyLock::new(|| re(r"(?i)\b([abc][12])\b"));

static DEGREE: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?i)\b(s1|s2|s3|d3|d4|sarjana|magister|masters?|mba|phd|doktor|doctoral|doctorate|bachelor|bachelors|undergraduate|postgraduate|pascasarjana|diploma|foundation)\b",
    )
});
static MAJOR: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?i)\b(?:jurusan|prodi|program\s+studi|major(?:ing)?\s+in|bidang|ambil)\s+([\p{L}&]+(?:\s+[\p{L}&]+){0,2})\b",
    )
});
/// The major right after the degree ("s2 manajemen", "master of public health", "S2 data
/// science di UK"): up to three words, cut at [`MAJOR_STOP`].
static DEGREE_MAJOR: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?i)\b(?:s1|s2|s3|sarjana|magister|masters?|mba|phd|doktor|bachelors?|diploma)\s+(?:in\s+|of\s+|bidang\s+)?([\p{L}&]+(?:\s+[\p{L}&]+){0,2})",
    )
});
static ACTIVITY: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?i)\b(?:saya|aku|lagi|sedang|masih|sekarang|i\s+am|i'm|currently)\s+(?:masih\s+|lagi\s+|sedang\s+)?(kerja|bekerja|karyawan|kuliah|mahasiswa|mahasiswi|sma|smk|working|student|fresh\s+graduate|freshgraduate|baru\s+lulus)\b",
    )
});

/// Words that end a name ("nama saya Budi dari Jakarta" → "Budi").
const NAME_STOP: &[&str] = &[
    "dari",
    "mau",
    "ingin",
    "pengen",
    "pingin",
    "umur",
    "usia",
    "kak",
    "ka",
    "kakak",
    "gan",
    "sis",
    "bro",
    "min",
    "ya",
    "yaa",
    "dan",
    "and",
    "from",
    "here",
    "lagi",
    "sedang",
    "yang",
    "tinggal",
    "asal",
    "kerja",
    "kuliah",
    "email",
    "bisa",
    "nih",
    "sih",
    "dong",
    "deh",
    "di",
    "ke",
    "sudah",
    "udah",
    "belum",
    "tertarik",
    "interested",
    "looking",
    "planning",
    "want",
    "would",
    "a",
    "an",
    "the",
    "student",
    "mahasiswa",
    "masih",
    "baru",
    "lulusan",
    "alumni",
    "punya",
    "ada",
    "tidak",
    "gak",
    "nggak",
    "mohon",
    "minta",
    "tanya",
    "nanya",
    "halo",
    "hai",
    "hi",
    "hello",
    "selamat",
    "pagi",
    "siang",
    "sore",
    "malam",
    "terima",
    "makasih",
    "thanks",
    "thank",
    "ok",
    "oke",
    "iya",
    "tidak",
    "bukan",
    "rencana",
    "budget",
    "ielts",
    "toefl",
    "s1",
    "s2",
    "s3",
    "kerja",
    "sekarang",
    "saat",
    "rahasia",
    "not",
    "going",
    "am",
    "is",
    "so",
    "very",
    "just",
    "kirim",
    "bicara",
    "ngobrol",
    "butuh",
    "perlu",
    "senang",
    "juga",
    "aja",
    "saja",
    "dengan",
    "sama",
    "untuk",
    "buat",
    "tau",
    "tahu",
    "saya",
    "aku",
    "gue",
    "gw",
    "i",
    "im",
    "my",
    "me",
    "name",
    "names",
    "name's",
    "nama",
    "namanya",
    "later",
    "back",
    "tomorrow",
    "anytime",
    "sometime",
    "please",
    "pls",
    "at",
    "on",
    "when",
    "if",
    "now",
    "maybe",
    "on",
    "disini",
    "sini",
    "asli",
    "and",
    "but",
    "tapi",
    "with",
    "by",
    "for",
    "to",
    "in",
    "umurnya",
    "lahir",
];

/// Words a bare name answer cannot start with, besides [`NAME_STOP`]: chat openers, fillers
/// and topic words ("sebentar ya kak", "maaf kak", "info biaya dong").
const NOT_NAME: &[&str] = &[
    "bingung",
    "setuju",
    "fine",
    "busy",
    "sibuk",
    "confused",
    "ready",
    "capek",
    "happy",
    "excited",
    "curious",
    "penasaran",
    "sebentar",
    "bentar",
    "tunggu",
    "wait",
    "hold",
    "maaf",
    "sorry",
    "permisi",
    "tolong",
    "assalamualaikum",
    "assalamu",
    "alaikum",
    "salam",
    "kenal",
    "perkenalkan",
    "hmm",
    "hm",
    "eh",
    "oh",
    "wah",
    "wkwk",
    "wkwkwk",
    "haha",
    "hehe",
    "lol",
    "mantap",
    "keren",
    "baik",
    "good",
    "great",
    "nice",
    "cool",
    "sure",
    "yes",
    "no",
    "yup",
    "yep",
    "nope",
    "boleh",
    "siap",
    "sip",
    "okay",
    "okey",
    "kenapa",
    "why",
    "what",
    "how",
    "apa",
    "gimana",
    "berapa",
    "kapan",
    "siapa",
    "emang",
    "memang",
    "kok",
    "lho",
    "loh",
    "gitu",
    "begitu",
    "itu",
    "ini",
    "this",
    "that",
    "jadi",
    "so",
    "well",
    "info",
    "informasi",
    "data",
    "biaya",
    "harga",
    "syarat",
    "beasiswa",
    "kampus",
    "universitas",
    "university",
    "kuliah",
    "jurusan",
    "program",
    "visa",
    "master",
    "masters",
    "bachelor",
    "phd",
    "mba",
    "sarjana",
    "magister",
    "konsultasi",
    "consultation",
    "question",
    "belum",
    "blm",
    "ga",
    "gk",
    "ngga",
    "enggak",
    "engga",
    "gatau",
    "rahasia",
    "skip",
    "lanjut",
    "next",
    "bukan",
    "betul",
    "benar",
    "bener",
    "test",
    "tes",
    "coba",
    "hai",
    "hallo",
    "hey",
    "yo",
    "bro",
    "sis",
    "gan",
    "min",
    "admin",
    "bot",
    "robot",
    "dear",
    "thx",
    "tq",
    "ty",
    "nggih",
    "enggih",
];

/// Words skipped before a bare name ("iya kak, Hendra", "oke, Rizky Pratama").
const NAME_LEAD_FILLERS: &[&str] = &[
    "iya",
    "ya",
    "yaa",
    "iyaa",
    "ok",
    "oke",
    "okay",
    "okey",
    "boleh",
    "siap",
    "sip",
    "baik",
    "halo",
    "hallo",
    "hai",
    "hi",
    "hello",
    "hey",
    "kak",
    "ka",
    "kakak",
    "min",
    "pagi",
    "siang",
    "sore",
    "malam",
    "selamat",
    "sure",
    "yes",
    "yep",
    "tentu",
    "dengan",
    "salam",
    "kenal",
    "perkenalkan",
    "assalamualaikum",
    "permisi",
    "of",
    "course",
    "saya",
    "aku",
    "i'm",
    "im",
    "i",
    "am",
    "it's",
    "its",
    "this",
    "is",
    "ini",
];

/// Words after a bare name that let it stand ("rizky aja kak", "Hendra dari Bandung").
const NAME_FOLLOWERS: &[&str] = &[
    "aja",
    "saja",
    "kak",
    "ka",
    "kakak",
    "here",
    "di",
    "disini",
    "dari",
    "from",
    "ya",
    "mau",
    "pengen",
    "ingin",
    "pingin",
    "umur",
    "usia",
    "asal",
    "tinggal",
    "lagi",
    "sekarang",
    "yang",
    "and",
    "dan",
    "nih",
    "dong",
    "deh",
    "sih",
    "lulusan",
    "alumni",
    "mahasiswa",
    "student",
    "saya",
    "aku",
    "i",
    "im",
    "sedang",
    "masih",
    "kerja",
    "kuliah",
    "interested",
    "looking",
    "planning",
    "want",
    "would",
    "tertarik",
    "rencana",
];

/// Address words and fillers trimmed from the end of a whole-message name ("Hendra kak").
const NAME_TRAILING_FILLERS: &[&str] = &[
    "kak", "ka", "kakak", "min", "ya", "yaa", "aja", "saja", "nih", "dong", "deh", "here", "sis",
    "gan", "hehe", "kok",
];

/// Phrases meaning "I can't / won't tell" or "I don't have one (yet)" for a field.
const FIELD_UNKNOWN: &[&str] = &[
    "belum tau",
    "belum tahu",
    "blm tau",
    "blm tahu",
    "ga tau",
    "gak tau",
    "ga tahu",
    "gak tahu",
    "gk tau",
    "nggak tau",
    "nggak tahu",
    "ngga tau",
    "tidak tahu",
    "tidak tau",
    "tdk tau",
    "kurang tau",
    "kurang tahu",
    "gatau",
    "gtau",
    "gatw",
    "ga tw",
    "belum ada",
    "blm ada",
    "belom ada",
    "blom ada",
    "tidak ada",
    "tdk ada",
    "gak ada",
    "ga ada",
    "nggak ada",
    "ngga ada",
    "gaada",
    "gada",
    "tak ada",
    "belum punya",
    "blm punya",
    "tidak punya",
    "tdk punya",
    "ga punya",
    "gak punya",
    "nggak punya",
    "gapunya",
    "belum kepikiran",
    "blm kepikiran",
    "belum pernah",
    "blm pernah",
    "tidak pernah",
    "ga pernah",
    "gak pernah",
    "nggak pernah",
    "never",
    "belum mikir",
    "belum terpikir",
    "belum pasti",
    "belum jelas",
    "belum yakin",
    "belum fix",
    "belum decide",
    "belum memutuskan",
    "belum menentukan",
    "belum ditentukan",
    "belum nentuin",
    "ga yakin",
    "gak yakin",
    "nggak yakin",
    "tidak yakin",
    "masih bingung",
    "masih mikir",
    "masih dipikirkan",
    "masih dipikir",
    "rahasia",
    "privasi",
    "ga mau kasih",
    "gak mau kasih",
    "tidak mau kasih",
    "tidak mau kasi",
    "tidak mau share",
    "tidak mau sebut",
    "tidak mau kasih tahu",
    "tidak mau bilang",
    "belum mau sebut",
    "belum mau kasih",
    "belum mau share",
    "belum mau bilang",
    "nanti aja",
    "nanti saja",
    "nanti dulu",
    "tell you later",
    "later on",
    "tidak usah",
    "ga usah",
    "gak usah",
    "don t want to give",
    "don t want to share",
    "dont want to give",
    "dont want to share",
    "do not want to give",
    "do not want to share",
    "won t share",
    "wont share",
    "not comfortable sharing",
    "rather keep",
    "skip",
    "lewat",
    "don t know",
    "dont know",
    "do not know",
    "dunno",
    "not sure",
    "unsure",
    "no idea",
    "no clue",
    "idk",
    "prefer not",
    "rather not",
    "undecided",
    "not decided",
    "haven t decided",
    "have not decided",
    "don t have",
    "dont have",
    "do not have",
    "haven t",
    "havent",
    "have not",
    "not yet",
    "none yet",
    "nothing yet",
    "none",
    "no plan",
    "no plans",
    "terserah",
];

/// Words that point an "I don't know" at a specific field.
const FIELD_CUES: &[(&str, &[&str])] = &[
    (
        "budget",
        &[
            "budget",
            "budgetnya",
            "bujet",
            "dana",
            "dananya",
            "biaya",
            "biayanya",
            "anggaran",
            "anggarannya",
            "uang",
            "duit",
            "money",
            "funds",
            "funding",
            "tabungan",
        ],
    ),
    (
        "timeline",
        &[
            "kapan",
            "berangkat",
            "berangkatnya",
            "timeline",
            "waktunya",
            "intake",
            "when",
        ],
    ),
    (
        "country",
        &[
            "negara",
            "negaranya",
            "country",
            "tujuan",
            "destination",
            "kemana",
            "ke mana",
            "where",
        ],
    ),
    (
        "english_level",
        &[
            "ielts", "toefl", "inggris", "english", "duolingo", "pte", "toeic",
        ],
    ),
    (
        "email",
        &["email", "e mail", "surel", "emailnya", "imel", "gmail"],
    ),
    ("name", &["nama", "namanya", "name"]),
    (
        "program",
        &[
            "jurusan",
            "jurusannya",
            "prodi",
            "program",
            "major",
            "course",
            "bidang",
        ],
    ),
];

/// Words about a test certificate: they aim an "I don't have one" at `english_level` only when
/// that is the pending question ("belum ada sertifikat"), and name the `english_test` document.
const ENGLISH_TEST_WORDS: &[&str] = &[
    "sertifikat",
    "sertifikatnya",
    "sertif",
    "certificate",
    "test",
    "tes",
    "skor",
    "score",
];

/// Words that name a document ("paspor sudah ada" answers the passport question).
const DOCUMENT_CUES: &[(&str, &[&str])] = &[
    (
        "passport",
        &["paspor", "passport", "pasport", "paspornya", "pasfor"],
    ),
    (
        "cv",
        &["cv", "cvnya", "resume", "curriculum vitae", "riwayat hidup"],
    ),
    (
        "english_test",
        &[
            "sertifikat ielts",
            "skor ielts",
            "sertifikat toefl",
            "skor toefl",
            "tes bahasa",
            "test bahasa",
            "english test",
            "language test",
            "hasil ielts",
            "hasil toefl",
            "ielts",
            "toefl",
            "toeic",
            "pte",
            "duolingo",
        ],
    ),
    (
        "transcript",
        &[
            "transkrip",
            "transkripnya",
            "transcript",
            "transcripts",
            "transkip",
            "ijazah",
            "ijazahnya",
            "rapor",
            "raport",
            "degree certificate",
            "graduation certificate",
            "sertifikat kelulusan",
            "academic record",
        ],
    ),
];

/// Destination aliases → canonical country. Whole words, case-insensitive, except those in
/// [`CASE_SENSITIVE_COUNTRIES`] ("US", "AS" are ordinary words in lower case). The seed's "au"
/// key is dropped: it is a filler word in Indonesian chat.
pub const COUNTRIES: &[(&str, &str)] = &[
    ("uk", "United Kingdom"),
    ("united kingdom", "United Kingdom"),
    ("inggris raya", "United Kingdom"),
    ("inggris", "United Kingdom"),
    ("england", "United Kingdom"),
    ("britain", "United Kingdom"),
    ("skotlandia", "United Kingdom"),
    ("scotland", "United Kingdom"),
    ("london", "United Kingdom"),
    ("manchester", "United Kingdom"),
    ("edinburgh", "United Kingdom"),
    ("birmingham", "United Kingdom"),
    ("usa", "United States"),
    ("america", "United States"),
    ("amerika", "United States"),
    ("amerika serikat", "United States"),
    ("united states", "United States"),
    ("new york", "United States"),
    ("boston", "United States"),
    ("california", "United States"),
    ("australia", "Australia"),
    ("aussie", "Australia"),
    ("melbourne", "Australia"),
    ("sydney", "Australia"),
    ("brisbane", "Australia"),
    ("perth", "Australia"),
    ("adelaide", "Australia"),
    ("canberra", "Australia"),
    ("nz", "New Zealand"),
    ("new zealand", "New Zealand"),
    ("selandia baru", "New Zealand"),
    ("auckland", "New Zealand"),
    ("wellington", "New Zealand"),
    ("canada", "Canada"),
    ("kanada", "Canada"),
    ("toronto", "Canada"),
    ("vancouver", "Canada"),
    ("montreal", "Canada"),
    ("singapore", "Singapore"),
    ("singapura", "Singapore"),
    ("malaysia", "Malaysia"),
    ("kuala lumpur", "Malaysia"),
    ("japan", "Japan"),
    ("jepang", "Japan"),
    ("tokyo", "Japan"),
    ("osaka", "Japan"),
    ("kyoto", "Japan"),
    ("korea", "South Korea"),
    ("korea selatan", "South Korea"),
    ("south korea", "South Korea"),
    ("korsel", "South Korea"),
    ("seoul", "South Korea"),
    ("germany", "Germany"),
    ("jerman", "Germany"),
    ("berlin", "Germany"),
    ("munich", "Germany"),
    ("muenchen", "Germany"),
    ("netherlands", "Netherlands"),
    ("belanda", "Netherlands"),
    ("holland", "Netherlands"),
    ("amsterdam", "Netherlands"),
    ("rotterdam", "Netherlands"),
    ("delft", "Netherlands"),
    ("leiden", "Netherlands"),
    ("groningen", "Netherlands"),
    ("france", "France"),
    ("prancis", "France"),
    ("perancis", "France"),
    ("paris", "France"),
    ("ireland", "Ireland"),
    ("irlandia", "Ireland"),
    ("dublin", "Ireland"),
    ("china", "China"),
    ("tiongkok", "China"),
    ("cina", "China"),
    ("taiwan", "Taiwan"),
    ("hong kong", "Hong Kong"),
    ("hongkong", "Hong Kong"),
    ("turki", "Turkey"),
    ("turkey", "Turkey"),
    ("swedia", "Sweden"),
    ("sweden", "Sweden"),
    ("swiss", "Switzerland"),
    ("switzerland", "Switzerland"),
];

/// Short aliases that only count in upper case ("US", "AS", "SG").
pub const CASE_SENSITIVE_COUNTRIES: &[(&str, &str)] = &[
    ("US", "United States"),
    ("AS", "United States"),
    ("SG", "Singapore"),
];

/// Input of one extraction.
#[derive(Debug, Clone, Copy)]
pub struct ExtractContext<'a> {
    /// The question the bot asked last, if any.
    pub pending: Option<&'a Pending>,
    /// Current year in the lead's time zone (a bare year before it is not a timeline).
    pub current_year: i32,
    /// The lead's first message, before the bot asked anything and with no name known: leads
    /// often open with only their name ("Bella Anastasia 🙏"), which is then read as the name
    /// (`name.opening`).
    pub opening: bool,
}

/// Extracts everything one turn's text says about the lead. Pure; never panics.
pub fn extract(text: &str, ctx: ExtractContext<'_>) -> Extracted {
    let mut out = Extracted::default();
    let tokens = words(text);
    let pending_field = match ctx.pending {
        Some(Pending::Field(f)) => Some(f.as_str()),
        _ => None,
    };
    let pending_is = |f: &str| pending_field == Some(f);
    let put = |out: &mut Extracted, k: &str, v: Option<String>| {
        if let Some(v) = v.filter(|v| !v.trim().is_empty()) {
            out.fields.insert(k.to_string(), v);
        }
    };
    put(&mut out, "email", email(text));
    if let Some((n, how)) = name(text, pending_is("name"), ctx.opening) {
        match how {
            NameHow::Bare => out.readings.insert("name.bare".into()),
            NameHow::Introduced => out.readings.insert("name.introduced".into()),
            NameHow::Opening => out.readings.insert("name.opening".into()),
            NameHow::Said => false,
        };
        put(&mut out, "name", Some(n));
    }
    let mut score_held = false;
    if let Some((level, from)) = english_level(text, &tokens, pending_is("english_level")) {
        if from == LevelFrom::CannotSpeak {
            out.readings.insert("english_level.cannot_speak".into());
        }
        score_held = from == LevelFrom::TestScore;
        if level.parse::<f64>().is_ok() {
            out.readings.insert("english_level.estimate".into());
        }
        put(&mut out, "english_level", Some(level));
    }
    let budget_cued = pending_is("budget") || cues(&tokens, "budget");
    if let Some(b) = budget::budget(text, budget_cued) {
        if b.spelled {
            out.readings.insert("budget.spelled_out".into());
        }
        if b.foreign {
            out.readings.insert("budget.foreign".into());
        }
        put(&mut out, "budget", Some(b.value));
    } else if pending_is("budget")
        && let Some(b) = budget::bare_number(text)
    {
        out.readings.insert("budget.bare_number".into());
        put(&mut out, "budget", Some(b));
    }
    // "valid until 2031", "paspor berlaku sampai 2030": a document's validity, not a plan.
    let validity = has_any(&tokens, VALIDITY_WORDS) && !pending_is("timeline");
    if !validity
        && let Some((t, kind)) = timeline::timeline(text, ctx.current_year, pending_is("timeline"))
    {
        match kind {
            timeline::Kind::Relative => {
                out.readings.insert("timeline.relative".into());
            }
            timeline::Kind::AfterGraduation => {
                out.readings.insert("timeline.after_graduation".into());
            }
            timeline::Kind::Other => {}
        }
        put(&mut out, "timeline", Some(t));
    }
    put(&mut out, "country", country(text));
    put(&mut out, "program", program(text));
    put(&mut out, "activity", activity(text));

    let parts = clauses(text);
    if !out.fields.contains_key("email")
        && parts.iter().any(|c| {
            let t = words(&c.text);
            has_any(&t, DONT_USE) && cues(&t, "email")
        })
    {
        out.unknown.insert("email".to_string());
    }
    for t in unknown_fields(&parts, pending_field) {
        if !out.fields.contains_key(t) {
            out.unknown.insert(t.to_string());
        }
    }

    let (mut documents, mut pending_answered) = documents(&parts, ctx.pending);
    // A question beside it ("... boleh kerja part time ga?") says nothing of possession.
    let stated: Vec<String> = parts
        .iter()
        .filter(|c| !c.question && !asks_by_words(&c.text))
        .flat_map(|c| words(&c.text))
        .collect();
    if pending_answered && !out.fields.is_empty() && !says_possession(&stated) {
        // "oke uk aja", "eh salah, maksudnya UK bukan US": a field's value with a bare "ok" or
        // a correction, not an answer to the pending document question.
        if let Some(Pending::Document(d)) = ctx.pending
            && named_documents(&tokens).is_empty()
        {
            documents.remove(d);
            pending_answered = false;
        }
    }
    if pending_answered {
        out.readings.insert("document_answer.pending".into());
    }
    if documents.len() > usize::from(pending_answered) {
        out.readings.insert("document_answer.named".into());
    }
    out.documents = documents;
    // "ielts 6.5" tells the certificate is there: the English test question is not asked.
    if score_held && !out.documents.contains_key("english_test") {
        out.documents.insert("english_test".into(), YesNo::Yes);
        out.readings.insert("document_answer.score".into());
    }
    out
}

/// Words that say whether the lead has something ("udah", "punya", "belum", "have"): without
/// one, a message that gives a field's value does not answer the pending document question.
const POSSESSION_WORDS: &[&str] = &[
    "udah", "udh", "uda", "sudah", "sdh", "dah", "punya", "pny", "ada", "have", "has", "got",
    "ready", "siap", "belum", "blm", "blum", "lom", "haven t", "don t", "dont", "not yet", "gak",
    "ga", "nggak", "tidak", "engga", "enggak",
];

/// "udah pasti UK", "sudah yakin ke Jepang", "already decided on Canada": the possession word
/// tells a decision about another field, not that the lead has the pending document.
const DECIDED: &[&str] = &[
    "udah pasti",
    "sudah pasti",
    "udh pasti",
    "dah pasti",
    "uda pasti",
    "udah yakin",
    "sudah yakin",
    "udh yakin",
    "udah fix",
    "sudah fix",
    "udh fix",
    "udah mantap",
    "udah mantep",
    "sudah mantap",
    "udah milih",
    "udah pilih",
    "sudah memilih",
    "sudah pilih",
    "udah mutusin",
    "sudah memutuskan",
    "udah niat",
    "already decided",
    "already chose",
    "already picked",
    "already set on",
];

/// The text says whether the lead has something: a [`POSSESSION_WORDS`] word outside the
/// [`DECIDED`] phrases.
fn says_possession(tokens: &[String]) -> bool {
    let mut t = tokens.to_vec();
    for phrase in DECIDED {
        let n = words(phrase).len();
        while let Some(i) = find_phrase(&t, phrase) {
            t.drain(i..i + n);
        }
    }
    has_any(&t, POSSESSION_WORDS)
}

/// Words of a document's validity: a year beside them is no timeline.
const VALIDITY_WORDS: &[&str] = &[
    "valid",
    "validity",
    "expire",
    "expires",
    "expired",
    "expiry",
    "berlaku",
    "kadaluarsa",
    "kedaluwarsa",
    "exp",
];

/// "I don't really use email", "ga pake email": no email to give.
const DONT_USE: &[&str] = &[
    "don t use",
    "don t really use",
    "dont use",
    "do not use",
    "never use",
    "rarely use",
    "ga pake",
    "gak pake",
    "nggak pake",
    "ga pakai",
    "gak pakai",
    "tidak pakai",
    "tidak menggunakan",
    "jarang pake",
    "jarang buka",
];

/// True when `tokens` hold one of `field`'s [`FIELD_CUES`].
fn cues(tokens: &[String], field: &str) -> bool {
    FIELD_CUES
        .iter()
        .any(|(k, c)| *k == field && has_any(tokens, c))
}

/// The email in `text`, also when it is spelled out as leads dictate it ("tom dot wijaya at
/// gmail dot com" → tom.wijaya@gmail.com): only when both a spoken "at" and a spoken "dot"
/// make one whole address.
fn email(text: &str) -> Option<String> {
    if let Some(m) = EMAIL.find(text) {
        return Some(m.as_str().to_lowercase());
    }
    if !SPOKEN_DOT.is_match(text) || !SPOKEN_AT.is_match(text) {
        return None;
    }
    let written = SPOKEN_DOT.replace_all(text, ".");
    let written = SPOKEN_AT.replace_all(&written, "@");
    EMAIL.find(&written).map(|m| m.as_str().to_lowercase())
}

/// A word for a person one may ask for ("konsultannya", "admin"): "panggil admin aja" calls
/// someone, it gives no name.
fn is_target_word(w: &str) -> bool {
    let w = w.to_lowercase();
    ["konsultan", "admin", "cs", "orang", "staff", "mentor"]
        .iter()
        .any(|t| w.starts_with(t))
}

fn clean_name(raw: &str) -> Option<String> {
    let mut kept = Vec::new();
    for w in raw.split_whitespace() {
        let lw = w
            .trim_matches(|c: char| !c.is_alphanumeric())
            .to_lowercase();
        if lw.is_empty() || NAME_STOP.contains(&lw.as_str()) {
            break;
        }
        kept.push(title_case(
            w.trim_matches(|c: char| !c.is_alphanumeric() && c != '\''),
        ));
        // A sentence ends the name: "my name is Aditya Ramadhan. I'm interested" (an initial,
        // "M.", does not).
        if w.ends_with(['.', ',', '!', '?', ';', ':']) && lw.chars().count() > 1 {
            break;
        }
    }
    let name = kept.join(" ");
    if country(&name).is_some() {
        return None;
    }
    (name.chars().filter(|c| c.is_alphabetic()).count() >= 2).then_some(name)
}

fn title_case(w: &str) -> String {
    let mut c = w.chars();
    match c.next() {
        Some(f) => f
            .to_uppercase()
            .chain(c.flat_map(char::to_lowercase))
            .collect(),
        None => String::new(),
    }
}

/// How a name was read: it decides whether it may replace a name already known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NameHow {
    /// Introduced as a name ("nama saya Budi", "my name is Olivia", "call me Rizky"): may
    /// correct a known name.
    Introduced,
    /// In a sentence ("saya Budi dari Bandung", "Kevin Wijaya here").
    Said,
    /// The whole answer to the pending name question ("Budi Santoso").
    Bare,
    /// A first message that is only a name in capitals ("Bella Anastasia 🙏").
    Opening,
}

/// An all-caps word in a text that is not shouted is an acronym ("aku WFH", "saya S2"), not
/// a name.
fn acronym(word: &str, text: &str) -> bool {
    let letters: Vec<char> = word.chars().filter(|c| c.is_alphabetic()).collect();
    letters.len() >= 2
        && letters.iter().all(|c| c.is_uppercase())
        && text.chars().any(char::is_lowercase)
}

/// The name in `text`, and how it was read. An email address or link in the text is no
/// name ("bella.anastasia@gmail.com" does not name Bella).
fn name(text: &str, pending: bool, opening: bool) -> Option<(String, NameHow)> {
    let text = &*EMAIL.replace_all(text, " ");
    let text = &*URL.replace_all(text, " ");
    let read = name_read(text, pending, opening);
    // "panggil Dika aja kak" names what to call the lead, unless a full name came with it
    // ("Reza Mahendra, panggil Reza aja").
    let called = NAME_PANGGIL
        .captures(text)
        .filter(|c| !is_target_word(&c[1]))
        .and_then(|c| clean_name(&c[1]));
    match (read, called) {
        (Some((n, _)), Some(c)) if n.starts_with("Panggil") => Some((c, NameHow::Introduced)),
        (None, Some(c)) => Some((c, NameHow::Introduced)),
        (read, _) => read,
    }
}

/// [`name`] without the "panggil X aja" reading.
fn name_read(text: &str, pending: bool, opening: bool) -> Option<(String, NameHow)> {
    if let Some(c) = NAME_INTRO.captures(text)
        && let Some(n) = clean_name(&c[1])
    {
        return Some((n, NameHow::Introduced));
    }
    for rule in [&*NAME_HERE, &*NAME_CAPITALIZED] {
        if let Some(c) = rule.captures(text)
            && !c[1]
                .split_whitespace()
                .next()
                .is_some_and(|w| acronym(w, text))
            && let Some(n) = clean_name(&c[1])
        {
            return Some((n, NameHow::Said));
        }
    }
    // Lowercase "saya dewi" is a name, "saya bingung" is not.
    let lower = if pending {
        &*NAME_LOWER_INTRO
    } else {
        &*NAME_LOWER_WHOLE
    };
    if let Some(c) = lower.captures(text)
        && !c[1]
            .split_whitespace()
            .any(|w| NOT_NAME.contains(&lower_word(w).as_str()) || acronym(w, text))
        && let Some(n) = clean_name(&c[1])
    {
        return Some((n, NameHow::Said));
    }
    if opening && !pending {
        return opening_name(text).map(|n| (n, NameHow::Opening));
    }
    if !pending {
        return None;
    }
    bare_name(text)
        .or_else(|| leading_name(text))
        .map(|n| (n, NameHow::Bare))
}

/// A first message that is only a name: a bare name ([`bare_name`]) of 2-4 words, each
/// capitalised as names are ("Bella Anastasia 🙏", "Dimas Pratama"). One word, or words in
/// lower case, could as well be a greeting or a topic, so they wait for the name question.
fn opening_name(text: &str) -> Option<String> {
    let n = bare_name(text)?;
    let words: Vec<&str> = text
        .split_whitespace()
        .filter(|w| w.chars().any(char::is_alphabetic))
        .collect();
    let capitalised = words
        .iter()
        .all(|w| w.chars().next().is_some_and(char::is_uppercase));
    (capitalised && words.len() == n.split_whitespace().count() && (2..=4).contains(&words.len()))
        .then_some(n)
}

fn lower_word(w: &str) -> String {
    w.trim_matches(|c: char| !c.is_alphanumeric())
        .to_lowercase()
}

/// A whole-message answer to "Boleh tau nama lengkapnya?": 1-4 words, letters only, address
/// words trimmed ("Budi Santoso", "siti nurhaliza", "Hendra kak").
fn bare_name(text: &str) -> Option<String> {
    if is_question(text) {
        return None;
    }
    let t = text.trim().trim_end_matches(['.', '!', ' ']);
    // Emoji and marks standing alone ("Budi 🙏", "Sari :)") are no part of a name.
    let mut ws: Vec<&str> = t
        .split_whitespace()
        .filter(|w| w.chars().any(char::is_alphanumeric))
        .collect();
    while ws.len() > 1
        && ws
            .last()
            .is_some_and(|w| NAME_TRAILING_FILLERS.contains(&lower_word(w).as_str()))
    {
        ws.pop();
    }
    let t = ws.join(" ");
    let letters_only = t
        .chars()
        .all(|c| c.is_alphabetic() || c == ' ' || c == '\'');
    if !(1..=4).contains(&ws.len()) || !letters_only || parse_yes_no(&t).is_some() {
        return None;
    }
    if ws
        .iter()
        .any(|w| NOT_NAME.contains(&lower_word(w).as_str()))
    {
        return None;
    }
    let n = clean_name(&t)?;
    (n.split_whitespace().count() == ws.len()).then_some(n)
}

/// A name leading a longer answer to the name question: "Hendra Wijaya, mau S2 data science",
/// "rizky aja kak, mau ke UK", "iya kak, Dewi Lestari dari Bandung". The first clause that is
/// not a pleasantry must start with 1-4 letter-only words that are no chat or topic words,
/// ended by the clause's end or a word that may follow a name ("aja", "dari", "mau"...).
fn leading_name(text: &str) -> Option<String> {
    for clause in text.split([',', ';', '.', '!', '\n', '-', '–']).take(3) {
        let raw: Vec<&str> = clause.split_whitespace().collect();
        let skip = raw
            .iter()
            .take_while(|w| NAME_LEAD_FILLERS.contains(&lower_word(w).as_str()))
            .count();
        let rest = &raw[skip..];
        if rest.is_empty() {
            continue; // "iya kak," — look at the next clause
        }
        if is_question(clause) {
            return None;
        }
        let mut name_words = Vec::new();
        let mut ended_by: Option<String> = None;
        for w in rest {
            let lw = lower_word(w);
            if NAME_STOP.contains(&lw.as_str()) {
                ended_by = Some(lw);
                break;
            }
            name_words.push(*w);
        }
        let plain = |w: &&str| {
            let core = w.trim_matches(|c: char| !c.is_alphanumeric());
            !core.is_empty() && core.chars().all(|c| c.is_alphabetic() || c == '\'')
        };
        let fits = (1..=4).contains(&name_words.len())
            && name_words.iter().all(plain)
            && !name_words
                .iter()
                .any(|w| NOT_NAME.contains(&lower_word(w).as_str()))
            && DEGREE.find(&name_words.join(" ")).is_none()
            && ended_by
                .as_deref()
                .is_none_or(|e| NAME_FOLLOWERS.contains(&e));
        if !fits {
            return None;
        }
        let n = clean_name(&name_words.join(" "))?;
        return (n.split_whitespace().count() == name_words.len()).then_some(n);
    }
    None
}

/// Negations before a proficiency word ("belum bisa", "kurang lancar", "can't speak").
const CANNOT: &[&str] = &[
    "belum", "blm", "blom", "ga", "gak", "gk", "nggak", "ngga", "tidak", "tdk", "kurang", "enggak",
    "engga", "not", "t", "cannot", "never", "hardly",
];
const PROFICIENT: &[&str] = &[
    "bisa",
    "lancar",
    "fasih",
    "jago",
    "paham",
    "ngerti",
    "mengerti",
    "mahir",
    "pinter",
    "pintar",
    "bagus",
    "fluent",
    "good",
    "great",
    "speak",
    "understand",
];
const ENGLISH_WORDS: &[&str] = &[
    "inggris",
    "inggrisnya",
    "english",
    "englishnya",
    "bahasa",
    "bahasanya",
    "ielts",
    "toefl",
    "bhs",
];

/// Whether `tokens[j]` names English ([`ENGLISH_WORDS`]). A bare "bahasa" is English in an
/// Indonesian chat ("bahasa saya lumayan"), but "my Bahasa", "the Bahasa" and "bahasa
/// Indonesia" are Indonesian ("my Bahasa is not great, I grew up in Singapore").
fn is_english_word(tokens: &[String], j: usize) -> bool {
    let w = tokens[j].as_str();
    if !ENGLISH_WORDS.contains(&w) {
        return false;
    }
    if !matches!(w, "bahasa" | "bahasanya" | "bhs") {
        return true;
    }
    let before = j.checked_sub(1).map(|i| tokens[i].as_str());
    let after = tokens.get(j + 1).map(String::as_str);
    !matches!(before, Some("my" | "the" | "our" | "his" | "her" | "your"))
        && !matches!(
            after,
            Some("indonesia" | "indo" | "melayu" | "jawa" | "daerah")
        )
}

/// Whether any word of `tokens` names English ([`is_english_word`]).
fn names_english(tokens: &[String]) -> bool {
    (0..tokens.len()).any(|j| is_english_word(tokens, j))
}

/// "belum bisa bahasa inggris", "english saya ga lancar", "I can't speak English", "my English
/// is not good": a negation right before a proficiency word, with English named within four
/// words (or the English question pending).
fn cannot_speak(tokens: &[String], pending: bool) -> bool {
    tokens.iter().enumerate().any(|(i, w)| {
        if !CANNOT.contains(&w.as_str()) {
            return false;
        }
        let Some(p) = (i + 1..tokens.len().min(i + 4)).find(|&j| {
            PROFICIENT.contains(&tokens[j].as_str())
                && !(tokens[j] == "good" && tokens.get(j + 1).is_some_and(|n| n == "enough"))
        }) else {
            return false;
        };
        // "I prefer English. My Bahasa is not great": the language nearest before the
        // negation is the one it is about.
        let nearest = (i.saturating_sub(4)..i)
            .rev()
            .find(|&j| ENGLISH_WORDS.contains(&tokens[j].as_str()));
        if nearest.is_some_and(|j| !is_english_word(tokens, j)) {
            return false;
        }
        pending
            || (i.saturating_sub(4)..tokens.len().min(p + 5)).any(|j| is_english_word(tokens, j))
    })
}

/// The first test name followed by its score before the next test name ("IELTS belum, tapi
/// TOEFL 550" is TOEFL 550): `("IELTS", "6.5")`.
fn test_score(text: &str) -> Option<(String, String)> {
    let names: Vec<regex::Match<'_>> = TEST_NAME.find_iter(text).collect();
    names.iter().enumerate().find_map(|(i, m)| {
        let until = names.get(i + 1).map_or(text.len(), |n| n.start());
        let c = SCORE_AFTER.captures(&text[m.end()..until])?;
        let test = m.as_str().split_whitespace().collect::<Vec<_>>().join(" ");
        let test = match test.to_lowercase().as_str() {
            "duolingo" | "det" => "Duolingo".to_string(),
            _ => test.to_uppercase(),
        };
        Some((test, c[1].replace(',', ".")))
    })
}

/// A test score written before the test's name, or by its verb with English named.
fn score_before_test(text: &str, tokens: &[String]) -> Option<String> {
    if let Some(c) = SCORE_BEFORE.captures(text) {
        let test = c[2].split_whitespace().collect::<Vec<_>>().join(" ");
        let test = match test.to_lowercase().as_str() {
            "duolingo" => "Duolingo".to_string(),
            _ => test.to_uppercase(),
        };
        return Some(format!("{test} {}", c[1].replace(',', ".")));
    }
    let c = SCORED.captures(text)?;
    let test = TEST_NAME.find(text).map(|m| m.as_str().to_uppercase());
    let english = test.is_some() || names_english(tokens);
    english.then(|| match test {
        Some(t) => format!("{t} {}", c[1].replace(',', ".")),
        None => c[1].replace(',', "."),
    })
}

/// "maybe around 6 now" answering the English question: one band-like number and nothing
/// that makes it money, a year or a list pick.
fn band_estimate(text: &str, tokens: &[String]) -> Option<String> {
    let all: Vec<_> = BAND_ESTIMATE.captures_iter(text).collect();
    // Numbers standing alone ("kira2" is a word written with a digit, not a number).
    let numbers = text
        .split_whitespace()
        .map(|w| w.trim_matches(|c: char| !c.is_alphanumeric()))
        .filter(|w| w.starts_with(|c: char| c.is_ascii_digit()))
        .count();
    if all.len() != 1 || numbers != 1 {
        return None;
    }
    let money = has_any(
        tokens,
        &[
            "jt", "juta", "rb", "ribu", "million", "usd", "rp", "miliar", "tahun", "year", "years",
            "taun", "bulan", "month", "months",
        ],
    );
    (!money).then(|| all[0][1].replace(',', "."))
}

/// Where an English level was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LevelFrom {
    /// A named test's score the lead holds ("IELTS 6.5", "7.5 on the IELTS"): they have the
    /// certificate, so the `english_test` document is held too.
    TestScore,
    /// A "can't speak English" answer (`english_level.cannot_speak`).
    CannotSpeak,
    /// Anything else: a bare score, a CEFR level, level words, an estimate.
    Other,
}

/// Words that make a test score a requirement or a goal, not the lead's own ("syarat IELTS
/// buat S2", "minimal TOEFL 80", "target IELTS 7"): no level, no certificate held.
const SCORE_NOT_HELD: &[&str] = &[
    "syarat",
    "syaratnya",
    "persyaratan",
    "minimal",
    "minimum",
    "min",
    "requirement",
    "requirements",
    "required",
    "require",
    "requires",
    "butuh",
    "target",
    "targetnya",
    "targeting",
    "wajib",
];

/// Whether a [`SCORE_NOT_HELD`] word stands within three words of a test's name ("syarat
/// ielts buat s2", "ielts minimal 6.5"), or of "score"/"skor": "my target country is the
/// Netherlands, IELTS 7.0" still holds its score.
fn score_not_held(tokens: &[String]) -> bool {
    const TEST_WORDS: &[&str] = &[
        "ielts", "toefl", "toeic", "duolingo", "pte", "skor", "score", "nilai",
    ];
    tokens.iter().enumerate().any(|(i, w)| {
        TEST_WORDS.contains(&w.as_str())
            && tokens[i.saturating_sub(3)..tokens.len().min(i + 4)]
                .iter()
                .any(|n| SCORE_NOT_HELD.contains(&n.as_str()))
    })
}

/// The English level and where it was read from. A score wins over words ("upper
/// intermediate, I scored 6.5 on the IELTS" is 6.5); a required or targeted score is none.
fn english_level(text: &str, tokens: &[String], pending: bool) -> Option<(String, LevelFrom)> {
    let held = !score_not_held(tokens);
    if held && let Some((test, score)) = test_score(text) {
        return Some((format!("{test} {score}"), LevelFrom::TestScore));
    }
    if held && let Some(score) = score_before_test(text, tokens) {
        let from = if TEST_NAME.is_match(&score) {
            LevelFrom::TestScore
        } else {
            LevelFrom::Other
        };
        return Some((score, from));
    }
    english_level_in_words(text, tokens, pending, held)
}

/// [`english_level`] without a named test's score: a bare score ("skor 6.5"; only when
/// `held`), a CEFR level, "can't speak", an estimate, level words.
fn english_level_in_words(
    text: &str,
    tokens: &[String],
    pending: bool,
    held: bool,
) -> Option<(String, LevelFrom)> {
    if let Some(c) = BARE_SCORE.captures(text)
        && held
        && (pending
            || names_english(tokens)
            || c[1].eq_ignore_ascii_case("skor")
            || c[1].eq_ignore_ascii_case("score"))
    {
        return Some((
            format!("{} {}", c[1].to_lowercase(), c[2].replace(',', ".")),
            LevelFrom::Other,
        ));
    }
    let context = pending || names_english(tokens);
    let cefr: Vec<String> = CEFR
        .captures_iter(text)
        .map(|c| c[1].to_uppercase())
        .collect();
    if !cefr.is_empty() && context {
        return Some((cefr.join("/"), LevelFrom::Other));
    }
    if cannot_speak(tokens, pending) {
        return Some(("pemula".to_string(), LevelFrom::CannotSpeak));
    }
    if pending && let Some(band) = band_estimate(text, tokens) {
        return Some((band, LevelFrom::Other));
    }
    if context {
        let levels: &[(&[&str], &str)] = &[
            (
                &[
                    "not bad",
                    "ga jelek",
                    "gak jelek",
                    "nggak jelek",
                    "tidak buruk",
                    "so so",
                    "biasa aja",
                    "biasa saja",
                    "average",
                    "decent",
                    "conversational",
                ],
                "menengah",
            ),
            (
                &[
                    "mahir", "lancar", "fasih", "fluent", "advanced", "native", "jago",
                ],
                "mahir",
            ),
            (
                &[
                    "menengah",
                    "intermediate",
                    "lumayan",
                    "cukup",
                    "sedang",
                    "upper intermediate",
                ],
                "menengah",
            ),
            (
                &[
                    "pemula",
                    "dasar",
                    "basic",
                    "beginner",
                    "kurang",
                    "pas pasan",
                    "pasif",
                    "jelek",
                    "buruk",
                    "lemah",
                    "nol",
                    "minim",
                    "parah",
                    "poor",
                    "bad",
                    "weak",
                    "limited",
                    "dikit",
                    "sedikit",
                    "dikit2",
                    "sedikit2",
                    "a little",
                    "a bit",
                ],
                "pemula",
            ),
        ];
        for (ws, level) in levels {
            if has_any(tokens, ws) {
                return Some(((*level).to_string(), LevelFrom::Other));
            }
        }
    }
    None
}

/// "no budget yet", "not a clue yet": "no"/"not"/"belum" and "yet" within four words.
fn no_yet(t: &[String]) -> bool {
    t.iter().enumerate().any(|(i, w)| {
        matches!(w.as_str(), "no" | "not" | "none")
            && t[i + 1..t.len().min(i + 5)].iter().any(|n| n == "yet")
    })
}

/// Fields the lead says they cannot give: per clause, a "don't know / don't have" phrase aimed
/// at the fields the clause (or the clause before it) names, else at the pending field — but
/// never a clause that asks something or names a document ("belum punya paspor" is about the
/// passport). Certificate words ("belum ada sertifikat", "I haven't taken any test") aim at
/// `english_level` only when that is pending.
fn unknown_fields<'a>(parts: &'a [Clause], pending: Option<&'a str>) -> Vec<&'a str> {
    let mut out = Vec::new();
    for (i, clause) in parts.iter().enumerate() {
        let t = words(&clause.text);
        if asks_by_words(&clause.text) || !(has_any(&t, FIELD_UNKNOWN) || no_yet(&t)) {
            continue;
        }
        let cued_in = |t: &[String]| -> Vec<&'a str> {
            let mut c: Vec<&str> = FIELD_CUES
                .iter()
                .filter(|(_, cues)| has_any(t, cues))
                .map(|(k, _)| *k)
                .collect();
            if pending == Some("english_level")
                && has_any(t, ENGLISH_TEST_WORDS)
                && !c.contains(&"english_level")
            {
                c.push("english_level");
            }
            c
        };
        let mut cued = cued_in(&t);
        if cued.is_empty()
            && let Some(prev) = i.checked_sub(1).map(|p| &parts[p])
        {
            let pt = words(&prev.text);
            if !has_any(&pt, FIELD_UNKNOWN) {
                cued = cued_in(&pt);
            }
        }
        if !cued.is_empty() {
            out.extend(cued);
        } else if named_documents(&t).is_empty()
            && let Some(p) = pending
        {
            out.push(p);
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// Documents named in a clause's words. A bare certificate or test word names the English test
/// unless the clause names the transcript ("ijazah", "degree certificate").
fn named_documents(t: &[String]) -> Vec<&'static str> {
    let mut named: Vec<&'static str> = DOCUMENT_CUES
        .iter()
        .filter(|(_, cues)| has_any(t, cues))
        .map(|(k, _)| *k)
        .collect();
    if !named.contains(&"english_test")
        && has_any(t, ENGLISH_TEST_WORDS)
        && !named.contains(&"transcript")
    {
        named.push("english_test");
    }
    named
}

/// Words for "all of them" and "except" in "semua udah ada kecuali IELTS".
const ALL_DOCUMENT_WORDS: &[&str] = &["semua", "semuanya", "all", "everything", "lengkap"];
const EXCEPT_WORDS: &[&str] = &["kecuali", "selain", "except", "but not", "minus"];

/// "semua udah ada kak kecuali IELTS", "I have everything except the transcript": every
/// document ([`KNOWN_DOCUMENTS`]; the flow keeps those it asks) is a yes, and those named after
/// the "except" word a no. `None` unless the part before "except" says "all" and answers yes.
fn all_except(text: &str) -> Option<BTreeMap<String, YesNo>> {
    if is_question(text) {
        return None;
    }
    let t = words(text);
    let at = EXCEPT_WORDS.iter().find_map(|w| find_phrase(&t, w))?;
    let before = &t[..at];
    if !has_any(before, ALL_DOCUMENT_WORDS) || !named_documents(before).is_empty() {
        return None;
    }
    if parse_possession(&before.join(" ")) != Some(YesNo::Yes) {
        return None;
    }
    let missing = named_documents(&t[at..]);
    if missing.is_empty() {
        return None;
    }
    Some(
        crate::config::flow::KNOWN_DOCUMENTS
            .iter()
            .map(|d| {
                let yn = if missing.contains(d) {
                    YesNo::No
                } else {
                    YesNo::Yes
                };
                ((*d).to_string(), yn)
            })
            .collect(),
    )
}

/// "Too", "juga": a clause that shares the answer of the one before it.
const ALSO_WORDS: &[&str] = &[
    "too", "also", "as well", "either", "juga", "jg", "jga", "pun",
];

/// Document answers from the clauses, and whether the pending document got one.
///
/// - A clause naming documents gives them its own answer ("paspor sudah, tapi transkrip
///   belum"), or else the answer of a clause next to it with no document ("Yes, I have my
///   transcript", "iya, transkrip"), or else the answer that ends their list ("paspor, cv,
///   sama transkrip udah ada").
/// - When the text names a document, the pending one gets an answer only from a part set off
///   by a contrast word ("ada, tapi paspor belum" with the CV pending: CV yes, passport no).
/// - When the text names none, the pending document gets the answer of the whole non-question
///   text ("belum ada kak").
/// - Questions answer nothing ("paspor perlu ga?").
fn documents(parts: &[Clause], pending: Option<&Pending>) -> (BTreeMap<String, YesNo>, bool) {
    let whole: Vec<&str> = parts.iter().map(|c| c.text.as_str()).collect();
    let asks = parts.iter().any(|c| c.question || asks_by_words(&c.text));
    if !asks && let Some(all) = all_except(&whole.join(", ")) {
        let answered = matches!(pending, Some(Pending::Document(k)) if all.contains_key(k));
        return (all, answered);
    }
    let mut out = BTreeMap::new();
    let pending_doc = match pending {
        Some(Pending::Document(k)) => Some(k.as_str()),
        _ => None,
    };
    // (group, named documents, answer) per clause; a contrast word starts a new group.
    let mut group = 0;
    let info: Vec<(usize, Vec<&'static str>, Option<YesNo>)> = parts
        .iter()
        .map(|c| {
            if c.contrast {
                group += 1;
            }
            let named = named_documents(&words(&c.text));
            let answer = if c.question || asks_by_words(&c.text) {
                None
            } else {
                parse_possession(&c.text)
            };
            (group, named, answer)
        })
        .collect();
    let any_named = info.iter().any(|(_, n, _)| !n.is_empty());
    if !any_named {
        if let Some(k) = pending_doc {
            let plain: Vec<&str> = parts
                .iter()
                .filter(|c| !c.question && !asks_by_words(&c.text))
                .map(|c| c.text.as_str())
                .collect();
            if let Some(yn) = (!plain.is_empty())
                .then(|| parse_possession(&plain.join(" ")))
                .flatten()
            {
                out.insert(k.to_string(), yn);
            }
        }
        let answered = !out.is_empty();
        return (out, answered);
    }
    for (i, (g, named, answer)) in info.iter().enumerate() {
        if named.is_empty() {
            continue;
        }
        // Its own answer, else a neighbouring document-free clause of the same group.
        let neighbour = |j: usize| {
            info.get(j)
                .filter(|(gj, nj, _)| gj == g && nj.is_empty())
                .and_then(|(_, _, a)| *a)
        };
        // A list of documents answered once at its end ("paspor, cv, sama transkrip udah ada
        // semua"): the first answer among the next clauses that name documents too.
        let listed = || {
            info[i + 1..]
                .iter()
                .take_while(|(gj, nj, _)| gj == g && !nj.is_empty())
                .find_map(|(_, _, a)| *a)
        };
        // Or the answer that opens it ("all docs ready kak: paspor, CV, transkrip, IELTS"): the
        // clause right before the list's bare items, when it answers. A question asks.
        let opened = || {
            if parts[i].question {
                return None;
            }
            let first = info[..i]
                .iter()
                .rposition(|(gj, nj, a)| gj != g || nj.is_empty() || a.is_some())
                .map_or(0, |p| p + 1);
            first
                .checked_sub(1)
                .and_then(|p| info.get(p))
                .filter(|(gj, _, _)| gj == g)
                .and_then(|(_, _, a)| *a)
        };
        // "IELTS certificate yes, and my transcript too": the answer of the clause before.
        let also = || {
            let t = words(&parts[i].text);
            has_any(&t, ALSO_WORDS)
                .then(|| i.checked_sub(1).and_then(|j| info.get(j)))
                .flatten()
                .filter(|(gj, nj, _)| gj == g && !nj.is_empty())
                .and_then(|(_, _, a)| *a)
        };
        let yn = answer
            .or_else(|| {
                i.checked_sub(1)
                    .and_then(neighbour)
                    .or_else(|| neighbour(i + 1))
            })
            .or_else(listed)
            .or_else(also)
            .or_else(opened);
        if let Some(yn) = yn {
            for k in named {
                out.insert((*k).to_string(), yn);
            }
        }
    }
    if let Some(k) = pending_doc
        && !out.contains_key(k)
        && let Some(yn) = pending_in_own_group(&info, k)
    {
        out.insert(k.to_string(), yn);
        return (out, true);
    }
    (out, false)
}

/// The pending document `k`'s answer from a group of its own (set off by "tapi"/"but"): the
/// first answer of a clause that names no document, in a group where none is named. `None`
/// when the text names `k` itself. `info` is [`documents`]' (group, named, answer) per clause.
fn pending_in_own_group(
    info: &[(usize, Vec<&'static str>, Option<YesNo>)],
    k: &str,
) -> Option<YesNo> {
    if info.iter().any(|(_, n, _)| n.contains(&k)) {
        return None;
    }
    let named_groups: BTreeSet<usize> = info
        .iter()
        .filter(|(_, n, _)| !n.is_empty())
        .map(|(g, _, _)| *g)
        .collect();
    info.iter()
        .filter(|(g, n, _)| n.is_empty() && !named_groups.contains(g))
        .find_map(|(_, _, a)| *a)
}

/// One part of a message, split at punctuation and contrast words.
#[derive(Debug, Clone)]
struct Clause {
    /// The words of the part.
    text: String,
    /// Starts with a contrast word ("tapi", "but", "kalau"...).
    contrast: bool,
    /// Ended by a question mark.
    question: bool,
}

/// Splits on punctuation and contrast words ("paspor sudah, tapi cv belum"). A decimal point
/// or comma between digits ("6.5", "1,2 M") does not split.
fn clauses(text: &str) -> Vec<Clause> {
    let mut out = Vec::new();
    let mut part = String::new();
    let chars: Vec<char> = text.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        let between_digits = matches!(c, '.' | ',')
            && i > 0
            && chars[i - 1].is_ascii_digit()
            && chars.get(i + 1).is_some_and(char::is_ascii_digit);
        if matches!(c, ',' | ';' | '.' | '!' | '?' | '\n') && !between_digits {
            split_contrast(&part, c == '?', &mut out);
            part.clear();
        } else {
            part.push(c);
        }
    }
    split_contrast(&part, false, &mut out);
    out
}

/// Splits one punctuation-delimited part at contrast words; `question` marks its last piece.
fn split_contrast(part: &str, question: bool, out: &mut Vec<Clause>) {
    let mut pieces: Vec<(String, bool)> = Vec::new();
    let mut cur: Vec<&str> = Vec::new();
    let mut contrast = false;
    for w in part.split_whitespace() {
        let lw = w.to_lowercase();
        if matches!(
            lw.as_str(),
            "tapi" | "but" | "sedangkan" | "kalau" | "kalo" | "namun" | "however" | "tp"
        ) {
            if !cur.is_empty() {
                pieces.push((cur.join(" "), contrast));
                cur.clear();
            }
            contrast = true;
        } else {
            cur.push(w);
        }
    }
    if !cur.is_empty() {
        pieces.push((cur.join(" "), contrast));
    }
    let n = pieces.len();
    for (k, (text, contrast)) in pieces.into_iter().enumerate() {
        out.push(Clause {
            text,
            contrast,
            question: question && k + 1 == n,
        });
    }
}

/// Words that, after "inggris" / "English", make it the language and its level.
/// Words between a language and its level: "inggris *aku masih* pemula", "English *is still*
/// basic".
const LEVEL_FILLERS: &[&str] = &[
    "is", "saya", "ku", "aku", "gw", "gue", "my", "masih", "cuma", "still", "only", "udah",
    "sudah", "agak", "kurang", "sangat", "very", "quite", "pretty", "so", "lumayan",
];

const LANGUAGE_LEVEL_WORDS: &[&str] = &[
    "menengah",
    "pemula",
    "mahir",
    "lancar",
    "bagus",
    "lumayan",
    "pasif",
    "aktif",
    "dasar",
    "standar",
    "intermediate",
    "beginner",
    "advanced",
    "fluent",
    "basic",
    "native",
    "good",
    "okay",
    "ok",
    "level",
];

/// The destination named last in `text` (a correction such as "eh maksud saya Kanada" wins).
pub fn country(text: &str) -> Option<String> {
    let tokens = words(text);
    let mut best: Option<(usize, usize, &str)> = None; // (position, phrase length, canonical)
    for (alias, canonical) in COUNTRIES {
        let len = words(alias).len();
        let mut from = 0;
        while from < tokens.len() {
            let Some(pos) = find_phrase(&tokens[from..], alias) else {
                break;
            };
            let at = from + pos;
            // "inggris menengah", "English is intermediate", "inggris aku masih pemula bgt":
            // the language and its level (a level word within three words, or "can't").
            let level_next = (at + len..tokens.len().min(at + len + 3)).any(|j| {
                LANGUAGE_LEVEL_WORDS.contains(&tokens[j].as_str())
                    && tokens[at + len..j]
                        .iter()
                        .all(|n| LEVEL_FILLERS.contains(&n.as_str()))
            });
            if level_next && (*alias == "inggris" || *alias == "english") {
                from = at + 1;
                continue;
            }
            // "bahasa Inggris" is the language, not the country.
            if at > 0
                && tokens[at - 1] == "bahasa"
                && (*alias == "inggris"
                    || *alias == "jepang"
                    || *alias == "jerman"
                    || *alias == "korea"
                    || *alias == "belanda")
            {
                from = at + 1;
                continue;
            }
            if not_a_destination(&tokens, at) {
                from = at + 1;
                continue;
            }
            // Later wins; at equal position the longer alias wins ("korea selatan").
            if best.is_none_or(|(p, l, _)| at > p || (at == p && len > l)) {
                best = Some((at, len, canonical));
            }
            from = at + 1;
        }
    }
    // Case-sensitive short aliases: compare against the original-case words.
    let original: Vec<&str> = text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    let lower: Vec<String> = original.iter().map(|w| w.to_lowercase()).collect();
    for (alias, canonical) in CASE_SENSITIVE_COUNTRIES {
        if let Some(at) = original.iter().rposition(|w| w == alias)
            && !not_a_destination(&lower, at)
            && best.is_none_or(|(p, _, _)| at > p)
        {
            best = Some((at, 1, canonical));
        }
    }
    best.map(|(_, _, c)| c.to_string())
        .or_else(|| misspelled_country(&tokens))
}

/// Words before a country that make it no destination: a correction's rejected one ("UK
/// bukan US", "not the US", "instead of Canada") or where the lead lives, grew up or works ("I
/// grew up in Singapore", "aku tinggal di Malaysia").
const NOT_DESTINATION_BEFORE: &[&str] = &[
    "bukan",
    "bukannya",
    "not",
    "instead of",
    "rather than",
    "selain",
    "grew up in",
    "grow up in",
    "raised in",
    "born in",
    "live in",
    "living in",
    "lived in",
    "based in",
    "work in",
    "working in",
    "worked in",
    "i m from",
    "am from",
    "tinggal di",
    "lahir di",
    "besar di",
    "kerja di",
    "bekerja di",
    "domisili",
    "domisili di",
    "asal",
    "asalnya",
    "berasal dari",
];

/// Whether the country named at `tokens[at]` is set aside by the words just before it
/// ([`NOT_DESTINATION_BEFORE`], optionally with "di"/"ke"/"the"/"in" between: "bukan di US").
fn not_a_destination(tokens: &[String], at: usize) -> bool {
    let ends_before = |end: usize| {
        NOT_DESTINATION_BEFORE.iter().any(|phrase| {
            let p = words(phrase);
            end >= p.len() && tokens[end - p.len()..end] == p[..]
        })
    };
    let filler = at > 0 && matches!(tokens[at - 1].as_str(), "di" | "ke" | "the" | "in");
    ends_before(at) || (filler && ends_before(at - 1))
}

/// A country written with a typo ("inggirs", "australi", "malaysa"): a word of at least
/// [`TYPO_MIN_LEN`] letters whose Jaro-Winkler similarity (`strsim`) to a one-word country name
/// is at least [`TYPO_MIN_SIMILARITY`], with the same first letter. The threshold keeps common
/// look-alikes out ("belanja", shopping, scores 0.94 against "belanda"); the price is that one
/// wrong letter in a short name ("jepamg", 0.93) is not read either.
fn misspelled_country(tokens: &[String]) -> Option<String> {
    let mut best: Option<(f64, &str)> = None;
    for (i, t) in tokens.iter().enumerate() {
        // An exact name was judged by `country` already (and maybe set aside as a language).
        let exact = COUNTRIES.iter().any(|(alias, _)| alias == t);
        if exact || t.chars().count() < TYPO_MIN_LEN || (i > 0 && tokens[i - 1] == "bahasa") {
            continue;
        }
        for (alias, canonical) in COUNTRIES {
            if alias.contains(' ')
                || alias.chars().count() < TYPO_MIN_LEN
                || alias.chars().next() != t.chars().next()
            {
                continue;
            }
            let score = strsim::jaro_winkler(t, alias);
            if score >= TYPO_MIN_SIMILARITY && best.is_none_or(|(b, _)| score > b) {
                best = Some((score, canonical));
            }
        }
    }
    best.map(|(_, c)| c.to_string())
}

/// Shortest word a typo-tolerant country match looks at.
const TYPO_MIN_LEN: usize = 6;
/// Jaro-Winkler similarity a misspelled country needs.
const TYPO_MIN_SIMILARITY: f64 = 0.95;

/// Canonical country for a whole value ("Inggris" → "United Kingdom"); unknown values as given.
pub fn normalize_country(value: &str) -> String {
    let t = words(value);
    COUNTRIES
        .iter()
        .find(|(alias, _)| words(alias) == t)
        .map(|(_, c)| (*c).to_string())
        .unwrap_or_else(|| value.trim().to_string())
}

/// Words that end a major's name ("jurusan data science di UK", "s2 manajemen tahun depan"):
/// places, times, fillers, tests and other topics.
const MAJOR_STOP: &[&str] = &[
    "di",
    "ke",
    "yang",
    "dan",
    "kak",
    "ka",
    "ya",
    "tahun",
    "dengan",
    "untuk",
    "atau",
    "s1",
    "s2",
    "s3",
    "in",
    "at",
    "the",
    "budget",
    "tapi",
    "sih",
    "dong",
    "nih",
    "apa",
    "apaan",
    "mana",
    "what",
    "which",
    "bulan",
    "semester",
    "ielts",
    "toefl",
    "tes",
    "test",
    "les",
    "kursus",
    "beasiswa",
    "cuti",
    "aja",
    "saja",
    "juga",
    "dulu",
    "nanti",
    "mau",
    "pengen",
    "kalau",
    "kalo",
    "sama",
    "lalu",
    "terus",
    "abroad",
    "overseas",
    "luar",
    "program",
    "degree",
    "there",
    "next",
    "this",
    "please",
    "and",
    "or",
    "with",
    "for",
    "to",
    "from",
    "so",
    "but",
    "is",
    "take",
    "takes",
    "gan",
    "min",
    "sis",
    "bro",
    "deh",
    "lah",
    "kok",
    "gitu",
    "gimana",
    "brp",
    "berapa",
    "biaya",
    "cost",
    "costs",
    "scholarship",
    "how",
    "much",
    "long",
    "lama",
    "kira",
    "sekitar",
    "around",
    "about",
    "maybe",
    "mungkin",
    "by",
    "on",
    "a",
    "an",
    "my",
    "i",
    "we",
    "it",
    "bisa",
    "boleh",
    "ga",
    "gak",
    "nggak",
    "tidak",
    "belum",
    "udah",
    "sudah",
    "kuliah",
    "study",
    "studi",
    "ambil",
    "lanjut",
    "rencana",
    "plan",
    "planning",
    "start",
    "mulai",
    "intake",
];

fn program(text: &str) -> Option<String> {
    let degree = DEGREE.captures(text).map(|c| {
        match c[1].to_lowercase().as_str() {
            "s1" | "sarjana" | "bachelor" | "bachelors" | "undergraduate" => "S1",
            "s2" | "magister" | "master" | "masters" | "postgraduate" | "pascasarjana" => "S2",
            "s3" | "phd" | "doktor" | "doctoral" | "doctorate" => "S3",
            "mba" => "MBA",
            "d3" | "d4" | "diploma" => "Diploma",
            _ => "Foundation",
        }
        .to_string()
    });
    let named = |c: regex::Captures<'_>| {
        let kept: Vec<&str> = c[1]
            .split_whitespace()
            .take_while(|w| !MAJOR_STOP.contains(&w.to_lowercase().as_str()))
            .collect();
        let major = kept.join(" ");
        (!kept.is_empty()
            && kept.first().is_none_or(|w| country(w).is_none())
            && DEGREE
                .find(&major)
                .is_none_or(|m| m.as_str().len() != major.len()))
        .then_some(major)
    };
    let major = MAJOR
        .captures_iter(text)
        .find_map(named)
        .or_else(|| DEGREE_MAJOR.captures_iter(text).find_map(named));
    match (degree, major) {
        (Some(d), Some(m)) => Some(format!("{d} {m}")),
        (Some(d), None) => Some(d),
        (None, Some(m)) => Some(m),
        (None, None) => None,
    }
}

fn activity(text: &str) -> Option<String> {
    let c = ACTIVITY.captures(text)?;
    let v = match c[1]
        .to_lowercase()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .as_str()
    {
        "kerja" | "bekerja" | "karyawan" | "working" => "kerja",
        "kuliah" | "mahasiswa" | "mahasiswi" | "student" => "kuliah",
        "sma" | "smk" => "SMA/SMK",
        _ => "fresh graduate",
    };
    Some(v.to_string())
}

/// True when the text contains any of `phrases` as whole words (config phrase lists).
pub fn mentions_any(text: &str, phrases: &[String]) -> bool {
    let t = words(text);
    phrases.iter().any(|p| has_phrase(&t, p))
}

/// True when `text` asks something the knowledge base answers: a topic word and a question
/// cue (a question word or "?"), both whole words (seed §8 used bare substrings).
pub fn is_knowledge_question(text: &str, topics: &[String], question_words: &[String]) -> bool {
    let t = words(text);
    // "rankingnya", "biayanya", "syaratnya": the topic with the -nya suffix.
    let stems: Vec<String> = t
        .iter()
        .map(|w| match w.strip_suffix("nya") {
            Some(stem) if stem.len() >= 4 => stem.to_string(),
            _ => w.clone(),
        })
        .collect();
    let topic = topics
        .iter()
        .any(|p| has_phrase(&t, p) || has_phrase(&stems, p));
    // Without a question mark the words must ask ("tergantung dapet beasiswa apa ga" does not).
    let asks = text.contains('?')
        || (question_words.iter().any(|q| has_phrase(&t, q)) && asks_by_words(text));
    topic && asks
}

/// The part of `text` that asks the knowledge question, to search with: the sentences that
/// are knowledge questions by themselves ([`is_knowledge_question`]), joined; the whole text
/// when none is ("biaya di UK. kalau Jerman?" asks across two). An answer given in the same
/// message ("IELTS 7. How long does a master's take there?") then does not steer the search
/// to its own topic. Sentences end at `.`/`!`/`?` before a space, a new line, or " - ".
pub fn question_part(text: &str, topics: &[String], question_words: &[String]) -> String {
    let asking: Vec<&str> = sentences(text)
        .into_iter()
        .filter(|s| is_knowledge_question(s, topics, question_words))
        .collect();
    if asking.is_empty() {
        text.to_string()
    } else {
        asking.join(" ")
    }
}

/// The sentences of `text` that ask nothing ([`is_question`]), joined; empty when every one
/// asks. "I've already decided on Japan. Is there a scholarship for Japan?" → "I've already
/// decided on Japan.": a statement beside a question may correct a known field.
pub fn statement_part(text: &str) -> String {
    sentences(text)
        .into_iter()
        .filter(|s| !is_question(s))
        .collect::<Vec<_>>()
        .join(" ")
}

/// `text` cut into sentences, each with its end mark; empty pieces dropped. A dot inside a
/// word ("fajar.ngr@gmail.com", "6.5") does not end a sentence.
fn sentences(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let next = chars.peek().map(|&(_, n)| n);
        let end = match c {
            '\n' => Some(i),
            '.' | '!' | '?' if next.is_none_or(char::is_whitespace) => Some(i + c.len_utf8()),
            '-' if text[..i].ends_with(' ') && next == Some(' ') => Some(i),
            _ => None,
        };
        if let Some(end) = end {
            out.push(text[start..end].trim());
            start = if c == '\n' || c == '-' { i + 1 } else { end };
        }
    }
    out.push(text[start..].trim());
    out.retain(|s| !s.is_empty());
    out
}

#[cfg(test)]
mod question_part_tests {
    use super::question_part;

    fn list(words: &[&str]) -> Vec<String> {
        words.iter().map(|w| w.to_string()).collect()
    }

    #[test]
    fn the_asking_sentence_is_searched_not_the_answer_beside_it() {
        let topics = list(&["how long", "brp lama", "part time", "biaya", "kerja"]);
        let questions = list(&["how", "brp", "berapa", "apa"]);
        for (text, want) in [
            (
                "IELTS 7. How long does a master's take there?",
                "How long does a master's take there?",
            ),
            (
                "fajar.ngr@gmail.com. s2 di uk brp lama kak?",
                "s2 di uk brp lama kak?",
            ),
            (
                "m.hartono@gmail.com - can students work part time in Australia?",
                "can students work part time in Australia?",
            ),
            ("ielts 6.5\nbiaya di uk berapa?", "biaya di uk berapa?"),
            // No one sentence asks: the whole message is the query.
            ("biaya di UK. berapa kak", "biaya di UK. berapa kak"),
            ("halo kak", "halo kak"),
        ] {
            assert_eq!(question_part(text, &topics, &questions), want, "{text}");
        }
    }
}

#[cfg(test)]
mod typo_tests {
    use super::country;

    #[test]
    fn misspelled_countries_are_read() {
        for (text, want) in [
            ("mau ke inggirs kak", "United Kingdom"),
            ("pengen kuliah di malaysa", "Malaysia"),
            ("rencana ke autralia", "Australia"),
            ("I want to study in Australa", "Australia"),
            ("kuliah di singapure", "Singapore"),
            ("mau S2 Jepang, inggris menengah", "Japan"),
        ] {
            assert_eq!(country(text).as_deref(), Some(want), "{text}");
        }
    }

    #[test]
    fn look_alike_words_are_not_countries() {
        for text in [
            "mau belanja dulu kak",
            "bahasa inggirs saya lumayan",
            "inggris menengah",
            "English is intermediate",
            "saya masih kuliah",
            "jadwalnya kamis",
            "sekalian tanya",
            "pendidikan",
        ] {
            assert_eq!(country(text), None, "{text}");
        }
    }
}

#[cfg(test)]
mod refusal_tests {
    use super::{ExtractContext, Pending, extract};
    use crate::config::flow::load::load_lexicon;
    use crate::flow::normalize::normalize;

    /// The fields a reply to the `pending` field question records as not given, read as the
    /// core reads it (after the shipped lexicon).
    fn unknown(text: &str, pending: &str) -> Vec<String> {
        let lexicon = load_lexicon(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("state-machines/lexicon.toml"),
        )
        .unwrap();
        let p = Pending::Field(pending.to_string());
        let ctx = ExtractContext {
            pending: Some(&p),
            current_year: 2026,
            opening: false,
        };
        extract(&normalize(text, &lexicon), ctx)
            .unknown
            .into_iter()
            .collect()
    }

    #[test]
    fn a_refusal_to_give_a_field_records_it_as_not_given() {
        for (text, field) in [
            ("I don't want to give my email", "email"),
            ("I do not want to share my budget", "budget"),
            ("gamau kasih email kak", "email"),
            ("nanti aja deh kak negaranya, blm mau sebut", "country"),
            ("I'll tell you later", "budget"),
            ("email ga usah ya kak, chat di sini aja", "email"),
            ("budgetnya gausah disebut ya", "budget"),
            ("I'd rather not say", "budget"),
        ] {
            assert_eq!(unknown(text, field), vec![field.to_string()], "{text}");
        }
    }

    #[test]
    fn wanting_or_not_wanting_something_else_is_no_refusal() {
        for (text, field) in [
            ("ga mau ke UK, maunya Australia", "country"),
            ("I don't want to study in the US", "country"),
            ("budget 300 juta, ga usah yang mahal", "budget"),
        ] {
            assert!(unknown(text, field).is_empty(), "{text}");
        }
    }
}
