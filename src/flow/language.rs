//! The lead's language (DESIGN.md "Understanding a lead", step 1).
//!
//! A conversation has one language, `id` or `en` (the languages the flow has texts in). It is
//! detected from the lead's words with `lingua`, limited to English, Indonesian and Malay
//! (Malay counts as Indonesian: informal Indonesian often scores as Malay). `lingua` labels
//! short slang ("budget aku 300jt", "mksh kak") as English, so a message decides only when it
//! is long enough and the detector is confident; otherwise the conversation keeps its language
//! (the workspace's `persona.language` until something decides). An explicit request ("can you
//! reply in English", "pakai bahasa Indonesia aja") switches at once.

use std::sync::LazyLock;

use lingua::{Language, LanguageDetector, LanguageDetectorBuilder};
use regex::Regex;

/// A message decides the language only with at least this many letters...
pub const MIN_LETTERS: usize = 12;
/// ...and this many words...
pub const MIN_WORDS: usize = 3;
/// ...and when the detector gives the winning language at least this share of confidence.
pub const MIN_CONFIDENCE: f64 = 0.7;

static DETECTOR: LazyLock<LanguageDetector> = LazyLock::new(|| {
    LanguageDetectorBuilder::from_languages(&[
        Language::English,
        Language::Indonesian,
        Language::Malay,
    ])
    .build()
});

#[allow(clippy::expect_used)]
fn re(pattern: &str) -> Regex {
    Regex::new(pattern).expect("static regex")
}

/// "Reply in English", "English please", "I don't speak Indonesian", "pakai bahasa Inggris".
static ASKS_ENGLISH: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?i)\b(?:(?:reply|respond|answer|talk|speak|write|text|chat|continue|communicate|explain|use)\w*\b[^.?!]{0,25}\b(?:in\s+)?english|in\s+english\s*(?:please|pls|plz)?\s*[?!.]*\s*$|english\s+(?:please|pls|plz)|(?:switch|change)\w*\s+(?:(?:the\s+)?(?:chat|language|conversation|it)\s+)?to\s+english|(?:don'?t|do\s+not|can'?t|cannot)\s+(?:speak|understand|read)\s+(?:bahasa|indonesian)|(?:pakai|pake|gunakan|pakek|bales|balas|jawab|ngomong|bicara)\s+(?:bahasa\s+)?(?:inggris|english)|bahasa\s+inggris\s+(?:aja|saja|dong|ya)\b)",
    )
});

/// "Pakai bahasa Indonesia aja", "bahasa Indonesia dong", "reply in Indonesian".
static ASKS_INDONESIAN: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?i)\b(?:(?:pakai|pake|pakek|gunakan|bales|balas|jawab|ngomong|bicara|chat|chatnya)\s+(?:bahasa\s+)?indo(?:nesia)?|bahasa\s+indo(?:nesia)?\s+(?:aja|saja|dong|ya|please|pls|instead)|(?:reply|respond|answer|talk|speak|write|continue|use|chat|text|switch|communicate|go)\w*\b[^.?!]{0,25}\b(?:in\s+|to\s+)?(?:indonesian|bahasa(?:\s+indonesia)?)\b|\bin\s+(?:indonesian|bahasa(?:\s+indonesia)?)\s+(?:please|pls|instead))",
    )
});

/// The language the lead explicitly asks the bot to use, among `configured`.
pub fn requested(text: &str, configured: &[String]) -> Option<String> {
    // "I don't speak bahasa" mentions Indonesian but asks for English: English is checked first.
    let wanted = if ASKS_ENGLISH.is_match(text) {
        "en"
    } else if ASKS_INDONESIAN.is_match(text) {
        "id"
    } else {
        return None;
    };
    configured
        .iter()
        .any(|c| c == wanted)
        .then(|| wanted.to_string())
}

/// `text` without its sentences that ask for a language ("could we switch to English
/// please?"): what is left is read for questions, so a request is not a question about
/// English.
pub fn without_requests(text: &str, configured: &[String]) -> String {
    text.split_inclusive(['.', '?', '!', '\n'])
        .filter(|sentence| requested(sentence, configured).is_none())
        .collect()
}

