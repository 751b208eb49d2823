//! Properties of the text parsers not covered elsewhere. Already present and not repeated: the
//! scheduling parsers never panic (`tests/scheduling.rs`), the knowledge tokenizer and budget /
//! IELTS parsers never panic (`tests/knowledge.rs`), any text through a whole turn keeps the
//! score in range (`tests/flow_machine.rs`), sign → verify round trip and a flipped byte fails
//! (`src/ingress/signature.rs`), arbitrary signed JSON never makes the webhook panic or 5xx
//! (`tests/ingress_props.rs`).

use std::collections::BTreeMap;

use proptest::prelude::*;

use ari::config::flow::KNOWN_FIELDS;
use ari::flow::extract::{ExtractContext, Pending, extract};
use ari::flow::text::{find_phrase, render, words};
use ari::flow::yesno::parse_yes_no;
use ari::ingress::events::{normalize_e164, parse_body};
use ari::ingress::surrogates::repair_lone_surrogates;

/// `s` as a JSON string literal written with `\uXXXX` escapes only (UTF-16 pairs for characters
/// beyond the BMP), as some senders write every non-ASCII character.
fn escaped_literal(s: &str) -> String {
    let units: String = s.encode_utf16().map(|u| format!("\\u{u:04x}")).collect();
    format!("\"{units}\"")
}

/// `s` as serde_json writes it inside a literal (no surrogate escapes ever), without quotes.
fn plain_inside(s: &str) -> String {
    let quoted = serde_json::to_string(s).unwrap();
    quoted[1..quoted.len() - 1].to_string()
}

/// One Kapso v2 `whatsapp.message.received` event with a text message.
fn v2_text(wamid: &str, text: &str) -> serde_json::Value {
    serde_json::json!({
        "message": {"id": wamid, "type": "text", "text": {"body": text}},
        "conversation": {"phone_number": "+6281111111111", "phone_number_id": "1"},
        "phone_number_id": "1"
    })
}

