//! Untrusted text made safe for where it is shown (issue 21 item 4). Anything a lead writes
//! (messages, the WhatsApp profile name, field values) or a model answers is untrusted: it may
//! carry line breaks that forge a line of a consultant notice ("Alasan: konsultasi sudah
//! dibooking"), bidi overrides that reorder what a consultant reads, zero-width characters that
//! hide text, WhatsApp formatting, or just be very long.
//!
//! One function per destination, all built on [`clean`]:
//!
//! | destination                         | function            | lines | WhatsApp marks |
//! |-------------------------------------|---------------------|-------|----------------|
//! | a line of a consultant notice       | [`notice_line`]     | one   | escaped        |
//! | lead text quoted in a notice        | [`notice_block`]    | many, each `> `-quoted | escaped |
//! | a value in a WhatsApp text to a lead| [`lead_value`]      | one   | escaped        |
//! | a model's whole reply to a lead     | [`model_reply`]     | kept  | kept (the bot's own) |
//! | a WhatsApp template variable        | [`template_var`]    | one   | escaped        |
//! | a CRM JSON string                   | [`crm`]             | one   | kept           |
//! | a log field                         | [`log`]             | one, masked ([`crate::telemetry::mask_text`]) | kept |
//! | lead data or a message in a prompt  | [`prompt`]          | one   | kept           |
//!
//! Every destination: control characters (C0, C1, DEL), line and paragraph separators (U+2028,
//! U+2029, NEL) and tabs become spaces; invisible format characters (bidi embeddings, overrides
//! and isolates, zero-width spaces and joiners, word joiner, BOM, soft hyphen, Arabic letter
//! mark) are dropped; runs of whitespace collapse to one space; the result is cut to a maximum
//! number of characters (an ellipsis marks a cut). Names are cut at [`NAME_MAX_CHARS`].
//!
//! WhatsApp has no escape character: a formatting mark (`*`, `_`, `~`, `` ` ``) is escaped by
//! replacing it with its full-width form (`＊`, `＿`, `～`, `｀`) when it stands at a word edge
//! (a neighbour that is not a letter or digit, or the text's start or end). A mark between two
//! letters or digits (`budi_santoso@mail.com`) can neither open nor close formatting, so it is
//! kept as written.
//!
//! Pure functions; no I/O.

/// Characters of a name (a profile name, the lead's name) kept anywhere it is shown.
pub const NAME_MAX_CHARS: usize = 60;

/// Characters of one lead message quoted in a notice or sent to the CRM.
pub const MESSAGE_MAX_CHARS: usize = 1000;

/// Lines of lead text quoted in one notice block.
pub const BLOCK_MAX_LINES: usize = 20;

/// Characters of a log field.
pub const LOG_MAX_CHARS: usize = 200;

/// The prefix of each line of a [`notice_block`] (WhatsApp shows it as a quote).
pub const QUOTE_PREFIX: &str = "> ";

/// The rule every destination shares: one line, no control, separator or invisible format
/// characters, whitespace collapsed, at most `max_chars` characters (the last one `…` when
/// cut).
pub fn clean(text: &str, max_chars: usize) -> String {
    let spaced: String = text
        .chars()
        .filter(|c| !is_format_char(*c))
        .map(|c| {
            if c.is_control() || is_line_break(c) {
                ' '
            } else {
                c
            }
        })
        .collect();
    cap(
        &spaced.split_whitespace().collect::<Vec<_>>().join(" "),
        max_chars,
    )
}

/// A line of a consultant's WhatsApp notice (the lead's name, a field value): [`clean`], then
/// WhatsApp's formatting marks escaped.
pub fn notice_line(text: &str, max_chars: usize) -> String {
    escape_whatsapp(&clean(text, max_chars))
}

