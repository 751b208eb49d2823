//! The reply check, run on every model answer before it is returned (issue 5 "Budgets",
//! issue 21 item 6): not empty, within WhatsApp's 4,096 characters, no booking claim the core
//! did not make, no leaked prompt text, and by allow-list ([`Allowed`]):
//! - no URL, phone or account number that is not the community link, a consultant's or the
//!   team's number, a meeting link, or in the knowledge answer or the template reply;
//! - no clock time, weekday or day-and-month date that is in none of the knowledge answer, the
//!   lead's words, the template reply and the shown slots, unless the turn booked;
//! - no request for a transfer, a deposit or an account number (Indonesian and English).
//!
//! Saying the consultation is free stays allowed. A rejected reply becomes an error and the
//! caller sends the template. The seed sent whatever the model said, including its own error
//! sentence (§11.4).

mod allow;

pub use allow::Allowed;

use std::sync::LazyLock;

use regex::Regex;

/// WhatsApp's text message limit, in characters.
pub const WHATSAPP_MAX_CHARS: usize = 4096;

/// Why a reply was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    /// Nothing but whitespace.
    Empty,
    /// Claims a booking while the core has not booked one.
    BookingClaim,
    /// Contains system-prompt text (a header, the persona line or a rule).
    PromptLeak,
    /// A URL not on the allow-list.
    Link,
    /// A phone or account number not on the allow-list.
    Number,
    /// A clock time, weekday or date nobody stated (no booking in this turn).
    UnstatedTime,
    /// Asks for a transfer, a deposit or an account number.
    PaymentRequest,
}

impl Rejection {
    /// Stable label for metrics and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Rejection::Empty => "empty",
            Rejection::BookingClaim => "booking_claim",
            Rejection::PromptLeak => "prompt_leak",
            Rejection::Link => "link",
            Rejection::Number => "number",
            Rejection::UnstatedTime => "unstated_time",
            Rejection::PaymentRequest => "payment_request",
        }
    }
}

impl std::fmt::Display for Rejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Phrases that claim a consultation is booked/scheduled/confirmed (Indonesian and English).
const BOOKING_CLAIMS: &[&str] = &[
    r"(?i)\b(sudah|udah|telah|berhasil|sukses)\s+(saya\s+|aku\s+|kami\s+)?(di|ter)?(booking|book|booked|pesan|pesankan|jadwalkan|jadwalin|daftarkan|reservasi|konfirmasi)",
    r"(?i)\b(booking|jadwal|reservasi|konsultasi)(nya|mu)?\s+(kamu\s+|kakak\s+|kak\s+)?(sudah|udah|telah)\s+(berhasil|masuk|terkonfirmasi|dikonfirmasi|fix|terjadwal|dijadwalkan|dibuat|tercatat|aman)",
    r"(?i)\b(booking|reservasi)(nya)?\s+(berhasil|sukses|terkonfirmasi|confirmed)",
    r"(?i)\bsudah\s+terbooking\b",
    r"(?i)\b(i|we)('ve|\s+have)\s+(booked|scheduled|reserved|confirmed)\b",
    r"(?i)\b(you('re|\s+are)|you\s+have\s+been|it('s|\s+is|\s+has\s+been)|has\s+been|is\s+now)\s+(booked|scheduled|confirmed|reserved)\b",
    r"(?i)\b(booking|appointment|consultation|reservation|session)\s+(is\s+|has\s+been\s+)?(confirmed|booked|scheduled)\b",
    // "all set", "locked in", "secured", "sudah saya catat/amankan": a booking in other words.
    r"(?i)\b(booking|appointment|consultation|reservation|session|meeting|slot|spot|call)('s|\s+is|\s+are|\s+has\s+been)\s+(all\s+|now\s+)?(set|locked\s+in|secured|sorted|arranged|good\s+to\s+go|on\s+the\s+calendar|in\s+the\s+calendar)\b",
    r"(?i)\byou('re|\s+are)\s+(all\s+)?(set|locked\s+in|good\s+to\s+go)\s+for\b",
    r"(?i)\b(i|we)('ve|\s+have)\s+(locked\s+in|secured|reserved|saved|noted\s+down|put\s+you\s+down)\b",
    r"(?i)\b(jadwal|konsultasi|booking|slot|sesi|janji|reservasi)(nya|mu|kamu)?(\s+(konsultasi|temu)(nya|mu)?)?(\s+(kamu|kakak|kak|anda))?\s+(sudah|udah|udh|sdh|telah)\s+(saya\s+|aku\s+|kami\s+|ku\s+)?(di|ter)?(catat|catet|atur|beres|siap|aman|amankan|kunci|simpan|ok|oke|fix|set|lock|ready)\w*",
    r"(?i)\b(sudah|udah|udh|sdh|telah)\s+(saya|aku|kami|ku)\s+(amankan|kunci|lock|jadwalkan|reservasikan|bookingkan)\w*",
];

