//! Learning lead fields from chat, rule-based, Indonesian and English.
//!
//! The seed never extracted anything from chat (§12.5): a WhatsApp-only lead scored 5 forever.
//! This module reads name, email, English level, budget, timeline, destination country,
//! program and activity out of one turn's text, plus "I cannot tell you" answers and document
//! yes/no answers. Matching is on whole words (or anchored regexes), never substrings: the
//! seed's "us" inside "Australia" and "au" inside "mau" are regression tests below.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::LazyLock;

use regex::Regex;
use serde::{Deserialize, Serialize};

use super::text::{find_phrase, has_any, has_phrase, words};
use super::yesno::{YesNo, parse_yes_no};

/// The named extraction rules, as traces and `ari test --coverage` name them.
/// Each reads one kind of thing: `field.<key>` a field's value, `unknown_answer` a "don't
/// know" for a field, `document_answer` a yes/no for a document.
pub const RULES: &[&str] = &[
    "field.name",
    "field.email",
    "field.english_level",
    "field.budget",
    "field.timeline",
    "field.country",
    "field.program",
    "field.activity",
    "unknown_answer",
    "document_answer",
];

/// What one turn's text taught us.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Extracted {
    /// Field key → normalized value (keys from `config::flow::KNOWN_FIELDS`).
    pub fields: BTreeMap<String, String>,
    /// Fields the lead cannot or will not give ("belum tau", "rahasia").
    pub unknown: BTreeSet<String>,
    /// Document key → answer, for documents named in the text or the pending document.
    pub documents: BTreeMap<String, YesNo>,
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
                field => field
                    .strip_prefix("field.")
                    .is_some_and(|k| self.fields.contains_key(k)),
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

static EMAIL: LazyLock<Regex> =
    LazyLock::new(|| re(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"));

static NAME_INTRO: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?i)\b(?:nama\s+(?:saya|aku|gue|gw|ku|lengkap\s+saya|lengkapku)|namaku|nama\s+lengkap|my\s+name\s+is|panggil\s+(?:saja|aja)|saya\s+dengan|aku\s+dengan|dengan\s+kak)\s*(?:adalah\s+|is\s+|:\s*)?([\p{L}'][\p{L}'.]*(?:\s+[\p{L}'][\p{L}'.]*){0,3})",
    )
});
static NAME_CAPITALIZED: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?:^|[\s,.!])(?:[Ss]aya|[Aa]ku|I'm|I am|[Ii]m|[Tt]his is|[Ii]ni)\s+(\p{Lu}[\p{L}']+(?:\s+\p{Lu}[\p{L}']+){0,3})",
    )
});
static NAME_LOWER_WHOLE: LazyLock<Regex> =
    LazyLock::new(|| re(r"(?i)^\s*(?:saya|aku)\s+([\p{L}']+(?:\s+[\p{L}']+)?)\s*[.!]?\s*$"));

static TEST_SCORE: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?i)\b(ielts|toefl(?:\s+(?:ibt|itp|pbt))?|toeic|duolingo|det|pte)\b\D{0,20}?(\d{1,3}(?:[.,]\d{1,2})?)\b",
    )
});
static BARE_SCORE: LazyLock<Regex> =
    LazyLock::new(|| re(r"(?i)\b(skor|score|band|nilai)\s*(?:saya\s+)?(\d(?:[.,]\d)?)\b"));
static CEFR: LazyLock<Regex> = LazyLock::new(|| re(r"(?i)\b([abc][12])\b"));

static BUDGET_UNIT: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?i)(?:\b(rp\.?|idr)\s*)?\b(\d{1,4}(?:[.,]\d{1,3})?)\s*(juta|jt|jutaan|miliar|milyar|m|rb|ribu|k)\b",
    )
});
static BUDGET_RUPIAH_DIGITS: LazyLock<Regex> =
    LazyLock::new(|| re(r"(?i)\b(?:rp\.?|idr)\s*(\d{1,3}(?:[.,]\d{3}){2,})\b"));
static BUDGET_FOREIGN: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?i)(?:\b(aud|usd|gbp|eur|sgd|cad|nzd|myr|jpy|krw)|(a\$|us\$|\$|£|€))\s*(\d{1,3}(?:[.,]?\d{3})*(?:[.,]\d+)?)\s*(k|rb|ribu|juta|jt)?\b",
    )
});

