//! Tokens for the day/time parsers. Unlike `flow::text::words`, numbers keep their inner
//! separators so "10.30", "10:00", "25/11" and "25-11-2026" stay one token, while letter/digit
//! boundaries split ("2pm" → "2", "pm"; "pilih3" → "pilih", "3"). Apostrophes vanish so
//! "Jum'at" is "jumat" (seed §9.1 rejected it).

/// Lowercased tokens; never panics on any input.
pub(crate) fn tokens(text: &str) -> Vec<String> {
    let chars: Vec<char> = text
        .chars()
        .filter(|c| !matches!(c, '\'' | '’' | '`' | '‘'))
        .flat_map(char::to_lowercase)
        .collect();
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut prev: Option<char> = None;
    for (i, &c) in chars.iter().enumerate() {
        if c.is_alphanumeric() {
            // Split letter↔digit boundaries.
            if let Some(p) = prev
                && !cur.is_empty()
                && p.is_ascii_digit() != c.is_ascii_digit()
                && p.is_alphanumeric()
            {
                out.push(std::mem::take(&mut cur));
            }
            cur.push(c);
            prev = Some(c);
            continue;
        }
        let next = chars.get(i + 1).copied();
        let inner = matches!(c, ':' | '.' | '/' | '-')
            && prev.is_some_and(|p| p.is_ascii_digit())
            && next.is_some_and(|n| n.is_ascii_digit())
            && !cur.is_empty();
        if inner {
            cur.push(c);
            prev = Some(c);
        } else {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            prev = None;
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// True when `tokens[at..]` starts with the words of `phrase`.
pub(crate) fn phrase_at(tokens: &[String], at: usize, phrase: &str) -> bool {
    let p: Vec<&str> = phrase.split(' ').collect();
    tokens.len() >= at + p.len() && tokens[at..at + p.len()].iter().zip(&p).all(|(t, w)| t == w)
}

/// Position of the first occurrence of `phrase` (space-separated lowercase words).
pub(crate) fn find(tokens: &[String], phrase: &str) -> Option<usize> {
    (0..tokens.len()).find(|&i| phrase_at(tokens, i, phrase))
}

/// True when any of `phrases` occurs.
pub(crate) fn has_any(tokens: &[String], phrases: &[&str]) -> bool {
    phrases.iter().any(|p| find(tokens, p).is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_numeric_separators_and_splits_letter_digit() {
        assert_eq!(tokens("Jam 10.30 ya"), ["jam", "10.30", "ya"]);
        assert_eq!(tokens("25/11/2026, 10:00"), ["25/11/2026", "10:00"]);
        assert_eq!(tokens("2pm"), ["2", "pm"]);
        assert_eq!(tokens("pilih3"), ["pilih", "3"]);
        assert_eq!(tokens("no 2."), ["no", "2"]);
        assert_eq!(tokens("Jum'at?"), ["jumat"]);
        assert_eq!(tokens("ke-2"), ["ke", "2"]);
        assert_eq!(tokens("-1.5-"), ["1.5"]);
    }
}