fn any_pending() -> impl Strategy<Value = Option<Pending>> {
    prop_oneof![
        Just(None),
        proptest::sample::select(KNOWN_FIELDS).prop_map(|f| Some(Pending::Field(f.to_string()))),
        prop_oneof![
            Just("passport"),
            Just("cv"),
            Just("english_test"),
            Just("transcript")
        ]
        .prop_map(|d| Some(Pending::Document(d.to_string()))),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn e164_output_is_canonical_and_idempotent(raw in "\\PC{0,24}") {
        if let Some(n) = normalize_e164(&raw) {
            let digits = &n[1..];
            prop_assert!(n.starts_with('+'));
            prop_assert!((8..=15).contains(&digits.len()), "{n}");
            prop_assert!(digits.bytes().all(|b| b.is_ascii_digit()), "{n}");
            prop_assert!(!digits.starts_with('0'), "{n}");
            prop_assert_eq!(normalize_e164(&n), Some(n.clone()));
        }
    }

    #[test]
    fn e164_accepts_every_usual_spelling_of_a_number(
        digits in "[1-9][0-9]{7,14}",
        seps in proptest::collection::vec(prop_oneof![Just(""), Just(" "), Just("-"), Just(".")], 16),
    ) {
        let expected = Some(format!("+{digits}"));
        let spaced: String = digits
            .chars()
            .zip(seps.iter())
            .map(|(c, s)| format!("{c}{s}"))
            .collect();
        prop_assert_eq!(normalize_e164(&digits), expected.clone());
        prop_assert_eq!(normalize_e164(&format!("+{digits}")), expected.clone());
        prop_assert_eq!(normalize_e164(&format!("00{digits}")), expected.clone());
        prop_assert_eq!(normalize_e164(&format!("  +{spaced} ")), expected);
    }

    #[test]
    fn words_split_at_separators_and_find_whole_phrases(
        a in "\\PC{0,30}",
        phrase in proptest::collection::vec("[a-z]{1,8}", 1..4),
        b in "\\PC{0,30}",
    ) {
        let phrase = phrase.join(" ");
        let text = format!("{a} {phrase}, {b}");
        let tokens = words(&text);
        prop_assert!(tokens.iter().all(|t| !t.is_empty()));
        let mut expected = words(&a);
        expected.extend(words(&phrase));
        expected.extend(words(&b));
        prop_assert_eq!(&tokens, &expected);
        let at = find_phrase(&tokens, &phrase);
        prop_assert!(at.is_some(), "{phrase:?} not found in {tokens:?}");
        prop_assert!(at.unwrap() <= words(&a).len());
    }

    #[test]
    fn render_fills_known_placeholders_and_leaves_plain_text_alone(
        plain in "[^{}]{0,60}",
        key in "[a-z_]{1,12}",
        value in "\\PC{0,20}",
    ) {
        let values = BTreeMap::from([(key.clone(), value.clone())]);
        prop_assert_eq!(render(&plain, &values), plain.clone());
        prop_assert_eq!(
            render(&format!("{plain}{{{key}}}{plain}"), &values),
            format!("{plain}{value}{plain}")
        );
        // An unknown placeholder stays as written.
        let unknown = format!("{{{key}x}}");
        prop_assert_eq!(render(&unknown, &values), unknown.clone());
    }

    #[test]
    fn yes_no_ignores_case_and_punctuation(s in "[a-zA-Z ,.!?]{0,40}") {
        let answer = parse_yes_no(&s);
        prop_assert_eq!(parse_yes_no(&s.to_ascii_uppercase()), answer);
        prop_assert_eq!(parse_yes_no(&s.replace([',', '.', '!', '?'], " ")), answer);
    }

    #[test]
    fn extract_never_panics_and_only_fills_known_fields(
        text in "\\PC{0,160}",
        pending in any_pending(),
        year in 1990i32..2100,
        opening in any::<bool>(),
    ) {
        let ctx = || ExtractContext { pending: pending.as_ref(), current_year: year, opening };
        let out = extract(&text, ctx());
        for k in out.fields.keys() {
            prop_assert!(KNOWN_FIELDS.contains(&k.as_str()), "unknown field {k}");
        }
        for k in &out.unknown {
            prop_assert!(KNOWN_FIELDS.contains(&k.as_str()), "unknown field {k}");
        }
        prop_assert!(out.fields.values().all(|v| !v.trim().is_empty()));
        // Pure: the same text and context give the same answer.
        prop_assert_eq!(extract(&text, ctx()), out);
    }

    /// Issue 16 item 1: JSON without lone surrogate halves is never rewritten, whether its
    /// text is written plainly or entirely as escapes (pairs included).
    #[test]
    fn surrogate_repair_leaves_json_without_lone_halves_alone(text in "\\PC{0,40}") {
        let plain = serde_json::to_string(&serde_json::json!({"t": text, "k": [text]})).unwrap();
        prop_assert_eq!(repair_lone_surrogates(plain.as_bytes()), None);
        let escaped = format!("{{\"t\":{}}}", escaped_literal(&text));
        prop_assert_eq!(repair_lone_surrogates(escaped.as_bytes()), None);
        let v: serde_json::Value = serde_json::from_str(&escaped).unwrap();
        prop_assert_eq!(v["t"].as_str(), Some(text.as_str()));
    }

    /// A lone half anywhere in a string becomes U+FFFD and nothing else changes; the repaired
    /// body parses and needs no second repair.
    #[test]
    fn a_lone_surrogate_half_becomes_the_replacement_character(
        prefix in "\\PC{0,20}",
        suffix in "\\PC{0,20}",
        unit in 0xD800u16..0xE000,
    ) {
        let body = format!(
            "{{\"t\":\"{}\\u{unit:04X}{}\",\"n\":1}}",
            plain_inside(&prefix),
            plain_inside(&suffix)
        );
        prop_assert!(serde_json::from_str::<serde_json::Value>(&body).is_err(), "{body}");
        let repaired = repair_lone_surrogates(body.as_bytes()).expect("repaired");
        let v: serde_json::Value = serde_json::from_slice(&repaired).unwrap();
        let expected = format!("{prefix}\u{FFFD}{suffix}");
        prop_assert_eq!(v["t"].as_str(), Some(expected.as_str()));
        prop_assert_eq!(&v["n"], &serde_json::json!(1));
        prop_assert_eq!(repair_lone_surrogates(&repaired), None);
    }

    /// On any bytes: no panic, the length is kept, and a changed byte lies in a `\uXXXX` escape
    /// that became `\uFFFD`.
    #[test]
    fn surrogate_repair_only_rewrites_escapes(body in proptest::collection::vec(
        prop_oneof![Just(b'"'), Just(b'\\'), Just(b'u'), Just(b'd'), Just(b'8'), Just(b'c'),
                    Just(b'0'), Just(b'F'), any::<u8>()], 0..64)) {
        if let Some(out) = repair_lone_surrogates(&body) {
            prop_assert_eq!(out.len(), body.len());
            for i in (0..body.len()).filter(|&i| body[i] != out[i]) {
                let start = i.saturating_sub(5);
                let in_rewrite = (start..=i).any(|j| {
                    out.get(j..j + 6) == Some(&br"\uFFFD"[..]) && body.get(j..j + 2) == Some(&br"\u"[..])
                });
                prop_assert!(in_rewrite, "byte {i} changed outside an escape");
            }
        }
    }

    /// Issue 16 item 2: the batch header means what the body shows. A single event is one
    /// event under either header, and a batch (flagged in the body or not) is its items under
    /// either header; the header never changes what is read.
    #[test]
    fn the_batch_header_never_changes_what_a_body_means(
        texts in proptest::collection::vec("[a-zA-Z0-9]{1,12}( [a-z]{1,8}){0,3}", 1..6),
        flagged in any::<bool>(),
    ) {
        let event = Some("whatsapp.message.received");
        let single = v2_text("wamid.S", &texts[0]);
        let as_batch = parse_body(&single, event, true, None).unwrap();
        let as_single = parse_body(&single, event, false, None).unwrap();
        prop_assert_eq!(&as_batch, &as_single);
        prop_assert_eq!(as_batch.len(), 1);
        let text = as_batch[0].0.message.as_ref().and_then(|m| m.text.clone());
        prop_assert_eq!(text.as_deref(), Some(texts[0].as_str()));

        let data: Vec<_> = texts
            .iter()
            .enumerate()
            .map(|(i, t)| v2_text(&format!("wamid.{i}"), t))
            .collect();
        let mut batch = serde_json::json!({"type": "whatsapp.message.received", "data": data});
        if flagged {
            batch["batch"] = serde_json::json!(true);
        }
        let with_header = parse_body(&batch, None, true, None).unwrap();
        let without = parse_body(&batch, None, false, None).unwrap();
        prop_assert_eq!(&with_header, &without);
        let read: Vec<_> = with_header
            .iter()
            .map(|(e, _)| e.message.as_ref().and_then(|m| m.text.clone()).unwrap_or_default())
            .collect();
        prop_assert_eq!(read, texts);
    }
}