/// The language `text` is confidently written in, among `configured`; `None` when the text is
/// too short or the detector is unsure.
pub fn detect(text: &str, configured: &[String]) -> Option<String> {
    let text = &common_words(text);
    let letters = text.chars().filter(|c| c.is_alphabetic()).count();
    let words = text
        .split_whitespace()
        .filter(|w| w.chars().any(char::is_alphabetic))
        .count();
    if letters < MIN_LETTERS || words < MIN_WORDS {
        return short_message_language(text).filter(|l| configured.iter().any(|c| c == l));
    }
    let mut indonesian = 0.0;
    let mut english = 0.0;
    for (language, confidence) in DETECTOR.compute_language_confidence_values(text) {
        match language {
            Language::English => english += confidence,
            Language::Indonesian | Language::Malay => indonesian += confidence,
        }
    }
    let (code, confidence) = if english >= indonesian {
        ("en", english)
    } else {
        ("id", indonesian)
    };
    // Indonesian written with English words ("budget nya around 900jt all in kak") reads as
    // English to the detector; its Indonesian function words say otherwise.
    let code = match (code, indonesian_markers(text)) {
        ("en", 0) => "en",
        ("en", 1) => return None,
        ("en", _) => "id",
        (other, _) => other,
    };
    (confidence >= MIN_CONFIDENCE && configured.iter().any(|c| c == code)).then(|| code.to_string())
}

/// How many of `text`'s words are Indonesian function or chat words no English sentence uses
/// ([`INDONESIAN_WORDS`], [`INDONESIAN_CHAT_WORDS`], the "-nya" suffix).
fn indonesian_markers(text: &str) -> usize {
    text.split_whitespace()
        .map(|w| {
            w.trim_matches(|c: char| !c.is_alphanumeric())
                .to_lowercase()
        })
        .filter(|w| {
            INDONESIAN_WORDS.contains(&w.as_str())
                || INDONESIAN_CHAT_WORDS.contains(&w.as_str())
                || (w.len() > 5 && w.ends_with("nya"))
        })
        .count()
}

/// Chat words of Indonesian (slang and short forms) that mark a mixed message as Indonesian.
const INDONESIAN_CHAT_WORDS: &[&str] = &[
    "nya", "aja", "udah", "udh", "blm", "bgt", "banget", "gak", "ga", "nggak", "gk", "yg", "gw",
    "gue", "deh", "yaa", "dgn", "sm", "sama", "kalo", "tp", "tapi", "jg", "krn", "soalnya", "lagi",
    "pengen", "pingin",
];

