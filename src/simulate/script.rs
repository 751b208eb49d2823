//! The dialogue script format (`tests/fixtures/dialogues/README.md`): what a lead does, turn by
//! turn, and what the conversation must show. Parsing and checking a file happens here; running
//! it is [`super::run_script`]'s job.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Serialize};

/// The open issues a dialogue may wait for (`"pending": "<title>"`); no other title is
/// accepted, so a marker always names work someone is doing.
pub const PENDING_TITLES: [&str; 2] = [
    "Understanding free chat, in the lead's language",
    "A conversation never stalls, and no lead is left unanswered",
];

/// A scripted dialogue (`tests/fixtures/dialogues/*.json`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Script {
    pub name: String,
    /// The clock at the first turn; it moves 1 minute per turn.
    pub now: DateTime<FixedOffset>,
    pub contact: ScriptContact,
    /// The title of the open issue whose behaviour this dialogue waits for (one of
    /// [`PENDING_TITLES`]): it is run and reported as skipped.
    #[serde(default)]
    pub pending: Option<String>,
    /// Flow keys merged over the shipped flow like a workspace file (JSON for TOML).
    #[serde(default)]
    pub flow_overrides: Option<serde_json::Value>,
    /// Slot starts already taken by other leads before the chat.
    #[serde(default)]
    pub booked: Vec<DateTime<FixedOffset>>,
    pub turns: Vec<Turn>,
    #[serde(default)]
    pub expect: Expect,
}

/// The lead of a script.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScriptContact {
    /// E.164.
    pub phone: String,
    /// The WhatsApp profile name.
    #[serde(default)]
    pub name: Option<String>,
    /// Lead-form answers that arrived before the chat.
    #[serde(default)]
    pub form_answers: BTreeMap<String, serde_json::Value>,
}

/// One step of a script: a plain string is a lead text.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Turn {
    Text(String),
    Step(Box<Step>),
}

/// An object turn: exactly one kind, optional `reply_to` and `expect`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    pub text: Option<String>,
    /// `document|image|video|audio|sticker|location|contacts|unsupported`.
    pub media: Option<String>,
    pub filename: Option<String>,
    pub caption: Option<String>,
    pub transcript: Option<String>,
    /// ISO 8601 duration the clock moves by (`PT2H`).
    pub after: Option<String>,
    /// The time the clock moves to.
    pub at: Option<DateTime<FixedOffset>>,
    /// A person writes from the WhatsApp Business app.
    pub person: Option<String>,
    /// `handoff`: a Kapso workflow hands the conversation to a person.
    pub workflow: Option<String>,
    /// `close` or `resume`: an admin calls `POST /admin/conversations/{id}/<command>`.
    pub admin: Option<String>,
    /// `agent` or `inactivity`: Kapso's `whatsapp.conversation.ended`, ended by a person or by
    /// 24 hours without messages.
    pub ended: Option<String>,
    /// A consultant writes to the business number from their own number (`from`).
    pub consultant: Option<String>,
    /// The consultant's number (E.164) of a `consultant` turn.
    pub from: Option<String>,
    pub tap: Option<Tap>,
    /// Answers the Nth-last bot message (`-1`: the last).
    pub reply_to: Option<i32>,
    pub expect: Option<TurnExpect>,
}

/// A tap on the last interactive message: a button by label or id, or a list row (from 1).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tap {
    pub button: Option<String>,
    pub row: Option<usize>,
}

/// Media kinds a media turn may send.
pub const MEDIA_KINDS: [&str; 8] = [
    "document",
    "image",
    "video",
    "audio",
    "sticker",
    "location",
    "contacts",
    "unsupported",
];

