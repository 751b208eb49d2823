//! Structured-output extraction: the JSON schema sent as `response_format`, validation of the
//! model's values, and the merge with the rule-based extractor ([`crate::flow::extract`]).
//!
//! The seed never learned fields from chat (§12.5). The rules now do; the model adds what the
//! rules miss (free phrasing, typos). Rules win wherever both found something, and the model
//! only fills gaps: it never overrides a value the lead state already holds, because a model
//! re-reading the history could flip a correction back. Every value is validated first: email
//! syntax, a known country, test scores in range, short single-line text.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use regex::Regex;
use serde_json::{Value, json};

use crate::flow::FieldValue;
use crate::flow::extract::Extracted;

/// The fields the model is asked for, in schema order (a subset of
/// `config::flow::KNOWN_FIELDS`: `notes` is for consultants, not extraction).
pub const EXTRACTED_FIELDS: &[&str] = &[
    "name",
    "email",
    "english_level",
    "budget",
    "timeline",
    "country",
    "program",
    "activity",
];

/// Name of the schema in `response_format` (shows up in provider logs).
pub const SCHEMA_NAME: &str = "lead_fields";

/// Longest accepted free-text value, in characters.
const MAX_VALUE_CHARS: usize = 80;

/// The JSON schema of the extraction answer: every field present, a string or null, nothing
/// else (strict mode needs all properties required and `additionalProperties: false`).
pub fn schema() -> Value {
    let props: serde_json::Map<String, Value> = EXTRACTED_FIELDS
        .iter()
        .map(|k| ((*k).to_string(), json!({ "type": ["string", "null"] })))
        .collect();
    json!({
        "type": "object",
        "properties": props,
        "required": EXTRACTED_FIELDS,
        "additionalProperties": false,
    })
}

/// Validated values from one extraction call.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ExtractedFields {
    /// Field key → normalized value, only fields that passed validation.
    pub fields: BTreeMap<String, String>,
    /// Field key → why the model's value was dropped (for logs; never sent anywhere).
    pub rejected: BTreeMap<String, String>,
    /// Model that answered.
    pub model: String,
    /// Arm that answered.
    pub arm: String,
    /// Prompt tokens, when the server reports usage.
    pub prompt_tokens: Option<u32>,
    /// Completion tokens, when the server reports usage.
    pub completion_tokens: Option<u32>,
    /// Wall time of the call including a retry (ms).
    pub latency_ms: u64,
}

static EMAIL: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(r"^[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}$").ok()
});
static SCORE: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(
        r"(?i)^(ielts|toefl(?:\s+(?:ibt|itp|pbt))?|toeic|duolingo|det|pte)\s*:?\s*(\d{1,3}(?:[.,]\d{1,2})?)$",
    )
    .ok()
});

/// Inclusive score range of a test (IELTS bands, TOEFL iBT/PBT/ITP, TOEIC, Duolingo, PTE).
fn score_range(test: &str) -> (f64, f64) {
    match test {
        "IELTS" => (0.0, 9.0),
        "TOEFL" | "TOEFL IBT" => (0.0, 120.0),
        "TOEFL PBT" | "TOEFL ITP" => (310.0, 677.0),
        "TOEIC" => (10.0, 990.0),
        "Duolingo" => (10.0, 160.0),
        "PTE" => (10.0, 90.0),
        _ => (0.0, 0.0),
    }
}

