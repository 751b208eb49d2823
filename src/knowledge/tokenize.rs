//! The search tokenizer: lowercase, split on anything but letters and digits (punctuation is
//! dropped), drop Indonesian and English stop words, fold "-nya" ("biayanya" → "biaya"), map
//! topic synonyms to one concept token ("cost", "tuition", "biaya" → `biaya`) and countries to
//! one country token ("Inggris", "UK", "England" → `country:united_kingdom`).
//!
//! There is no Indonesian stemmer in Rust (crates.md §11), so the concept table carries the
//! cross-language matching. Countries match whole words only (seed §8 substring bugs).

use super::countries::{
    CASE_SENSITIVE_ALIASES, CITY_ALIASES, COUNTRY_ALIASES, LANGUAGE_WORDS, country_token,
};

/// Indonesian and English words that carry no topic (chat fillers included).
const STOP_WORDS: &[&str] = &[
    // Indonesian
    "yang",
    "di",
    "ke",
    "dari",
    "dan",
    "atau",
    "untuk",
    "utk",
    "dengan",
    "dgn",
    "ini",
    "itu",
    "apa",
    "apakah",
    "berapa",
    "berapakah",
    "bagaimana",
    "gimana",
    "gmn",
    "kak",
    "kakak",
    "ka",
    "dong",
    "donk",
    "sih",
    "ya",
    "yah",
    "aja",
    "saja",
    "ada",
    "adakah",
    "adalah",
    "mau",
    "ingin",
    "pengen",
    "pingin",
    "saya",
    "aku",
    "gue",
    "gw",
    "kami",
    "kita",
    "kamu",
    "anda",
    "bisa",
    "boleh",
    "tolong",
    "info",
    "informasi",
    "tanya",
    "nanya",
    "nih",
    "deh",
    "kah",
    "nya",
    "juga",
    "jg",
    "tentang",
    "soal",
    "mengenai",
    "kalau",
    "kalo",
    "klo",
    "akan",
    "sudah",
    "udah",
    "belum",
    "masih",
    "lagi",
    "buat",
    "bagi",
    "pada",
    "dalam",
    "oleh",
    "seperti",
    "ga",
    "gak",
    "tidak",
    "apa",
    "mana",
    "dimana",
    "kapan",
    "siapa",
    "kenapa",
    "mengapa",
    "halo",
    "hai",
    "hi",
    "min",
    "admin",
    "mohon",
    "terima",
    "kasih",
    "makasih",
    "thanks",
    "sama",
    "jadi",
    "tapi",
    "karena",
    "kuliah",
    "studi",
    "sekolah",
    "negara",
    "luar",
    "tuh",
    "kok",
    "banget",
    "bgt",
    "lah",
    "pun",
    "per",
    "se",
    "para",
    "tersebut",
    "harus",
    "perlu",
    "punya",
    "brp",
    "negeri",
    "aja",
    // English
    "the",
    "a",
    "an",
    "of",
    "to",
    "in",
    "for",
    "is",
    "are",
    "was",
    "were",
    "be",
    "what",
    "whats",
    "how",
    "which",
    "where",
    "when",
    "who",
    "why",
    "do",
    "does",
    "did",
    "i",
    "me",
    "my",
    "you",
    "your",
    "can",
    "could",
    "about",
    "and",
    "or",
    "on",
    "at",
    "with",
    "there",
    "any",
    "please",
    "tell",
    "us",
    "we",
    "it",
    "its",
    "much",
    "many",
    "some",
    "need",
    "study",
    "studying",
    "want",
    "would",
    "should",
    "shall",
    "will",
    "might",
    "look",
    "looks",
    "like",
    "know",
    "get",
    "from",
    "this",
    "that",
    "if",
    "abroad",
    "country",
];

/// Synonyms folded into one concept token, Indonesian and English alike.
const CONCEPTS: &[(&str, &[&str])] = &[
    (
        "biaya",
        &[
            "biaya",
            "cost",
            "costs",
            "tuition",
            "fee",
            "fees",
            "harga",
            "price",
            "prices",
            "mahal",
            "murah",
            "tarif",
            "spp",
            "ukt",
            "budget",
            "expensive",
            "cheap",
            "afford",
            "dana",
        ],
    ),
    ("hidup", &["hidup", "living", "sehari"]),
    (
        "syarat",
        &[
            "syarat",
            "persyaratan",
            "requirement",
            "requirements",
            "require",
            "required",
            "kriteria",
            "criteria",
            "minimal",
            "minimum",
            "ketentuan",
            "prerequisite",
            "eligibility",
            "eligible",
        ],
    ),
    (
        "beasiswa",
        &[
            "beasiswa",
            "scholarship",
            "scholarships",
            "funding",
            "funded",
            "bursary",
            "grant",
            "grants",
            "fellowship",
        ],
    ),
    (
        "kampus",
        &[
            "kampus",
            "universitas",
            "university",
            "universities",
            "univ",
            "uni",
            "college",
            "institut",
            "institute",
            "perguruan",
        ],
    ),
    (
        "jurusan",
        &[
            "jurusan",
            "program",
            "programs",
            "programme",
            "programmes",
            "major",
            "majors",
            "prodi",
            "course",
            "courses",
        ],
    ),
    (
        "visa",
        &["visa", "permit", "izin", "ijin", "imigrasi", "immigration"],
    ),
    (
        "daftar",
        &[
            "daftar",
            "pendaftaran",
            "mendaftar",
            "apply",
            "application",
            "applications",
            "admission",
            "admissions",
            "deadline",
            "deadlines",
            "tenggat",
            "intake",
            "enrol",
            "enroll",
        ],
    ),
    (
        "kerja",
        &[
            "kerja", "bekerja", "work", "working", "job", "jobs", "parttime",
        ],
    ),
    (
        "konsultasi",
        &[
            "konsultasi",
            "consultation",
            "konsultan",
            "consultant",
            "layanan",
            "jasa",
            "service",
            "services",
            "paket",
            "package",
            "agen",
            "agent",
        ],
    ),
    (
        "akomodasi",
        &[
            "akomodasi",
            "accommodation",
            "housing",
            "asrama",
            "dorm",
            "kos",
            "kost",
            "tinggal",
        ],
    ),
    (
        "s1",
        &[
            "s1",
            "sarjana",
            "bachelor",
            "bachelors",
            "undergraduate",
            "undergrad",
        ],
    ),
    (
        "s2",
        &[
            "s2",
            "master",
            "masters",
            "magister",
            "postgraduate",
            "pascasarjana",
            "msc",
        ],
    ),
    ("s3", &["s3", "phd", "doktor", "doctoral", "doctorate"]),
    ("gratis", &["gratis", "free", "bebas"]),
    ("ipk", &["ipk", "gpa", "nilai", "grade", "grades"]),
    ("ielts", &["ielts", "toefl", "pte", "duolingo"]),
    ("bahasa", &["bahasa", "language", "english"]),
];

