//! What a message is doing, by rule, in Indonesian (incl. chat slang) and English: asking a
//! question ([`is_question`]) or asking for a person ([`asks_for_human`]).
//!
//! Both are patterns, not phrase lists: the configured `handoff.human_request_phrases` still
//! work, these catch the same requests in other words. Matching is on whole words
//! ([`super::text::words`]), so "konsultasinya" is not "konsultan".

use super::text::{find_phrase, has_any, has_phrase, words};

/// Indonesian question words, anywhere in the message ("biayanya berapa", "kapan mulainya").
const ID_QUESTION_WORDS: &[&str] = &[
    "apa",
    "apakah",
    "apaan",
    "berapa",
    "brp",
    "berapakah",
    "gimana",
    "gmn",
    "gmna",
    "bagaimana",
    "bgmn",
    "kapan",
    "kpn",
    "kenapa",
    "knp",
    "mengapa",
    "dimana",
    "dmn",
    "di mana",
    "kemana",
    "ke mana",
    "siapa",
    "yang mana",
    "yg mana",
    "mana yang",
    "mana yg",
];

/// Indonesian phrases announcing a question ("mau tanya", "boleh tanya").
const ASKING_PHRASES: &[&str] = &[
    "mau tanya",
    "mau nanya",
    "mau bertanya",
    "boleh tanya",
    "boleh nanya",
    "boleh bertanya",
    "numpang tanya",
    "pengen tanya",
    "pengen nanya",
    "pingin tanya",
    "ingin tanya",
    "ingin bertanya",
    "mo tanya",
    "mo nanya",
    "boleh tau",
    "boleh tahu",
    "i have a question",
    "quick question",
    "i want to ask",
    "i d like to ask",
    "can i ask",
    "may i ask",
];

/// English auxiliary + subject pairs: an inverted question ("is there", "do you", "can I").
const EN_INVERSIONS: &[&str] = &[
    "is there",
    "are there",
    "is it",
    "is this",
    "is that",
    "are you",
    "are they",
    "do you",
    "do i",
    "do we",
    "do they",
    "does it",
    "does that",
    "does the",
    "did you",
    "can i",
    "can you",
    "can we",
    "could i",
    "could you",
    "could we",
    "will it",
    "will there",
    "will you",
    "would it",
    "would you",
    "should i",
    "should we",
    "may i",
    "have you",
    "how much",
    "how many",
    "how long",
    "how about",
    "what about",
    "what is",
    "what s",
    "what are",
];

/// English question words that open a question ("what...", "how...").
const EN_QUESTION_OPENERS: &[&str] = &[
    "what", "how", "when", "where", "why", "which", "who", "whats", "hows", "is", "are", "do",
    "does", "did", "can", "could", "will", "would", "should", "may", "shall",
];

/// Words skipped at the start of a clause before looking for a question opener.
const OPENING_FILLERS: &[&str] = &[
    "so", "and", "but", "ok", "okay", "oke", "um", "uh", "hmm", "hm", "hi", "hello", "hey",
    "sorry", "also", "then", "btw", "well", "oh", "kak", "halo", "hai", "eh", "terus", "trus",
    "lalu", "jadi", "jd", "tapi", "sama", "terus",
];

/// Stems that make a question with the suffix "-kah" ("adakah", "bisakah", "perlukah").
/// A list, because "langkah" and "nikah" end in "kah" too.
const KAH_STEMS: &[&str] = &[
    "ada",
    "bisa",
    "boleh",
    "perlu",
    "harus",
    "wajib",
    "apa",
    "siapa",
    "kapan",
    "berapa",
    "mana",
    "dimana",
    "bagaimana",
    "benar",
    "betul",
    "mau",
    "sudah",
    "gratis",
    "mahal",
    "mungkin",
    "cukup",
    "dapat",
    "bener",
    "masih",
];

/// Negations that, at the end of a message, turn it into "...or not?" ("ada beasiswa ga").
const TAG_NEGATIONS: &[&str] = &[
    "ga", "gak", "gk", "nggak", "ngga", "ngak", "enggak", "engga", "tidak", "tdk", "nda", "ndak",
    "kagak", "kaga",
];

/// Words stripped from the end before looking for a tag negation ("bayar ga kak?").
const TRAILING_FILLERS: &[&str] = &[
    "kak", "ka", "kakak", "kk", "kakk", "min", "admin", "sis", "sist", "gan", "bang", "mas",
    "mbak", "mba", "bro", "dong", "sih", "ya", "yah", "yaa", "nih", "deh", "tuh", "kah", "nya",
];

/// Words that, right before a final negation, make it an answer, not a question tag:
/// "saya ga" (I don't), "kayaknya ga" (probably not), "udah ga" (no longer), "paspor ga"
/// (the passport: no).
const ANSWER_BEFORE_NEGATION: &[&str] = &[
    "saya",
    "aku",
    "gue",
    "gua",
    "gw",
    "aq",
    "sy",
    "i",
    "me",
    "kami",
    "kita",
    "kayaknya",
    "kayanya",
    "kyknya",
    "kyanya",
    "sepertinya",
    "rasanya",
    "mungkin",
    "kalo",
    "kalau",
    "klo",
    "sih",
    "deh",
    "juga",
    "jg",
    "masih",
    "lagi",
    "sekarang",
    "skrg",
    "dulu",
    "now",
    "yet",
    "sudah",
    "udah",
    "udh",
    "sdh",
    "dah",
    "oh",
    "eh",
    "ah",
    "wah",
    "hmm",
    "hm",
    "yah",
    "duh",
    "aduh",
    "waduh",
    "loh",
    "lho",
    "maaf",
    "sorry",
    "belum",
    "blm",
];

