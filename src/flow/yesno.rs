//! Yes / no / unknown answers in Indonesian and English, for document questions, the booking
//! offer and slot confirmation.
//!
//! Fixes the seed's parser (§5.4), which matched substrings and checked "yes" words first:
//! "belum ada", "tidak ada", "gak punya" and "saya belum" were read as yes, "ga tau" as no. Here
//! matching is on whole words and the order is unknown → no → yes, so a negation always wins
//! over the "ada"/"punya" it negates.

use serde::{Deserialize, Serialize};

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
];

/// Negative words (checked before the positive ones).
pub const NO_WORDS: &[&str] = &[
    "belum", "blm", "tidak", "tdk", "gak", "ga", "gk", "nggak", "ngga", "enggak", "engga", "ndak",
    "nda", "kagak", "bukan", "no", "nope", "not", "never", "rencana", "nanti", "jangan", "batal",
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
];

/// Parses a yes/no answer; `None` when the text holds no answer word at all.
///
/// ```
/// use ari::flow::yesno::{parse_yes_no, YesNo};
/// assert_eq!(parse_yes_no("belum ada"), Some(YesNo::No));
/// assert_eq!(parse_yes_no("iya"), Some(YesNo::Yes));
/// assert_eq!(parse_yes_no("ga tau"), Some(YesNo::Unknown));
/// ```
pub fn parse_yes_no(text: &str) -> Option<YesNo> {
    let t = words(text);
    if has_any(&t, UNKNOWN_PHRASES) {
        Some(YesNo::Unknown)
    } else if has_any(&t, NO_WORDS) {
        Some(YesNo::No)
    } else if has_any(&t, YES_WORDS) {
        Some(YesNo::Yes)
    } else {
        None
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
}
