//! What a lead's words ask of a booked consultation, by rule, in Indonesian (incl. chat slang)
//! and English: move it ([`asks_to_move`], and where the new day starts: [`after_move_words`]),
//! keep it after all ([`keeps_booking`]), or book one again ([`asks_to_book`]).
//!
//! Patterns, not phrase lists: the configured `scheduling.reschedule_phrases` still work, these
//! catch the same requests in other words ("jadwalnya mau aku ubah bisa ga?", "can we move it to
//! Thursday 2pm"). Matching is on whole words ([`super::text::words`]).

use super::text::{has_any, phrase_at_start, words};

/// Verbs of changing a time, with their Indonesian affixed and slang forms.
const MOVE_VERBS: &[&str] = &[
    "ganti",
    "diganti",
    "gantiin",
    "ngganti",
    "nganti",
    "ubah",
    "diubah",
    "ubahin",
    "ngubah",
    "mengubah",
    "rubah",
    "dirubah",
    "merubah",
    "pindah",
    "dipindah",
    "pindahin",
    "dipindahin",
    "mindahin",
    "dipindahkan",
    "memindahkan",
    "geser",
    "digeser",
    "geserin",
    "undur",
    "diundur",
    "mundurin",
    "dimundurin",
    "majuin",
    "dimajuin",
    "dimajukan",
    "move",
    "change",
    "shift",
    "switch",
    "push",
    "postpone",
    "rearrange",
];

/// Words that are a request to move on their own.
const MOVE_WORDS: &[&str] = &[
    "reschedule",
    "rescheduling",
    "resched",
    "reskedul",
    "jadwal ulang",
    "jadwalkan ulang",
];

/// What a move verb moves: the consultation or its time.
const SCHEDULE_NOUNS: &[&str] = &[
    "jadwal",
    "jadwalnya",
    "jadwalku",
    "jadwal ku",
    "konsultasi",
    "konsultasinya",
    "konsul",
    "konsulnya",
    "sesi",
    "sesinya",
    "booking",
    "bookingnya",
    "bookingan",
    "janji",
    "janjian",
    "slot",
    "slotnya",
    "hari",
    "harinya",
    "jam",
    "jamnya",
    "tanggal",
    "tanggalnya",
    "tgl",
    "waktu",
    "waktunya",
    "appointment",
    "consultation",
    "session",
    "meeting",
    "call",
    "time",
    "date",
    "day",
    "it",
];

/// Words that name a day or time: a move verb followed by "ke"/"to" and one of these moves.
const DAY_WORDS: &[&str] = &[
    "senin",
    "selasa",
    "rabu",
    "kamis",
    "jumat",
    "jum",
    "sabtu",
    "minggu",
    "besok",
    "lusa",
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
    "tomorrow",
    "pagi",
    "siang",
    "sore",
    "morning",
    "afternoon",
    "next",
    "depan",
    "tgl",
    "tanggal",
    "jam",
];

/// Negations that turn "ganti jadwal" into "no change" ("ga jadi ganti", "don't need to move").
const NEGATIONS: &[&str] = &[
    "ga", "gak", "gk", "nggak", "ngga", "enggak", "tidak", "tdk", "tak", "jangan", "gausah",
    "gajadi", "don", "dont", "not", "no", "never", "won", "without",
];

/// Keeping: a verb of staying, or words for the old booking after it.
const KEEP_VERBS: &[&str] = &["tetap", "tetep", "keep", "stick", "stay", "staying"];

/// "The old one": what a keep verb keeps, and what "yang lama aja" names.
const OLD_WORDS: &[&str] = &[
    "lama",
    "awal",
    "semula",
    "tadi",
    "sebelumnya",
    "kemarin",
    "sekarang",
    "original",
    "old",
    "current",
    "previous",
    "same",
    "existing",
    "booked",
    "first",
    "aja",
    "saja",
    "it",
    "my",
    "the",
];

/// A bare "never mind" while choosing a new slot: the move is off.
const NEVER_MIND: &[&str] = &[
    "ga jadi",
    "gak jadi",
    "gk jadi",
    "nggak jadi",
    "ngga jadi",
    "enggak jadi",
    "tidak jadi",
    "gajadi",
    "never mind",
    "nevermind",
    "nvm",
    "forget it",
];