/// Document nouns: "paspor ga" answers (the passport: no), "perlu paspor ga" asks.
const DOCUMENT_NOUNS: &[&str] = &[
    "paspor",
    "passport",
    "pasport",
    "cv",
    "resume",
    "transkrip",
    "transcript",
    "ijazah",
    "sertifikat",
    "ielts",
    "toefl",
];

/// Predicates that a question tag can ask about ("perlu IELTS nggak", "ada paspor ga").
const PREDICATES: &[&str] = &[
    "ada", "perlu", "harus", "butuh", "wajib", "bisa", "boleh", "pakai", "pake", "bayar", "gratis",
    "dapat", "dapet", "termasuk", "include", "mau", "punya",
];

/// Answer words after a document noun ("paspor ada", "cv belum"): the message lists answers.
const ANSWER_WORDS: &[&str] = &[
    "ada", "sudah", "udah", "udh", "sdh", "punya", "belum", "blm", "ga", "gak", "nggak", "tidak",
    "tdk", "ok", "oke", "lengkap", "siap", "beres",
];

/// Words that negate ("belum ada, ga"): a final negation after one of these lists answers.
const NEGATIONS: &[&str] = &[
    "ga", "gak", "gk", "nggak", "ngga", "ngak", "enggak", "engga", "tidak", "tdk", "nda", "ndak",
    "kagak", "kaga", "belum", "blm", "blom", "belom", "no", "not", "bukan",
];

/// "It depends on": a question word after it opens a "whether" clause, not a question.
const DEPENDS: &[&str] = &["tergantung", "tgantung", "depends", "depend", "depending"];

/// Words of not knowing before a question word ("gatau berapa", "bingung kapan").
const UNSURE: &[&str] = &[
    "gatau", "gtau", "gatw", "bingung", "unsure", "entah", "entahlah",
];
/// Knowing words that a negation before them turns into "I don't know" ("belum tau kapan").
const KNOW: &[&str] = &[
    "tau",
    "tahu",
    "tw",
    "yakin",
    "pasti",
    "kepikiran",
    "kebayang",
    "sure",
    "know",
    "decide",
    "decided",
    "mikir",
];

/// "Whatever/any" after a question word ("kapan aja bisa", "apa aja boleh") is an answer when
/// the message also agrees.
const ANY_AFTER_QUESTION_WORD: &[&str] = &["aja", "saja", "pun", "aj"];
const AGREEING: &[&str] = &[
    "bisa", "boleh", "oke", "ok", "siap", "bebas", "terserah", "fine",
];

/// True when the words alone make `text` a question, without looking at punctuation: an
/// Indonesian question word ("berapa", "gimana", "kapan"), a "-kah" question ("adakah"), a final
/// "...ga/nggak/tidak" tag after a predicate ("ada beasiswa ga", "bayar ga kak"), "sudah...
/// belum" ("udah bayar belum"), "mau tanya", or an English inversion ("is there", "do you",
/// "can I", "how much") or opener ("what", "how"...). Case- and punctuation-insensitive, so
/// [`super::yesno::parse_yes_no`] can use it and stay so.
pub fn asks_by_words(text: &str) -> bool {
    let t = words(text);
    if t.is_empty() {
        return false;
    }
    if has_any(&t, ASKING_PHRASES) || has_any(&t, EN_INVERSIONS) {
        return true;
    }
    if question_word(&t) {
        return true;
    }
    if t.iter().any(|w| {
        w.len() > 5
            && w.strip_suffix("kah")
                .is_some_and(|stem| KAH_STEMS.contains(&stem))
    }) {
        return true;
    }
    if opens_with_question(&t) {
        return true;
    }
    tag_question(&t)
}

/// An Indonesian question word, unless it means "any" in an agreeing answer ("kapan aja bisa").
fn question_word(t: &[String]) -> bool {
    let agreeing = has_any(t, AGREEING);
    ID_QUESTION_WORDS.iter().any(|q| {
        let Some(at) = find_phrase(t, q) else {
            return false;
        };
        let len = words(q).len();
        let next = t.get(at + len).map(String::as_str);
        // "kapan-kapan" is "some day", not a question; "ga apa-apa" is "it's fine".
        if (*q == "kapan" || *q == "apa") && next == Some(*q) {
            return false;
        }
        let prev = at.checked_sub(1).map(|p| t[p].as_str());
        if *q == "apa" && prev.is_some_and(|p| NEGATIONS.contains(&p) || p == "tak") {
            return false;
        }
        // "tergantung dapet beasiswa apa ga": "whether or not" after "depends", no question.
        if *q == "apa"
            && next.is_some_and(|n| NEGATIONS.contains(&n))
            && t[..at].iter().any(|w| DEPENDS.contains(&w.as_str()))
        {
            return false;
        }
        // "belum tau kapan", "masih bingung negara mana": not knowing, not asking.
        let window = &t[at.saturating_sub(4)..at];
        let unsure = window.iter().any(|w| UNSURE.contains(&w.as_str()))
            || (window.iter().any(|w| KNOW.contains(&w.as_str()))
                && window
                    .iter()
                    .any(|w| NEGATIONS.contains(&w.as_str()) || w == "kurang"));
        if unsure {
            return false;
        }
        !(agreeing && next.is_some_and(|n| ANY_AFTER_QUESTION_WORD.contains(&n)))
    })
}

