//! Budget amounts in chat, Indonesian and English.
//!
//! An amount is digits with a magnitude word ("500 juta", "1,2 M", "300jt", "600 million",
//! "40k"), a currency before or after it (code, symbol or word: "Rp", "IDR", "rupiah", "USD",
//! "$", "dollars", "GBP", "£", "pounds", "AUD", "euro", "€"...), or both; a range ("300-500
//! juta"); or a spelled-out number before a magnitude ("lima ratus juta", "satu koma dua
//! miliar", "two hundred fifty million rupiah").
//!
//! Values stay human-readable and parseable by `knowledge::recommend::parse_budget_idr`:
//! rupiah as "500 juta", "Rp 300 juta" (when the lead named the currency), "1,2 miliar",
//! "Rp 250.000.000"; foreign amounts as "AUD 40k", "GBP 30,000", "$40k". English magnitudes are
//! read into the Indonesian units for rupiah ("600 million rupiah" → "Rp 600 juta"). "M" is
//! miliar below 10 ("1,2 M") and juta from 10 ("600m"): nobody budgets 600 miliar.
//!
//! Period: a yearly budget is the default reading and is not marked ("Rp 300jt per tahun" →
//! "Rp 300 juta", as before); " per bulan" and " total" are appended when the lead says so
//! ("10 juta per bulan", "1 miliar total").
//!
//! Not amounts: emails and phone numbers, test scores ("IELTS 6.5"), years, durations ("12
//! tahun"), and salaries ("gaji 8 juta").

use std::sync::LazyLock;

use regex::Regex;

use super::{EMAIL, re};
use crate::flow::text::{has_any, words};

/// One amount read from the text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Budget {
    /// The normalized value ("Rp 300 juta", "AUD 40k").
    pub value: String,
    /// Read from number words ("lima ratus juta").
    pub spelled: bool,
    /// In a foreign currency.
    pub foreign: bool,
}

static AMOUNT: LazyLock<Regex> = LazyLock::new(|| {
    re(concat!(
        r"(?i)(?:(?P<pc>\b(?:rp|idr|usd|aud|gbp|eur|sgd|cad|nzd|myr|jpy|krw|chf|hkd|cny)\.?)",
        r"|(?P<ps>(?:us|au|a|s|c|nz|hk)?\$|£|€|¥))?\s*",
        r"(?P<num>\d+(?:[.,]\d+)*)(?:an)?",
        r"(?:\s*(?:-|–|~|to|sampai|sampe|sd|s/d|hingga)\s*(?P<num2>\d+(?:[.,]\d+)*)(?:an)?)?",
        r"\s*(?P<mag>miliar|milyar|milliar|billions|billion|bn|jutaan|juta|jt|millions|million|mio|mn|m|ribu|rebu|rb|thousands|thousand|grand|k)?\b",
        r"(?:\s*(?P<post>rupiah|idr|rp|usd|aud|gbp|eur|euros|euro|sgd|cad|nzd|myr|jpy|ringgit|yen|yuan|rmb",
        r"|pounds?\s+sterling|poundsterling|pounds|pound|quid",
        r"|(?:us|american|australian|aussie|singapore|singaporean|canadian|nz|new\s+zealand|hong\s+kong)\s+dollars?",
        r"|(?:dollars?|dolar)(?:\s+(?:us|amerika|as|australia|singapura|kanada))?",
        r")\b)?",
    ))
});

/// Words right before an amount that make it no budget ("gaji 8 juta").
const NOT_BUDGET_BEFORE: &[&str] = &[
    "gaji",
    "gajinya",
    "gajiku",
    "salary",
    "penghasilan",
    "pendapatan",
    "income",
    "earn",
    "earning",
    "umr",
    "ipk",
    "gpa",
    "ielts",
    "toefl",
    "skor",
    "score",
];

const PER_MONTH: &[&str] = &[
    "per bulan",
    "perbulan",
    "sebulan",
    "tiap bulan",
    "setiap bulan",
    "bulanan",
    "per bln",
    "a month",
    "per month",
    "monthly",
    "each month",
    "every month",
];

