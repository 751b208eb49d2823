//! Text helpers shared by the parsers: word tokens (whole-word matching by construction, which
//! fixes the seed's substring bugs, §12.6) and template rendering.

use std::collections::BTreeMap;

/// Lowercased word tokens: maximal runs of letters and digits. `"Paspor-nya udah!"` →
/// `["paspor", "nya", "udah"]`. Apostrophes split words ("don't" → "don", "t") on both sides of
/// a comparison, so phrases compare consistently.
pub fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// The words of `phrase` as [`words`] splits them, without allocating.
fn phrase_words(phrase: &str) -> impl Iterator<Item = &str> + Clone {
    phrase
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
}

/// `token` (lowercased by [`words`]) is `word` ignoring case.
fn same_word(token: &str, word: &str) -> bool {
    word.chars().flat_map(char::to_lowercase).eq(token.chars())
}

/// Position (word index) of the first occurrence of `phrase` as whole words in `tokens`.
///
/// Called for every phrase of every list on every turn, so it compares in place: the phrase is
/// not tokenised into a new vector each time (that allocation was most of the core's turn time,
/// docs/BENCHMARKS.md).
pub fn find_phrase(tokens: &[String], phrase: &str) -> Option<usize> {
    let parts = phrase_words(phrase);
    let n = parts.clone().count();
    if n == 0 || n > tokens.len() {
        return None;
    }
    (0..=tokens.len() - n).find(|&i| {
        parts
            .clone()
            .zip(&tokens[i..i + n])
            .all(|(w, t)| same_word(t, w))
    })
}

/// True when `phrase` occurs in `tokens` as whole words.
pub fn has_phrase(tokens: &[String], phrase: &str) -> bool {
    find_phrase(tokens, phrase).is_some()
}

/// True when any of `phrases` occurs as whole words.
pub fn has_any(tokens: &[String], phrases: &[&str]) -> bool {
    phrases.iter().any(|p| has_phrase(tokens, p))
}

/// Fills `{key}` placeholders from `values`; an unknown placeholder is left as written
/// (validation rejects those at load time, so this only matters for hand-built configs).
pub fn render(template: &str, values: &BTreeMap<String, String>) -> String {
    let mut out = String::with_capacity(template.len() + 32);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find('}') {
            Some(close) if !after[..close].contains('{') => {
                let key = &after[..close];
                match values.get(key) {
                    Some(v) => out.push_str(v),
                    None => {
                        out.push('{');
                        out.push_str(key);
                        out.push('}');
                    }
                }
                rest = &after[close + 1..];
            }
            _ => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Text from a lead (a WhatsApp profile name, a field value) made safe to put on one line of
/// a consultant notice or summary (issue 21, "spoof a consultant notice"): line and paragraph
/// breaks, tabs and other control characters become spaces; format characters (bidi overrides
/// and isolates, zero-width characters, BOM: Unicode category Cf) and WhatsApp's formatting
/// marks (`*`, `_`, `~`, `` ` ``) are dropped; runs of spaces collapse; at most `max_chars`
/// characters are kept (an ellipsis marks a cut).
pub fn one_line(text: &str, max_chars: usize) -> String {
    let cleaned: String = text
        .chars()
        .filter(|c| !is_format_char(*c) && !matches!(c, '*' | '_' | '~' | '`'))
        .map(|c| {
            if c.is_control() || is_line_break(c) {
                ' '
            } else {
                c
            }
        })
        .collect();
    let joined = cleaned.split_whitespace().collect::<Vec<_>>().join(" ");
    if joined.chars().count() <= max_chars {
        return joined;
    }
    let kept: String = joined.chars().take(max_chars.saturating_sub(1)).collect();
    format!("{}…", kept.trim_end())
}

/// U+2028 LINE SEPARATOR and U+2029 PARAGRAPH SEPARATOR (not `char::is_control`).
fn is_line_break(c: char) -> bool {
    matches!(c, '\u{2028}' | '\u{2029}' | '\u{85}')
}

/// Invisible format characters: zero-width space/joiners and marks, bidi embeddings, overrides
/// and isolates, word joiner and invisible operators, BOM.
fn is_format_char(c: char) -> bool {
    matches!(
        c,
        '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{206F}'
            | '\u{FEFF}'
            | '\u{00AD}'
            | '\u{061C}'
    )
}

#[cfg(test)]
mod one_line_tests {
    use super::one_line;

    #[test]
    fn lead_text_cannot_forge_a_line_or_hide_characters() {
        let forged = "Budi\nAlasan: konsultasi sudah dibooking\r\nJadwal konsultasi: Senin";
        let got = one_line(forged, 200);
        assert!(!got.contains(['\n', '\r']), "{got}");
        assert_eq!(
            got,
            "Budi Alasan: konsultasi sudah dibooking Jadwal konsultasi: Senin"
        );
        assert_eq!(
            one_line("Ri\u{202E}na\u{200B} *Admin*\u{2028}x", 50),
            "Rina Admin x"
        );
        assert_eq!(one_line("  Siti   Nurhaliza ", 50), "Siti Nurhaliza");
        assert_eq!(one_line("O'Brien Sánchez", 50), "O'Brien Sánchez");
        let long = "a".repeat(100);
        let cut = one_line(&long, 10);
        assert_eq!(cut.chars().count(), 10);
        assert!(cut.ends_with('…'));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phrases_match_whole_words_only() {
        let t = words("Universitas di Australia apa aja?");
        assert!(!has_phrase(&t, "us"));
        assert!(has_phrase(&t, "australia"));
        assert!(has_phrase(
            &words("saya mau bicara dengan konsultan"),
            "bicara dengan konsultan"
        ));
        assert!(!has_phrase(&words("saya mau kuliah"), "au"));
    }

    #[test]
    fn render_fills_and_keeps_unknown() {
        let mut v = BTreeMap::new();
        v.insert("name".to_string(), "Budi".to_string());
        assert_eq!(render("Halo {name}! {x} {", &v), "Halo Budi! {x} {");
    }
}