/// The first word after fillers is an English question opener ("what...", "is it...", "can").
fn opens_with_question(t: &[String]) -> bool {
    let Some(at) = t
        .iter()
        .position(|w| !OPENING_FILLERS.contains(&w.as_str()))
    else {
        return false;
    };
    let opener = t[at].as_str();
    if !EN_QUESTION_OPENERS.contains(&opener) {
        return false;
    }
    let next = t.get(at + 1).map(String::as_str);
    // "is/are/do/can..." open a question only before a subject ("can I", "is the fee"...);
    // "do it" is an imperative. "when I graduate" is a clause, "when is it" a question.
    match opener {
        "what" | "how" | "when" | "where" | "why" | "which" | "who" | "whats" | "hows" => {
            !next.is_some_and(|n| matches!(n, "i" | "we" | "my" | "our"))
        }
        _ => next.is_some_and(|n| {
            matches!(
                n,
                "i" | "you"
                    | "we"
                    | "they"
                    | "he"
                    | "she"
                    | "there"
                    | "the"
                    | "this"
                    | "that"
                    | "my"
                    | "your"
                    | "a"
                    | "an"
            )
        }),
    }
}

/// "...ga?" / "...nggak kak" after a predicate, or "sudah ... belum".
fn tag_question(t: &[String]) -> bool {
    let mut end = t.len();
    while end > 1 && TRAILING_FILLERS.contains(&t[end - 1].as_str()) {
        end -= 1;
    }
    let t = &t[..end];
    let Some(last) = t.last() else { return false };
    if t.len() < 2 {
        return false;
    }
    let before = &t[..t.len() - 1];
    let prev = before[before.len() - 1].as_str();
    // "paspor ada, IELTS ga" / "paspor sudah, cv belum" list answers.
    let listing = before
        .windows(2)
        .any(|w| DOCUMENT_NOUNS.contains(&w[0].as_str()) && ANSWER_WORDS.contains(&w[1].as_str()));
    if matches!(last.as_str(), "belum" | "blm" | "blom" | "belom") {
        return before
            .iter()
            .any(|w| matches!(w.as_str(), "sudah" | "udah" | "udh" | "sdh" | "dah"))
            && !listing
            && !DOCUMENT_NOUNS.contains(&prev)
            && !ANSWER_BEFORE_NEGATION
                .iter()
                .any(|w| *w == prev && !matches!(*w, "sudah" | "udah" | "udh" | "sdh" | "dah"));
    }
    let tagged = TAG_NEGATIONS.contains(&last.as_str())
        || (t.len() >= 3 && t[t.len() - 2] == "or" && last == "not");
    if !tagged {
        return false;
    }
    // "tergantung dapet beasiswa apa ga", "depends on whether I get it or not": a "whether"
    // clause after "depends", not a question.
    if before.iter().any(|w| DEPENDS.contains(&w.as_str())) {
        return false;
    }
    if ANSWER_BEFORE_NEGATION.contains(&prev) {
        return false;
    }
    if DOCUMENT_NOUNS.contains(&prev) {
        // "perlu IELTS nggak" asks; "IELTS ga" and "paspor ada, IELTS ga" answer.
        let asked = before.len() >= 2 && PREDICATES.contains(&before[before.len() - 2].as_str());
        if !asked || listing {
            return false;
        }
    }
    // "belum ada, ga" lists answers; "ada beasiswa ga" asks.
    !before.iter().any(|w| NEGATIONS.contains(&w.as_str()))
}

/// Words naming the consultation ARI offers ("konsultasinya", "the consultation", "sesinya").
const CONSULTATION_WORDS: &[&str] = &[
    "konsultasi",
    "konsultasinya",
    "konsul",
    "konsulnya",
    "sesi",
    "sesinya",
    "consultation",
    "consult",
    "session",
    "meeting",
    "meetingnya",
];

/// True when `text` names the consultation itself ("konsultasinya bayar ga kak?", "Is there
/// any fee for the consultation?"): at the offer, the offer's own answer fits, not the
/// knowledge base.
pub fn names_the_consultation(text: &str) -> bool {
    has_any(&words(text), CONSULTATION_WORDS)
}

/// Words naming the schedule or the consultation as a thing to get ("jadwal", "booking").
const BOOKING_NOUNS: &[&str] = &[
    "jadwal",
    "jadwalnya",
    "jadwalin",
    "jadwalkan",
    "booking",
    "book",
    "konsultasi",
    "konsul",
    "consultation",
    "schedule",
    "appointment",
    "reservasi",
    "janjian",
];

/// Words a short booking request may hold besides [`BOOKING_NOUNS`] ("jadwal dong kak",
/// "mau booking aja", "book a consultation please").
const REQUEST_FILLERS: &[&str] = &[
    "kak", "ka", "kk", "min", "gan", "sis", "bro", "dong", "donk", "aja", "ya", "yuk", "ayo",
    "mau", "pengen", "pgn", "ingin", "minta", "langsung", "boleh", "bisa", "sekarang", "please",
    "pls", "plz", "a", "an", "the", "i", "want", "to", "like", "d", "can", "let", "s", "me", "now",
    "just", "deh", "nya", "gratis", "free", "sesi", "session",
];

/// True when the lead asks to book the consultation: a booking request
/// ([`super::rebook::asks_to_book`]: "mau jadwalin konsultasi", "can I book a session") or a
/// short message of only booking words and fillers ("jadwal", "jadwal dong kak", "konsultasi
/// aja", "schedule please"), as the knowledge base's "balas 'jadwal'" invites. During
/// qualifying it is acknowledged: the consultation comes after the remaining questions.
pub fn asks_for_booking(text: &str) -> bool {
    if super::rebook::asks_to_book(text) {
        return true;
    }
    let t = words(text);
    t.len() <= 6
        && t.iter().any(|w| BOOKING_NOUNS.contains(&w.as_str()))
        && t.iter()
            .all(|w| BOOKING_NOUNS.contains(&w.as_str()) || REQUEST_FILLERS.contains(&w.as_str()))
}