/// Validates and normalizes one model value. `Err` says why it was dropped.
pub fn validate(key: &str, raw: &str) -> Result<String, String> {
    let v = raw.trim();
    if v.is_empty() || v.eq_ignore_ascii_case("null") || v.eq_ignore_ascii_case("unknown") {
        return Err("empty".into());
    }
    if v.contains('\n') || v.chars().count() > MAX_VALUE_CHARS {
        return Err("not a short single-line value".into());
    }
    match key {
        "email" => {
            let lower = v.to_lowercase();
            match EMAIL.as_ref() {
                Some(re) if re.is_match(&lower) => Ok(lower),
                _ => Err("not an email address".into()),
            }
        }
        "country" => crate::knowledge::canonical_country(v)
            .map(str::to_string)
            .ok_or_else(|| format!("unknown country {v:?}")),
        "english_level" => english_level(v),
        "name" => {
            let ok = v
                .chars()
                .all(|c| c.is_alphabetic() || c == ' ' || c == '\'' || c == '.' || c == '-')
                && v.chars().filter(|c| c.is_alphabetic()).count() >= 2
                && v.split_whitespace().count() <= 5;
            if ok {
                Ok(v.split_whitespace().collect::<Vec<_>>().join(" "))
            } else {
                Err("not a name".into())
            }
        }
        "budget" | "timeline" | "program" | "activity" => Ok(v.to_string()),
        _ => Err("not an extracted field".into()),
    }
}

/// `IELTS 6.5`-style scores in range, or a level word / CEFR level.
fn english_level(v: &str) -> Result<String, String> {
    if let Some(c) = SCORE.as_ref().and_then(|re| re.captures(v)) {
        let test = c[1].split_whitespace().collect::<Vec<_>>().join(" ");
        let test = match test.to_lowercase().as_str() {
            "duolingo" | "det" => "Duolingo".to_string(),
            _ => test.to_uppercase(),
        };
        let number = c[2].replace(',', ".");
        let n: f64 = number.parse().map_err(|_| "bad number".to_string())?;
        let (lo, hi) = score_range(&test);
        if !(lo..=hi).contains(&n) {
            return Err(format!("{test} {number} is out of range {lo}-{hi}"));
        }
        if test == "IELTS" && (n * 2.0).fract() != 0.0 {
            return Err(format!("IELTS {number} is not a half band"));
        }
        return Ok(format!("{test} {number}"));
    }
    let digits = v.chars().any(|c| c.is_ascii_digit());
    let lower = v.to_lowercase();
    let cefr = ["a1", "a2", "b1", "b2", "c1", "c2"].contains(&lower.as_str());
    if cefr {
        return Ok(lower.to_uppercase());
    }
    if digits {
        return Err(format!("score {v:?} without a known test"));
    }
    Ok(lower)
}

/// Field key → value (or → reason, for rejections).
pub type FieldMap = BTreeMap<String, String>;

/// Parses the model's JSON answer into validated fields (`fields`, `rejected`).
pub fn parse_answer(content: &str) -> Result<(FieldMap, FieldMap), String> {
    // Some servers wrap JSON in a code fence even with a schema.
    let body = content
        .trim()
        .trim_start_matches("```json")
        .trim_start_matches("```")
        .trim_end_matches("```")
        .trim();
    let value: Value = serde_json::from_str(body).map_err(|e| format!("not JSON: {e}"))?;
    let obj = value
        .as_object()
        .ok_or_else(|| "not a JSON object".to_string())?;
    let mut fields = BTreeMap::new();
    let mut rejected = BTreeMap::new();
    for key in EXTRACTED_FIELDS {
        match obj.get(*key) {
            None | Some(Value::Null) => {}
            Some(Value::String(s)) => match validate(key, s) {
                Ok(v) => {
                    fields.insert((*key).to_string(), v);
                }
                Err(e) if e == "empty" => {}
                Err(e) => {
                    rejected.insert((*key).to_string(), e);
                }
            },
            Some(Value::Number(n)) if *key == "english_level" => {
                rejected.insert((*key).to_string(), format!("bare number {n}"));
            }
            Some(other) => {
                rejected.insert((*key).to_string(), format!("not a string: {other}"));
            }
        }
    }
    Ok((fields, rejected))
}

