//! WhatsApp interactive messages (issue 19): reply buttons and list messages, built in Meta's
//! Cloud API format and sent through Kapso's send API like any other message.
//!
//! The shape is Meta's `interactive` object (developers.facebook.com, "Interactive reply
//! buttons messages" and "Interactive list messages"; Kapso passes Meta's format through):
//!
//! - buttons: `{"type":"button","body":{"text"},"footer"?:{"text"},"action":{"buttons":
//!   [{"type":"reply","reply":{"id","title"}}]}}`: at most 3 buttons, titles at most 20
//!   characters and unique, ids at most 256; body at most 1,024 characters;
//! - list: `{"type":"list","body":{"text"},"action":{"button","sections":[{"title","rows":
//!   [{"id","title","description"?}]}]}}`: at most 10 sections and 10 rows in all, the
//!   button at most 20 characters, section and row titles at most 24, descriptions at most 72,
//!   row ids at most 200; body at most 4,096 characters;
//! - a text header and the footer: at most 60 characters each.
//!
//! Lengths are counted in characters (Unicode scalar values), as Meta's docs state them.
//! [`Interactive::problems`] lists what breaks a limit (`ari check-config` and the builders
//! use it); [`fit`] shortens a text that a builder fills from data (a consultant's name).

use serde_json::{Value, json};

/// Reply buttons per message (Meta: "up to three").
pub const MAX_BUTTONS: usize = 3;
/// Characters of a reply button's title.
pub const MAX_BUTTON_TITLE: usize = 20;
/// Characters of a button id.
pub const MAX_BUTTON_ID: usize = 256;
/// Characters of a buttons message's body.
pub const MAX_BUTTONS_BODY: usize = 1_024;
/// Rows of a list message, all sections together.
pub const MAX_ROWS: usize = 10;
/// Sections of a list message.
pub const MAX_SECTIONS: usize = 10;
/// Characters of a row title, and of a section title.
pub const MAX_ROW_TITLE: usize = 24;
/// Characters of a row description.
pub const MAX_ROW_DESCRIPTION: usize = 72;
/// Characters of a row id.
pub const MAX_ROW_ID: usize = 200;
/// Characters of the list's button (the one that opens the list).
pub const MAX_LIST_BUTTON: usize = 20;
/// Characters of a list message's body.
pub const MAX_LIST_BODY: usize = 4_096;
/// Characters of a text header or a footer.
pub const MAX_HEADER_FOOTER: usize = 60;

/// One choice: a reply button, or a list row (`description` for rows only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    /// What comes back in the lead's reply (`button_reply.id` / `list_reply.id`).
    pub id: String,
    /// What the lead sees.
    pub title: String,
    /// A row's second line.
    pub description: Option<String>,
}

impl Choice {
    /// A choice without description.
    pub fn new(id: impl Into<String>, title: impl Into<String>) -> Self {
        Choice {
            id: id.into(),
            title: title.into(),
            description: None,
        }
    }
}

/// A titled group of list rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    /// Required by Meta when the list has more than one section.
    pub title: Option<String>,
    /// The rows.
    pub rows: Vec<Choice>,
}

/// What the lead taps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Reply buttons.
    Buttons(Vec<Choice>),
    /// A list message: `button` opens it.
    List {
        /// The label of the button that opens the list.
        button: String,
        /// The rows, in sections.
        sections: Vec<Section>,
    },
}

/// An interactive message: its body text, an optional footer, and the buttons or list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interactive {
    /// The message text (the step's text reply).
    pub body: String,
    /// A line under the body.
    pub footer: Option<String>,
    /// Buttons or list.
    pub action: Action,
}

impl Interactive {
    /// Meta's `interactive` object (see the module docs).
    pub fn to_meta(&self) -> Value {
        let mut v = match &self.action {
            Action::Buttons(buttons) => json!({
                "type": "button",
                "body": {"text": self.body},
                "action": {"buttons": buttons.iter()
                    .map(|b| json!({"type": "reply", "reply": {"id": b.id, "title": b.title}}))
                    .collect::<Vec<_>>()},
            }),
            Action::List { button, sections } => json!({
                "type": "list",
                "body": {"text": self.body},
                "action": {"button": button, "sections": sections.iter().map(section_json)
                    .collect::<Vec<_>>()},
            }),
        };
        if let Some(f) = &self.footer {
            v["footer"] = json!({"text": f});
        }
        v
    }

