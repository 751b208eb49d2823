//! Opt-out and resume (issue 18 item 2): a lead who writes "STOP", "berhenti", "jangan chat
//! saya lagi" or "please stop messaging me" is told once that ARI will not write again, and
//! the time is recorded on the lead (the consent record, [`crate::flow::turn::LeadState`]'s
//! `opted_out_at`). Every proactive message respects it: the reminder task skips the lead's
//! reminder (the consultant's still goes). Replies to the lead's own later messages continue,
//! and "MULAI" / "START" resumes.
//!
//! Only a whole message opts out. Case, punctuation, emoji and polite words around it ("stop
//! kak 🙏", "please unsubscribe") do not matter, but any other word does: "stop" inside a longer
//! message ("stop dulu, aku mau tanya biaya") is no opt-out, and neither is a question. Besides
//! the configured phrases (`[consent]`), a request in other words is read by shape: a "don't" /
//! "stop" word, a "message me" word, then only words like "me", "lagi", "again".

use crate::config::flow::Consent as ConsentConfig;

/// What a whole message says about consent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Intent {
    /// The lead wants no more messages.
    OptOut,
    /// The lead wants messages again (after an opt-out).
    Resume,
}

/// Polite words and fillers that may surround an opt-out ("stop kak", "please unsubscribe").
const POLITE: &[&str] = &[
    "kak",
    "ka",
    "kk",
    "min",
    "mimin",
    "admin",
    "mas",
    "mbak",
    "bang",
    "ya",
    "yah",
    "ok",
    "oke",
    "okay",
    "please",
    "pls",
    "plz",
    "tolong",
    "mohon",
    "aja",
    "saja",
    "deh",
    "dong",
    "sih",
    "thanks",
    "thx",
    "makasih",
    "terimakasih",
    "sorry",
    "maaf",
    "now",
    "sekarang",
];

/// Words that refuse ("jangan", "stop", "don't").
const REFUSE: &[&str] = &[
    "jangan", "jgn", "jngn", "stop", "berhenti", "stopp", "dont", "never", "usah", "gausah",
    "gaush", "cease",
];

/// Two-word refusals, joined ("ga usah", "do not", "tidak perlu").
const REFUSE_PAIRS: &[(&str, &str)] = &[
    ("ga", "usah"),
    ("gak", "usah"),
    ("gk", "usah"),
    ("nggak", "usah"),
    ("ngga", "usah"),
    ("tidak", "usah"),
    ("tdk", "usah"),
    ("tak", "usah"),
    ("ga", "perlu"),
    ("gak", "perlu"),
    ("tidak", "perlu"),
    ("do", "not"),
];

/// Words for messaging someone ("chat", "kirim", "message", "contact").
const MESSAGE: &[&str] = &[
    "chat",
    "chatin",
    "chatting",
    "ngechat",
    "nge-chat",
    "kirim",
    "kirimin",
    "ngirim",
    "ngirimin",
    "pesan",
    "message",
    "messages",
    "messaging",
    "msg",
    "text",
    "texting",
    "texts",
    "contact",
    "contacting",
    "hubungi",
    "hubungin",
    "menghubungi",
    "spam",
    "spamming",
    "wa",
    "whatsapp",
    "send",
    "sending",
    "sms",
    "broadcast",
];

/// Words that may follow ("me", "lagi", "again", "this number").
const TAIL: &[&str] = &[
    "saya", "aku", "gue", "gw", "gua", "me", "us", "lagi", "lg", "again", "anymore", "any", "more",
    "pesan", "messages", "message", "promo", "promosi", "ke", "nomor", "nomer", "ini", "this",
    "number", "sini", "to", "with", "di", "sms", "wa", "whatsapp", "apa", "apapun", "anything",
];

/// The words of a message: lower case, letters, digits and apostrophes only ("don't" →
/// "dont"), polite words at either end dropped.
fn words(text: &str) -> Vec<String> {
    let lower = text.to_lowercase().replace(['\'', '’'], "");
    let mut w: Vec<String> = lower
        .split(|c: char| !c.is_alphanumeric())
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    while w.first().is_some_and(|x| POLITE.contains(&x.as_str())) {
        w.remove(0);
    }
    while w.last().is_some_and(|x| POLITE.contains(&x.as_str())) {
        w.pop();
    }
    w
}

/// Whether `w` is a refusal, then a messaging word, then only [`TAIL`] words.
fn asks_not_to_be_messaged(w: &[String]) -> bool {
    let at = |i: usize| w.get(i).map(String::as_str);
    let mut i = 0;
    let mut refused = false;
    // One or two refusals ("please stop", "stop dont"), single or paired.
    while let Some(word) = at(i) {
        if let Some(next) = at(i + 1)
            && REFUSE_PAIRS.contains(&(word, next))
        {
            i += 2;
        } else if REFUSE.contains(&word) {
            i += 1;
        } else {
            break;
        }
        refused = true;
    }
    let messaged = at(i).is_some_and(|x| MESSAGE.contains(&x));
    refused && messaged && w[i + 1..].iter().all(|x| TAIL.contains(&x.as_str()))
}

/// What the whole of `text` says about consent, if anything. `None` for a question or a
/// message with anything else in it.
pub fn intent(text: &str, cfg: &ConsentConfig) -> Option<Intent> {
    if text.contains('?') {
        return None;
    }
    let w = words(text);
    if w.is_empty() {
        return None;
    }
    let joined = w.join(" ");
    let listed = |phrases: &[String]| phrases.iter().any(|p| words(p).join(" ") == joined);
    if listed(&cfg.resume_phrases) {
        Some(Intent::Resume)
    } else if listed(&cfg.opt_out_phrases) || asks_not_to_be_messaged(&w) {
        Some(Intent::OptOut)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Option<Intent> {
        intent(text, &ConsentConfig::default())
    }

    #[test]
    fn whole_messages_opt_out_in_both_languages() {
        for t in [
            "STOP",
            "stop kak 🙏",
            "Berhenti",
            "unsubscribe",
            "please unsubscribe",
            "jangan chat saya lagi",
            "jgn chat aku lg ya",
            "ga usah chat lagi kak",
            "tolong jangan hubungi saya lagi",
            "gausah kirim pesan lagi",
            "stop kirim promo",
            "please stop messaging me",
            "Don't text me again.",
            "do not contact me anymore",
            "stop spamming me",
            "berhenti kirim pesan ke nomor ini",
        ] {
            assert_eq!(read(t), Some(Intent::OptOut), "{t}");
        }
    }

    #[test]
    fn a_word_inside_a_longer_message_is_no_opt_out() {
        for t in [
            "stop dulu kak, aku mau tanya biaya",
            "kapan harus stop kerja sebelum berangkat?",
            "stop?",
            "jangan chat konsultan dulu ya, aku masih mikir",
            "kalau jangan chat lagi gimana?",
            "my friend told me to stop worrying about IELTS",
            "don't worry kak",
            "jangan lupa kirim info beasiswa ya",
            "please send me the details",
            "chat saya lagi besok ya",
            "mulai kuliah kapan?",
        ] {
            assert_eq!(read(t), None, "{t}");
        }
    }

    #[test]
    fn resume_words_resume() {
        for t in ["MULAI", "mulai lagi kak", "START", "start again please"] {
            assert_eq!(read(t), Some(Intent::Resume), "{t}");
        }
        assert_eq!(read("mulai dari mana ya"), None);
    }
}