/// What a turn does, once checked.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// The lead writes.
    Text(String),
    /// The lead sends media.
    Media {
        kind: String,
        filename: Option<String>,
        caption: Option<String>,
        transcript: Option<String>,
    },
    /// The lead taps a button or a row.
    Tap {
        button: Option<String>,
        row: Option<usize>,
    },
    /// The clock moves by this much.
    After(chrono::Duration),
    /// The clock moves to this time.
    At(DateTime<FixedOffset>),
    /// A person writes from the business app.
    Person(String),
    /// A Kapso workflow hands off.
    WorkflowHandoff,
    /// An admin closes the conversation (`POST /admin/conversations/{id}/close`).
    AdminClose,
    /// An admin hands the conversation back to the bot (`.../resume`).
    AdminResume,
    /// Kapso says the conversation ended; `by_agent`: a person ended it (else inactivity).
    Ended { by_agent: bool },
    /// A consultant writes from their own number.
    Consultant { from: String, text: String },
}

impl Action {
    /// Whether the lead sends something (it must then be answered).
    pub fn is_lead_message(&self) -> bool {
        matches!(
            self,
            Action::Text(_) | Action::Media { .. } | Action::Tap { .. }
        )
    }

    /// How the turn is shown in a transcript.
    pub fn label(&self) -> String {
        match self {
            Action::Text(t) => t.clone(),
            Action::Media {
                kind,
                filename,
                caption,
                transcript,
            } => {
                let detail = [filename, caption, transcript]
                    .into_iter()
                    .flatten()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ");
                format!(
                    "[{kind}{}]",
                    if detail.is_empty() {
                        String::new()
                    } else {
                        format!(": {detail}")
                    }
                )
            }
            Action::Tap { button, row } => match (button, row) {
                (Some(b), _) => format!("[tap button {b:?}]"),
                (None, Some(r)) => format!("[tap row {r}]"),
                (None, None) => "[tap]".into(),
            },
            Action::After(d) => format!("[{} minutes pass]", d.num_minutes()),
            Action::At(t) => format!("[the clock moves to {t}]"),
            Action::Person(t) => format!("[a person writes: {t}]"),
            Action::WorkflowHandoff => "[a Kapso workflow hands off]".into(),
            Action::AdminClose => "[an admin closes the conversation]".into(),
            Action::AdminResume => "[an admin hands the conversation back to the bot]".into(),
            Action::Ended { by_agent: true } => "[an agent ends the conversation in Kapso]".into(),
            Action::Ended { by_agent: false } => {
                "[Kapso ends the conversation after 24 hours of inactivity]".into()
            }
            Action::Consultant { from, text } => format!("[consultant {from} writes: {text}]"),
        }
    }
}

/// A checked turn.
#[derive(Debug, Clone)]
pub struct CheckedTurn {
    pub action: Action,
    pub reply_to: Option<i32>,
    pub expect: Option<TurnExpect>,
}

/// Checks right after one turn.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TurnExpect {
    /// The flow state after the turn.
    #[serde(default)]
    pub state: Option<String>,
    /// One reply of the turn contains one of these (case-insensitive).
    #[serde(default)]
    pub reply_contains_any: Vec<String>,
    /// One reply of the turn has this template key.
    #[serde(default)]
    pub reply_key: Option<String>,
    /// Exactly this many messages went to the lead in this turn (for a `consultant` turn: back
    /// to the consultant's number).
    #[serde(default)]
    pub replies: Option<usize>,
    /// Exactly these consultant numbers (E.164) got a message in this turn (a notice, a
    /// relay), in any order; `[]`: none.
    #[serde(default)]
    pub notified: Option<Vec<String>>,
    /// One message to a consultant in this turn contains one of these (case-insensitive).
    #[serde(default)]
    pub notice_contains_any: Vec<String>,
    /// `id` or `en`: the turn has a lead-facing reply, and every one carries this language
    /// (for a chat that switches language midway, where the dialogue-wide check cannot hold).
    #[serde(default)]
    pub reply_language: Option<String>,
}

