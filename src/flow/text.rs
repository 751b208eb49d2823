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

/// Number of words of `phrase` when it occurs as whole words at the very start of `tokens`.
/// Compares in place like [`find_phrase`], so a scan that asks this at every position stays
/// linear in the message.
pub fn phrase_at_start(tokens: &[String], phrase: &str) -> Option<usize> {
    let parts = phrase_words(phrase);
    let n = parts.clone().count();
    (n > 0 && n <= tokens.len() && parts.zip(tokens).all(|(w, t)| same_word(t, w))).then_some(n)
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

/// Text from a lead made safe for one line of a consultant notice: the same as
/// [`crate::sanitize::notice_line`] (kept for callers written before the sanitiser module; new
/// code picks the sanitiser's function for its destination).
pub fn one_line(text: &str, max_chars: usize) -> String {
    crate::sanitize::notice_line(text, max_chars)
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