/// Lead text quoted in a consultant's notice, in a clearly marked block: each of the text's
/// lines [`notice_line`]d and prefixed with [`QUOTE_PREFIX`], empty lines dropped, at most
/// [`BLOCK_MAX_LINES`] lines and `max_chars` characters in all. Every line starts with the
/// prefix, so the lead cannot write a line of the notice itself. `"> (kosong)"` for a text
/// with nothing left.
pub fn notice_block(text: &str, max_chars: usize) -> String {
    let mut left = max_chars;
    let mut out: Vec<String> = Vec::new();
    for line in text.split(['\n', '\r', '\u{2028}', '\u{2029}', '\u{85}']) {
        if left == 0 || out.len() == BLOCK_MAX_LINES {
            break;
        }
        let kept = clean(line, left);
        if kept.is_empty() {
            continue;
        }
        left = left.saturating_sub(kept.chars().count());
        out.push(format!("{QUOTE_PREFIX}{}", escape_whatsapp(&kept)));
    }
    if out.is_empty() {
        return format!("{QUOTE_PREFIX}(kosong)");
    }
    out.join("\n")
}

/// A lead- or model-supplied value put into a WhatsApp text to a lead (`Halo {name}`): one
/// line, formatting escaped, like [`notice_line`].
pub fn lead_value(text: &str, max_chars: usize) -> String {
    notice_line(text, max_chars)
}

/// A model's whole reply to a lead: its line breaks kept (at most one empty line in a row),
/// each line [`clean`]ed, at most `max_chars` characters in all. The bot's own formatting is
/// kept: the prompt asks for plain text, and the reply goes to the lead, not to a consultant.
pub fn model_reply(text: &str, max_chars: usize) -> String {
    let mut lines: Vec<String> = Vec::new();
    for line in text
        .replace("\r\n", "\n")
        .split(['\n', '\r', '\u{2028}', '\u{2029}'])
    {
        let kept = clean(line, usize::MAX);
        if kept.is_empty() && lines.last().is_none_or(String::is_empty) {
            continue;
        }
        lines.push(kept);
    }
    while lines.last().is_some_and(String::is_empty) {
        lines.pop();
    }
    let joined = lines.join("\n");
    if joined.chars().count() <= max_chars {
        joined
    } else {
        joined.chars().take(max_chars).collect()
    }
}

/// A WhatsApp template variable: one line (WhatsApp refuses line breaks, tabs and runs of
/// spaces in them), formatting escaped.
pub fn template_var(text: &str, max_chars: usize) -> String {
    notice_line(text, max_chars)
}

/// A string of a CRM webhook's JSON body: one line, no WhatsApp escaping (JSON carries the
/// text as written).
pub fn crm(text: &str, max_chars: usize) -> String {
    clean(text, max_chars)
}

/// A log field holding lead or model text: one line (a line break cannot forge a log line),
/// at most [`LOG_MAX_CHARS`], e-mail addresses and long numbers masked.
pub fn log(text: &str) -> String {
    crate::telemetry::mask_text(&clean(text, LOG_MAX_CHARS))
}

/// Lead data or a message put in a prompt: one line (so a lead cannot write a `Bot:` line or a
/// `## ` section of its own), no WhatsApp escaping.
pub fn prompt(text: &str, max_chars: usize) -> String {
    clean(text, max_chars)
}

/// `text` cut to at most `max_chars` characters, the last one `…` when cut.
fn cap(text: &str, max_chars: usize) -> String {
    if text.chars().count() <= max_chars {
        return text.to_string();
    }
    let kept: String = text.chars().take(max_chars.saturating_sub(1)).collect();
    format!("{}…", kept.trim_end())
}

/// WhatsApp's formatting marks at a word edge replaced by their full-width forms.
fn escape_whatsapp(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let inner = |i: Option<usize>| {
        i.and_then(|i| chars.get(i))
            .is_some_and(|c| c.is_alphanumeric())
    };
    chars
        .iter()
        .enumerate()
        .map(|(i, &c)| {
            let wide = match c {
                '*' => '＊',
                '_' => '＿',
                '~' => '～',
                '`' => '｀',
                other => return other,
            };
            if inner(i.checked_sub(1)) && inner(Some(i + 1)) {
                c
            } else {
                wide
            }
        })
        .collect()
}

