//! Yes / no / unknown answers in Indonesian and English, for document questions, the booking
//! offer and slot confirmation.
//!
//! Fixes the seed's parser (§5.4), which matched substrings and checked "yes" words first:
//! "belum ada", "tidak ada", "gak punya" and "saya belum" were read as yes, "ga tau" as no. Here
//! matching is on whole words and the order is unknown → no → yes, so a negation always wins
//! over the "ada"/"punya" it negates. A question is never an answer: "ada beasiswa ga?" asks,
//! it does not say no (issue 13).

use serde::{Deserialize, Serialize};

use super::intents::{asks_by_words, is_question};
use super::text::{has_any, words};

/// A parsed answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum YesNo {
    /// "sudah", "ada", "iya", "ok"...
    Yes,
    /// "belum", "tidak ada", "gak punya", "not yet"...
    No,
    /// "ga tau", "mungkin", "not sure": answered, but neither.
    Unknown,
}

/// Phrases meaning "I don't know" (checked first).
pub const UNKNOWN_PHRASES: &[&str] = &[
    "ga tau",
    "gak tau",
    "ga tahu",
    "gak tahu",
    "gatau",
    "nggak tau",
    "nggak tahu",
    "ngga tau",
    "enggak tau",
    "tidak tahu",
    "tidak tau",
    "tdk tau",
    "belum tau",
    "belum tahu",
    "blm tau",
    "kurang tau",
    "kurang tahu",
    "entah",
    "mungkin",
    "lupa",
    "don t know",
    "dont know",
    "not sure",
    "no idea",
    "idk",
    "maybe",
    "dunno",
    "gtau",
    "gatw",
    "ga tw",
    "gak tw",
    "gk tau",
    "gk tw",
    "entahlah",
    "belum yakin",
    "blm yakin",
    "ragu",
    "unsure",
    "no clue",
    "not certain",
    "perhaps",
];

/// Phrases that look negative but agree ("gapapa", "no problem"): checked before [`NO_WORDS`].
pub const YES_DESPITE_NEGATION: &[&str] = &[
    "gapapa",
    "gpp",
    "ga papa",
    "gak papa",
    "nggak papa",
    "ngga papa",
    "ndak papa",
    "ga apa apa",
    "gak apa apa",
    "nggak apa apa",
    "tidak apa apa",
    "tak apa",
    "tak apa apa",
    "tak masalah",
    "ga masalah",
    "gak masalah",
    "nggak masalah",
    "tidak masalah",
    "tdk masalah",
    "no problem",
    "no prob",
    "no worries",
    "don t mind",
    "dont mind",
    "why not",
    "ga keberatan",
    "gak keberatan",
    "tidak keberatan",
];

/// Negative words (checked before the positive ones).
pub const NO_WORDS: &[&str] = &[
    "belum", "blm", "blom", "belom", "blum", "tidak", "tdk", "gak", "ga", "gk", "nggak", "ngga",
    "enggak", "engga", "ndak", "nda", "kagak", "kaga", "tak", "gaada", "gada", "gapunya", "bukan",
    "no", "nope", "nah", "not", "never", "none", "don t", "dont", "do not", "doesn t", "didn t",
    "haven t", "havent", "have not", "hasn t", "rencana", "nanti", "jangan", "batal",
];

/// Positive words.
pub const YES_WORDS: &[&str] = &[
    "sudah",
    "udah",
    "udh",
    "sdh",
    "dah",
    "ada",
    "punya",
    "yes",
    "iya",
    "iyaa",
    "ya",
    "yaa",
    "yap",
    "yup",
    "yoi",
    "siap",
    "ready",
    "done",
    "ok",
    "oke",
    "okay",
    "okey",
    "okee",
    "sip",
    "boleh",
    "mau",
    "bisa",
    "betul",
    "benar",
    "bener",
    "tentu",
    "pasti",
    "sure",
    "yeah",
    "yep",
    "setuju",
    "deal",
    "gas",
    "ayo",
    "yuk",
    "lengkap",
    "confirm",
    "konfirmasi",
    "yess",
    "yesss",
    "okk",
    "okeh",
    "of course",
    "absolutely",
    "definitely",
];

