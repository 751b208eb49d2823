//! Yes/no when the bot asks to confirm a slot.
//!
//! The seed (§9.4) matched `^(ya|oke|ok|yes|betul|benar|setuju|deal)` as a prefix: "yakin?" and
//! "okay banget ga usah" confirmed, "iya", "sip" and "boleh" did not. Here matching is on whole
//! words; "no" phrases are checked first so "ya tapi ganti jam" and "oke, yang lain aja" lead
//! back to the list, while "gapapa" / "tidak apa-apa" / "no problem" are yes. "ya" counts only
//! as the first word: at the end it is a particle ("kapan ya?").

use serde::{Deserialize, Serialize};

use super::words::{has_any, tokens};

/// The lead's answer to "book this slot?".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Confirmation {
    /// Book it.
    Yes,
    /// Not this one: back to the list.
    No,
}

/// "No problem" phrases: they contain a negation but mean yes.
const YES_DESPITE_NEGATION: &[&str] = &[
    "gapapa",
    "ga papa",
    "gak papa",
    "nggak papa",
    "ngga papa",
    "tidak apa apa",
    "tidak apa",
    "ga masalah",
    "gak masalah",
    "nggak masalah",
    "tidak masalah",
    "no problem",
    "no prob",
    "why not",
];

const NO: &[&str] = &[
    "tidak",
    "tdk",
    "nggak",
    "ngga",
    "enggak",
    "engga",
    "gak",
    "ga",
    "gk",
    "ndak",
    "no",
    "nope",
    "not",
    "jangan",
    "batal",
    "bukan",
    "belum",
    "ganti",
    "gantu",
    "ubah",
    "yang lain",
    "yg lain",
    "jam lain",
    "hari lain",
    "slot lain",
    "waktu lain",
    "lainnya",
    "other",
    "another",
    "cancel",
    "change",
];

/// "ya" is also a chat particle ("kapan ya?", "gimana ya"): these count only as the first word.
const WEAK_YES: &[&str] = &["ya", "yaa", "yaaa", "y", "bisa", "baik"];

/// Yes words that count anywhere.
const YES: &[&str] = &[
    "iya",
    "iyaa",
    "iyaaa",
    "iy",
    "yes",
    "yess",
    "yep",
    "yup",
    "yap",
    "yoi",
    "oke",
    "okee",
    "okey",
    "okay",
    "ok",
    "okk",
    "oce",
    "sip",
    "sipp",
    "siap",
    "boleh",
    "betul",
    "benar",
    "bener",
    "setuju",
    "gas",
    "gass",
    "gaskeun",
    "deal",
    "mantap",
    "mantab",
    "confirm",
    "konfirm",
    "konfirmasi",
    "lanjut",
    "fix",
    "sure",
    "baiklah",
    "good",
    "cocok",
];

/// Parses a confirmation reply; `None` when it is neither (e.g. "yakin?", "hmm").
pub fn parse_confirmation(text: &str) -> Option<Confirmation> {
    let t = tokens(text);
    if has_any(&t, YES_DESPITE_NEGATION) {
        return Some(Confirmation::Yes);
    }
    if has_any(&t, NO) {
        return Some(Confirmation::No);
    }
    let first_weak = t.first().is_some_and(|w| WEAK_YES.contains(&w.as_str()));
    (first_weak || has_any(&t, YES)).then_some(Confirmation::Yes)
}