/// Words of being busy right now ("lagi meeting", "I'm driving").
const BUSY_WORDS: &[&str] = &[
    "sibuk",
    "meeting",
    "rapat",
    "nyetir",
    "driving",
    "busy",
    "dijalan",
    "otw",
    "kelas",
    "di jalan",
    "in class",
    "at work",
    "lagi kerja",
];

/// Words of "later" ("nanti", "ntar", "besok aja", "later").
const LATER_WORDS: &[&str] = &[
    "nanti",
    "ntar",
    "entar",
    "nnti",
    "later",
    "tomorrow",
    "tonight",
    "besok aja",
    "nanti aja",
    "another time",
    "lain kali",
];

/// Words of getting back in touch ("nanti aku kabarin", "text me later", "get back to you").
const CONTACT_WORDS: &[&str] = &[
    "kabarin", "kabari", "kabarkan", "hubungi", "hubungin", "chat", "chatan", "balas", "bales",
    "lanjut", "lanjutin", "dilanjut", "text", "message", "msg", "call", "telpon", "get back",
    "talk", "continue", "reply", "respond",
];

/// Messages that say "later" on their own.
const LATER_ALONE: &[&str] = &[
    "ttyl",
    "brb",
    "nanti dulu",
    "ntar dulu",
    "later ya",
    "nanti ya",
];

/// True when the lead puts the chat off for now: busy now and "later" ("aduh lagi meeting
/// kak, nanti ya"), "later" and getting back in touch ("nanti aku kabarin", "sorry, text me
/// later"), or a bare "ttyl". Not a question ("nanti dikabari lewat apa?"): the caller also
/// checks that nothing was read from the message ("nanti tahun depan" is a timeline).
pub fn defers(text: &str) -> bool {
    if is_question(text) {
        return false;
    }
    let t = words(text);
    let later = has_any(&t, LATER_WORDS);
    has_any(&t, LATER_ALONE)
        || (later && has_any(&t, BUSY_WORDS))
        || (later && has_any(&t, CONTACT_WORDS))
}

/// Paid things other than the consultation: "how much do your services cost after the free
/// session?" asks about them, not about the session.
const OTHER_SUBJECTS: &[&str] = &[
    "service",
    "services",
    "layanan",
    "layanannya",
    "package",
    "packages",
    "paket",
    "paketnya",
    "program",
    "tuition",
    "kuliah",
    "kuliahnya",
    "kampus",
    "university",
    "universitas",
    "visa",
    "beasiswa",
    "scholarship",
    "living",
    "hidup",
    "asrama",
    "accommodation",
    "pendaftaran",
    "application",
];

/// Words about what a thing costs ("gratis", "bayar", "biaya", "fee", "hidden").
const COST_WORDS: &[&str] = &[
    "gratis",
    "free",
    "bayar",
    "berbayar",
    "biaya",
    "biayanya",
    "cost",
    "costs",
    "fee",
    "fees",
    "charge",
    "charged",
    "price",
    "harga",
    "tersembunyi",
    "hidden",
    "pay",
    "paid",
    "duit",
];

/// True when a question at the offer is about the offered consultation: it names it
/// ([`names_the_consultation`]) or asks only what something costs ("emang gratis kak? ga ada
/// biaya tersembunyi kan?"), and names no other paid thing ([`OTHER_SUBJECTS`]) and no country.
pub fn about_the_consultation(text: &str) -> bool {
    let t = words(text);
    if has_any(&t, OTHER_SUBJECTS) || crate::flow::extract::country(text).is_some() {
        return false;
    }
    has_any(&t, CONSULTATION_WORDS) || has_any(&t, COST_WORDS)
}

/// True when `text` is a question: a question mark, or [`asks_by_words`], or a clause (split at
/// punctuation) opening with an English question word ("Yes. How much is it").
///
/// ```
/// use ari::flow::intents::is_question;
/// assert!(is_question("ada beasiswa ga?"));
/// assert!(is_question("konsultasinya bayar ga kak"));
/// assert!(is_question("Is there a scholarship"));
/// assert!(!is_question("belum ada kak"));
/// assert!(!is_question("kayaknya ga deh"));
/// ```
pub fn is_question(text: &str) -> bool {
    if text.contains(['?', '？', '¿']) || asks_by_words(text) {
        return true;
    }
    text.split(['.', ',', ';', '!', '\n'])
        .any(|clause| opens_with_question(&words(clause)))
}

/// Verbs of talking to someone, both languages, incl. chat forms ("telpon", "nelpon", "ngobrol").
const TALK_VERBS: &[&str] = &[
    "talk",
    "talking",
    "speak",
    "speaking",
    "chat",
    "chatting",
    "call",
    "calling",
    "phone",
    "ring",
    "contact",
    "reach",
    "connect",
    "transfer",
    "telpon",
    "telepon",
    "telp",
    "tlp",
    "tlpn",
    "nelpon",
    "nelepon",
    "menelpon",
    "menelepon",
    "ditelpon",
    "ditelepon",
    "vc",
    "video call",
    "videocall",
    "ngobrol",
    "ngobrolin",
    "mengobrol",
    "bicara",
    "berbicara",
    "ngomong",
    "omong",
    "hubungi",
    "menghubungi",
    "dihubungi",
    "hubungkan",
    "dihubungkan",
    "menghubungkan",
    "sambungkan",
    "disambungkan",
    "menyambungkan",
    "sambungin",
    "disambungin",
    "nyambungin",
    "hubungin",
    "dihubungin",
    "ngehubungin",
    "connecting",
    "chatan",
    "wa",
    "whatsapp",
    "japri",
    "nomor",
    "nomer",
    "kontak",
    "number",
];