/// What the dialogue must end with (all optional).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    #[serde(default)]
    pub final_state: Option<String>,
    #[serde(default)]
    pub lead_temperature: Option<String>,
    #[serde(default)]
    pub min_lead_score: Option<i64>,
    #[serde(default)]
    pub max_lead_score: Option<i64>,
    #[serde(default)]
    pub handoff_reason: Option<String>,
    #[serde(default)]
    pub appointments: Option<u32>,
    /// The lead's CRM status at the end (`hot_lead`, `prospect`, `cold_lead`, `booked`,
    /// `cancelled`).
    #[serde(default)]
    pub lead_status: Option<String>,
    /// The start of the booked appointment.
    #[serde(default)]
    pub booked_slot: Option<DateTime<FixedOffset>>,
    /// Field key → a substring of its stored value (case-insensitive); `"?"`: not given.
    #[serde(default)]
    pub fields: BTreeMap<String, String>,
    /// `id` or `en`: the language every lead-facing reply carries, from the first lead message
    /// whose language was confidently detected.
    #[serde(default)]
    pub reply_language: Option<String>,
    /// Consecutive lead-facing replies with the same template key for the same pending
    /// question, at most (default 2).
    #[serde(default)]
    pub max_same_reply: Option<usize>,
    /// Every lead message other than a reaction is answered (default true).
    #[serde(default)]
    pub every_message_answered: Option<bool>,
}

/// A script that cannot be used (exit code 2).
#[derive(Debug, thiserror::Error)]
pub enum ScriptError {
    #[error("{path}: {cause}")]
    Read { path: String, cause: std::io::Error },
    #[error("{path}: not a dialogue script: {cause}")]
    Parse {
        path: String,
        cause: serde_json::Error,
    },
    #[error("{path}: contact.phone {phone:?} is not an E.164 number")]
    Phone { path: String, phone: String },
    #[error("{path}: turn {turn}: {message}")]
    Turn {
        path: String,
        turn: usize,
        message: String,
    },
    #[error("{path}: pending {title:?} is not an open issue's title; use one of: {allowed}")]
    Pending {
        path: String,
        title: String,
        allowed: String,
    },
}

impl Script {
    /// Reads and checks a script file.
    pub fn load(path: &Path) -> Result<Script, ScriptError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|cause| ScriptError::Read {
            path: shown.clone(),
            cause,
        })?;
        let script: Script = serde_json::from_str(&text).map_err(|cause| ScriptError::Parse {
            path: shown.clone(),
            cause,
        })?;
        script.validate(&shown)?;
        Ok(script)
    }

    fn validate(&self, path: &str) -> Result<(), ScriptError> {
        if crate::ingress::events::normalize_e164(&self.contact.phone).is_none() {
            return Err(ScriptError::Phone {
                path: path.to_string(),
                phone: self.contact.phone.clone(),
            });
        }
        if let Some(title) = &self.pending
            && !PENDING_TITLES.contains(&title.as_str())
        {
            return Err(ScriptError::Pending {
                path: path.to_string(),
                title: title.clone(),
                allowed: PENDING_TITLES.join(" | "),
            });
        }
        self.checked_turns(path).map(|_| ())
    }

    /// The turns, each checked to be exactly one kind.
    pub fn checked_turns(&self, path: &str) -> Result<Vec<CheckedTurn>, ScriptError> {
        self.turns
            .iter()
            .enumerate()
            .map(|(i, t)| {
                check_turn(t).map_err(|message| ScriptError::Turn {
                    path: path.to_string(),
                    turn: i + 1,
                    message,
                })
            })
            .collect()
    }

    /// The lead's plain texts, in order (the other turn kinds left out): for tests that drive a
    /// [`super::Simulator`] by hand with [`super::Simulator::say`].
    pub fn lead_texts(&self) -> Vec<String> {
        self.turns
            .iter()
            .filter_map(|t| match t {
                Turn::Text(t) => Some(t.clone()),
                Turn::Step(s) => s.text.clone(),
            })
            .collect()
    }

    /// The form answers as the flow reads them (strings).
    pub fn form_answers(&self) -> BTreeMap<String, String> {
        self.contact
            .form_answers
            .iter()
            .map(|(k, v)| {
                let s = match v {
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                (k.clone(), s)
            })
            .collect()
    }
}