/// Merges the model's values into the rule-based extraction of the same turn. Pure.
///
/// - a field the rules found keeps the rules' value (rules win);
/// - a field the rules marked unknown ("belum tau") stays unknown;
/// - a field already known in the lead state (`known`) is not touched by the model;
/// - otherwise the model's validated value is added.
///
/// Documents and unknowns come from the rules only.
pub fn merge(
    rules: &Extracted,
    llm: &BTreeMap<String, String>,
    known: &BTreeMap<String, FieldValue>,
) -> Extracted {
    let mut out = rules.clone();
    for (k, v) in llm {
        let already_known = matches!(known.get(k), Some(FieldValue::Known(_)));
        if !out.fields.contains_key(k) && !out.unknown.contains(k) && !already_known {
            out.fields.insert(k.clone(), v.clone());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_is_strict_shaped() {
        let s = schema();
        assert_eq!(s["additionalProperties"], json!(false));
        assert_eq!(
            s["required"].as_array().map(Vec::len),
            Some(EXTRACTED_FIELDS.len())
        );
        assert_eq!(s["properties"]["email"]["type"], json!(["string", "null"]));
    }

    #[test]
    fn validation() {
        assert_eq!(
            validate("email", " Budi@Mail.COM "),
            Ok("budi@mail.com".into())
        );
        assert!(validate("email", "budi at mail").is_err());
        assert_eq!(validate("country", "Inggris"), Ok("United Kingdom".into()));
        assert_eq!(validate("country", "australia"), Ok("Australia".into()));
        assert!(validate("country", "Narnia").is_err());
        assert_eq!(
            validate("english_level", "ielts 6,5"),
            Ok("IELTS 6.5".into())
        );
        assert!(validate("english_level", "IELTS 12").is_err());
        assert!(validate("english_level", "IELTS 6.3").is_err());
        assert_eq!(validate("english_level", "TOEFL 95"), Ok("TOEFL 95".into()));
        assert!(validate("english_level", "TOEFL 150").is_err());
        assert_eq!(
            validate("english_level", "TOEFL ITP 550"),
            Ok("TOEFL ITP 550".into())
        );
        assert_eq!(validate("english_level", "b2"), Ok("B2".into()));
        assert_eq!(validate("english_level", "Menengah"), Ok("menengah".into()));
        assert!(validate("english_level", "7").is_err());
        assert_eq!(validate("name", "Budi  Santoso"), Ok("Budi Santoso".into()));
        assert!(validate("name", "budi@mail.com").is_err());
        assert!(validate("budget", &"x".repeat(200)).is_err());
        assert!(validate("notes", "x").is_err());
        assert!(validate("timeline", "null").is_err());
    }

    #[test]
    fn answers_are_parsed_and_bad_values_dropped() {
        let (f, r) = parse_answer(
            r#"{"name":"Budi","email":"nope","english_level":null,"budget":"300 juta","timeline":null,"country":"Kanada","program":null,"activity":7}"#,
        )
        .unwrap();
        assert_eq!(f.get("name").map(String::as_str), Some("Budi"));
        assert_eq!(f.get("country").map(String::as_str), Some("Canada"));
        assert_eq!(f.get("budget").map(String::as_str), Some("300 juta"));
        assert!(r.contains_key("email") && r.contains_key("activity"));
        assert!(parse_answer("Sorry, I can't").is_err());
        assert!(parse_answer("```json\n{\"name\":\"Ani\"}\n```").is_ok());
    }

    #[test]
    fn rules_win_and_known_fields_stay() {
        let mut rules = Extracted::default();
        rules.fields.insert("country".into(), "Australia".into());
        rules.unknown.insert("budget".into());
        let llm: BTreeMap<String, String> = [
            ("country", "Canada"),
            ("budget", "100 juta"),
            ("email", "a@b.co"),
            ("name", "Budi"),
            ("timeline", "2027"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let known: BTreeMap<String, FieldValue> =
            [("name".to_string(), FieldValue::Known("Budi Santoso".into()))].into();
        let m = merge(&rules, &llm, &known);
        assert_eq!(
            m.fields.get("country").map(String::as_str),
            Some("Australia")
        );
        assert!(!m.fields.contains_key("budget") && m.unknown.contains("budget"));
        assert!(!m.fields.contains_key("name"));
        assert_eq!(m.fields.get("email").map(String::as_str), Some("a@b.co"));
        assert_eq!(m.fields.get("timeline").map(String::as_str), Some("2027"));
    }
}
