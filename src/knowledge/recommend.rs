//! Recommendations: destinations that fit the lead's country, IELTS and budget (pure).
//!
//! The seed had `findMatchingDestinations` (budget_min ≤ budget, ielts_min ≤ IELTS) but never
//! called it (§8); this is the used version. Order as the seed's Convex query: promoted first,
//! then priority descending (then id, for determinism).

use serde::{Deserialize, Serialize};

use super::countries::{canonical_country, indonesian_name};
use super::model::Destination;
use super::search::{destination_text, rupiah_short};

/// What is known about the lead; unknown fields do not filter.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LeadProfile {
    /// Destination country (any alias or canonical name).
    pub country: Option<String>,
    /// IELTS overall band (or an equivalent the caller converted).
    pub ielts: Option<f32>,
    /// Yearly budget in rupiah.
    pub budget_idr: Option<u64>,
}

/// Destinations fitting `lead`, best first, at most `limit`. A country that names no known
/// country matches nothing (better no list than a wrong one).
pub fn recommend<'a>(
    destinations: &'a [Destination],
    lead: &LeadProfile,
    limit: usize,
) -> Vec<&'a Destination> {
    let country = lead.country.as_deref().map(canonical_country);
    let mut out: Vec<&Destination> = destinations
        .iter()
        .filter(|d| match country {
            None => true,
            Some(None) => false,
            Some(Some(c)) => d.country == c,
        })
        .filter(|d| match (lead.ielts, d.ielts_min) {
            (Some(have), Some(need)) => have + 1e-3 >= need,
            _ => true,
        })
        .filter(|d| match (lead.budget_idr, d.budget_min_idr) {
            (Some(have), Some(need)) => have >= need,
            _ => true,
        })
        .collect();
    out.sort_by(|a, b| {
        b.promoted
            .cmp(&a.promoted)
            .then(b.priority.cmp(&a.priority))
            .then(a.id.cmp(&b.id))
    });
    out.truncate(limit);
    out
}

/// Recommendation text (seed §8 `getRecommendationText`, fixed and used): an intro naming the
/// budget if known, the destinations, or an offer to try another country when none fit.
pub fn recommendation_text(recs: &[&Destination], lead: &LeadProfile) -> String {
    if recs.is_empty() {
        return "Saya belum punya data kampus yang cocok untuk kriteria ini. Mau coba negara lain kak?".into();
    }
    let intro = match (
        lead.budget_idr,
        lead.country.as_deref().and_then(canonical_country),
    ) {
        (Some(b), Some(c)) => format!(
            "Dengan budget sekitar {}/tahun, ini pilihan di {} yang cocok:",
            rupiah_short(b),
            indonesian_name(c)
        ),
        (Some(b), None) => format!(
            "Dengan budget sekitar {}/tahun, ini pilihan yang cocok:",
            rupiah_short(b)
        ),
        (None, Some(c)) => format!("Ini beberapa pilihan kampus di {}:", indonesian_name(c)),
        (None, None) => "Ini beberapa pilihan kampus yang bagus:".into(),
    };
    let list: Vec<String> = recs.iter().map(|d| destination_text(d)).collect();
    format!("{intro}\n\n{}", list.join("\n\n"))
}

/// IELTS band from the flow's `english_level` value ("IELTS 6.5", "ielts 6,5", "6.5"); other
/// tests (TOEFL 90) or levels ("menengah") give `None`.
pub fn parse_ielts(value: &str) -> Option<f32> {
    let lower = value.to_lowercase();
    if ["toefl", "toeic", "duolingo", "pte"]
        .iter()
        .any(|t| lower.contains(t))
    {
        return None;
    }
    let num: String = lower
        .chars()
        .skip_while(|c| !c.is_ascii_digit())
        .take_while(|c| c.is_ascii_digit() || *c == '.' || *c == ',')
        .collect();
    let v: f32 = num.replace(',', ".").trim_end_matches('.').parse().ok()?;
    (0.0..=9.0).contains(&v).then_some(v)
}