/// Who the lead wants: a person, not the bot.
const PERSON_TARGETS: &[&str] = &[
    "person",
    "human",
    "humans",
    "someone",
    "somebody",
    "people",
    "consultant",
    "consultants",
    "counselor",
    "counsellor",
    "advisor",
    "adviser",
    "agent",
    "representative",
    "staff",
    "operator",
    "konsultan",
    "konsultannya",
    "konselor",
    "admin",
    "adminnya",
    "cs",
    "customer service",
    "orang",
    "orangnya",
    "manusia",
    "petugas",
    "staf",
    "tim",
    "timnya",
    "team",
    "team",
    "mentor",
    "mentornya",
];

/// "orang tua" are parents: talking to them is no human request.
const NOT_TARGET_AFTER_ORANG: &[&str] = &["tua", "tuaku", "tuanya", "lain"];

/// Verbs that make "please call me" a request for a person's call ("konsultan telpon saya").
const ME: &[&str] = &["me", "saya", "aku", "gue", "gw", "sy"];

/// Passive "be called/contacted" forms: a person before them asks for a person ("ada admin
/// yang bisa dihubungi?").
const PASSIVE_VERBS: &[&str] = &[
    "dihubungi",
    "ditelpon",
    "ditelepon",
    "dichat",
    "dikontak",
    "dihubungkan",
    "disambungkan",
];

/// Words of booking the consultation: "mau jadwalkan telpon dengan konsultan" books, it does not
/// ask for a handoff; the booking flow brings the person.
const BOOKING_WORDS: &[&str] = &[
    "konsultasi",
    "konsultasinya",
    "consultation",
    "konsul",
    "jadwal",
    "jadwalkan",
    "jadwalin",
    "booking",
    "book",
    "schedule",
    "appointment",
    "janjian",
    "slot",
];

/// "Talk to the bot instead" / "no need": a negated request is no request.
const REFUSALS: &[&str] = &[
    "ga perlu",
    "gak perlu",
    "nggak perlu",
    "tidak perlu",
    "ga usah",
    "gak usah",
    "nggak usah",
    "tidak usah",
    "gausah",
    "gaperlu",
    "belum perlu",
    "no need",
    "don t need",
    "dont need",
    "don t want",
    "dont want",
    "do not want",
    "do not need",
    "not want",
    "ga mau",
    "gak mau",
    "nggak mau",
    "tidak mau",
];

/// Standalone requests for a person without a talk verb ("sama orang aja", "human please",
/// "bukan bot").
const DIRECT_REQUESTS: &[&str] = &[
    "real person",
    "actual person",
    "real human",
    "live agent",
    "live person",
    "human please",
    "human pls",
    "orang asli",
    "orang beneran",
    "manusia asli",
    "manusia beneran",
    "jangan bot",
    "no bot",
    "no bots",
];

/// Asking what the bot is ("are you a real person?", "ini bot ya?") is no request yet: the
/// reply says what it is and offers a person.
const ASKS_WHAT_BOT_IS: &[&str] = &[
    "are you",
    "r u",
    "is this",
    "am i talking",
    "am i chatting",
    "apakah ini",
    "ini",
    "kamu",
    "kau",
    "anda",
];

/// Prepositions before a target in "sama admin aja", "langsung ke konsultan".
const TO: &[&str] = &["sama", "ama", "dengan", "dgn", "ke", "with", "to"];
/// Words that make "with/to <target>" a request ("aja", "langsung", "please", "instead").
const INSIST: &[&str] = &[
    "aja", "saja", "langsung", "directly", "please", "pls", "dong", "instead", "only", "deh",
];

/// Phoning verbs: a bot cannot phone, so "call me" is always a request for a person.
const CALL_VERBS: &[&str] = &[
    "call",
    "phone",
    "ring",
    "telpon",
    "telepon",
    "telp",
    "tlp",
    "tlpn",
    "nelpon",
    "nelepon",
    "menelpon",
    "menelepon",
    "ditelpon",
    "ditelepon",
    "vc",
];

/// What may follow "call me" in a request ("call me tomorrow", "call me back please").
const CALL_ME_FOLLOWERS: &[&str] = &[
    "tomorrow", "today", "tonight", "now", "later", "please", "pls", "instead", "back", "at", "on",
    "in", "this", "asap", "directly", "when", "if", "before", "after", "anytime", "sometime",
    "kak", "ya", "aja", "saja", "dong",
];

/// Helping verbs: "is there a staff member who can help directly?" asks for a person (see
/// [`person_can_help`]).
const HELP_VERBS: &[&str] = &[
    "bantu", "bantuin", "membantu", "dibantu", "help", "assist", "layani", "melayani", "handle",
    "jawab", "jawabin", "menjawab",
];

/// Words that ask whether a person exists ("ada staff yang...", "is there someone who...").
const EXISTS: &[&str] = &["ada", "adakah", "there", "any", "anyone"];

/// Modal words that make a statement about a person a request ("a person I *can* talk to").
const MODALS: &[&str] = &[
    "can", "could", "would", "may", "bisa", "boleh", "dapat", "bisakah", "tolong", "please",
];

/// "call me", "give me a call", "bisa telpon saya", "ditelpon aja": the lead asks to be phoned
/// (the verb at `i`).
fn asks_to_be_called(t: &[String], i: usize) -> bool {
    let w = t[i].as_str();
    if !CALL_VERBS.contains(&w) {
        return false;
    }
    // "call me Rizky" gives a name: after "call me" only words of a request may follow.
    let name_follows = w == "call"
        && t.get(i + 2)
            .is_some_and(|n| !CALL_ME_FOLLOWERS.contains(&n.as_str()));
    let me_after = t.get(i + 1).is_some_and(|n| ME.contains(&n.as_str())) && !name_follows;
    let me_before = (i.saturating_sub(2)..i).any(|j| ME.contains(&t[j].as_str()))
        && t[..i].iter().any(|x| x == "give" || x == "kasih");
    let passive =
        w.starts_with("di") && (i + 1..t.len().min(i + 3)).any(|j| INSIST.contains(&t[j].as_str()));
    me_after || me_before || passive
}