const TOTAL: &[&str] = &[
    "total",
    "totalnya",
    "all in",
    "keseluruhan",
    "semuanya",
    "in total",
    "overall",
    "whole program",
    "entire program",
    "full program",
    "sampai lulus",
    "sampe lulus",
    "seluruhnya",
];

/// The currency of a code, symbol or word: `(label, is_symbol, is_rupiah)`.
fn currency(raw: &str) -> (String, bool, bool) {
    let l = raw.to_lowercase();
    let l = l.trim_end_matches('.');
    let flat: String = l.split_whitespace().collect::<Vec<_>>().join(" ");
    let code = |c: &str| (c.to_string(), false, c == "IDR");
    match flat.as_str() {
        "rp" | "idr" | "rupiah" => code("IDR"),
        "$" | "dollar" | "dollars" | "dolar" => ("$".into(), true, false),
        s if s.contains('$') => (s.to_uppercase(), true, false),
        "£" | "€" | "¥" => (flat.clone(), true, false),
        s if s.starts_with("pound") || s == "quid" => code("GBP"),
        s if s.starts_with("euro") => code("EUR"),
        "ringgit" => code("MYR"),
        "yen" => code("JPY"),
        "yuan" | "rmb" => code("CNY"),
        s if s.contains("dollar") || s.contains("dolar") => {
            let c = if s.contains("austral") || s.contains("aussie") {
                "AUD"
            } else if s.contains("singap") {
                "SGD"
            } else if s.contains("canad") || s.contains("kanada") {
                "CAD"
            } else if s.contains("zealand") || s.starts_with("nz") {
                "NZD"
            } else if s.contains("hong") {
                "HKD"
            } else {
                "USD"
            };
            code(c)
        }
        s => code(&s.to_uppercase()),
    }
}

/// A number as written ("1,2", "30,000", "250.000.000") → its value, reading a single
/// separator followed by 1-2 digits as a decimal and groups of three as thousands.
fn number_value(num: &str) -> Option<f64> {
    let groups: Vec<&str> = num.split(['.', ',']).collect();
    if groups.len() == 1 {
        return num.parse().ok();
    }
    let thousands = groups[1..].iter().all(|g| g.len() == 3);
    if thousands && (groups.len() > 2 || groups[0] != "0") {
        return groups.concat().parse().ok();
    }
    if groups.len() == 2 {
        return format!("{}.{}", groups[0], groups[1]).parse().ok();
    }
    None
}

fn digit_count(num: &str) -> usize {
    num.chars().filter(char::is_ascii_digit).count()
}

/// Unit of a magnitude word for rupiah: `(unit, factor)`; "m" depends on the value.
fn rupiah_unit(mag: &str, value: f64) -> &'static str {
    match mag.to_lowercase().as_str() {
        "miliar" | "milyar" | "milliar" | "billion" | "billions" | "bn" => "miliar",
        "m" if value < 10.0 => "miliar",
        "ribu" | "rebu" | "rb" | "thousand" | "thousands" | "grand" | "k" => "ribu",
        _ => "juta",
    }
}

/// Suffix of a magnitude word for a foreign amount ("40k", "1.2m", "2bn").
fn foreign_suffix(mag: &str) -> &'static str {
    match mag.to_lowercase().as_str() {
        "miliar" | "milyar" | "milliar" | "billion" | "billions" | "bn" => "bn",
        "ribu" | "rebu" | "rb" | "thousand" | "thousands" | "grand" | "k" => "k",
        _ => "m",
    }
}

/// Replaces emails by spaces (same byte length, so offsets stay valid).
fn mask_emails(text: &str) -> String {
    let mut out = text.to_string();
    for m in EMAIL.find_iter(text) {
        out.replace_range(m.range(), &" ".repeat(m.len()));
    }
    out
}

/// The clause around `start..end` (up to the nearest , ; . ! ? or newline that is no decimal
/// separator), lowercased.
fn clause_around(text: &str, start: usize, end: usize) -> (String, String) {
    let is_break = |s: &str, i: usize, c: char| {
        matches!(c, ';' | '!' | '?' | '\n')
            || (matches!(c, ',' | '.')
                && !(s[..i].ends_with(|p: char| p.is_ascii_digit())
                    && s[i + c.len_utf8()..].starts_with(|n: char| n.is_ascii_digit())))
    };
    let before = &text[..start];
    let from = before
        .char_indices()
        .rev()
        .find(|(i, c)| is_break(text, *i, *c))
        .map_or(0, |(i, c)| i + c.len_utf8());
    let after = &text[end..];
    let to = after
        .char_indices()
        .find(|(i, c)| is_break(text, end + i, *c))
        .map_or(text.len(), |(i, _)| end + i);
    (
        text[from..start].to_lowercase(),
        text[end..to].to_lowercase(),
    )
}