/// Rupiah amount from the flow's `budget` value: "500 juta", "Rp 500 juta", "1,5 miliar",
/// "1.5 M", "Rp 500.000.000", "Rp 500000000", "800 ribu". Foreign currencies give `None`
/// (no exchange rates here). For a range ("300-500 juta") the upper bound counts.
///
/// The value is read as a yearly budget. The chat extractor marks the other periods it hears:
/// "10 juta per bulan" counts twelve months (120 juta); "1 miliar total" counts as written
/// (the program's length is not known here).
pub fn parse_budget_idr(value: &str) -> Option<u64> {
    let lower = value.to_lowercase();
    if [
        "$", "usd", "aud", "gbp", "eur", "£", "€", "sgd", "cad", "yen", "¥",
    ]
    .iter()
    .any(|c| lower.contains(c))
    {
        return None;
    }
    let words: Vec<&str> = lower
        .split(|c: char| !(c.is_alphanumeric() || c == '.' || c == ','))
        .filter(|w| !w.is_empty())
        .collect();
    // Split "500jt" into number and unit.
    let mut best: Option<u64> = None;
    for (i, w) in words.iter().enumerate() {
        let digits_end = w
            .char_indices()
            .find(|(_, c)| !(c.is_ascii_digit() || *c == '.' || *c == ','))
            .map_or(w.len(), |(p, _)| p);
        let (num, unit_inline) = w.split_at(digits_end);
        if num.is_empty() || !num.starts_with(|c: char| c.is_ascii_digit()) {
            continue;
        }
        let unit = if unit_inline.is_empty() {
            words.get(i + 1).copied().unwrap_or("")
        } else {
            unit_inline
        };
        let mult: f64 = match unit {
            "juta" | "jt" | "jutaan" => 1e6,
            "miliar" | "milyar" | "m" | "b" | "billion" => 1e9,
            "ribu" | "rb" | "k" => 1e3,
            "million" | "mio" => 1e6,
            _ => 1.0,
        };
        let value = if mult > 1.0 {
            num.replace(',', ".")
                .trim_end_matches('.')
                .parse::<f64>()
                .ok()?
                * mult
        } else {
            // Plain rupiah: thousands separators.
            num.replace(['.', ','], "").parse::<f64>().ok()?
        };
        if (1.0..1e15).contains(&value) {
            let v = value.round() as u64;
            best = Some(best.map_or(v, |b| b.max(v)));
        }
    }
    let monthly = [
        "per bulan",
        "/bulan",
        "sebulan",
        "per month",
        "a month",
        "/month",
    ]
    .iter()
    .any(|m| lower.contains(m));
    best.map(|v| if monthly { v.saturating_mul(12) } else { v })
        .filter(|v| *v >= 1_000_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The values `flow::extract` writes for rupiah budgets parse here.
    #[test]
    fn extractor_budget_values_parse() {
        let cases: &[(&str, Option<u64>)] = &[
            ("500 juta", Some(500_000_000)),
            ("Rp 300 juta", Some(300_000_000)),
            ("1,2 miliar", Some(1_200_000_000)),
            ("Rp 1.5 miliar", Some(1_500_000_000)),
            ("Rp 250.000.000", Some(250_000_000)),
            ("300-500 juta", Some(500_000_000)),
            ("200-300 juta", Some(300_000_000)),
            ("10 juta per bulan", Some(120_000_000)),
            ("1 miliar total", Some(1_000_000_000)),
            ("Rp 800 juta total", Some(800_000_000)),
            ("AUD 40k", None),
            ("GBP 30,000", None),
            ("$50k", None),
            ("USD 40k total", None),
            ("500 ribu", None),
        ];
        for (value, want) in cases {
            assert_eq!(parse_budget_idr(value), *want, "{value:?}");
        }
    }
}