static TIMELINE_RELATIVE: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?i)\b(?:(?:dalam|in)\s+)?(\d{1,2}|satu|dua|tiga|empat|lima|one|two|three|four|five)\s*(tahun|thn|bulan|bln|years?|months?)\s*(lagi|ke\s*depan|from\s+now)\b|\b(?:dalam|in)\s+(\d{1,2}|satu|dua|tiga|empat|lima|one|two|three|four|five)\s*(tahun|thn|bulan|bln|years?|months?)\b",
    )
});
static TIMELINE_WORDS: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?i)\b(setahun\s+lagi|sebulan\s+lagi|(?:tahun|bulan|semester)\s+(?:depan|ini)|semester\s+(?:ganjil|genap)|(?:next|this)\s+(?:year|month|semester|intake)|secepatnya|asap|as\s+soon\s+as\s+possible)\b",
    )
});
static TIMELINE_MONTH_YEAR: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?i)\b((?:januari|februari|maret|april|mei|juni|juli|agustus|september|oktober|november|desember|january|february|march|may|june|july|august|october|december|jan|feb|mar|apr|jun|jul|agu|aug|sep|sept|okt|oct|nov|des|dec|fall|autumn|spring|summer|winter|intake)\s+(20\d{2}))\b",
    )
});
static YEAR: LazyLock<Regex> = LazyLock::new(|| re(r"\b(20\d{2})\b"));

static DEGREE: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?i)\b(s1|s2|s3|d3|d4|sarjana|magister|masters?|mba|phd|doktor|doctoral|doctorate|bachelor|bachelors|undergraduate|postgraduate|pascasarjana|diploma|foundation)\b",
    )
});
static MAJOR: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?i)\b(?:jurusan|prodi|program\s+studi|major(?:ing)?\s+in|bidang|ambil)\s+([\p{L}&]+(?:\s+[\p{L}&]+){0,2})",
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
];

/// Phrases meaning "I can't / won't tell" for a field.
const FIELD_UNKNOWN: &[&str] = &[
    "belum tau",
    "belum tahu",
    "ga tau",
    "gak tau",
    "ga tahu",
    "gak tahu",
    "nggak tau",
    "nggak tahu",
    "tidak tahu",
    "tidak tau",
    "kurang tau",
    "kurang tahu",
    "gatau",
    "belum ada",
    "tidak ada",
    "gak ada",
    "ga ada",
    "belum kepikiran",
    "belum pasti",
    "belum jelas",
    "belum yakin",
    "masih bingung",
    "rahasia",
    "privasi",
    "ga mau kasih",
    "gak mau kasih",
    "tidak mau kasih",
    "skip",
    "lewat",
    "don t know",
    "dont know",
    "not sure",
    "no idea",
    "idk",
    "prefer not",
    "rather not",
    "undecided",
    "terserah",
];

/// Words in a message that point an "I don't know" at a specific field.
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
        ],
    ),
    ("country", &["negara", "negaranya", "country", "tujuan"]),
    ("english_level", &["ielts", "toefl", "inggris", "english"]),
    ("email", &["email", "e mail", "surel"]),
];