/// The words a language is read from: names, places and test names ("Kevin Wijaya",
/// "Australia", "IELTS": capitalised words after the first), numbers, emails and URLs say
/// nothing about the language and mislead the detector, so they are left out.
fn common_words(text: &str) -> String {
    text.split_whitespace()
        .enumerate()
        .filter(|(i, w)| {
            let bare = w.trim_matches(|c: char| !c.is_alphanumeric() && c != '\'');
            let proper = *i > 0
                && bare.chars().next().is_some_and(char::is_uppercase)
                && bare != "I"
                && !bare.starts_with("I'");
            !proper
                && !bare.is_empty()
                && !bare.chars().any(|c| c.is_ascii_digit())
                && !w.contains('@')
                && !w.contains("://")
        })
        .map(|(_, w)| w)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Function words only one of the two languages uses, for messages too short for the
/// detector ("Hi, I'm Bryan", "yes, CV is ready", "saya ada kak").
const ENGLISH_WORDS: &[&str] = &[
    "i", "i'm", "im", "my", "me", "the", "is", "are", "am", "you", "your", "please", "thanks",
    "thank", "hi", "hello", "yes", "no", "what", "how", "can", "do", "does", "have", "has", "want",
    "would", "and", "to", "of", "for", "with", "it's", "not", "yet", "sure",
];
const INDONESIAN_WORDS: &[&str] = &[
    "saya",
    "aku",
    "kak",
    "mau",
    "ada",
    "yang",
    "dan",
    "ini",
    "itu",
    "dong",
    "ya",
    "tidak",
    "belum",
    "sudah",
    "halo",
    "terima",
    "kasih",
    "apa",
    "berapa",
    "kalau",
    "bisa",
    "boleh",
    "dengan",
    "untuk",
    "dari",
    "juga",
    "saja",
    "sih",
    "nih",
    "kok",
    "gimana",
    "bagaimana",
];

/// A short message's language by its function words: decided only when one language has at
/// least two more of them than the other.
fn short_message_language(text: &str) -> Option<String> {
    let mut en = 0i32;
    let mut id = 0i32;
    for w in text.split_whitespace() {
        let w = w
            .trim_matches(|c: char| !c.is_alphanumeric() && c != '\'')
            .to_lowercase();
        en += i32::from(ENGLISH_WORDS.contains(&w.as_str()));
        id += i32::from(INDONESIAN_WORDS.contains(&w.as_str()));
    }
    match en - id {
        d if d >= 2 => Some("en".into()),
        d if d <= -2 => Some("id".into()),
        _ => None,
    }
}

/// While nothing has decided the language, short messages lean it ([`lean`]): the first
/// message's lean is the greeting's language ("Hi there" is greeted in English); later, a
/// lean away from the current language switches it only on the second such message in a row
/// (a lone "yes" in an Indonesian chat is no switch), without settling.
fn lean_unsettled(state: &mut LanguageState, text: &str, configured: &[String]) {
    let Some(l) = lean(text).filter(|l| configured.iter().any(|c| c == l)) else {
        return;
    };
    let agrees = state.current.is_none() || state.current.as_ref() == Some(&l);
    if agrees || state.challenger.as_ref() == Some(&l) {
        state.current = Some(l);
        state.challenger = None;
    } else {
        state.challenger = Some(l);
    }
}

/// Words that lean a short message to English while nothing has decided the language: the
/// [`ENGLISH_WORDS`] but the greetings and "no" Indonesian chat uses as well ("hi kak",
/// "hello"), and day and time words.
const LEANING_ENGLISH: &[&str] = &[
    "there",
    "morning",
    "afternoon",
    "evening",
    "tomorrow",
    "today",
    "week",
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
    "yeah",
    "yep",
    "great",
    "fine",
    "cool",
    "okay",
    "thx",
    "ty",
];

/// The language a message too short to decide leans to: English when it has an English word
/// ([`ENGLISH_WORDS`] but "hi", "hello", "no"; [`LEANING_ENGLISH`]) and no Indonesian one,
/// Indonesian when it has an Indonesian word ([`INDONESIAN_WORDS`],
/// [`INDONESIAN_CHAT_WORDS`]) and no English one; else `None`.
fn lean(text: &str) -> Option<String> {
    let (mut en, mut id) = (0, 0);
    for w in common_words(text).split_whitespace() {
        let w = w
            .trim_matches(|c: char| !c.is_alphanumeric() && c != '\'')
            .to_lowercase();
        let w = w.as_str();
        en += usize::from(
            (ENGLISH_WORDS.contains(&w) && !matches!(w, "hi" | "hello" | "no"))
                || LEANING_ENGLISH.contains(&w),
        );
        id += usize::from(INDONESIAN_WORDS.contains(&w) || INDONESIAN_CHAT_WORDS.contains(&w));
    }
    match (en, id) {
        (1.., 0) => Some("en".into()),
        (0, 1..) => Some("id".into()),
        _ => None,
    }
}

/// What a conversation knows of its language (kept in the snapshot).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LanguageState {
    /// The language replies are written in; `None` until a first message was read.
    pub current: Option<String>,
    /// `current` was detected or asked for (not just the workspace default): one confident
    /// message in another language then only makes that language the `challenger`.
    pub settled: bool,
    /// A language one confident message was written in; a second confident message in it
    /// switches the conversation.
    pub challenger: Option<String>,
}

