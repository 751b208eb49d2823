//! Lone UTF-16 surrogate escapes in a JSON body (issue 16 item 1: never refuse valid JSON).
//!
//! JSON (RFC 8259 §7-8) allows any `\uXXXX` escape in a string, including a surrogate that
//! forms no pair (`"\ud83d"`, an emoji cut in half by a sender that truncates UTF-16 text).
//! serde_json refuses such a string (a Rust `String` cannot hold it) and has no lossy mode, so
//! ingress would answer 400 to a delivery Kapso will never send differently. This pre-pass
//! rewrites each surrogate escape that does not form a pair into `\uFFFD` (U+FFFD, the
//! replacement character), on the raw bytes, inside strings only; everything else is copied
//! byte for byte. Ingress runs it only when the body does not parse as it is, and keeps the
//! original body beside the delivery's rows.

/// `true` for a UTF-16 high (leading) surrogate code unit.
fn is_high(unit: u16) -> bool {
    (0xD800..0xDC00).contains(&unit)
}

/// `true` for a UTF-16 low (trailing) surrogate code unit.
fn is_low(unit: u16) -> bool {
    (0xDC00..0xE000).contains(&unit)
}

/// The code unit of a `\uXXXX` escape starting at `at` (the backslash), if there is one.
fn unicode_escape(bytes: &[u8], at: usize) -> Option<u16> {
    let escape = bytes.get(at..at + 6)?;
    if escape[0] != b'\\' || escape[1] != b'u' {
        return None;
    }
    let hex = std::str::from_utf8(&escape[2..]).ok()?;
    u16::from_str_radix(hex, 16).ok()
}

/// Rewrites every `\uD800`-`\uDFFF` escape inside a JSON string that is not half of a valid
/// pair (a high surrogate escape directly followed by a low one) into `\uFFFD`. Returns `None`
/// when there was nothing to rewrite (the body is then used as it is). Bytes outside strings,
/// other escapes (`\\u` is an escaped backslash and a `u`) and pairs are copied unchanged;
/// malformed input is copied too, for the JSON parser to reject.
pub fn repair_lone_surrogates(body: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(body.len());
    let mut changed = false;
    let mut in_string = false;
    let mut i = 0;
    while i < body.len() {
        let b = body[i];
        if !in_string {
            in_string = b == b'"';
            out.push(b);
            i += 1;
            continue;
        }
        match b {
            b'"' => {
                in_string = false;
                out.push(b);
                i += 1;
            }
            b'\\' => match unicode_escape(body, i) {
                Some(high) if is_high(high) => {
                    if unicode_escape(body, i + 6).is_some_and(is_low) {
                        out.extend_from_slice(&body[i..i + 12]);
                        i += 12;
                    } else {
                        out.extend_from_slice(br"\uFFFD");
                        changed = true;
                        i += 6;
                    }
                }
                Some(low) if is_low(low) => {
                    out.extend_from_slice(br"\uFFFD");
                    changed = true;
                    i += 6;
                }
                _ => {
                    // Any other escape: the backslash and the escaped byte, copied.
                    let end = (i + 2).min(body.len());
                    out.extend_from_slice(&body[i..end]);
                    i = end;
                }
            },
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    changed.then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repaired(body: &str) -> Option<String> {
        repair_lone_surrogates(body.as_bytes()).map(|b| String::from_utf8(b).unwrap())
    }

    #[test]
    fn lone_halves_become_the_replacement_character() {
        assert_eq!(
            repaired(r#"{"t":"a\ud83d"}"#).as_deref(),
            Some(r#"{"t":"a\uFFFD"}"#)
        );
        assert_eq!(
            repaired(r#"{"t":"\ude00b"}"#).as_deref(),
            Some(r#"{"t":"\uFFFDb"}"#)
        );
        // Two highs: the first is lone, the second pairs with the low.
        assert_eq!(
            repaired(r#"["\ud83d\ud83d\ude00"]"#).as_deref(),
            Some(r#"["\uFFFD\ud83d\ude00"]"#)
        );
    }

    #[test]
    fn pairs_escaped_backslashes_and_keys_outside_strings_are_untouched() {
        assert_eq!(repaired(r#"{"t":"\ud83d\ude00"}"#), None);
        assert_eq!(repaired(r#"{"t":"\\ud83d"}"#), None);
        assert_eq!(repaired(r#"{"t":"\"\\"}"#), None);
        assert_eq!(repaired("{\"t\": 1}"), None);
        assert_eq!(
            repaired(r#"{"t":"\u00e9\ud8"}"#),
            None,
            "malformed: left to the parser"
        );
    }
}