fn check_turn(turn: &Turn) -> Result<CheckedTurn, String> {
    let step = match turn {
        Turn::Text(t) => {
            return Ok(CheckedTurn {
                action: Action::Text(t.clone()),
                reply_to: None,
                expect: None,
            });
        }
        Turn::Step(s) => s,
    };
    let kinds = [
        step.text.is_some(),
        step.media.is_some(),
        step.after.is_some(),
        step.at.is_some(),
        step.person.is_some(),
        step.workflow.is_some(),
        step.admin.is_some(),
        step.ended.is_some(),
        step.consultant.is_some(),
        step.tap.is_some(),
    ];
    if kinds.iter().filter(|k| **k).count() != 1 {
        return Err(
            "a turn object needs exactly one of text, media, after, at, person, workflow, admin, ended, consultant, tap"
                .into(),
        );
    }
    if step.from.is_some() != step.consultant.is_some() {
        return Err(
            "`from` goes with `consultant` (the consultant's own number), and only there".into(),
        );
    }
    let action = action_of(step)?;
    if step.reply_to.is_some_and(|n| n >= 0) {
        return Err("reply_to counts back from the last bot message: -1, -2, ...".into());
    }
    if step.reply_to.is_some() && !action.is_lead_message() {
        return Err("only a lead's message can carry reply_to".into());
    }
    Ok(CheckedTurn {
        action,
        reply_to: step.reply_to,
        expect: step.expect.clone(),
    })
}

fn action_of(step: &Step) -> Result<Action, String> {
    if let Some(t) = &step.text {
        return Ok(Action::Text(t.clone()));
    }
    if let Some(kind) = &step.media {
        if !MEDIA_KINDS.contains(&kind.as_str()) {
            return Err(format!(
                "media {kind:?} is not one of {}",
                MEDIA_KINDS.join(", ")
            ));
        }
        return Ok(Action::Media {
            kind: kind.clone(),
            filename: step.filename.clone(),
            caption: step.caption.clone(),
            transcript: step.transcript.clone(),
        });
    }
    if let Some(d) = &step.after {
        return parse_duration(d).map(Action::After);
    }
    if let Some(at) = step.at {
        return Ok(Action::At(at));
    }
    if let Some(p) = &step.person {
        return Ok(Action::Person(p.clone()));
    }
    if let Some(w) = &step.workflow {
        return match w.as_str() {
            "handoff" => Ok(Action::WorkflowHandoff),
            other => Err(format!("workflow {other:?}: only \"handoff\" exists")),
        };
    }
    if let Some(a) = &step.admin {
        return match a.as_str() {
            "close" => Ok(Action::AdminClose),
            "resume" => Ok(Action::AdminResume),
            other => Err(format!("admin {other:?}: use \"close\" or \"resume\"")),
        };
    }
    if let Some(e) = &step.ended {
        return match e.as_str() {
            "agent" => Ok(Action::Ended { by_agent: true }),
            "inactivity" => Ok(Action::Ended { by_agent: false }),
            other => Err(format!("ended {other:?}: use \"agent\" or \"inactivity\"")),
        };
    }
    if let (Some(text), Some(from)) = (&step.consultant, &step.from) {
        let Some(from) = crate::ingress::events::normalize_e164(from) else {
            return Err(format!("from {from:?} is not an E.164 number"));
        };
        return Ok(Action::Consultant {
            from,
            text: text.clone(),
        });
    }
    match &step.tap {
        Some(Tap { button, row }) if button.is_some() != row.is_some() => Ok(Action::Tap {
            button: button.clone(),
            row: *row,
        }),
        _ => Err("tap needs exactly one of button, row".into()),
    }
}