/// Whether `token` is one of the concept tokens ("biaya", "kampus", "ielts").
pub fn is_concept(token: &str) -> bool {
    CONCEPTS.iter().any(|(c, _)| *c == token)
}

fn concept(word: &str) -> Option<&'static str> {
    CONCEPTS
        .iter()
        .find(|(_, ws)| ws.contains(&word))
        .map(|(c, _)| *c)
}

/// English nationality adjectives → canonical country, for search only ("a German master's",
/// "Australian universities"); not in [`COUNTRY_ALIASES`], which the flow's extractor shares:
/// "my Japanese is basic" names no destination.
const NATIONALITIES: &[(&str, &str)] = &[
    ("american", "United States"),
    ("australian", "Australia"),
    ("canadian", "Canada"),
    ("german", "Germany"),
    ("dutch", "Netherlands"),
    ("french", "France"),
    ("irish", "Ireland"),
    ("japanese", "Japan"),
    ("korean", "South Korea"),
    ("chinese", "China"),
    ("malaysian", "Malaysia"),
    ("singaporean", "Singapore"),
    ("swedish", "Sweden"),
    ("turkish", "Turkey"),
    ("taiwanese", "Taiwan"),
];

/// "biayanya" → "biaya", "syaratnya" → "syarat" (words of 6+ letters only: "punya", "tanya").
fn fold_nya(word: &str) -> &str {
    match word.strip_suffix("nya") {
        Some(stem) if stem.chars().count() >= 3 => stem,
        _ => word,
    }
}

/// Tokenizes `text` for indexing and querying alike. Never panics.
pub fn tokenize(text: &str) -> Vec<String> {
    let original: Vec<String> = text
        .chars()
        .filter(|c| !matches!(c, '\'' | '’'))
        .collect::<String>()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect();
    let lower: Vec<String> = original.iter().map(|w| w.to_lowercase()).collect();
    let mut out = Vec::new();
    let mut i = 0;
    'outer: while i < lower.len() {
        if let Some((_, c)) = CASE_SENSITIVE_ALIASES
            .iter()
            .find(|(a, _)| *a == original[i])
        {
            out.push(country_token(c));
            i += 1;
            continue;
        }
        // "bahasa Inggris" is the language, not the UK.
        if i > 0 && lower[i - 1] == "bahasa" && LANGUAGE_WORDS.contains(&lower[i].as_str()) {
            out.push(lower[i].clone());
            i += 1;
            continue;
        }
        for len in (1..=3).rev() {
            if i + len > lower.len() {
                continue;
            }
            let phrase = lower[i..i + len].join(" ");
            if let Some((_, c)) = COUNTRY_ALIASES.iter().find(|(a, _)| *a == phrase) {
                out.push(country_token(c));
                i += len;
                continue 'outer;
            }
            if let Some((a, c)) = CITY_ALIASES.iter().find(|(a, _)| *a == phrase) {
                out.push(a.replace(' ', "_"));
                out.push(country_token(c));
                i += len;
                continue 'outer;
            }
        }
        // "a German master's" is about Germany; "bahasa Jerman" was read above as the language.
        if let Some((_, c)) = NATIONALITIES.iter().find(|(a, _)| *a == lower[i]) {
            out.push(country_token(c));
            i += 1;
            continue;
        }
        let w = fold_nya(&lower[i]);
        i += 1;
        if STOP_WORDS.contains(&w) {
            continue;
        }
        match concept(w) {
            Some(c) => out.push(c.to_string()),
            None => out.push(w.to_string()),
        }
    }
    out
}

/// The country tokens in `text` (to tell whether a query names a country).
pub fn countries_in(text: &str) -> Vec<String> {
    tokenize(text)
        .into_iter()
        .filter(|t| t.starts_with("country:"))
        .collect()
}

/// The tokenizer handed to the `bm25` crate.
#[derive(Debug, Clone, Copy, Default)]
pub struct KbTokenizer;

impl bm25::Tokenizer for KbTokenizer {
    fn tokenize(&self, input_text: &str) -> Vec<String> {
        tokenize(input_text)
    }
}