/// " per bulan", " total" or "" from the words around the amount.
fn period(before: &str, after: &str) -> &'static str {
    let b = words(before);
    let a = words(after);
    let slash_month = ["/bulan", "/bln", "/month", "/mo", "/bl"]
        .iter()
        .any(|s| after.trim_start().starts_with(s));
    if slash_month || has_any(&a, PER_MONTH) {
        " per bulan"
    } else if has_any(&a, TOTAL) || has_any(&b, TOTAL) {
        " total"
    } else {
        ""
    }
}

/// The first budget amount in `text`. `cued`: the lead is answering the budget question or
/// names a budget, so bare grouped rupiah digits ("250.000.000") count too.
pub(super) fn budget(text: &str, cued: bool) -> Option<Budget> {
    let masked = mask_emails(text);
    digits(&masked, cued)
        .or_else(|| spelled(&masked, cued))
        // Nobody budgets more than the bound (issue 21: a 10^30 "budget"): no amount.
        .filter(|b| !above_max(&b.value))
}

/// Budget bounds in rupiah: 1 juta to 100 miliar (a study budget).
pub const BUDGET_IDR_MIN: u64 = 1_000_000;
/// See [`BUDGET_IDR_MIN`].
pub const BUDGET_IDR_MAX: u64 = 100_000_000_000;
/// Budget bounds of a foreign amount, in its currency's units (100 to 10 million).
pub const BUDGET_FOREIGN_MIN: f64 = 100.0;
/// See [`BUDGET_FOREIGN_MIN`].
pub const BUDGET_FOREIGN_MAX: f64 = 10_000_000.0;

/// A normalised budget (this module's form: "Rp 300 juta", "1,2 miliar", "AUD 40k", "GBP
/// 30,000") as `(amount, foreign)`: rupiah, or units of its foreign currency. A range counts
/// by its upper end. `None` when no amount can be read.
fn amount(value: &str) -> Option<(f64, bool)> {
    let lower = value.to_lowercase();
    let foreign = ["$", "£", "€", "¥"].iter().any(|c| lower.contains(c))
        || words(&lower).iter().any(|w| {
            [
                "usd", "aud", "gbp", "eur", "sgd", "cad", "nzd", "myr", "jpy", "krw", "chf", "hkd",
                "cny", "yen", "euro", "euros", "pound", "pounds", "dollar", "dollars", "ringgit",
                "yuan", "rmb",
            ]
            .contains(&w.as_str())
        });
    let read = if foreign {
        None
    } else {
        crate::knowledge::recommend::parse_budget_idr(value).map(|n| n as f64)
    };
    read.or_else(|| plain_amount(value)).map(|n| (n, foreign))
}

/// True when a normalised budget is an amount within bounds: [`BUDGET_IDR_MIN`] to
/// [`BUDGET_IDR_MAX`] rupiah, or [`BUDGET_FOREIGN_MIN`] to [`BUDGET_FOREIGN_MAX`] of a foreign
/// currency (issue 21 item 5: the model's budgets are parsed into numbers within bounds).
pub fn budget_in_bounds(value: &str) -> bool {
    match amount(value) {
        Some((n, true)) => (BUDGET_FOREIGN_MIN..=BUDGET_FOREIGN_MAX).contains(&n),
        Some((n, false)) => (BUDGET_IDR_MIN as f64..=BUDGET_IDR_MAX as f64).contains(&n),
        None => false,
    }
}

/// True when a normalised budget is an amount above the upper bound.
fn above_max(value: &str) -> bool {
    match amount(value) {
        Some((n, true)) => n > BUDGET_FOREIGN_MAX,
        Some((n, false)) => n > BUDGET_IDR_MAX as f64,
        None => false,
    }
}