/// The conversation's language after a lead message: an explicit request switches at once; a
/// confident detection decides an unsettled conversation, and switches a settled one when it
/// is the second confident message in a row in that language (one English sentence in an
/// Indonesian chat is not a switch); else nothing changes. Returns the language the message
/// itself was confidently written in (or asked for), if any.
pub fn after_message(
    state: &mut LanguageState,
    text: &str,
    configured: &[String],
    default: &str,
) -> Option<String> {
    if let Some(asked) = requested(text, configured) {
        *state = LanguageState {
            current: Some(asked.clone()),
            settled: true,
            challenger: None,
        };
        return Some(asked);
    }
    let detected = detect(text, configured);
    match &detected {
        None if !state.settled => lean_unsettled(state, text, configured),
        None => {}
        Some(d) if !state.settled || state.current.is_none() => {
            state.current = Some(d.clone());
            state.settled = true;
            state.challenger = None;
        }
        Some(d) if state.current.as_ref() == Some(d) => state.challenger = None,
        Some(d) if state.challenger.as_ref() == Some(d) => {
            state.current = Some(d.clone());
            state.challenger = None;
        }
        Some(d) => state.challenger = Some(d.clone()),
    }
    if state.current.is_none() {
        state.current = Some(default.to_string());
    }
    detected
}

#[cfg(test)]
mod tests {
    use super::*;

    fn both() -> Vec<String> {
        vec!["id".into(), "en".into()]
    }

    #[test]
    fn sentences_are_detected_in_both_languages() {
        for t in [
            "Hi, I'm interested in studying for a master's degree in the UK",
            "I would like to know more about universities in Australia",
            "My budget is around 40k USD per year and I plan to start next September",
            "Could you tell me what the requirements are?",
        ] {
            assert_eq!(detect(t, &both()).as_deref(), Some("en"), "{t}");
        }
        for t in [
            "Halo kak, saya mau tanya tentang kuliah S2 di Australia",
            "rencananya saya mau berangkat tahun depan kak",
            "budget saya sekitar lima ratus juta untuk kuliah",
            "saya belum punya paspor tapi sedang diurus",
            "kalau biaya hidup di Inggris berapa ya kak?",
        ] {
            assert_eq!(detect(t, &both()).as_deref(), Some("id"), "{t}");
        }
    }

    #[test]
    fn short_messages_decide_nothing() {
        for t in [
            "ok",
            "mksh kak",
            "yes",
            "ya",
            "IELTS 7.0",
            "budget 300jt",
            "1",
            "👍",
        ] {
            assert_eq!(detect(t, &both()), None, "{t}");
        }
    }

    #[test]
    fn an_unconfigured_language_is_never_chosen() {
        let only_id = vec!["id".to_string()];
        assert_eq!(
            detect("I would like to study computer science in Canada", &only_id),
            None
        );
        assert_eq!(requested("can you reply in English please", &only_id), None);
    }

    #[test]
    fn indonesian_with_english_words_is_not_english() {
        for t in [
            "budget nya around 900jt all in kak",
            "passport ready kak, CV juga udah updated",
            "aku prefer yang online aja sih, soalnya masih kerja",
            "honestly aku lebih concern soal funding nya",
        ] {
            assert_ne!(detect(t, &both()).as_deref(), Some("en"), "{t}");
        }
        for t in [
            "My budget is around 900 million rupiah in total",
            "I would prefer an online consultation because I still work",
        ] {
            assert_eq!(detect(t, &both()).as_deref(), Some("en"), "{t}");
        }
    }

    #[test]
    fn explicit_requests_switch_and_level_answers_do_not() {
        for t in [
            "can you reply in English?",
            "English please",
            "could we continue in english",
            "sorry I don't speak bahasa",
            "Sorry, I don't speak Indonesian very well",
            "pakai bahasa inggris aja kak",
            "bisa pake english?",
            "kak sorry, could we switch to English?",
            "can you change the chat to english",
        ] {
            assert_eq!(requested(t, &both()).as_deref(), Some("en"), "{t}");
        }
        for t in [
            "pakai bahasa Indonesia aja ya",
            "bahasa indo aja kak",
            "can you reply in Indonesian",
            "balas pakai bahasa indonesia dong",
            "Sorry, can we chat in Bahasa Indonesia instead?",
            "could you switch to Indonesian",
            "in bahasa please",
            "chatnya pake bahasa indonesia aja",
        ] {
            assert_eq!(requested(t, &both()).as_deref(), Some("id"), "{t}");
        }
        for t in [
            "my English is intermediate",
            "bahasa inggris saya menengah",
            "I have an English test certificate",
            "IELTS 6.5, english lumayan",
            "saya orang Indonesia",
            "I'm from Indonesia, studying in Bahasa is hard",
            "I want to go to an English speaking country",
            "I'd like to switch my major to English literature? no, economics",
        ] {
            assert_eq!(requested(t, &both()), None, "{t}");
        }
    }