/// Agreeing to an offer ("sounds good", "perfect", "mantap"): a yes to the consultation, never
/// a yes to having a document (so [`parse_possession`] does not read them).
const AGREEMENT: &[&str] = &[
    "sounds good",
    "sounds great",
    "great",
    "perfect",
    "let s do it",
    "lets do it",
    "that works",
    "works for me",
    "alright",
    "all right",
    "mantap",
    "mantul",
];

/// Yes words that agree to an offer but say nothing about having something ("mau les IELTS"
/// is no IELTS certificate): [`parse_possession`] ignores them.
const OFFER_ONLY: &[&str] = &[
    "mau",
    "boleh",
    "bisa",
    "ayo",
    "yuk",
    "gas",
    "deal",
    "setuju",
    "confirm",
    "konfirmasi",
];

/// English "I have it" words, for [`parse_possession`] only ("I have my transcript"): in an
/// offer answer "I have to ask my parents" is no yes.
const HAVE_WORDS: &[&str] = &["have", "has", "got", "already", "i do", "attached", "ready"];

/// Parses a yes/no answer; `None` when the text holds no answer word at all, or when its words
/// make it a question ([`asks_by_words`]: "ada beasiswa ga", "konsultasinya bayar ga kak",
/// "is there a fee"). Order: question → unknown → agreeing negations ("gapapa") → no → yes.
///
/// Case- and punctuation-insensitive by contract (a property test holds it to that), so a
/// question mark alone does not make a question here: callers check [`is_question`] first, or
/// use [`parse_answer`], which does both.
///
/// ```
/// use ari::flow::yesno::{parse_yes_no, YesNo};
/// assert_eq!(parse_yes_no("belum ada"), Some(YesNo::No));
/// assert_eq!(parse_yes_no("iya"), Some(YesNo::Yes));
/// assert_eq!(parse_yes_no("ga tau"), Some(YesNo::Unknown));
/// assert_eq!(parse_yes_no("ada beasiswa ga"), None);
/// ```
pub fn parse_yes_no(text: &str) -> Option<YesNo> {
    if asks_by_words(text) {
        return None;
    }
    classify(&words(text))
}

/// "Not now" answers: a no for now, even with a "maybe" after it ("not right now, maybe after
/// I talk to my parents", "nanti dulu deh, mungkin bulan depan").
const NOT_NOW: &[&str] = &[
    "not right now",
    "not now",
    "not at the moment",
    "not for now",
    "maybe later",
    "next time",
    "nanti dulu",
    "lain kali",
    "nanti aja",
    "nanti saja",
    "belum dulu",
    "skip dulu",
];

fn classify(t: &[String]) -> Option<YesNo> {
    if has_any(t, NOT_NOW) {
        Some(YesNo::No)
    } else if has_any(t, UNKNOWN_PHRASES) {
        Some(YesNo::Unknown)
    } else if has_any(t, YES_DESPITE_NEGATION) {
        Some(YesNo::Yes)
    } else if has_any(t, NO_WORDS) {
        Some(YesNo::No)
    } else if has_any(t, YES_WORDS) || has_any(t, AGREEMENT) {
        Some(YesNo::Yes)
    } else {
        None
    }
}

/// [`parse_yes_no`] for a pending yes/no question: `None` for any question, including one
/// marked only by "?" ("ya?", "sudah?").
///
/// ```
/// use ari::flow::yesno::{parse_answer, YesNo};
/// assert_eq!(parse_answer("sudah?"), None);
/// assert_eq!(parse_answer("sudah"), Some(YesNo::Yes));
/// ```
pub fn parse_answer(text: &str) -> Option<YesNo> {
    if is_question(text) {
        return None;
    }
    parse_yes_no(text)
}

/// A document being made or out of date is no document yet ("lagi proses", "expired").
const NOT_YET_USABLE: &[&str] = &[
    "lagi proses",
    "sedang proses",
    "masih proses",
    "dalam proses",
    "lagi diproses",
    "sedang diproses",
    "lagi diurus",
    "sedang diurus",
    "masih diurus",
    "lagi bikin",
    "lagi dibuat",
    "in process",
    "in progress",
    "processing",
    "being processed",
    "expired",
    "kadaluarsa",
    "kedaluwarsa",
    "kadaluwarsa",
    "sudah mati",
    "udah mati",
];