static PLAIN_AMOUNT: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?i)(\d{1,3}(?:[.,]\d{3})+|\d+(?:[.,]\d+)?)\s*(k|rb|ribu|thousand|m|mn|million|juta|jt|bn|billion|miliar|milyar)?\b",
    )
});

/// The largest amount in a budget, magnitudes applied ("AUD 40k" → 40,000; "GBP 30,000" →
/// 30,000; "Rp 250.000.000" → 250,000,000).
fn plain_amount(value: &str) -> Option<f64> {
    PLAIN_AMOUNT
        .captures_iter(value)
        .filter_map(|c| {
            let raw = &c[1];
            let grouped = raw.len() > 4
                && raw[raw.len() - 4..].starts_with(['.', ','])
                && raw.matches(['.', ',']).count() >= 1
                && raw.split(['.', ',']).skip(1).all(|g| g.len() == 3);
            let n: f64 = if grouped {
                raw.replace(['.', ','], "").parse().ok()?
            } else {
                raw.replace(',', ".").parse().ok()?
            };
            let mult = match c.get(2).map(|m| m.as_str().to_lowercase()).as_deref() {
                Some("k" | "rb" | "ribu" | "thousand") => 1e3,
                Some("m" | "mn" | "million" | "juta" | "jt") => 1e6,
                Some("bn" | "billion" | "miliar" | "milyar") => 1e9,
                _ => 1.0,
            };
            Some(n * mult)
        })
        .reduce(f64::max)
}

fn digits(text: &str, cued: bool) -> Option<Budget> {
    let mut pos = 0;
    while pos < text.len() {
        let c = AMOUNT.captures_at(text, pos)?;
        let (Some(whole), Some(num)) = (c.get(0), c.name("num")) else {
            return None;
        };
        let start = c
            .name("pc")
            .or_else(|| c.name("ps"))
            .map_or(num.start(), |m| m.start());
        pos = num.start() + 1;
        while pos < text.len() && !text.is_char_boundary(pos) {
            pos += 1;
        }
        if let Some(b) = read_amount(text, &c, start, whole.end(), cued) {
            return Some(b);
        }
    }
    None
}

fn read_amount(
    text: &str,
    c: &regex::Captures<'_>,
    start: usize,
    end: usize,
    cued: bool,
) -> Option<Budget> {
    let num = c.name("num")?.as_str();
    // Glued to a word or number ("S2", "kira2", "+62 812", "6.5.1"): no amount.
    if text[..start]
        .chars()
        .next_back()
        .is_some_and(|p| p.is_alphanumeric() || matches!(p, '+' | '@' | '.' | ',' | '/' | ':'))
    {
        return None;
    }
    // A phone number: 0812..., 62812..., or nine digits and more without a magnitude.
    let mag = c.name("mag").map(|m| m.as_str());
    if mag.is_none() && (num.starts_with('0') || (num.starts_with("62") && digit_count(num) > 8)) {
        return None;
    }
    let (before, after) = clause_around(text, start, end);
    let bw = words(&before);
    if bw
        .iter()
        .rev()
        .take(3)
        .any(|w| NOT_BUDGET_BEFORE.contains(&w.as_str()))
    {
        return None;
    }
    let cur = c
        .name("pc")
        .or_else(|| c.name("ps"))
        .or_else(|| c.name("post"))
        .map(|m| currency(m.as_str()));
    let value = number_value(num)?;
    let num2 = c.name("num2").map(|m| m.as_str());
    let shown = match num2 {
        Some(n2) => format!("{num}-{n2}"),
        None => num.to_string(),
    };
    let period = period(&before, &after);
    match (cur, mag) {
        (Some((label, symbol, false)), mag) => {
            if mag.is_none() && value < 100.0 {
                return None;
            }
            let suffix = mag.map(foreign_suffix).unwrap_or("");
            let sep = if symbol { "" } else { " " };
            Some(Budget {
                value: format!("{label}{sep}{shown}{suffix}{period}"),
                spelled: false,
                foreign: true,
            })
        }
        (cur, Some(mag)) => {
            let top = num2.and_then(number_value).unwrap_or(value);
            let unit = rupiah_unit(mag, top);
            let prefix = if cur.is_some() { "Rp " } else { "" };
            Some(Budget {
                value: format!("{prefix}{shown} {unit}{period}"),
                spelled: false,
                foreign: false,
            })
        }
        (cur, None) => {
            // Plain rupiah digits: "Rp 250.000.000", or "250.000.000" when talking budget.
            let grouped = num.split(['.', ',']).count() >= 3;
            let ok = if cur.is_some() {
                digit_count(num) >= 5
            } else {
                grouped && cued
            };
            ok.then(|| Budget {
                value: format!("Rp {shown}{period}"),
                spelled: false,
                foreign: false,
            })
        }
    }
}