    fn current(s: &LanguageState) -> &str {
        s.current.as_deref().unwrap_or("-")
    }

    #[test]
    fn an_unsettled_conversation_takes_the_first_confident_language() {
        let mut s = LanguageState::default();
        assert_eq!(after_message(&mut s, "halo", &both(), "id"), None);
        assert_eq!((current(&s), s.settled), ("id", false));
        let d = after_message(&mut s, "I want to study in the UK next year", &both(), "id");
        assert_eq!((d.as_deref(), current(&s)), (Some("en"), "en"));
        after_message(&mut s, "ok", &both(), "id");
        assert_eq!(current(&s), "en");
    }

    #[test]
    fn a_settled_language_switches_on_a_request_or_two_confident_messages() {
        let mut s = LanguageState::default();
        after_message(
            &mut s,
            "halo kak saya mau tanya kuliah di luar negeri",
            &both(),
            "id",
        );
        assert_eq!((current(&s), s.settled), ("id", true));
        after_message(
            &mut s,
            "My English is upper intermediate, I took the test last year",
            &both(),
            "id",
        );
        assert_eq!(current(&s), "id", "one English sentence is not a switch");
        after_message(
            &mut s,
            "budget saya sekitar lima ratus juta untuk kuliah",
            &both(),
            "id",
        );
        after_message(
            &mut s,
            "I would like to start my studies next September",
            &both(),
            "id",
        );
        assert_eq!(
            current(&s),
            "id",
            "an Indonesian message in between resets the count"
        );
        after_message(
            &mut s,
            "Could you tell me more about the universities there?",
            &both(),
            "id",
        );
        assert_eq!(current(&s), "en");
        after_message(&mut s, "pakai bahasa indonesia aja", &both(), "id");
        assert_eq!(current(&s), "id");
    }

    #[test]
    fn short_english_messages_lean_an_undecided_conversation_to_english() {
        let run = |texts: &[&str]| {
            let mut state = LanguageState::default();
            texts
                .iter()
                .map(|t| {
                    after_message(&mut state, t, &both(), "id");
                    state.current.clone().unwrap_or_default()
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(run(&["Hi there"]), ["en"]);
        assert_eq!(run(&["Hello", "yes", "Tuesday"]), ["id", "id", "en"]);
        // A lone English word in an Indonesian chat switches nothing.
        assert_eq!(run(&["halo kak", "yes", "ok kak"]), ["id", "id", "id"]);
        // A confident sentence still decides, and settles.
        assert_eq!(
            run(&[
                "Tuesday",
                "Friday",
                "saya mau kuliah S2 di Australia tahun depan",
                "yes"
            ]),
            ["en", "en", "id", "id"]
        );
    }

    #[test]
    fn short_messages_decide_by_their_function_words() {
        for (t, want) in [
            ("Hi, I'm Bryan Setiadi", "en"),
            ("yes, CV is ready", "en"),
            ("saya ada kak", "id"),
            ("udah ada kak, yang itu", "id"),
        ] {
            assert_eq!(detect(t, &both()).as_deref(), Some(want), "{t}");
        }
    }

    #[test]
    fn names_places_and_numbers_do_not_decide() {
        for t in [
            "Hi, Kevin Wijaya here",
            "I'm Cindy Halim",
            "saya Budi Santoso",
            "Jakarta 2027 IELTS 7.5",
        ] {
            assert_eq!(detect(t, &both()), None, "{t}");
        }
    }
}
