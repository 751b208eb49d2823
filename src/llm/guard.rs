//! The reply check, run on every model answer before it is returned (issue 5 "Budgets"):
//! not empty, within WhatsApp's 4,096 characters, no booking claim the core did not make, no
//! leaked prompt text. A rejected reply becomes an error and the caller sends the template.
//!
//! The seed sent whatever the model said, including its own error sentence (§11.4).

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
}

impl Rejection {
    /// Stable label for metrics and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Rejection::Empty => "empty",
            Rejection::BookingClaim => "booking_claim",
            Rejection::PromptLeak => "prompt_leak",
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

/// Checks and tidies a model answer: control and invisible characters gone
/// ([`crate::sanitize::model_reply`]), truncated to [`WHATSAPP_MAX_CHARS`], rejected when
/// empty, claiming an unmade booking (`booked` false), or leaking prompt text.
pub fn check_reply(raw: &str, booked: bool, markers: &[String]) -> Result<String, Rejection> {
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
        ] {
            assert!(claims_booking(claim), "{claim}");
        }
        for ok in [
            "Mau saya bantu booking konsultasi kak?",
            "Slot Kamis jam 9 masih tersedia, mau pilih yang mana?",
            "Would you like to book a consultation?",
            "Oke, jadi Kamis 26 Nov jam 09:00 ya? Balas ya untuk konfirmasi.",
            "Sudah pernah ikut tes IELTS kak?",
        ] {
            assert!(!claims_booking(ok), "{ok}");
        }
    }

    #[test]
    fn check_reply_rules() {
        let markers = vec!["ATURAN BALASAN".to_string(), "DATA LEAD".to_string()];
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