static BARE_NUMBER: LazyLock<Regex> = LazyLock::new(|| {
    re(concat!(
        r"(?i)^\s*(?:sekitar|sktr|kira2|kira\s*-?\s*kira|kurang\s+lebih|kurleb|around|about|approx|maybe|mungkin|paling|max|maks|maksimal|cuma|hanya|only)?\s*",
        r"(\d{2,3})(?:an|-an)?(?:\s*(?:-|–|sampai|sampe|sd|s/d|to|atau|or)\s*(\d{2,3})(?:an|-an)?)?",
        r"(?:\s+(?:an|kak|ka|kakak|aja|saja|ya|deh|sih|nih|kok|min|lah|kira2|kira\s*-?\s*kira|kayaknya|kyknya|kali|mungkin|gitu|gtu|an))*\s*[.!]?\s*$",
    ))
});

/// A bare number answering the budget question ("400", "sekitar 300an kak"): read in juta,
/// the unit Indonesian leads leave out ("400" rupiah or ribu is no study budget). Only 10-999
/// and only as the whole message, so a phone number, an age in a sentence or a year is not.
pub(super) fn bare_number(text: &str) -> Option<String> {
    let c = BARE_NUMBER.captures(text)?;
    let n: u32 = c[1].parse().ok()?;
    let top: u32 = c.get(2).map_or(Ok(n), |m| m.as_str().parse()).ok()?;
    if !(10..=999).contains(&n) || !(n..=999).contains(&top) {
        return None;
    }
    Some(if top == n {
        format!("{n} juta")
    } else {
        format!("{n}-{top} juta")
    })
}

/// Number words: `(word, value)`; multipliers are handled in [`spelled_value`].
const NUMBER_WORDS: &[(&str, u32)] = &[
    ("nol", 0),
    ("satu", 1),
    ("dua", 2),
    ("tiga", 3),
    ("empat", 4),
    ("lima", 5),
    ("enam", 6),
    ("tujuh", 7),
    ("delapan", 8),
    ("sembilan", 9),
    ("sepuluh", 10),
    ("sebelas", 11),
    ("seratus", 100),
    ("zero", 0),
    ("one", 1),
    ("two", 2),
    ("three", 3),
    ("four", 4),
    ("five", 5),
    ("six", 6),
    ("seven", 7),
    ("eight", 8),
    ("nine", 9),
    ("ten", 10),
    ("eleven", 11),
    ("twelve", 12),
    ("thirteen", 13),
    ("fourteen", 14),
    ("fifteen", 15),
    ("sixteen", 16),
    ("seventeen", 17),
    ("eighteen", 18),
    ("nineteen", 19),
    ("twenty", 20),
    ("thirty", 30),
    ("forty", 40),
    ("fifty", 50),
    ("sixty", 60),
    ("seventy", 70),
    ("eighty", 80),
    ("ninety", 90),
];

const NUMBER_GLUE: &[&str] = &[
    "puluh", "belas", "ratus", "koma", "setengah", "hundred", "and", "point", "half", "a", "an",
];

/// Magnitude words after spelled numbers; "se-" forms stand alone ("sejuta").
const SPELLED_MAGNITUDES: &[(&str, &str)] = &[
    ("ribu", "ribu"),
    ("rebu", "ribu"),
    ("thousand", "ribu"),
    ("juta", "juta"),
    ("million", "juta"),
    ("miliar", "miliar"),
    ("milyar", "miliar"),
    ("billion", "miliar"),
    // Chat abbreviations after number words: "setengah M", "lima ratus jt", "dua ratus rb".
    ("m", "miliar"),
    ("jt", "juta"),
    ("rb", "ribu"),
];

