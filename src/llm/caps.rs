//! Cost caps on what one model request carries (issue 21 item 7: 100 pending messages of
//! 4,000 characters made one 442 KB extraction request, about 110k tokens).
//!
//! Every message's text is cut to `max_message_chars`; then the oldest history messages are
//! dropped until the request (system prompt included) is within `max_prompt_chars`; if the
//! newest messages alone are still over, the oldest of them go too, and the last one left is
//! cut to what remains. Characters, not tokens: a cap that holds for every tokenizer (a
//! token is at least one character for the scripts leads write).

use super::request::ChatMessage;

/// Default of `max_message_chars` in `llm.toml`.
pub const DEFAULT_MAX_MESSAGE_CHARS: usize = 1_000;
/// Default of `max_prompt_chars` in `llm.toml`.
pub const DEFAULT_MAX_PROMPT_CHARS: usize = 16_000;
/// Default of `max_messages_per_minute` in `llm.toml`.
pub const DEFAULT_MAX_MESSAGES_PER_MINUTE: u32 = 10;

/// The caps of one request, in characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caps {
    /// Longest text of one message.
    pub message_chars: usize,
    /// Longest request: the system prompt and every message together.
    pub prompt_chars: usize,
}

impl Default for Caps {
    fn default() -> Self {
        Caps {
            message_chars: DEFAULT_MAX_MESSAGE_CHARS,
            prompt_chars: DEFAULT_MAX_PROMPT_CHARS,
        }
    }
}

/// `text` cut to `max` characters (the last one `…` when cut).
pub fn cut(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let kept: String = text.chars().take(max.saturating_sub(1)).collect();
    format!("{kept}…")
}

fn chars(m: &ChatMessage) -> usize {
    m.text.chars().count()
}

impl Caps {
    /// The reply call's history (oldest first, the lead's newest last) within the caps, next
    /// to a system prompt of `system_chars`.
    pub fn fit_history(&self, system_chars: usize, history: &[ChatMessage]) -> Vec<ChatMessage> {
        let mut out: Vec<ChatMessage> = history
            .iter()
            .map(|m| ChatMessage {
                role: m.role,
                text: cut(&m.text, self.message_chars),
            })
            .collect();
        let budget = self.prompt_chars.saturating_sub(system_chars);
        while out.len() > 1 && out.iter().map(chars).sum::<usize>() > budget {
            out.remove(0);
        }
        if let Some(last) = out.last_mut()
            && chars(last) > budget
        {
            last.text = cut(&last.text, budget);
        }
        out
    }

    /// The extraction call's history and newest messages within the caps, next to a system
    /// prompt of `system_chars`: history goes first (oldest first), then the oldest of the
    /// newest messages.
    pub fn fit_extraction(
        &self,
        system_chars: usize,
        history: &[ChatMessage],
        latest: &[String],
    ) -> (Vec<ChatMessage>, Vec<String>) {
        let mut history: Vec<ChatMessage> = history
            .iter()
            .map(|m| ChatMessage {
                role: m.role,
                text: cut(&m.text, self.message_chars),
            })
            .collect();
        let mut latest: Vec<String> = latest.iter().map(|t| cut(t, self.message_chars)).collect();
        let budget = self.prompt_chars.saturating_sub(system_chars);
        let total = |h: &[ChatMessage], l: &[String]| {
            h.iter().map(chars).sum::<usize>() + l.iter().map(|t| t.chars().count()).sum::<usize>()
        };
        while !history.is_empty() && total(&history, &latest) > budget {
            history.remove(0);
        }
        while latest.len() > 1 && total(&history, &latest) > budget {
            latest.remove(0);
        }
        if let Some(last) = latest.last_mut()
            && last.chars().count() > budget
        {
            *last = cut(last, budget);
        }
        (history, latest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flood_of_long_messages_fits_the_caps() {
        let caps = Caps::default();
        let latest: Vec<String> = (0..100)
            .map(|i| format!("{i} {}", "x".repeat(4_000)))
            .collect();
        let history: Vec<ChatMessage> = (0..10)
            .map(|_| ChatMessage::assistant("y".repeat(3_000)))
            .collect();
        let (h, l) = caps.fit_extraction(2_000, &history, &latest);
        let total: usize =
            h.iter().map(chars).sum::<usize>() + l.iter().map(|t| t.chars().count()).sum::<usize>();
        assert!(total + 2_000 <= caps.prompt_chars, "{total}");
        assert!(h.is_empty());
        assert!(l.iter().all(|t| t.chars().count() <= caps.message_chars));
        assert!(
            l.last().is_some_and(|t| t.starts_with("99 ")),
            "the newest kept"
        );

        let mut msgs = history.clone();
        msgs.push(ChatMessage::lead("z".repeat(50_000)));
        let fit = caps.fit_history(15_500, &msgs);
        assert_eq!(fit.len(), 1);
        assert_eq!(fit[0].text.chars().count(), 500);

        let short = vec![ChatMessage::lead("halo")];
        assert_eq!(caps.fit_history(2_000, &short), short);
    }
}