/// What a "never mind" could also be cancelling: with one of these it cancels the consultation
/// ("gak jadi dulu ya konsultasinya", "never mind, cancel it").
const CANCEL_WORDS: &[&str] = &[
    "batal",
    "batalin",
    "batalkan",
    "dibatalin",
    "dibatalkan",
    "cancel",
    "cancelled",
    "konsultasi",
    "konsultasinya",
    "konsul",
    "konsulnya",
    "booking",
    "bookingnya",
    "appointment",
    "consultation",
    "semua",
    "semuanya",
];

/// Verbs that cancel on their own ("batalin aja", "please cancel").
const CANCEL_VERBS: &[&str] = &[
    "batal",
    "batalin",
    "batalkan",
    "dibatalin",
    "dibatalkan",
    "cancel",
    "cancelled",
    "canceled",
    "call it off",
    "call off",
    "calling it off",
];

/// Verbs that cancel what they name: a consultation word must be near ("hapus aja jadwalnya",
/// "drop the session"), since "hapus email tadi" cancels nothing.
const REMOVE_VERBS: &[&str] = &[
    "hapus", "hapusin", "dihapus", "hapuskan", "delete", "remove", "drop", "scrap", "skip",
];

/// Words that make a time earlier or later: with the consultation just before them ("do it
/// earlier", "jadwalnya lebih pagi") they ask to move it.
const SHIFT_WORDS: &[&str] = &[
    "earlier",
    "later",
    "sooner",
    "lebih awal",
    "lebih pagi",
    "lebih cepat",
    "lebih cepet",
    "lebih siang",
    "lebih sore",
];

/// Words that may stand between the consultation and a [`SHIFT_WORDS`] word ("it a bit
/// earlier", "jamnya agak lebih pagi").
const SHIFT_FILLERS: &[&str] = &[
    "a", "bit", "little", "lil", "an", "hour", "agak", "sedikit", "dikit", "bisa", "jadi",
];

/// Length in words of the first of `phrases` that starts `t` (whole words).
fn any_at_start(t: &[String], phrases: &[&str]) -> Option<usize> {
    phrases.iter().find_map(|p| phrase_at_start(t, p))
}

/// Position of the first whole-word occurrence of any of `phrases` in `t`, and its length.
fn find_any(t: &[String], phrases: &[&str]) -> Option<(usize, usize)> {
    (0..t.len()).find_map(|i| any_at_start(&t[i..], phrases).map(|n| (i, n)))
}

/// Index of each move verb in `t` that is not negated (no negation in the three words before).
fn move_verbs(t: &[String]) -> Vec<usize> {
    (0..t.len())
        .filter(|&i| MOVE_VERBS.contains(&t[i].as_str()))
        .filter(|&i| {
            !t[i.saturating_sub(3)..i]
                .iter()
                .any(|w| NEGATIONS.contains(&w.as_str()))
        })
        .collect()
}

/// Index just after a [`SHIFT_WORDS`] phrase that moves the consultation: "it" or a schedule
/// noun before it, with at most two [`SHIFT_FILLERS`] between ("could we do it earlier?",
/// "jamnya agak lebih pagi bisa?"); "call me later" names the lead, not the call.
fn shift_end(t: &[String]) -> Option<usize> {
    (0..t.len()).find_map(|i| {
        let n = any_at_start(&t[i..], SHIFT_WORDS)?;
        let mut j = i;
        let mut fillers = 0;
        while j > 0 && fillers <= 2 {
            j -= 1;
            let w = t[j].as_str();
            if (SCHEDULE_NOUNS.contains(&w) && w != "call") || w == "it" {
                return Some(i + n);
            }
            if !SHIFT_FILLERS.contains(&w) {
                return None;
            }
            fillers += 1;
        }
        None
    })
}