const SE_MAGNITUDES: &[(&str, &str)] = &[
    ("sejuta", "juta"),
    ("semiliar", "miliar"),
    ("semilyar", "miliar"),
];

fn number_word(w: &str) -> Option<u32> {
    NUMBER_WORDS.iter().find(|(n, _)| *n == w).map(|(_, v)| *v)
}

/// The value of a run of number words: "dua ratus lima puluh" → 250, "satu koma dua" → 1.2,
/// "satu setengah" → 1.5, "two hundred fifty" → 250, "half a" → 0.5.
fn spelled_value(run: &[String]) -> Option<f64> {
    let split = run.iter().position(|w| w == "koma" || w == "point");
    let (int_part, frac_part) = match split {
        Some(i) => (&run[..i], &run[i + 1..]),
        None => (run, &[][..]),
    };
    let mut total: u64 = 0;
    let mut cur: u64 = 0;
    let mut half = false;
    let mut real = false;
    for w in int_part {
        match w.as_str() {
            "puluh" => {
                total += cur.max(1) * 10;
                cur = 0;
            }
            "belas" => {
                total += cur + 10;
                cur = 0;
            }
            "ratus" | "hundred" => {
                if w == "hundred" {
                    cur = cur.max(1) * 100;
                } else {
                    total += cur.max(1) * 100;
                    cur = 0;
                }
            }
            "setengah" | "half" => half = true,
            "a" | "an" => {
                if cur == 0 && total == 0 {
                    cur = 1;
                }
            }
            "and" => {}
            other => {
                let v = u64::from(number_word(other)?);
                real = true;
                if v >= 100 || (v >= 20 && v.is_multiple_of(10)) {
                    cur += v; // "seratus", "twenty"
                } else if cur >= 20 && cur.is_multiple_of(10) {
                    cur += v; // "twenty five", "hundred five"
                } else {
                    total += cur;
                    cur = v;
                }
            }
        }
    }
    let mut value = (total + cur) as f64;
    if half {
        real = true;
        if value == 1.0 && int_part.iter().any(|w| w == "a" || w == "an") && !has_one(int_part) {
            value = 0.5; // "half a billion"
        } else {
            value += 0.5;
        }
    }
    if !frac_part.is_empty() {
        let digits: Option<String> = frac_part
            .iter()
            .map(|w| number_word(w).filter(|d| *d < 10).map(|d| d.to_string()))
            .collect();
        let digits = digits?;
        value += format!("0.{digits}").parse::<f64>().ok()?;
        real = true;
    }
    real.then_some(value)
}

fn has_one(run: &[String]) -> bool {
    run.iter().any(|w| number_word(w).is_some())
}

/// "1.5" → "1,5"; whole numbers without decimals.
fn format_id(v: f64) -> String {
    if (v - v.round()).abs() < 1e-9 {
        format!("{}", v.round() as u64)
    } else {
        let s = format!("{v:.3}");
        s.trim_end_matches('0').replace('.', ",")
    }
}