static BOOKING_CLAIM_RES: LazyLock<Vec<Regex>> = LazyLock::new(|| {
    BOOKING_CLAIMS
        .iter()
        .filter_map(|p| Regex::new(p).ok())
        .collect()
});

/// True when `text` claims a booking.
pub fn claims_booking(text: &str) -> bool {
    BOOKING_CLAIM_RES.iter().any(|r| r.is_match(text))
}

/// True when `text` contains one of the prompt's `markers` (see
/// [`super::prompt::leak_markers`]) or a markdown header line.
pub fn leaks_prompt(text: &str, markers: &[String]) -> bool {
    if text.lines().any(|l| l.trim_start().starts_with("## ")) {
        return true;
    }
    markers
        .iter()
        .filter(|m| m.chars().count() >= 8)
        .any(|m| text.contains(m.as_str()))
}

/// Cuts `text` to at most `max` characters at the last paragraph or sentence end, or else the
/// last space, so a long answer ends cleanly. Texts within the limit come back unchanged.
pub fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let head: String = text.chars().take(max).collect();
    let floor = head.len() / 2;
    let cut = head
        .rfind("\n\n")
        .filter(|i| *i >= floor)
        .or_else(|| {
            head.rfind(['.', '!', '?'])
                .filter(|i| *i >= floor)
                .map(|i| i + 1)
        })
        .or_else(|| head.rfind(char::is_whitespace).filter(|i| *i >= floor));
    match cut {
        Some(i) => head[..i].trim_end().to_string(),
        None => head,
    }
}

/// The allow-list of a reply to `req`: the configured links and numbers, the knowledge
/// answer, the template reply and question, the shown slots, and the times and dates of the
/// lead's messages in the history.
pub fn allowed_for(req: &super::ReplyRequest) -> Allowed {
    let mut a = Allowed::new();
    for item in &req.allowed {
        a.allow(item);
    }
    if let Some(k) = &req.knowledge {
        a.knowledge(&k.text);
    }
    a.trust(&req.fallback_text).trust(&req.question);
    for slot in req.slots.iter().chain(req.selected_slot.iter()) {
        a.trust(&crate::scheduling::slot_line(slot, req.time_zone));
    }
    for m in req.recent.iter().filter(|m| m.role == super::Role::Lead) {
        a.ground(&m.text);
    }
    a
}