/// True when the lead asks to cancel a consultation: a cancel verb ("batalin aja", "let's
/// call it off"), or a remove verb near a consultation word ("hapus aja jadwalnya", "drop
/// the session"), not negated ("jangan dibatalin", "don't cancel"). The configured
/// `scheduling.cancel_phrases` still work beside it.
pub fn asks_to_cancel(text: &str) -> bool {
    let t = words(text);
    let negated = |i: usize| {
        t[i.saturating_sub(3)..i]
            .iter()
            .any(|w| NEGATIONS.contains(&w.as_str()))
    };
    if let Some((i, _)) = find_any(&t, CANCEL_VERBS)
        && !negated(i)
    {
        return true;
    }
    (0..t.len())
        .filter(|&i| REMOVE_VERBS.contains(&t[i].as_str()) && !negated(i))
        .any(|i| {
            let near = i.saturating_sub(3)..t.len().min(i + 5);
            t[near].iter().any(|w| {
                SCHEDULE_NOUNS.contains(&w.as_str())
                    && !matches!(w.as_str(), "hari" | "jam" | "time" | "day" | "date")
            })
        })
}

/// True when a move verb at `i` moves the consultation: a schedule noun within four words after
/// it or three before ("ganti jadwal", "jadwalnya mau aku ubah", "move it"), or "ke"/"to" and a
/// day or time word after it ("pindah ke kamis", "change to Friday").
fn moves_schedule(t: &[String], i: usize) -> bool {
    let noun = |j: usize| SCHEDULE_NOUNS.contains(&t[j].as_str());
    if (i + 1..t.len().min(i + 5)).any(noun) || (i.saturating_sub(3)..i).any(noun) {
        return true;
    }
    (i + 1..t.len().min(i + 3)).any(|j| {
        matches!(t[j].as_str(), "ke" | "to" | "jadi" | "for")
            && t.get(j + 1)
                .is_some_and(|n| DAY_WORDS.contains(&n.as_str()))
    })
}

/// True when the lead asks to move a consultation: "reschedule", "jadwal ulang", or a move verb
/// about the consultation or its time ("bisa ganti jadwal?", "jadwalnya mau aku ubah bisa ga?",
/// "jamnya bisa diundur?", "can we move it to Thursday 2pm", "pindah ke jumat aja"), not negated
/// ("ga jadi ganti jadwal", "no need to change the time").
///
/// Near misses that do not match: "boleh ganti email?" (no schedule word), "pindah ke
/// Australia" (no day), "ga usah diganti jadwalnya".
pub fn asks_to_move(text: &str) -> bool {
    let t = words(text);
    if let Some((i, _)) = find_any(&t, MOVE_WORDS)
        && !t[i.saturating_sub(3)..i]
            .iter()
            .any(|w| NEGATIONS.contains(&w.as_str()))
    {
        return true;
    }
    move_verbs(&t).into_iter().any(|i| moves_schedule(&t, i)) || shift_end(&t).is_some()
}

/// The part of `text` after its first move request ("... reschedule| to Friday instead?",
/// "bisa ganti| jadwal ke jumat aja? rabu ada kelas"): where the new day and time are named,
/// while a day before it is usually the reason ("something came up on Thursday"). `None`
/// without a move request.
pub fn after_move_words(text: &str) -> Option<&str> {
    let t = words(text);
    let end = match find_any(&t, MOVE_WORDS) {
        Some((i, n)) => i + n,
        None => match move_verbs(&t).into_iter().find(|&i| moves_schedule(&t, i)) {
            Some(i) => i + 1,
            None => shift_end(&t)?,
        },
    };
    // The byte offset just after the `end`-th word.
    let mut seen = 0;
    let mut in_word = false;
    for (at, c) in text.char_indices() {
        let alnum = c.is_alphanumeric();
        if in_word && !alnum {
            seen += 1;
            if seen == end {
                return Some(&text[at..]);
            }
        }
        in_word = alnum;
    }
    Some("")
}

