//! The reply check's allow-list (issue 21 item 6): what a model reply may contain besides
//! words. A model's reply is refused when it holds
//! - a URL that is not an allowed one (or under one: `https://kampus.example/beasiswa` is under
//!   `kampus.example`);
//! - a phone or account number (7 or more digits, with spaces, dots, dashes or parentheses
//!   between them; not an amount of money) that is not an allowed number;
//! - a clock time, a weekday or a day-and-month date stated in none of the grounding texts
//!   (the knowledge answer, the lead's words, the template reply, the shown slots), unless the
//!   turn booked;
//! - a request for a transfer, a deposit or an account number: a payment word ("transfer",
//!   "DP", "rekening", "deposit", "wire") with an amount, a bank, an account number or a
//!   request ("silakan", "please", "ke rekening"), unless the knowledge answer names that
//!   payment word itself.
//!
//! Allowed URLs and numbers come from the configuration (community link, consultants' and the
//! team's numbers, meeting links) and from the knowledge answer and the template reply.

use std::collections::BTreeSet;
use std::sync::LazyLock;

use regex::Regex;

use super::Rejection;

/// What one reply may mention. Build with [`Allowed::new`], then add texts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Allowed {
    /// URLs as compared: lowercase, no scheme, no `www.`, no trailing `/`.
    urls: Vec<String>,
    /// Numbers as compared: digits only, a leading `62` read as `0`.
    numbers: BTreeSet<String>,
    /// Clock hours (0-11: 3 pm and 15:00 and "jam 3" match), weekdays (0 = Monday) and
    /// `(day, month)` dates the grounding texts state.
    hours: BTreeSet<u32>,
    weekdays: BTreeSet<usize>,
    dates: BTreeSet<(u32, u32)>,
    /// Payment words the knowledge answer uses itself (lowercase).
    payment_words: BTreeSet<String>,
}

impl Allowed {
    /// An empty allow-list: nothing but words.
    pub fn new() -> Self {
        Self::default()
    }

    /// Allows a configured URL or number (`community_link`, a consultant's E.164, a meeting
    /// link); empty strings are ignored.
    pub fn allow(&mut self, item: &str) -> &mut Self {
        let item = item.trim();
        if item.is_empty() {
            return self;
        }
        let digits: String = item.chars().filter(char::is_ascii_digit).collect();
        if digits.len() >= 7 && !item.contains('/') {
            self.numbers.insert(number_key(&digits));
        } else {
            self.urls.push(url_key(item));
        }
        self
    }

    /// Allows what a trusted text (the template reply, a slot line) mentions: its URLs,
    /// numbers, times, weekdays and dates.
    pub fn trust(&mut self, text: &str) -> &mut Self {
        for u in urls(text) {
            self.urls.push(url_key(&u));
        }
        for n in numbers(text) {
            self.numbers.insert(number_key(&n));
        }
        self.ground(text)
    }

    /// Allows the knowledge answer's URLs, numbers, times and dates, and its payment words.
    pub fn knowledge(&mut self, text: &str) -> &mut Self {
        let lower = text.to_lowercase();
        for w in PAYMENT_RE.find_iter(&lower) {
            self.payment_words.insert(w.as_str().to_string());
        }
        self.trust(text)
    }

    /// Allows the times, weekdays and dates the lead wrote (not the lead's links or numbers).
    pub fn ground(&mut self, text: &str) -> &mut Self {
        let (hours, weekdays, dates) = moments(text);
        self.hours.extend(hours);
        self.weekdays.extend(weekdays);
        self.dates.extend(dates);
        self
    }

    /// Checks a reply; `booked`: the turn booked a consultation (its times may be named).
    pub fn check(&self, reply: &str, booked: bool) -> Result<(), Rejection> {
        if asks_for_payment(reply, &self.payment_words) {
            return Err(Rejection::PaymentRequest);
        }
        let allowed_url = |u: &str| {
            let key = url_key(u);
            self.urls.iter().any(|a| {
                key == *a || key.starts_with(&format!("{a}/")) || key.starts_with(&format!("{a}?"))
            })
        };
        if urls(reply).iter().any(|u| !allowed_url(u)) {
            return Err(Rejection::Link);
        }
        if numbers(reply)
            .iter()
            .any(|n| !self.numbers.contains(&number_key(n)))
        {
            return Err(Rejection::Number);
        }
        if !booked {
            let (hours, weekdays, dates) = moments(reply);
            if !hours.is_subset(&self.hours)
                || !weekdays.is_subset(&self.weekdays)
                || !dates.is_subset(&self.dates)
            {
                return Err(Rejection::UnstatedTime);
            }
        }
        Ok(())
    }
}