    /// The choices, in order (buttons, or every row of every section).
    pub fn choices(&self) -> Vec<&Choice> {
        match &self.action {
            Action::Buttons(b) => b.iter().collect(),
            Action::List { sections, .. } => sections.iter().flat_map(|s| &s.rows).collect(),
        }
    }

    /// Whether it is a list message (the lead's reply is then a `list_reply`).
    pub fn is_list(&self) -> bool {
        matches!(self.action, Action::List { .. })
    }

    /// The simple form kept in the reply's message meta (`meta.interactive`):
    /// `{"type":"button","buttons":[{"id","title"}]}` or `{"type":"list","rows":[{"id","title",
    /// "description"?}]}`; `ari simulate` taps from it.
    pub fn to_meta_summary(&self) -> Value {
        let choices: Vec<Value> = self
            .choices()
            .into_iter()
            .map(|c| {
                let mut v = json!({"id": c.id, "title": c.title});
                if let Some(d) = &c.description {
                    v["description"] = json!(d);
                }
                v
            })
            .collect();
        if self.is_list() {
            json!({"type": "list", "rows": choices})
        } else {
            json!({"type": "button", "buttons": choices})
        }
    }

    /// What breaks WhatsApp's limits (empty: none), one sentence each.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        let check = |out: &mut Vec<String>, what: &str, text: &str, max: usize| {
            let n = text.chars().count();
            if n == 0 || n > max {
                out.push(format!("{what} {text:?} has {n} characters (1 to {max})"));
            }
        };
        match &self.action {
            Action::Buttons(buttons) => {
                check(&mut out, "the body", &self.body, MAX_BUTTONS_BODY);
                if buttons.is_empty() || buttons.len() > MAX_BUTTONS {
                    out.push(format!("{} buttons (1 to {MAX_BUTTONS})", buttons.len()));
                }
                for b in buttons {
                    check(&mut out, "button title", &b.title, MAX_BUTTON_TITLE);
                    check(&mut out, "button id", &b.id, MAX_BUTTON_ID);
                }
            }
            Action::List { button, sections } => {
                check(&mut out, "the body", &self.body, MAX_LIST_BODY);
                check(&mut out, "the list button", button, MAX_LIST_BUTTON);
                let rows: usize = sections.iter().map(|s| s.rows.len()).sum();
                if rows == 0 || rows > MAX_ROWS || sections.len() > MAX_SECTIONS {
                    out.push(format!(
                        "{rows} rows in {} sections (1 to {MAX_ROWS} rows, {MAX_SECTIONS} sections)",
                        sections.len()
                    ));
                }
                for s in sections {
                    if let Some(t) = &s.title {
                        check(&mut out, "section title", t, MAX_ROW_TITLE);
                    }
                    for r in &s.rows {
                        check(&mut out, "row title", &r.title, MAX_ROW_TITLE);
                        check(&mut out, "row id", &r.id, MAX_ROW_ID);
                        if let Some(d) = &r.description {
                            check(&mut out, "row description", d, MAX_ROW_DESCRIPTION);
                        }
                    }
                }
            }
        }
        if let Some(f) = &self.footer {
            check(&mut out, "the footer", f, MAX_HEADER_FOOTER);
        }
        let mut titles: Vec<&str> = self.choices().iter().map(|c| c.title.as_str()).collect();
        titles.sort_unstable();
        if !self.is_list() && titles.windows(2).any(|w| w[0] == w[1]) {
            out.push("two buttons have the same title".into());
        }
        out
    }
}

fn section_json(s: &Section) -> Value {
    let rows: Vec<Value> = s
        .rows
        .iter()
        .map(|r| {
            let mut v = json!({"id": r.id, "title": r.title});
            if let Some(d) = &r.description {
                v["description"] = json!(d);
            }
            v
        })
        .collect();
    match &s.title {
        Some(t) => json!({"title": t, "rows": rows}),
        None => json!({"rows": rows}),
    }
}