/// True when a lead who is choosing a new slot keeps the booking they have: the change is
/// called off ("ga jadi ganti", "gak usah dipindah", "no need to reschedule"), the old one is
/// kept ("tetap yang lama aja", "keep the original", "yang awal aja deh"), or a bare "never
/// mind" ("ga jadi deh", "nvm") that cancels nothing else ("gak jadi konsultasinya" cancels).
pub fn keeps_booking(text: &str) -> bool {
    let t = words(text);
    let negated_move = (0..t.len()).any(|i| {
        (MOVE_VERBS.contains(&t[i].as_str()) || any_at_start(&t[i..], MOVE_WORDS).is_some())
            && t[i.saturating_sub(3)..i]
                .iter()
                .any(|w| NEGATIONS.contains(&w.as_str()))
    });
    let keeps = (0..t.len()).any(|i| {
        KEEP_VERBS.contains(&t[i].as_str())
            && (i + 1..t.len().min(i + 4)).any(|j| OLD_WORDS.contains(&t[j].as_str()))
    });
    let old_one = has_any(
        &t,
        &[
            "yang lama aja",
            "yg lama aja",
            "yang lama saja",
            "jadwal lama aja",
            "yang awal aja",
            "yg awal aja",
            "jadwal awal aja",
            "yang tadi aja",
            "yg tadi aja",
            "seperti semula",
            "kayak semula",
            "kaya semula",
            "as planned",
            "as it was",
            "original is fine",
            "original one",
            "the old one",
        ],
    );
    let never_mind = has_any(&t, NEVER_MIND) && !has_any(&t, CANCEL_WORDS);
    negated_move || keeps || old_one || never_mind
}

/// Words that keep the booked time of day while the day changes ("rabu aja, jam yang sama",
/// "push it to Wednesday, same time").
const SAME_TIME: &[&str] = &[
    "same time",
    "same hour",
    "same slot",
    "jam yang sama",
    "jam yg sama",
    "jam sama",
    "jamnya sama",
    "jam nya sama",
    "sama jamnya",
    "waktu yang sama",
    "waktu yg sama",
    "waktunya sama",
    "jamnya tetap",
    "jamnya tetep",
    "jam tetap",
    "jam tetep",
    "pukul yang sama",
];

/// True when a lead moving a consultation keeps its time of day ("jumat aja, jamnya sama",
/// "push it to Wednesday, same time"), unless negated ("ga usah jam yang sama", "not the
/// same time").
pub fn keeps_time(text: &str) -> bool {
    let t = words(text);
    find_any(&t, SAME_TIME).is_some_and(|(i, _)| {
        !t[i.saturating_sub(3)..i]
            .iter()
            .any(|w| NEGATIONS.contains(&w.as_str()))
    })
}

/// Verbs of booking a consultation ("jadwalin", "book", "schedule").
const BOOK_VERBS: &[&str] = &[
    "jadwalin",
    "jadwalkan",
    "dijadwalin",
    "dijadwalkan",
    "booking",
    "book",
    "booked",
    "schedule",
    "daftar",
    "reservasi",
    "atur jadwal",
    "bikin jadwal",
    "buat jadwal",
    "set up",
];