#[allow(clippy::expect_used)]
fn re(pattern: &str) -> Regex {
    Regex::new(pattern).expect("static regex")
}

/// A URL: with a scheme, `www.`, or a bare domain with a common top-level domain.
static URL_RE: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?i)\b(?:https?://|www\.)[^\s<>]+|\b(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+(?:com|id|co|net|org|io|me|ly|link|xyz|info|biz|site|online|app|page|top|club|shop|store|live|gl|to|cc|us|uk|au|sg|my|edu|ac|gov|ca|nz|de|nl|jp|kr|ai|dev|tk|ml|ga|cf|gq|icu|vip|win|click|today)\b(?:/[^\s<>]*)?",
    )
});

fn urls(text: &str) -> Vec<String> {
    URL_RE
        .find_iter(text)
        .map(|m| {
            m.as_str()
                .trim_end_matches(['.', ',', '!', '?', ')', ';', ':', '"', '\''])
                .to_string()
        })
        // An e-mail's domain is no link.
        .filter(|u| {
            !text
                .find(u.as_str())
                .is_some_and(|i| text[..i].ends_with('@'))
        })
        .collect()
}

fn url_key(url: &str) -> String {
    let lower = url.trim().to_lowercase();
    let no_scheme = lower
        .strip_prefix("https://")
        .or_else(|| lower.strip_prefix("http://"))
        .unwrap_or(&lower);
    let no_www = no_scheme.strip_prefix("www.").unwrap_or(no_scheme);
    no_www.trim_end_matches('/').to_string()
}

/// Runs of 7+ digits with separators, not after a currency or before a magnitude.
static NUMBER_RE: LazyLock<Regex> = LazyLock::new(|| re(r"\+?\d[\d\s().-]{5,}\d"));
static MONEY_BEFORE: LazyLock<Regex> =
    LazyLock::new(|| re(r"(?i)(?:rp\.?|idr|usd|aud|gbp|eur|sgd|\$|£|€)\s*$"));
static MONEY_AFTER: LazyLock<Regex> =
    LazyLock::new(|| re(r"(?i)^\s*(?:rb|ribu|jt|juta|miliar|k\b|rupiah|dollars?)"));

fn numbers(text: &str) -> Vec<String> {
    NUMBER_RE
        .find_iter(text)
        .filter(|m| {
            let digits = m.as_str().chars().filter(char::is_ascii_digit).count();
            digits >= 7
                && !MONEY_BEFORE.is_match(&text[..m.start()])
                && !MONEY_AFTER.is_match(&text[m.end()..])
        })
        .map(|m| m.as_str().chars().filter(char::is_ascii_digit).collect())
        .collect()
}

fn number_key(digits: &str) -> String {
    match digits.strip_prefix("62") {
        Some(rest) => format!("0{rest}"),
        None => digits.to_string(),
    }
}

const WEEKDAYS: &[(&str, usize)] = &[
    ("senin", 0),
    ("selasa", 1),
    ("rabu", 2),
    ("kamis", 3),
    ("jumat", 4),
    ("jum'at", 4),
    ("sabtu", 5),
    ("hari minggu", 6),
    ("ahad", 6),
    ("monday", 0),
    ("tuesday", 1),
    ("wednesday", 2),
    ("thursday", 3),
    ("friday", 4),
    ("saturday", 5),
    ("sunday", 6),
    ("mon", 0),
    ("tue", 1),
    ("tues", 1),
    ("wed", 2),
    ("thu", 3),
    ("thur", 3),
    ("thurs", 3),
    ("fri", 4),
];

// Month words: the scheduling parser's table, so both read the same dates.
use crate::scheduling::parse::MONTHS;