/// Words that name a document ("paspor sudah ada" answers the passport question).
const DOCUMENT_CUES: &[(&str, &[&str])] = &[
    ("passport", &["paspor", "passport", "pasport"]),
    ("cv", &["cv", "resume", "curriculum vitae", "riwayat hidup"]),
    (
        "english_test",
        &[
            "sertifikat ielts",
            "skor ielts",
            "sertifikat toefl",
            "skor toefl",
            "tes bahasa",
            "english test",
            "hasil ielts",
            "hasil toefl",
        ],
    ),
    (
        "transcript",
        &["transkrip", "transcript", "transkip", "ijazah", "rapor"],
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
}

/// Extracts everything one turn's text says about the lead. Pure; never panics.
pub fn extract(text: &str, ctx: ExtractContext<'_>) -> Extracted {
    let mut out = Extracted::default();
    let tokens = words(text);
    let pending_field = match ctx.pending {
        Some(Pending::Field(f)) => Some(f.as_str()),
        _ => None,
    };
    let mut put = |k: &str, v: Option<String>| {
        if let Some(v) = v.filter(|v| !v.trim().is_empty()) {
            out.fields.insert(k.to_string(), v);
        }
    };
    put("email", email(text));
    put("name", name(text, pending_field == Some("name")));
    put(
        "english_level",
        english_level(text, &tokens, pending_field == Some("english_level")),
    );
    put("budget", budget(text));
    put("timeline", timeline(text, ctx.current_year));
    put("country", country(text));
    put("program", program(text));
    put("activity", activity(text));

    // "I can't tell you": names a field, or answers the pending field question.
    if has_any(&tokens, FIELD_UNKNOWN) {
        let cued: Vec<&str> = FIELD_CUES
            .iter()
            .filter(|(_, cues)| has_any(&tokens, cues))
            .map(|(k, _)| *k)
            .collect();
        let targets: Vec<&str> = if cued.is_empty() {
            pending_field.into_iter().collect()
        } else {
            cued
        };
        for t in targets {
            if !out.fields.contains_key(t) {
                out.unknown.insert(t.to_string());
            }
        }
    }

    out.documents = documents(text, ctx.pending);
    out
}

fn email(text: &str) -> Option<String> {
    EMAIL.find(text).map(|m| m.as_str().to_lowercase())
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

fn name(text: &str, pending: bool) -> Option<String> {
    if let Some(c) = NAME_INTRO.captures(text)
        && let Some(n) = clean_name(&c[1])
    {
        return Some(n);
    }
    if let Some(c) = NAME_CAPITALIZED.captures(text)
        && let Some(n) = clean_name(&c[1])
    {
        return Some(n);
    }
    if let Some(c) = NAME_LOWER_WHOLE.captures(text)
        && let Some(n) = clean_name(&c[1])
    {
        return Some(n);
    }
    if pending {
        // A bare answer to "Boleh tau nama lengkapnya?": 1-4 words, letters only.
        let t = text.trim().trim_end_matches(['.', '!', ' ']);
        let ws: Vec<&str> = t.split_whitespace().collect();
        let letters_only = t
            .chars()
            .all(|c| c.is_alphabetic() || c == ' ' || c == '\'');
        if (1..=4).contains(&ws.len()) && letters_only && parse_yes_no(t).is_none() {
            let n = clean_name(t)?;
            if n.split_whitespace().count() == ws.len() {
                return Some(n);
            }
        }
    }
    None
}

fn english_level(text: &str, tokens: &[String], pending: bool) -> Option<String> {
    if let Some(c) = TEST_SCORE.captures(text) {
        let test = c[1].split_whitespace().collect::<Vec<_>>().join(" ");
        let test = match test.to_lowercase().as_str() {
            "duolingo" | "det" => "Duolingo".to_string(),
            _ => test.to_uppercase(),
        };
        return Some(format!("{test} {}", c[2].replace(',', ".")));
    }
    if let Some(c) = BARE_SCORE.captures(text)
        && (pending
            || has_any(tokens, &["inggris", "english", "bahasa"])
            || c[1].eq_ignore_ascii_case("skor")
            || c[1].eq_ignore_ascii_case("score"))
    {
        return Some(format!(
            "{} {}",
            c[1].to_lowercase(),
            c[2].replace(',', ".")
        ));
    }
    let context = pending || has_any(tokens, &["inggris", "english", "bahasa", "ielts", "toefl"]);
    let cefr: Vec<String> = CEFR
        .captures_iter(text)
        .map(|c| c[1].to_uppercase())
        .collect();
    if !cefr.is_empty() && context {
        return Some(cefr.join("/"));
    }
    if context {
        let levels: &[(&[&str], &str)] = &[
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
                ],
                "pemula",
            ),
        ];
        for (ws, level) in levels {
            if has_any(tokens, ws) {
                return Some((*level).to_string());
            }
        }
    }
    None
}

fn budget(text: &str) -> Option<String> {
    if let Some(c) = BUDGET_FOREIGN.captures(text) {
        let cur = c
            .get(1)
            .map(|m| m.as_str().to_uppercase())
            .or_else(|| c.get(2).map(|m| m.as_str().to_uppercase()))
            .unwrap_or_default();
        let suffix = c
            .get(4)
            .map(|m| m.as_str().to_lowercase())
            .unwrap_or_default();
        let sep = if cur.ends_with('$') || cur == "£" || cur == "€" {
            ""
        } else {
            " "
        };
        return Some(format!("{cur}{sep}{}{suffix}", &c[3]));
    }
    if let Some(c) = BUDGET_UNIT.captures(text) {
        let unit = match c[3].to_lowercase().as_str() {
            "juta" | "jt" | "jutaan" => "juta",
            "miliar" | "milyar" | "m" => "miliar",
            "rb" | "ribu" | "k" => "ribu",
            _ => "juta",
        };
        let prefix = if c.get(1).is_some() { "Rp " } else { "" };
        return Some(format!("{prefix}{} {unit}", &c[2]));
    }
    BUDGET_RUPIAH_DIGITS
        .captures(text)
        .map(|c| format!("Rp {}", &c[1]))
}