/// True when the lead asks to book a consultation ("aku mau jadwalin konsultasi lagi dong",
/// "mau booking konsul lagi", "can I book another consultation?", "konsultasi lagi bisa?"): a
/// booking verb, or the consultation with "lagi"/"again", unless negated ("ga usah booking").
pub fn asks_to_book(text: &str) -> bool {
    let t = words(text);
    let consultation = |w: &str| {
        matches!(
            w,
            "konsultasi" | "konsultasinya" | "konsul" | "consultation" | "session" | "sesi"
        )
    };
    // "konsultasi lagi", "another session": "again" next to the consultation ("hi again, I
    // had my consultation yesterday" greets, it does not ask).
    let again_consultation = t.iter().enumerate().any(|(i, w)| {
        consultation(w)
            && t[i.saturating_sub(2)..t.len().min(i + 3)]
                .iter()
                .any(|a| matches!(a.as_str(), "lagi" | "again" | "another"))
    });
    let verb = find_any(&t, BOOK_VERBS).filter(|&(i, _)| {
        !t[i.saturating_sub(3)..i]
            .iter()
            .any(|w| NEGATIONS.contains(&w.as_str()) || w == "usah")
    });
    verb.is_some() || again_consultation
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn move_requests_in_both_languages() {
        for text in [
            "kak jadwalnya mau aku ubah bisa ga? ada rapat mendadak",
            "bisa ganti jadwal ke jumat aja?",
            "kak jamnya bisa diundur?",
            "pindah ke kamis aja kak",
            "Can I reschedule to Friday instead?",
            "can we move it to Thursday 2pm",
            "I need to change the time of my consultation",
            "boleh geser konsulnya ke minggu depan?",
            "jadwal ulang dong kak",
            "could we do it a bit earlier? tomorrow 9am",
            "jamnya bisa lebih pagi kak?",
        ] {
            assert!(asks_to_move(text), "{text}");
        }
    }

    #[test]
    fn near_misses_are_no_move() {
        for text in [
            "boleh ganti email?",
            "aku mau pindah ke Australia",
            "ga jadi ganti jadwal deh",
            "no need to reschedule",
            "kak konsultasinya jam berapa ya?",
            "I want to change my major",
            "can you call me later?",
            "nanti aku kabarin lagi ya kak",
        ] {
            assert!(!asks_to_move(text), "{text}");
        }
    }

    #[test]
    fn the_new_day_comes_after_the_move_words() {
        assert_eq!(
            after_move_words("Something came up on Thursday. Can I reschedule to Friday?"),
            Some(" to Friday?")
        );
        assert_eq!(
            after_move_words("bisa ganti jadwal ke jumat aja? rabu ada kelas"),
            Some(" jadwal ke jumat aja? rabu ada kelas")
        );
        assert_eq!(after_move_words("reschedule"), Some(""));
        assert_eq!(after_move_words("halo kak"), None);
    }

    #[test]
    fn cancel_requests_in_other_words() {
        for text in [
            "kak hapus aja ya jadwal konsulnya",
            "something came up, let's call it off",
            "please cancel my appointment",
            "drop the session please, sorry",
            "batalin aja kak",
        ] {
            assert!(asks_to_cancel(text), "{text}");
        }
        for text in [
            "hapus email yang tadi ya kak",
            "jangan dibatalin ya kak",
            "don't cancel it, I'll be there",
            "kak konsultasinya jam berapa?",
            "skip dulu pertanyaan ini",
        ] {
            assert!(!asks_to_cancel(text), "{text}");
        }
        assert_eq!(
            after_move_words("could we do it earlier? tomorrow 9am"),
            Some("? tomorrow 9am")
        );
    }

    #[test]
    fn keeping_the_booking() {
        for text in [
            "ga jadi deh, tetap yang lama aja",
            "gak jadi ganti kak",
            "yang awal aja deh kak",
            "Actually, keep the original please",
            "never mind, I'll stick with the old slot",
            "no need to reschedule after all",
            "ga usah dipindah kak",
        ] {
            assert!(keeps_booking(text), "{text}");
        }
        for text in [
            "batal aja deh konsultasinya",
            "gak jadi dulu ya konsultasinya",
            "never mind, cancel it",
            "jumat aja",
            "kamis jam 10",
        ] {
            assert!(!keeps_booking(text), "{text}");
        }
    }

    #[test]
    fn booking_again() {
        for text in [
            "halo kak, aku mau jadwalin konsultasi lagi dong",
            "mau booking konsul lagi kak",
            "Hi, can I book another consultation?",
            "konsultasi lagi bisa kak?",
            "could I have another session with Kak Rina?",
        ] {
            assert!(asks_to_book(text), "{text}");
        }
        for text in [
            "halo kak",
            "apa konsultasinya bayar?",
            "ga usah booking dulu",
            "hi again, I had my consultation yesterday, what's next?",
            "halo lagi kak, kemarin konsultasinya seru",
        ] {
            assert!(!asks_to_book(text), "{text}");
        }
    }

    #[test]
    fn keeping_the_time_of_day() {
        for text in [
            "push it to Wednesday, same time?",
            "bisa diundur ke senin depan? jamnya sama aja",
            "rabu aja kak, jam yg sama",
            "jumat di waktu yang sama bisa?",
        ] {
            assert!(keeps_time(text), "{text}");
        }
        for text in [
            "rabu aja kak",
            "not the same time, something in the afternoon",
            "ga usah jam yang sama",
            "sama aja kak",
        ] {
            assert!(!keeps_time(text), "{text}");
        }
    }
}