/// An ISO 8601 duration (`PT2H`, `P1DT30M`) as a chrono duration; months and years are
/// refused (their length depends on the date).
pub fn parse_duration(text: &str) -> Result<chrono::Duration, String> {
    let parsed = iso8601::duration(text).map_err(|e| format!("after {text:?}: {e}"))?;
    match parsed {
        iso8601::Duration::YMDHMS {
            year: 0,
            month: 0,
            day,
            hour,
            minute,
            second,
            millisecond,
        } => Ok(chrono::Duration::days(i64::from(day))
            + chrono::Duration::hours(i64::from(hour))
            + chrono::Duration::minutes(i64::from(minute))
            + chrono::Duration::seconds(i64::from(second))
            + chrono::Duration::milliseconds(i64::from(millisecond))),
        iso8601::Duration::Weeks(w) => Ok(chrono::Duration::weeks(i64::from(w))),
        _ => Err(format!(
            "after {text:?}: use days, hours and minutes, not months or years"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(json: &str) -> Result<CheckedTurn, String> {
        let turn: Turn = serde_json::from_str(json).map_err(|e| e.to_string())?;
        check_turn(&turn)
    }

    #[test]
    fn each_turn_kind_is_read() {
        assert_eq!(
            step(r#""halo""#).unwrap().action,
            Action::Text("halo".into())
        );
        assert_eq!(
            step(r#"{"after": "PT2H"}"#).unwrap().action,
            Action::After(chrono::Duration::hours(2))
        );
        assert_eq!(
            step(r#"{"after": "P1DT30M"}"#).unwrap().action,
            Action::After(chrono::Duration::minutes(24 * 60 + 30))
        );
        assert!(matches!(
            step(r#"{"media": "document", "filename": "IELTS.pdf"}"#).unwrap().action,
            Action::Media { ref kind, .. } if kind == "document"
        ));
        assert_eq!(
            step(r#"{"workflow": "handoff"}"#).unwrap().action,
            Action::WorkflowHandoff
        );
        assert_eq!(
            step(r#"{"admin": "close"}"#).unwrap().action,
            Action::AdminClose
        );
        assert_eq!(
            step(r#"{"ended": "inactivity"}"#).unwrap().action,
            Action::Ended { by_agent: false }
        );
        assert_eq!(
            step(r#"{"consultant": "ok saya pegang", "from": "+6281111000001"}"#)
                .unwrap()
                .action,
            Action::Consultant {
                from: "+6281111000001".into(),
                text: "ok saya pegang".into()
            }
        );
        assert!(matches!(
            step(r#"{"tap": {"row": 2}}"#).unwrap().action,
            Action::Tap { row: Some(2), .. }
        ));
        let t = step(r#"{"text": "yang ini", "reply_to": -1, "expect": {"state": "booking"}}"#)
            .unwrap();
        assert_eq!(t.reply_to, Some(-1));
        assert_eq!(t.expect.unwrap().state.as_deref(), Some("booking"));
    }

    #[test]
    fn malformed_turns_are_refused_with_a_reason() {
        assert!(
            step(r#"{"text": "a", "media": "image"}"#)
                .unwrap_err()
                .contains("exactly one")
        );
        assert!(
            step(r#"{"media": "hologram"}"#)
                .unwrap_err()
                .contains("hologram")
        );
        assert!(step(r#"{"after": "P1M"}"#).unwrap_err().contains("months"));
        assert!(step(r#"{"after": "2 hours"}"#).is_err());
        assert!(step(r#"{"tap": {}}"#).unwrap_err().contains("exactly one"));
        assert!(
            step(r#"{"person": "hi", "reply_to": -1}"#)
                .unwrap_err()
                .contains("lead")
        );
        assert!(
            step(r#"{"text": "a", "reply_to": 1}"#)
                .unwrap_err()
                .contains("-1")
        );
        assert!(step(r#"{"text": "a", "color": 1}"#).is_err());
        assert!(
            step(r#"{"admin": "delete"}"#)
                .unwrap_err()
                .contains("close")
        );
        assert!(
            step(r#"{"ended": "sometime"}"#)
                .unwrap_err()
                .contains("agent")
        );
        assert!(
            step(r#"{"consultant": "hi"}"#)
                .unwrap_err()
                .contains("from")
        );
        assert!(step(r#"{"text": "hi", "from": "+6281111000001"}"#).is_err());
        assert!(
            step(r#"{"consultant": "hi", "from": "kak"}"#)
                .unwrap_err()
                .contains("E.164")
        );
    }
}