fn spelled(text: &str, cued: bool) -> Option<Budget> {
    let t = words(text);
    for (i, w) in t.iter().enumerate() {
        let se = SE_MAGNITUDES.iter().find(|(m, _)| *m == w.as_str());
        let mag = SPELLED_MAGNITUDES
            .iter()
            .find(|(m, _)| *m == w.as_str() || format!("{m}s") == *w);
        let (value, unit) = if let Some((_, unit)) = se {
            (1.0, *unit)
        } else if let Some((_, unit)) = mag {
            let mut from = i;
            while from > 0 && {
                let p = t[from - 1].as_str();
                number_word(p).is_some() || NUMBER_GLUE.contains(&p)
            } {
                from -= 1;
            }
            let Some(v) = spelled_value(&t[from..i]) else {
                continue;
            };
            (v, *unit)
        } else {
            continue;
        };
        if t[..i]
            .iter()
            .rev()
            .take(4)
            .any(|w| NOT_BUDGET_BEFORE.contains(&w.as_str()))
        {
            continue;
        }
        let after: Vec<&str> = t[i + 1..].iter().take(2).map(String::as_str).collect();
        let cur = after.first().and_then(|a| match *a {
            "rupiah" | "rp" | "idr" => Some(currency("IDR")),
            "dollar" | "dollars" | "dolar" | "usd" | "aud" | "sgd" | "cad" | "gbp" | "eur"
            | "euro" | "euros" | "pound" | "pounds" => {
                let raw = match (*a, after.get(1).copied()) {
                    ("dollar" | "dollars" | "dolar", Some(n @ ("australia" | "singapura"))) => {
                        format!("{a} {n}")
                    }
                    _ => (*a).to_string(),
                };
                Some(currency(&raw))
            }
            _ => None,
        });
        // Number words are everyday words ("satu juta umat"): only when talking budget or
        // naming a currency.
        if !cued && cur.is_none() {
            continue;
        }
        let (value, unit) = if unit == "miliar" && value < 1.0 {
            (value * 1000.0, "juta")
        } else {
            (value, unit)
        };
        let tail = t[i + 1..].join(" ");
        let head = t[..i].join(" ");
        let period = period(&head, &tail);
        return Some(match cur {
            Some((label, symbol, false)) => {
                let suffix = match unit {
                    "ribu" => "k",
                    "juta" => "m",
                    _ => "bn",
                };
                let sep = if symbol { "" } else { " " };
                Budget {
                    value: format!("{label}{sep}{}{suffix}{period}", format_id(value)),
                    spelled: true,
                    foreign: true,
                }
            }
            cur => {
                let prefix = if cur.is_some() { "Rp " } else { "" };
                Budget {
                    value: format!("{prefix}{} {unit}{period}", format_id(value)),
                    spelled: true,
                    foreign: false,
                }
            }
        });
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(text: &str) -> Option<String> {
        budget(text, false).map(|b| b.value)
    }

    #[test]
    fn indonesian_amounts() {
        let cases = [
            ("budget sekitar 500 juta", "500 juta"),
            ("budgetnya 1,2 M kak", "1,2 miliar"),
            ("Rp 300jt per tahun", "Rp 300 juta"),
            ("kira2 200 jt", "200 juta"),
            ("dana ada Rp 250.000.000", "Rp 250.000.000"),
            ("300-500 juta kak", "300-500 juta"),
            ("sekitar 500an juta", "500 juta"),
            ("1.5M cukup ga", "1.5 miliar"),
            ("rp500jt", "Rp 500 juta"),
            ("IDR 400 juta", "Rp 400 juta"),
            ("500 juta rupiah", "Rp 500 juta"),
            ("paling 10 juta per bulan", "10 juta per bulan"),
            ("10jt/bulan", "10 juta per bulan"),
            ("total 1 miliar sampai lulus", "1 miliar total"),
            ("budget 800 juta semuanya", "800 juta total"),
            ("maksimal 2 milyar", "2 miliar"),
            ("dananya 750 jutaan", "750 juta"),
        ];
        for (text, want) in cases {
            assert_eq!(value(text).as_deref(), Some(want), "{text:?}");
        }
    }

    #[test]
    fn english_amounts() {
        let cases = [
            ("600 million rupiah", "Rp 600 juta"),
            ("around 600 million", "600 juta"),
            ("1.2 billion rupiah total", "Rp 1.2 miliar total"),
            ("30,000 pounds a year", "GBP 30,000"),
            ("around 40k USD", "USD 40k"),
            ("around AUD 40k per year", "AUD 40k"),
            ("£25,000 per year", "£25,000"),
            ("$50k", "$50k"),
            ("about 50k dollars", "$50k"),
            ("30k australian dollars", "AUD 30k"),
            ("€20.000 a year", "€20.000"),
            ("USD 30000", "USD 30000"),
            ("500 million IDR", "Rp 500 juta"),
            ("20,000 euros", "EUR 20,000"),
            ("2,000 dollars a month", "$2,000 per bulan"),
            ("S$40k", "S$40k"),
        ];
        for (text, want) in cases {
            assert_eq!(value(text).as_deref(), Some(want), "{text:?}");
        }
    }

    #[test]
    fn spelled_out_amounts() {
        let cases = [
            ("lima ratus juta", "500 juta"),
            ("satu koma dua miliar", "1,2 miliar"),
            ("dua ratus lima puluh juta", "250 juta"),
            ("seratus juta aja kak", "100 juta"),
            ("satu setengah miliar", "1,5 miliar"),
            ("setengah miliar", "500 juta"),
            ("setengah M lah kak kurang lebih", "500 juta"),
            ("satu setengah m", "1,5 miliar"),
            ("lima ratus jt", "500 juta"),
            ("tiga ratus juta rupiah", "Rp 300 juta"),
            ("lima belas juta per bulan", "15 juta per bulan"),
            ("two hundred fifty million rupiah", "Rp 250 juta"),
            ("five hundred million", "500 juta"),
            ("half a billion", "500 juta"),
            ("fifty thousand dollars", "$50k"),
            ("thirty thousand pounds", "GBP 30k"),
            ("one point five billion", "1,5 miliar"),
        ];
        for (text, want) in cases {
            let got = budget(text, true);
            assert_eq!(
                got.as_ref().map(|b| b.value.as_str()),
                Some(want),
                "{text:?}"
            );
            assert!(got.is_some_and(|b| b.spelled), "{text:?}");
        }
        assert_eq!(
            budget("sejuta", true).map(|b| b.value).as_deref(),
            Some("1 juta")
        );
        // Without a budget cue, number words need a currency.
        assert_eq!(value("sejuta umat"), None);
        assert_eq!(value("ada satu juta mahasiswa"), None);
        assert_eq!(
            value("tiga ratus juta rupiah").as_deref(),
            Some("Rp 300 juta")
        );
        assert_eq!(value("I have a million questions"), None);
    }

    #[test]
    fn bare_numbers_answering_the_budget_question() {
        for (text, want) in [
            ("400", Some("400 juta")),
            ("sekitar 300an kak", Some("300 juta")),
            ("kira2 500", Some("500 juta")),
            ("maksimal 250 aja", Some("250 juta")),
            ("mungkin 200-300", Some("200-300 juta")),
            ("300 sampai 400an kak", Some("300-400 juta")),
            ("300an lah kira2", Some("300 juta")),
            ("500 kayaknya kak", Some("500 juta")),
            ("400an kira-kira", Some("400 juta")),
            ("500-200", None),
            ("5", None),
            ("2027", None),
            ("08123456789", None),
            ("400 orang", None),
        ] {
            assert_eq!(bare_number(text).as_deref(), want, "{text:?}");
        }
    }

    #[test]
    fn cued_plain_digits() {
        assert_eq!(
            budget("250.000.000", true).map(|b| b.value).as_deref(),
            Some("Rp 250.000.000")
        );
        assert_eq!(budget("250.000.000", false), None);
    }

    #[test]
    fn near_misses_are_no_amounts() {
        for text in [
            "email saya budi.5jt@gmail.com",
            "rizky500k@mail.com",
            "WA saya 0812 3456 7890",
            "nomor saya 081234567890",
            "+62 812 3456 7890",
            "IELTS 6.5",
            "TOEFL 550",
            "sudah kerja 12 tahun",
            "umur 25 tahun",
            "mau S2 tahun 2027",
            "semester 6",
            "jam 10",
            "tanggal 4",
            "gaji saya 8 juta",
            "my salary is 10 million",
            "Rp 50",
            "$40",
            "5 menit lagi",
            "kira2 2027",
            "lulus 2019",
            "2029an",
            "ada dua pilihan",
            "satu juta umat",
            "kelas 2 b",
        ] {
            assert_eq!(budget(text, false), None, "{text:?}");
        }
    }

    #[test]
    fn budgets_are_bounded_numbers() {
        for ok in [
            "Rp 300 juta",
            "1,2 miliar",
            "500 juta",
            "AUD 40k",
            "GBP 30,000",
            "$40k",
            "Rp 250.000.000",
        ] {
            assert!(budget_in_bounds(ok), "{ok}");
        }
        for bad in [
            "Rp 500 ribu",
            "200 miliar",
            "AUD 50",
            "USD 900000000",
            "banyak",
            "Rp 1000000000000000000000000000000",
        ] {
            assert!(!budget_in_bounds(bad), "{bad}");
        }
        let huge = format!("budget aku 1{} rupiah", "0".repeat(30));
        assert_eq!(budget(&huge, true), None);
        assert_eq!(
            budget("budget 300 juta", true).map(|b| b.value),
            Some("300 juta".to_string())
        );
    }
}