fn timeline(text: &str, current_year: i32) -> Option<String> {
    let lower = text.to_lowercase();
    if let Some(m) = TIMELINE_RELATIVE.find(&lower) {
        return Some(m.as_str().trim().to_string());
    }
    if let Some(m) = TIMELINE_MONTH_YEAR.find(&lower) {
        return Some(m.as_str().trim().to_string());
    }
    if let Some(m) = TIMELINE_WORDS.find(&lower) {
        return Some(m.as_str().trim().to_string());
    }
    YEAR.captures_iter(&lower)
        .filter_map(|c| c[1].parse::<i32>().ok())
        .find(|y| (current_year..=current_year + 15).contains(y))
        .map(|y| y.to_string())
}

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
    for (alias, canonical) in CASE_SENSITIVE_COUNTRIES {
        if let Some(at) = original.iter().rposition(|w| w == alias)
            && best.is_none_or(|(p, _, _)| at > p)
        {
            best = Some((at, 1, canonical));
        }
    }
    best.map(|(_, _, c)| c.to_string())
}

/// Canonical country for a whole value ("Inggris" → "United Kingdom"); unknown values as given.
pub fn normalize_country(value: &str) -> String {
    let t = words(value);
    COUNTRIES
        .iter()
        .find(|(alias, _)| words(alias) == t)
        .map(|(_, c)| (*c).to_string())
        .unwrap_or_else(|| value.trim().to_string())
}

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
    let major = MAJOR.captures(text).and_then(|c| {
        let stop = [
            "di", "ke", "yang", "dan", "kak", "ya", "tahun", "dengan", "untuk", "atau", "s1", "s2",
            "s3", "in", "at", "the", "budget", "tapi", "sih", "dong", "nih",
        ];
        let kept: Vec<&str> = c[1]
            .split_whitespace()
            .take_while(|w| !stop.contains(&w.to_lowercase().as_str()))
            .collect();
        let major = kept.join(" ");
        (!kept.is_empty()
            && DEGREE
                .find(&major)
                .is_none_or(|m| m.as_str().len() != major.len()))
        .then_some(major)
    });
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

/// Document answers: for each clause naming a document, that document gets the clause's
/// yes/no; if no document is named, the pending document gets the whole text's yes/no.
fn documents(text: &str, pending: Option<&Pending>) -> BTreeMap<String, YesNo> {
    let mut out = BTreeMap::new();
    for clause in clauses(text) {
        let t = words(&clause);
        let named: Vec<&str> = DOCUMENT_CUES
            .iter()
            .filter(|(_, cues)| has_any(&t, cues))
            .map(|(k, _)| *k)
            .collect();
        if named.is_empty() {
            continue;
        }
        if let Some(yn) = parse_yes_no(&clause) {
            for k in named {
                out.insert(k.to_string(), yn);
            }
        }
    }
    if out.is_empty()
        && let Some(Pending::Document(k)) = pending
        && let Some(yn) = parse_yes_no(text)
    {
        out.insert(k.clone(), yn);
    }
    out
}

/// Splits on punctuation and contrast words ("paspor sudah, tapi cv belum").
fn clauses(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for part in text.split([',', ';', '.', '!', '?', '\n']) {
        let mut cur: Vec<&str> = Vec::new();
        for w in part.split_whitespace() {
            let lw = w.to_lowercase();
            if matches!(
                lw.as_str(),
                "tapi" | "but" | "sedangkan" | "kalau" | "kalo" | "namun"
            ) && !cur.is_empty()
            {
                out.push(cur.join(" "));
                cur.clear();
            } else {
                cur.push(w);
            }
        }
        if !cur.is_empty() {
            out.push(cur.join(" "));
        }
    }
    out
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
    topics.iter().any(|p| has_phrase(&t, p))
        && (text.contains('?') || question_words.iter().any(|q| has_phrase(&t, q)))
}
