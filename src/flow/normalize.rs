//! Normalisation before the extraction rules (DESIGN.md "Understanding a lead", step 2): the
//! admin-edited lexicon (`state-machines/lexicon.toml`) maps colloquial spellings to standard
//! words (`blm` → `belum`, `taun` → `tahun`, `gw` → `saya`), so the rules need to know only the
//! standard forms.
//!
//! What is never changed: a chunk (between spaces) holding a digit ("300jt", "2029an", "6.5"),
//! an `@` (email addresses) or a URL, and every space and punctuation mark. Inside other chunks,
//! each run of letters is read with letters repeated three times or more collapsed to one
//! ("iyaaa" → "iya"), then looked up whole and case-insensitively. A replaced word keeps an
//! upper-case first letter. Check and cross marks (✅, ❌) become "yes," and "no,".

use crate::config::flow::Lexicon;

/// `text` with the lexicon applied (see the module docs).
pub fn normalize(text: &str, lexicon: &Lexicon) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chunk = String::new();
    for c in text.chars() {
        if c.is_whitespace() {
            out.push_str(&normalize_chunk(&chunk, lexicon));
            chunk.clear();
            out.push(c);
        } else {
            chunk.push(c);
        }
    }
    out.push_str(&normalize_chunk(&chunk, lexicon));
    out
}

/// Whether a chunk is left exactly as written.
fn is_protected(chunk: &str) -> bool {
    let lower = chunk.to_lowercase();
    chunk.chars().any(|c| c.is_ascii_digit() || c == '@')
        || lower.contains("://")
        || lower.starts_with("www.")
}

/// Check and cross marks as answers ("passport ✅ CV ✅ transcript ❌"): a yes or a no ending
/// its clause, in the words the rules read.
fn mark_word(c: char) -> Option<&'static str> {
    match c {
        '✅' | '✔' | '☑' => Some(" yes,"),
        '❌' | '✖' | '❎' => Some(" no,"),
        _ => None,
    }
}

fn normalize_chunk(chunk: &str, lexicon: &Lexicon) -> String {
    if chunk.is_empty() || is_protected(chunk) {
        return chunk.to_string();
    }
    let mut out = String::with_capacity(chunk.len());
    let mut word = String::new();
    for c in chunk.chars() {
        if c.is_alphabetic() {
            word.push(c);
        } else if let Some(mark) = mark_word(c) {
            out.push_str(&normalize_word(&word, lexicon));
            word.clear();
            out.push_str(mark);
        } else {
            out.push_str(&normalize_word(&word, lexicon));
            word.clear();
            out.push(c);
        }
    }
    out.push_str(&normalize_word(&word, lexicon));
    out
}

fn normalize_word(word: &str, lexicon: &Lexicon) -> String {
    if word.is_empty() {
        return String::new();
    }
    let collapsed = collapse_repeats(word);
    match lexicon.words.get(&collapsed.to_lowercase()) {
        Some(standard) if starts_upper(word) => upper_first(standard),
        Some(standard) => standard.clone(),
        None => collapsed,
    }
}

/// Letters repeated three or more times in a row, once ("mauuu" → "mau"; "Aaron" stays).
fn collapse_repeats(word: &str) -> String {
    let chars: Vec<char> = word.chars().collect();
    let mut out = String::with_capacity(word.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let mut j = i;
        while j < chars.len() && chars[j].to_lowercase().eq(c.to_lowercase()) {
            j += 1;
        }
        let run = j - i;
        if run >= 3 {
            out.push(c);
        } else {
            out.extend(&chars[i..j]);
        }
        i = j;
    }
    out
}

fn starts_upper(word: &str) -> bool {
    word.chars().next().is_some_and(char::is_uppercase)
}

fn upper_first(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lexicon() -> Lexicon {
        let words = [
            ("blm", "belum"),
            ("taun", "tahun"),
            ("gw", "saya"),
            ("gatau", "tidak tahu"),
            ("ga", "tidak"),
            ("iy", "iya"),
        ];
        Lexicon {
            words: words
                .iter()
                .map(|(a, b)| ((*a).to_string(), (*b).to_string()))
                .collect(),
        }
    }

    #[test]
    fn colloquial_words_become_standard_whole_words_only() {
        let l = lexicon();
        assert_eq!(normalize("blm ada kak", &l), "belum ada kak");
        assert_eq!(normalize("Gw mau 3 taun lagi", &l), "Saya mau 3 tahun lagi");
        assert_eq!(
            normalize("gatau, blm kepikiran!", &l),
            "tidak tahu, belum kepikiran!"
        );
        assert_eq!(normalize("ada beasiswa ga?", &l), "ada beasiswa tidak?");
        // Inside longer words nothing changes.
        assert_eq!(normalize("gajah garuda blmx", &l), "gajah garuda blmx");
    }

    #[test]
    fn elongated_words_are_read_once() {
        let l = lexicon();
        assert_eq!(normalize("iyaaa kak, mauuu", &l), "iya kak, mau");
        assert_eq!(normalize("Aaron", &l), "Aaron");
    }

    #[test]
    fn numbers_emails_and_urls_are_never_touched() {
        let l = lexicon();
        for t in [
            "gw@blm.com",
            "300jt",
            "2029an",
            "https://ga.blm/taun",
            "www.gw.id",
            "6.5",
        ] {
            assert_eq!(normalize(t, &l), t);
        }
        assert_eq!(
            normalize("email gw: gw.blm@mail.com ya", &l),
            "email saya: gw.blm@mail.com ya"
        );
    }

    #[test]
    fn spacing_is_kept() {
        let l = lexicon();
        assert_eq!(normalize("  blm\n\ntaun  ", &l), "  belum\n\ntahun  ");
    }
}