/// `text` cut to at most `max` characters, ending in `…` when cut.
pub fn fit(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// How a stored interactive message (Meta's object, as [`Interactive::to_meta`] wrote it) reads
/// as text: the body, then one line per choice with its id, `[id] title - description`, and for
/// a list the button's label first. What the dry run logs and `ari simulate` prints.
pub fn as_text(meta: &Value) -> String {
    let mut lines = vec![
        meta["body"]["text"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
    ];
    let line = |id: &Value, title: &Value, desc: Option<&str>| {
        let mut l = format!(
            "  [{}] {}",
            id.as_str().unwrap_or_default(),
            title.as_str().unwrap_or_default()
        );
        if let Some(d) = desc {
            l.push_str(" - ");
            l.push_str(d);
        }
        l
    };
    let action = &meta["action"];
    if let Some(buttons) = action["buttons"].as_array() {
        lines.push("(buttons)".into());
        for b in buttons {
            lines.push(line(&b["reply"]["id"], &b["reply"]["title"], None));
        }
    }
    if let Some(sections) = action["sections"].as_array() {
        lines.push(format!(
            "(list: {})",
            action["button"].as_str().unwrap_or_default()
        ));
        for s in sections {
            if let Some(t) = s["title"].as_str() {
                lines.push(format!(" {t}"));
            }
            for r in s["rows"].as_array().into_iter().flatten() {
                lines.push(line(&r["id"], &r["title"], r["description"].as_str()));
            }
        }
    }
    if let Some(f) = meta["footer"]["text"].as_str() {
        lines.push(f.to_string());
    }
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn buttons() -> Interactive {
        Interactive {
            body: "Mau saya jadwalkan?".into(),
            footer: None,
            action: Action::Buttons(vec![
                Choice::new("ari:offer:yes", "Ya, jadwalkan"),
                Choice::new("ari:offer:no", "Nanti dulu"),
            ]),
        }
    }

    #[test]
    fn buttons_are_meta_reply_buttons() {
        assert_eq!(
            buttons().to_meta(),
            json!({"type": "button", "body": {"text": "Mau saya jadwalkan?"},
                "action": {"buttons": [
                    {"type": "reply", "reply": {"id": "ari:offer:yes", "title": "Ya, jadwalkan"}},
                    {"type": "reply", "reply": {"id": "ari:offer:no", "title": "Nanti dulu"}}]}})
        );
        assert!(buttons().problems().is_empty());
        let text = as_text(&buttons().to_meta());
        assert!(text.contains("[ari:offer:yes] Ya, jadwalkan"), "{text}");
    }

    #[test]
    fn limits_are_checked() {
        let mut b = buttons();
        b.action = Action::Buttons(vec![
            Choice::new("a", "x".repeat(21)),
            Choice::new("b", "y"),
            Choice::new("c", "y"),
            Choice::new("d", "z"),
        ]);
        let p = b.problems();
        assert!(p.iter().any(|p| p.contains("4 buttons")), "{p:?}");
        assert!(p.iter().any(|p| p.contains("21 characters")), "{p:?}");
        assert!(p.iter().any(|p| p.contains("same title")), "{p:?}");
        let rows = (0..11).map(|i| Choice::new(format!("r{i}"), "t")).collect();
        let list = Interactive {
            body: "b".into(),
            footer: Some("f".repeat(61)),
            action: Action::List {
                button: "Pilih".into(),
                sections: vec![Section {
                    title: Some("s".repeat(25)),
                    rows,
                }],
            },
        };
        let p = list.problems();
        assert_eq!(p.len(), 3, "{p:?}");
    }

    #[test]
    fn fit_counts_characters() {
        assert_eq!(fit("Kamis, 26 Nov", 24), "Kamis, 26 Nov");
        assert_eq!(fit("ééééé", 3), "éé…");
        assert_eq!(fit("abcdef", 3).chars().count(), 3);
    }
}