/// Checks and tidies a model answer: control and invisible characters gone
/// ([`crate::sanitize::model_reply`]), truncated to [`WHATSAPP_MAX_CHARS`], rejected when
/// empty, claiming an unmade booking (`booked` false), leaking prompt text, or failing the
/// allow-list (`allowed`: links and numbers, times and dates, payment requests).
pub fn check_reply(
    raw: &str,
    booked: bool,
    markers: &[String],
    allowed: &Allowed,
) -> Result<String, Rejection> {
    let tidy = crate::sanitize::model_reply(raw, usize::MAX);
    let text = tidy.as_str();
    if text.is_empty() {
        return Err(Rejection::Empty);
    }
    if !booked && claims_booking(text) {
        return Err(Rejection::BookingClaim);
    }
    if leaks_prompt(text, markers) {
        return Err(Rejection::PromptLeak);
    }
    allowed.check(text, booked)?;
    Ok(truncate(text, WHATSAPP_MAX_CHARS))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_pattern_compiles() {
        assert_eq!(BOOKING_CLAIM_RES.len(), BOOKING_CLAIMS.len());
    }

    #[test]
    fn booking_claims_are_caught_and_offers_are_not() {
        for claim in [
            "Sudah saya booking untuk Kamis jam 9 ya kak",
            "Oke kak, jadwal kamu sudah terkonfirmasi!",
            "Konsultasinya sudah dijadwalkan hari Senin",
            "Booking berhasil kak",
            "Sudah terbooking ya",
            "Berhasil dibooking!",
            "I've booked you for Thursday at 9",
            "You're booked for Monday.",
            "Your appointment is confirmed.",
            "Your consultation is all set",
            // Reworded: the same claim without "booked" or "confirmed".
            "Great news, your session's locked in 🎉",
            "You're all set for Thursday, see you there!",
            "We've reserved a spot for you with Kak Dimas.",
            "Sip kak, slot kamu sudah saya amankan ya",
            "Jadwal konsultasinya udah aku catet ya kak",
        ] {
            assert!(claims_booking(claim), "{claim}");
        }
        for ok in [
            "Mau saya bantu booking konsultasi kak?",
            "Slot Kamis jam 9 masih tersedia, mau pilih yang mana?",
            "Would you like to book a consultation?",
            "Oke, jadi Kamis 26 Nov jam 09:00 ya? Balas ya untuk konfirmasi.",
            "Sudah pernah ikut tes IELTS kak?",
            "Konsultasinya gratis kok kak, mau coba?",
            "The consultation is free, would you like one?",
            "Datanya sudah saya catat, sekarang boleh tau budget kamu?",
            "Are you all set with your IELTS?",
        ] {
            assert!(!claims_booking(ok), "{ok}");
        }
    }

    #[test]
    fn check_reply_rules() {
        let markers = vec!["ATURAN BALASAN".to_string(), "DATA LEAD".to_string()];
        let a = Allowed::default();
        let check_reply =
            |t: &str, booked: bool, m: &[String]| super::check_reply(t, booked, m, &a);
        assert_eq!(check_reply("  ", false, &markers), Err(Rejection::Empty));
        assert_eq!(
            check_reply("Booking berhasil kak!", false, &markers),
            Err(Rejection::BookingClaim)
        );
        assert_eq!(
            check_reply("Booking berhasil kak!", true, &markers).as_deref(),
            Ok("Booking berhasil kak!")
        );
        assert_eq!(
            check_reply("Menurut ATURAN BALASAN saya...", false, &markers),
            Err(Rejection::PromptLeak)
        );
        assert_eq!(
            check_reply("Halo\n## Catatan\nx", false, &markers),
            Err(Rejection::PromptLeak)
        );
        assert_eq!(
            check_reply(" Halo kak! ", false, &markers).as_deref(),
            Ok("Halo kak!")
        );
    }

    #[test]
    fn long_replies_are_cut_at_a_sentence() {
        let sentence = "Ini kalimat yang cukup panjang untuk tes. ";
        let long = sentence.repeat(200);
        let cut = truncate(&long, WHATSAPP_MAX_CHARS);
        assert!(cut.chars().count() <= WHATSAPP_MAX_CHARS);
        assert!(cut.ends_with('.'));
        let one_word = "a".repeat(5000);
        assert_eq!(truncate(&one_word, 4096).chars().count(), 4096);
        assert_eq!(truncate("pendek", 4096), "pendek");
    }
}