/// "Is there an actual person I can talk to?", "could one of your consultants call": a person
/// within the six words before the verb at `i`, and a modal between them.
fn target_can_do(t: &[String], i: usize) -> bool {
    let from = i.saturating_sub(6);
    (from..i).any(|j| is_target(t, j) && t[j..i].iter().any(|x| MODALS.contains(&x.as_str())))
        || (from..i).any(|j| {
            MODALS.contains(&t[j].as_str())
                && t[j..i].iter().enumerate().any(|(k, _)| is_target(t, j + k))
        })
}

/// "ada staff yg bisa bantu langsung ga?", "is there anyone who can help me directly": a
/// helping verb at `i` with a person and a modal in the four words before it, asked as "is
/// there" or insisted on ("langsung", "directly"). "konsultan bisa bantu apa aja?" asks what
/// consultants do, not for one.
fn person_can_help(t: &[String], i: usize) -> bool {
    if !HELP_VERBS.contains(&t[i].as_str()) {
        return false;
    }
    let from = i.saturating_sub(4);
    let Some(who) = (from..i).find(|&j| is_target(t, j)) else {
        return false;
    };
    let modal = t[who.saturating_sub(3)..i]
        .iter()
        .any(|x| MODALS.contains(&x.as_str()));
    let asked_exists = t[who.saturating_sub(5)..who]
        .iter()
        .any(|x| EXISTS.contains(&x.as_str()));
    let after = &t[i + 1..t.len().min(i + 3)];
    let insisted = after
        .iter()
        .any(|x| matches!(x.as_str(), "langsung" | "directly" | "personally"));
    // Help with a task ("bantu cari asrama") is about the task, not a request for the person.
    let for_me = after
        .iter()
        .all(|x| ME.contains(&x.as_str()) || HELP_FOLLOWERS.contains(&x.as_str()));
    modal && for_me && (asked_exists || insisted)
}

/// What may follow a helping verb in a request for a person ("bantu langsung ga", "help me
/// please").
const HELP_FOLLOWERS: &[&str] = &[
    "langsung",
    "directly",
    "personally",
    "ga",
    "gak",
    "nggak",
    "ngga",
    "tidak",
    "kah",
    "ya",
    "kak",
    "dong",
    "please",
    "pls",
    "now",
    "sekarang",
    "out",
    "here",
    "disini",
    "sini",
    "mau",
];

/// "can I just get a staff member to walk me through this?", "could I have someone call me":
/// a modal within three words before "get" / "have" at `i`, and a person within three words
/// after it. "do I need a consultant?" and "I have a consultant friend" ask for no one.
fn asks_to_get_person(t: &[String], i: usize) -> bool {
    if !matches!(t[i].as_str(), "get" | "have") {
        return false;
    }
    let modal = t[i.saturating_sub(3)..i]
        .iter()
        .any(|x| matches!(x.as_str(), "can" | "could" | "may"));
    modal && (i + 1..t.len().min(i + 4)).any(|j| is_target(t, j))
}

fn is_target(t: &[String], i: usize) -> bool {
    let w = t[i].as_str();
    // English plurals: "one of your advisors", "your consultants".
    if let Some(one) = w.strip_suffix('s')
        && w.len() > 4
        && PERSON_TARGETS.contains(&one)
    {
        return true;
    }
    if matches!(w, "orang" | "orangnya") {
        return !t
            .get(i + 1)
            .is_some_and(|n| NOT_TARGET_AFTER_ORANG.contains(&n.as_str()));
    }
    if w == "customer" {
        return t.get(i + 1).is_some_and(|n| n == "service");
    }
    PERSON_TARGETS.contains(&w)
}