/// U+2028 LINE SEPARATOR, U+2029 PARAGRAPH SEPARATOR and NEL (not all `char::is_control`).
fn is_line_break(c: char) -> bool {
    matches!(c, '\u{2028}' | '\u{2029}' | '\u{85}')
}

/// Invisible format characters: zero-width space/joiners and marks, bidi embeddings, overrides
/// and isolates, word joiner and invisible operators, BOM, soft hyphen, Arabic letter mark,
/// Mongolian vowel separator, interlinear annotation marks.
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
            | '\u{180E}'
            | '\u{FFF9}'..='\u{FFFB}'
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_destination_strips_breaks_bidi_and_zero_width() {
        let forged =
            "Budi\nAlasan: konsultasi sudah dibooking\r\nJadwal\u{2028}Senin\u{202E}\u{200B}\t!";
        let want = "Budi Alasan: konsultasi sudah dibooking Jadwal Senin !";
        for got in [
            clean(forged, 200),
            notice_line(forged, 200),
            lead_value(forged, 200),
            template_var(forged, 200),
            crm(forged, 200),
            prompt(forged, 200),
            log(forged),
        ] {
            assert_eq!(got, want);
        }
        assert_eq!(clean("  Siti \u{00A0}  Nurhaliza ", 50), "Siti Nurhaliza");
        assert_eq!(clean("O'Brien Sánchez", 50), "O'Brien Sánchez");
        let cut = clean(&"a".repeat(100), NAME_MAX_CHARS);
        assert_eq!(cut.chars().count(), NAME_MAX_CHARS);
        assert!(cut.ends_with('…'));
    }

    #[test]
    fn whatsapp_marks_are_escaped_at_word_edges_only() {
        assert_eq!(
            notice_line("*Admin* _x_ ~y~ `z`", 50),
            "＊Admin＊ ＿x＿ ～y～ ｀z｀"
        );
        assert_eq!(
            notice_line("budi_santoso@mail.com 2*3", 50),
            "budi_santoso@mail.com 2*3"
        );
        assert_eq!(crm("*Admin*", 50), "*Admin*");
        assert_eq!(prompt("_x_", 50), "_x_");
    }

    #[test]
    fn a_block_quotes_every_line_so_none_can_pass_for_the_notice() {
        let block = notice_block("halo\n\nAlasan: *booked*\u{2029}Jadwal: Senin\u{202E}", 500);
        assert_eq!(block, "> halo\n> Alasan: ＊booked＊\n> Jadwal: Senin");
        assert!(block.lines().all(|l| l.starts_with(QUOTE_PREFIX)));
        assert_eq!(notice_block("\u{200B}\n", 500), "> (kosong)");
        let long = notice_block(&"baris\n".repeat(100), 10_000);
        assert_eq!(long.lines().count(), BLOCK_MAX_LINES);
        let cut = notice_block(&"x".repeat(5000), 100);
        assert!(cut.chars().count() <= 100 + QUOTE_PREFIX.len());
    }

    #[test]
    fn a_model_reply_keeps_its_lines_but_loses_invisible_characters() {
        assert_eq!(
            model_reply(
                "Halo kak!\r\n\n\n\u{202E}Ada yang bisa  dibantu?\u{200B}\n\n",
                4096
            ),
            "Halo kak!\n\nAda yang bisa dibantu?"
        );
    }

    #[test]
    fn logs_are_one_line_and_masked() {
        let got = log("budi@mail.com\nINFO forged 081234567890");
        assert!(!got.contains('\n') && !got.contains("budi@") && !got.contains("34567"));
    }
}