/// Words opening a condition, not an answer: "before I say yes, ...", "kalau iya, ...".
const CONDITION_OPENERS: &[&str] = &[
    "before", "if", "unless", "sebelum", "kalau", "kalo", "klo", "jika",
];

/// `part` opens with a condition ("Before I say yes,"): it answers nothing by itself.
fn opens_a_condition(part: &str) -> bool {
    words(part)
        .first()
        .is_some_and(|w| CONDITION_OPENERS.contains(&w.as_str()))
}

/// The answer of the parts of `text` that ask nothing, and whether some part asks: "iya
/// boleh, kapan?" → `(Some(Yes), true)`, "konsultasinya bayar ga kak?" → `(None, true)`,
/// "cv? belum" → `(Some(No), true)`, "belum" → `(Some(No), false)`. Parts are split at
/// punctuation; for callers that want to act on a yes and answer the question too (where
/// [`parse_answer`] gives `None` for any question).
pub fn answer_and_question(text: &str) -> (Option<YesNo>, bool) {
    let mut asks = false;
    let mut plain = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let end = rest
            .find(['.', ',', ';', '!', '?', '\n'])
            .map_or(rest.len(), |i| i + 1);
        let part = &rest[..end];
        rest = &rest[end..];
        if words(part).is_empty() {
            if part.contains('?') {
                asks = true;
            }
            continue;
        }
        if is_question(part) {
            asks = true;
        } else if !opens_a_condition(part) {
            plain.push(part);
        }
    }
    let answer = (!plain.is_empty())
        .then(|| parse_yes_no(&plain.join(" ")))
        .flatten();
    (answer, asks)
}