static CLOCK_RE: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?i)\b([01]?\d|2[0-3])[:.]([0-5]\d)\b|\b(?:jam|pukul|pkl|at)\s+([01]?\d|2[0-3])\b|\b(1[0-2]|0?[1-9])\s?(?:am|pm|a\.m\.|p\.m\.)",
    )
});
static WEEKDAY_RE: LazyLock<Regex> = LazyLock::new(|| {
    let names: Vec<String> = WEEKDAYS.iter().map(|(w, _)| regex::escape(w)).collect();
    re(&format!(r"(?i)\b({})\b", names.join("|")))
});
static DATE_RE: LazyLock<Regex> = LazyLock::new(|| {
    let names: Vec<String> = MONTHS.iter().map(|(m, _)| regex::escape(m)).collect();
    let months = names.join("|");
    re(&format!(
        r"(?i)\b([0-2]?\d|3[01])(?:st|nd|rd|th)?\s+(?:of\s+)?({months})\b|\b({months})\.?\s+([0-2]?\d|3[01])(?:st|nd|rd|th)?\b|\b([0-2]?\d|3[01])/(0?[1-9]|1[0-2])\b"
    ))
});

/// The clock hours (mod 12), weekdays and `(day, month)` dates a text states.
fn moments(text: &str) -> (BTreeSet<u32>, BTreeSet<usize>, BTreeSet<(u32, u32)>) {
    let mut hours = BTreeSet::new();
    for c in CLOCK_RE.captures_iter(text) {
        let h = c.get(1).or_else(|| c.get(3)).or_else(|| c.get(5));
        if let Some(h) = h.and_then(|h| h.as_str().parse::<u32>().ok()) {
            hours.insert(h % 12);
        }
    }
    let lower = text.to_lowercase();
    let weekdays = WEEKDAY_RE
        .find_iter(&lower)
        .filter_map(|m| {
            WEEKDAYS
                .iter()
                .find(|(w, _)| *w == m.as_str())
                .map(|(_, d)| *d)
        })
        .collect();
    let month = |m: &str| MONTHS.iter().find(|(n, _)| *n == m).map(|(_, v)| *v);
    let mut dates = BTreeSet::new();
    for c in DATE_RE.captures_iter(&lower) {
        let date = if let (Some(d), Some(m)) = (c.get(1), c.get(2)) {
            d.as_str().parse().ok().zip(month(m.as_str()))
        } else if let (Some(m), Some(d)) = (c.get(3), c.get(4)) {
            d.as_str().parse().ok().zip(month(m.as_str()))
        } else if let (Some(d), Some(m)) = (c.get(5), c.get(6)) {
            d.as_str().parse().ok().zip(m.as_str().parse().ok())
        } else {
            None
        };
        if let Some((d, m)) = date.filter(|(d, _)| *d > 0) {
            dates.insert((d, m));
        }
    }
    (hours, weekdays, dates)
}

/// Payment words: a transfer, a deposit, a down payment, an account.
static PAYMENT_RE: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?i)\b(transfer|transfernya|tf|trf|wire|deposit|deposito|dp|down\s*payment|uang\s+muka|uang\s+jaminan|tanda\s+jadi|rekening|rek|norek|account\s+number|bank\s+account|virtual\s+account|e-?wallet|kirim\s+(?:uang|dana|biaya|pembayaran)|send\s+(?:the\s+)?(?:money|payment|fee)|pay\s+(?:a|the|your)\s+(?:fee|deposit))\b",
    )
});

/// What makes a payment word a request: an amount, a bank or wallet, an account number, or
/// asking words.
static PAYMENT_CONTEXT_RE: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?i)(?:\brp\.?\s*\d|\bidr\s*\d|\$\s*\d|\b\d+(?:[.,]\d+)*\s*(?:rb|ribu|jt|juta|k|dollars?|usd)\b|\b(?:bca|bni|bri|mandiri|cimb|permata|bsi|danamon|jago|gopay|ovo|dana|shopeepay|paypal)\b|\d{6,}|\b(?:silakan|silahkan|mohon|tolong|harap|segera|please|kindly|bisa\s+langsung|langsung\s+aja|ke\s+(?:rekening|rek|nomor|no)|to\s+(?:this\s+|our\s+|the\s+)?account|atas\s+nama|a\.n|ditransfer|transfer\s+ke|dikirim\s+ke|biar\s+slot|untuk\s+mengunci|to\s+secure|to\s+lock|to\s+confirm)\b)",
    )
});