/// True when `text` asks to talk to a person: a talk verb (talk, speak, call, chat, telpon,
/// nelpon, ngobrol, bicara, hubungi...) with a person (human, real/actual person, consultant,
/// konsultan, admin, CS, staff, orang) up to four words after it ("bisa telpon konsultannya
/// aja?", "I'd prefer to speak with an actual consultant"), a person before a verb followed by
/// "me" ("konsultan telpon saya"), "with/to <person>" insisted on ("sama admin aja",
/// "langsung ke konsultan"), a person before a passive verb ("ada admin yang bisa
/// dihubungi?"), or a direct phrase ("real person", "orang asli", "jangan bot"), unless the
/// message asks what the bot is ("are you a real person?"). A refusal before it ("ga usah
/// telpon admin", "no need to talk to a human") cancels it, and so do booking words ("mau
/// jadwalkan telpon dengan konsultan", "konsultasi langsung sama konsultan"): the booking flow
/// brings the person.
///
/// Near misses that do not match: "saya mau jadi konsultan" (no verb), "my consultant friend
/// said UK is good", "apa konsultasinya bayar?" ("konsultasi" is no person), "ngobrol sama
/// orang tua dulu" (parents).
pub fn asks_for_human(text: &str) -> bool {
    let t = words(text);
    if has_any(&t, BOOKING_WORDS) {
        return false;
    }
    // Where each refusal starts; one refuses what follows within five words, unless it refuses
    // the bot ("ga mau bot, mau orang asli").
    let refusals: Vec<usize> = (0..t.len())
        .filter(|&i| {
            REFUSALS.iter().any(|r| {
                let rw = words(r);
                t.len() >= i + rw.len() && t[i..i + rw.len()] == rw[..]
            })
        })
        .collect();
    let refused_before = |i: usize| {
        refusals.iter().any(|&r| {
            r <= i
                && i - r <= 5
                && !t[r..i]
                    .iter()
                    .any(|w| matches!(w.as_str(), "bot" | "robot" | "chatbot" | "ai"))
        })
    };
    for (i, w) in t.iter().enumerate() {
        let verb = TALK_VERBS.iter().any(|v| {
            let vw = words(v);
            t.len() >= i + vw.len() && t[i..i + vw.len()] == vw[..]
        });
        if verb && !refused_before(i) {
            if (i + 1..t.len().min(i + 6)).any(|j| is_target(&t, j)) {
                return true;
            }
            // "ada admin yang bisa dihubungi?"
            if PASSIVE_VERBS.contains(&w.as_str())
                && (i.saturating_sub(4)..i).any(|j| is_target(&t, j))
            {
                return true;
            }
            // "can a consultant call me", "konsultannya telpon saya".
            if t.get(i + 1).is_some_and(|n| ME.contains(&n.as_str()))
                && (i.saturating_sub(3)..i).any(|j| is_target(&t, j))
            {
                return true;
            }
        }
        if verb && !refused_before(i) && (asks_to_be_called(&t, i) || target_can_do(&t, i)) {
            return true;
        }
        if !refused_before(i) && (person_can_help(&t, i) || asks_to_get_person(&t, i)) {
            return true;
        }
        if TO.contains(&w.as_str()) && t.len() > i + 1 && !refused_before(i) && is_target(&t, i + 1)
        {
            let before = i.checked_sub(1).map(|p| t[p].as_str());
            let after = t.get(i + 2).map(String::as_str);
            if before.is_some_and(|b| INSIST.contains(&b))
                || after.is_some_and(|a| INSIST.contains(&a))
            {
                return true;
            }
        }
    }
    if has_any(&t, ASKS_WHAT_BOT_IS) {
        return false;
    }
    DIRECT_REQUESTS
        .iter()
        .filter_map(|p| find_phrase(&t, p))
        .any(|at| !refused_before(at))
        || (has_phrase(&t, "human") && t.len() <= 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn putting_the_chat_off() {
        for text in [
            "aduh lagi meeting kak, nanti aku kabarin ya",
            "sorry I'm driving rn, text me later",
            "ntar dulu ya kak",
            "busy now, talk tomorrow",
            "nanti aku lanjutin ya kak, lagi di jalan",
        ] {
            assert!(defers(text), "{text}");
        }
        for text in [
            "nanti tahun depan kak",
            "lagi kerja kak",
            "nanti dikabari lewat apa kak?",
            "later this year",
            "besok jam 10",
        ] {
            assert!(!defers(text), "{text}");
        }
    }

    #[test]
    fn a_whether_clause_after_depends_is_no_question() {
        for t in [
            "tergantung dapet beasiswa apa ga",
            "skip dulu ya kak soal budget, depends on beasiswa nya dapet apa ga",
            "budgetnya tergantung lolos LPDP apa nggak",
            "it depends on whether I get the scholarship or not",
            "depending on the scholarship, yes or not",
        ] {
            assert!(!asks_by_words(t), "{t}");
        }
        // Asked outright, the same words are questions.
        for t in [
            "dapet beasiswa apa ga",
            "lolos LPDP apa nggak kak",
            "is it free or not",
        ] {
            assert!(asks_by_words(t), "{t}");
        }
    }

    #[test]
    fn questions_in_both_languages() {
        let yes = [
            // Indonesian, incl. slang and without a question mark.
            "ada beasiswa ga?",
            "ada beasiswa ga",
            "konsultasinya bayar ga kak?",
            "konsultasinya bayar ga kak",
            "biayanya berapa",
            "gimana caranya",
            "kapan mulai kuliahnya",
            "adakah beasiswa untuk S2",
            "bisakah dicicil",
            "udah termasuk visa belum",
            "mau tanya soal visa",
            "boleh tanya dulu kak",
            "perlu IELTS nggak",
            "syaratnya apa aja",
            "yang mana yang lebih murah",
            "gratis tidak ya",
            "paspor perlu?",
            "iya kak, tapi bayar ga?",
            // English.
            "Is there a scholarship",
            "is it free",
            "do you have programs in Canada",
            "can I pay in installments",
            "how much does it cost",
            "what about Australia",
            "Yes. How long is the consultation",
            "ok, when is the intake",
            "Which one is cheaper",
            "could you tell me more",
            "free or not",
            "ada paspor ga",
            "mau tau berapa biayanya",
        ];
        let mut failures: Vec<String> = yes
            .iter()
            .filter(|s| !is_question(s))
            .map(|s| format!("{s:?} should be a question"))
            .collect();
        let no = [
            "belum ada kak",
            "belum",
            "ga",
            "nggak",
            "saya ga",
            "kayaknya ga deh",
            "udah ga kerja",
            "paspor sudah, cv belum",
            "saya belum",
            "sudah ada",
            "ga dulu deh kak",
            "kapan aja bisa kak",
            "kapan-kapan aja",
            "iya boleh",
            "Yes, I have my transcript",
            "yes it is",
            "no, I don't have one",
            "do it",
            "I can do thursday",
            "not yet",
            "ga tau",
            "langkah selanjutnya ok",
            "mau nikah dulu",
            "belum ada, ga",
            "belum tau kapan berangkat",
            "masih bingung mau ke negara mana",
            "gatau berapa",
            "paspor ga",
            "paspor ada, ielts ga",
            "when I graduate",
        ];
        failures.extend(
            no.iter()
                .filter(|s| is_question(s))
                .map(|s| format!("{s:?} should not be a question")),
        );
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    #[test]
    fn words_alone_ignore_punctuation() {
        assert!(asks_by_words("ada beasiswa ga"));
        assert!(!asks_by_words("ya?"));
        assert_eq!(
            asks_by_words("bayar ga, kak?"),
            asks_by_words("bayar ga kak")
        );
    }

    #[test]
    fn human_requests_in_other_words() {
        let yes = [
            // Indonesian.
            "bisa telpon konsultannya aja?",
            "mau ngobrol sama orang aja",
            "saya mau bicara dengan konsultan",
            "tolong hubungkan ke admin",
            "bisa ditelepon sama konsultan?",
            "pengen ngomong langsung sama orangnya",
            "minta nomor konsultannya dong",
            "sama admin aja deh",
            "langsung ke konsultan aja kak",
            "bisa nelpon CS nya?",
            "mau orang asli aja",
            "jangan bot dong, mau sama orang",
            "ga mau bot, mau orang asli",
            "no need for the bot, let me talk to a person",
            "konsultannya telpon saya aja",
            "bisa chat sama customer service?",
            "ada admin yang bisa dihubungi?",
            "kak bisa sambungin ke CS nya aja ga? mau nanya2 langsung",
            "tolong hubungin ke konsultannya ya",
            // English.
            "I'd prefer to speak with an actual consultant",
            "can I talk to a human",
            "let me speak to a real person",
            "please connect me with a consultant",
            "can someone from your team call me",
            "I want to chat with an agent",
            "could a consultant call me",
            "human please",
            "talk to staff",
            "can I phone the consultant",
            "I'd rather talk to someone",
            "Can I just get a staff member to walk me through this?",
            "could I have someone from your team call me",
        ];
        let mut failures: Vec<String> = yes
            .iter()
            .filter(|s| !asks_for_human(s))
            .map(|s| format!("{s:?} should ask for a person"))
            .collect();
        let no = [
            "saya mau jadi konsultan",
            "my consultant friend said UK is good",
            "apa konsultasinya bayar?",
            "konsultasi gratis?",
            "ngobrol sama orang tua dulu ya",
            "saya mau bicara dengan orang tua dulu",
            "ga usah telpon admin, chat aja",
            "no need to talk to a human",
            "ga perlu ngobrol sama admin kok",
            "I don't want to talk to a consultant yet",
            "call me Rizky",
            "nama saya Rina, konsultan pajak",
            "I talked to my parents",
            "kak konsultannya siapa aja?",
            "email saya budi@mail.com",
            "mau S2 ke UK",
            "is the consultation with a consultant free",
            "orang tua saya setuju",
            "mau konsultasi sama konsultan langsung bisa?",
            "are you a real person?",
            "ini bot ya?",
            "kamu manusia asli?",
            "are you human",
            "I want to book a call with a consultant",
            "jadwalkan telpon dengan konsultan ya",
            "do I need a consultant for the visa?",
            "I have a consultant friend in Sydney",
            "can I get a scholarship as a staff member?",
        ];
        failures.extend(
            no.iter()
                .filter(|s| asks_for_human(s))
                .map(|s| format!("{s:?} should not ask for a person")),
        );
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }
}

#[cfg(test)]
mod request_pattern_tests {
    use super::asks_for_human;

    #[test]
    fn asking_to_be_phoned_or_for_a_person_one_can_talk_to_is_a_request() {
        for t in [
            "Is there an actual person I can talk to?",
            "Could one of your consultants just give me a call instead?",
            "kak bisa tlp sy aja ga? ngetik ribet hehe",
            "ditelpon aja kak",
            "please call me tomorrow morning",
            "is there someone from your team who could phone me?",
            "ada orang yang bisa saya telpon?",
            "bisa telepon saya sore ini?",
            "Apakah saya bisa dihubungkan dengan konsultan Anda secara langsung?",
            "mohon saya dihubungkan ke salah satu konsultan",
            "kak ada staff yg bisa bantu langsung ga?",
            "ada orang yang bisa bantuin aku ga kak",
            "Is there anyone on your team who can help me?",
            "could a consultant help me directly",
        ] {
            assert!(asks_for_human(t), "{t}");
        }
    }

    #[test]
    fn calls_and_people_in_other_roles_are_not_requests() {
        for t in [
            "my consultant friend said UK is good",
            "saya mau jadi konsultan",
            "nanti saya telpon kampusnya dulu",
            "orang tua saya bisa bicara dulu sama saya",
            "I can call the embassy myself",
            "saya kerja jadi admin",
            "konsultan bisa bantu apa aja?",
            "consultants can help with the visa later, right?",
            "kampusnya ada staff yang bisa bantu cari asrama?",
            "kakak saya bisa bantu biayanya",
            "can my parents help with the application",
        ] {
            assert!(!asks_for_human(t), "{t}");
        }
    }

    #[test]
    fn short_booking_requests_are_read_and_other_mentions_are_not() {
        use super::asks_for_booking;
        for t in [
            "jadwal",
            "jadwal dong kak",
            "konsultasi aja kak",
            "mau booking sekarang",
            "schedule please",
            "I'd like to book a session",
            "mau jadwalin konsultasi",
        ] {
            assert!(asks_for_booking(t), "{t}");
        }
        for t in [
            "jadwal kuliahnya gimana?",
            "konsultasinya bayar ga?",
            "jadwal kelasnya padat ga?",
            "ga usah booking dulu",
            "halo kak",
        ] {
            assert!(!asks_for_booking(t), "{t}");
        }
    }
}