/// Does the lead have something (a document)? [`parse_answer`], where English "I have / got /
/// already" say yes and offer words ("mau", "boleh", "bisa") do not: "I have my transcript"
/// is yes, "mau les IELTS dulu" is no answer.
///
/// ```
/// use ari::flow::yesno::{parse_possession, YesNo};
/// assert_eq!(parse_possession("I have my transcript"), Some(YesNo::Yes));
/// assert_eq!(parse_possession("I don't have a passport yet"), Some(YesNo::No));
/// assert_eq!(parse_possession("mau les IELTS dulu"), None);
/// ```
pub fn parse_possession(text: &str) -> Option<YesNo> {
    if is_question(text) {
        return None;
    }
    let t = words(text);
    if has_any(&t, NOT_YET_USABLE) {
        return Some(YesNo::No);
    }
    match classify(&t) {
        Some(YesNo::Yes) => {
            let agrees = YES_WORDS
                .iter()
                .filter(|w| !OFFER_ONLY.contains(w))
                .any(|w| super::text::has_phrase(&t, w))
                || has_any(&t, YES_DESPITE_NEGATION)
                || has_any(&t, HAVE_WORDS);
            agrees.then_some(YesNo::Yes)
        }
        None => has_any(&t, HAVE_WORDS).then_some(YesNo::Yes),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The seed's verified table (§5.4) with the corrected results.
    #[test]
    fn seed_table_corrected() {
        use YesNo::*;
        let cases: &[(&str, Option<YesNo>)] = &[
            ("udah ada", Some(Yes)),
            ("belum", Some(No)),
            ("mungkin", Some(Unknown)),
            ("tidak ada", Some(No)),
            ("belum ada", Some(No)),
            ("gak punya", Some(No)),
            ("saya belum", Some(No)),
            ("Ya", Some(Yes)),
            ("iya", Some(Yes)),
            ("nggak", Some(No)),
            ("no", Some(No)),
            ("blm", Some(No)),
            ("tdk", Some(No)),
            ("engga", Some(No)),
            ("ga tau", Some(Unknown)),
            ("not yet", Some(No)),
            ("nomor 1", None),
            ("ok", Some(Yes)),
            ("OKE siap", Some(Yes)),
            ("sudah", Some(Yes)),
            ("Punya kok", Some(Yes)),
            ("ada kak", Some(Yes)),
            ("ya sudah", Some(Yes)),
            ("mau kak", Some(Yes)),
            ("sip", Some(Yes)),
            ("boleh", Some(Yes)),
            ("masih rencana mau ambil", Some(No)),
            ("I don't know", Some(Unknown)),
            ("yes please", Some(Yes)),
            ("saya", None),
            ("selama ini", None),
        ];
        for (input, want) in cases {
            assert_eq!(parse_yes_no(input), *want, "input {input:?}");
        }
    }

    #[test]
    fn questions_are_no_answers() {
        for q in [
            "ada beasiswa ga",
            "ada beasiswa ga?",
            "konsultasinya bayar ga kak?",
            "perlu paspor nggak",
            "udah termasuk visa belum",
            "biayanya berapa ya",
            "boleh tanya dulu",
            "is there a fee",
            "do you have a scholarship",
            "can I ask something first",
            "how much is it",
            "bisakah online",
        ] {
            assert_eq!(parse_yes_no(q), None, "{q:?}");
            assert_eq!(parse_answer(q), None, "{q:?}");
        }
        // A question mark alone: parse_answer only (parse_yes_no ignores punctuation).
        assert_eq!(parse_answer("ya?"), None);
        assert_eq!(parse_yes_no("ya?"), Some(YesNo::Yes));
    }

    #[test]
    fn answers_in_both_languages() {
        use YesNo::*;
        let cases: &[(&str, YesNo)] = &[
            // Indonesian, incl. slang.
            ("udh kak", Yes),
            ("sdh ada", Yes),
            ("iya dong", Yes),
            ("gapapa kak", Yes),
            ("ga masalah", Yes),
            ("gak apa-apa kok", Yes),
            ("tidak apa apa", Yes),
            ("blom", No),
            ("belom ada kak", No),
            ("gaada", No),
            ("tak ada", No),
            ("kayaknya ga deh", No),
            ("saya ga", No),
            ("ga dulu deh kak", No),
            ("nanti dulu deh kak, mungkin bulan depan", No),
            ("lain kali aja kak", No),
            ("gatau ya", Unknown),
            ("belum yakin", Unknown),
            // English.
            ("yes", Yes),
            ("yess", Yes),
            ("sure", Yes),
            ("of course", Yes),
            ("no problem", Yes),
            ("I don't mind", Yes),
            ("nope", No),
            ("not right now thanks, maybe after i talk to my parents", No),
            ("maybe later", No),
            ("nah", No),
            ("I don't have one", No),
            ("haven't yet", No),
            ("not yet", No),
            ("no idea", Unknown),
            ("dunno", Unknown),
        ];
        for (input, want) in cases {
            assert_eq!(parse_answer(input), Some(*want), "{input:?}");
        }
    }

    #[test]
    fn answers_beside_questions() {
        use YesNo::*;
        let cases: &[(&str, (Option<YesNo>, bool))] = &[
            ("iya boleh, kapan?", (Some(Yes), true)),
            ("sure, when?", (Some(Yes), true)),
            ("cv? belum", (Some(No), true)),
            ("konsultasinya bayar ga kak?", (None, true)),
            ("ada beasiswa ga", (None, true)),
            ("belum", (Some(No), false)),
            ("ok. how long is it?", (Some(Yes), true)),
            ("mau kak", (Some(Yes), false)),
            ("1.5", (None, false)),
        ];
        for (input, want) in cases {
            assert_eq!(answer_and_question(input), *want, "{input:?}");
        }
    }

    #[test]
    fn possession_of_documents() {
        use YesNo::*;
        let cases: &[(&str, Option<YesNo>)] = &[
            ("Yes, I have my transcript", Some(Yes)),
            ("I have it", Some(Yes)),
            ("got it already", Some(Yes)),
            ("udah ada kak", Some(Yes)),
            ("punya", Some(Yes)),
            ("belum punya", Some(No)),
            ("I haven't", Some(No)),
            ("lagi proses kak", Some(No)),
            ("ada tapi expired", Some(No)),
            ("still in process", Some(No)),
            ("ga tau", Some(Unknown)),
            ("mau les IELTS dulu", None),
            ("boleh", None),
            ("perlu ga?", None),
            ("apa itu transkrip", None),
        ];
        for (input, want) in cases {
            assert_eq!(parse_possession(input), *want, "{input:?}");
        }
    }
}