/// True when `text` asks for a transfer, a deposit or an account number (and the knowledge
/// answer does not use that payment word itself).
fn asks_for_payment(text: &str, known: &BTreeSet<String>) -> bool {
    let lower = text.to_lowercase();
    let fresh = PAYMENT_RE
        .find_iter(&lower)
        .any(|m| !known.contains(m.as_str()));
    fresh && PAYMENT_CONTEXT_RE.is_match(&lower)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowed() -> Allowed {
        let mut a = Allowed::new();
        a.allow("https://chat.whatsapp.com/ARIcommunity")
            .allow("+6281111000001")
            .allow("https://meet.example.com/ari")
            .knowledge("Info lengkap di https://www.monash.edu/scholarships. Deadline 31 Maret.")
            .trust("Slot yang tersedia: Kamis, 26 November 2026 09:00 WIB")
            .ground("kak bisa hari sabtu jam 2 siang?");
        a
    }

    #[test]
    fn links_and_numbers_only_from_the_allow_list() {
        let a = allowed();
        for ok in [
            "Gabung komunitas kami ya: https://chat.whatsapp.com/ARIcommunity",
            "Detailnya di monash.edu/scholarships kak",
            "Konsultan kami bisa dihubungi di +62 811-1100-0001",
            "Biayanya sekitar Rp 250.000.000 per tahun",
            "Budget 300 juta cukup kok kak",
            "emailnya budi@gmail.com ya kak?",
        ] {
            assert_eq!(a.check(ok, false), Ok(()), "{ok}");
        }
        for (bad, why) in [
            (
                "Daftar dulu di https://bit.ly/promo-ari ya kak",
                Rejection::Link,
            ),
            ("cek www.ari-promo.xyz untuk diskon", Rejection::Link),
            ("klik ari-scholarship.com/daftar sekarang", Rejection::Link),
            (
                "Info beasiswa: https://monash.edu.evil.example/x",
                Rejection::Link,
            ),
            (
                "Hubungi saya langsung di 0812-9999-8888 ya",
                Rejection::Number,
            ),
            ("WA aku aja di +62 813 2222 3333", Rejection::Number),
        ] {
            assert_eq!(a.check(bad, false), Err(why), "{bad}");
        }
    }

    #[test]
    fn times_and_dates_nobody_stated_are_refused_unless_booked() {
        let a = allowed();
        for ok in [
            "Kamis 26 November jam 09:00 masih kosong kak",
            "Sabtu jam 2 siang ya kak, aku cek dulu",
            "Deadline beasiswanya 31 Maret kak",
            "Selamat pagi kak! Ada yang bisa dibantu?",
            "Minggu depan kita lanjut ya kak",
        ] {
            assert_eq!(a.check(ok, false), Ok(()), "{ok}");
        }
        for bad in [
            "jadwal Senin 10:00 sudah saya catat ✅",
            "Oke, aku catet ya: Selasa jam 3 sore 👍",
            "Noted, see you on Wednesday at 3pm!",
            "Konsultasinya tanggal 5 Desember ya",
            "See you December 5th!",
            "Ketemu 10.30 ya kak",
        ] {
            assert_eq!(a.check(bad, false), Err(Rejection::UnstatedTime), "{bad}");
            assert_eq!(a.check(bad, true), Ok(()), "booked: {bad}");
        }
    }

    #[test]
    fn payment_requests_are_refused_and_free_consultations_are_not() {
        let a = allowed();
        for bad in [
            "Transfer DP Rp 500.000 ke rekening BCA 1234567890 a.n. ARI ya kak",
            "Untuk mengunci slot, silakan kirim uang muka 300rb dulu",
            "Please wire the $50 deposit to our account",
            "Boleh minta nomor rekening kamu kak? biar refundnya ditransfer",
            "Bisa langsung tf ke gopay aku ya",
        ] {
            assert_eq!(a.check(bad, false), Err(Rejection::PaymentRequest), "{bad}");
        }
        for ok in [
            "Konsultasinya gratis kok kak, tidak perlu bayar apa pun",
            "The consultation is free, no payment needed.",
            "Konsultasi gratis, tanpa DP",
            "Biaya kuliah di Monash sekitar AUD 45k per tahun",
        ] {
            assert_eq!(a.check(ok, false), Ok(()), "{ok}");
        }
        let mut k = Allowed::new();
        k.knowledge("Setelah LoA, kampus meminta deposit AUD 1,000 untuk mengamankan kursi.");
        assert_eq!(
            k.check(
                "Biasanya kampus minta deposit AUD 1,000 setelah LoA kak",
                false
            ),
            Ok(())
        );
    }
}
