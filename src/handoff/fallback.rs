//! What happens to a consultant notice nobody received (issue 20): the [`Fallback`] queued with
//! it, built when the notice is queued so that a failed send costs no store read.
//!
//! - **Outside the consultant's 24 h window** (WhatsApp refuses the text with 131047): the
//!   notice goes again as the approved template `handoff.consultant_template` (relays:
//!   `handoff.relay_template`, at most one per 24 h per consultant, later relays merged into a
//!   waiting one). Without a template the notice is recorded as `needs_template`, and goes to
//!   the CRM webhook and the team number instead.
//! - **Undeliverable** (refused for good, given up at the outbox's cap, reported failed, or its
//!   template refused): a copy to `handoff.fallback_whatsapp` (a team number) and an
//!   [`UNDELIVERED_EVENT`](super::webhook::UNDELIVERED_EVENT) to the CRM webhook, when
//!   configured. The lead's summary is never lost.
//! - **A reply the lead never got** while handed off: one notice tells the consultant (per
//!   handoff; a later missed reply merges into it while it waits, else it is listed in the next
//!   notice or relay, [`undelivered_list`]).
//!
//! Template variables are the lead's text put on one line first ([`template_var`]): WhatsApp
//! refuses line breaks in them. Pure functions; no I/O.

use chrono::{DateTime, Utc};
use serde_json::json;

use crate::config::flow::{Handoff, TemplateRef};
use crate::sanitize::{notice_line, template_var};
use crate::store::{
    Channel, Direction, Fallback, Once, QueuedRow, StoredMessage, TOLD_META, UNDELIVERED_META,
};

/// `handoff.consultant_template`'s body variables, in order (`{{1}}`..`{{4}}`).
pub const CONSULTANT_TEMPLATE_PARAMETERS: [&str; 4] = ["lead", "reason", "slot", "summary"];

/// `handoff.relay_template`'s body variables, in order (`{{1}}`, `{{2}}`).
pub const RELAY_TEMPLATE_PARAMETERS: [&str; 2] = ["lead", "messages"];

/// `scheduling.reminder_template`'s body variables, in order (`{{1}}`..`{{3}}`).
pub const REMINDER_TEMPLATE_PARAMETERS: [&str; 3] = ["date", "time", "consultant"];

/// WhatsApp's customer-service window (ms): one relay template per consultant within it.
pub const WINDOW_MS: i64 = 24 * 3_600_000;

/// Characters kept per template variable (WhatsApp takes about 1024; a notice stays short).
const LEAD_MAX: usize = 80;
const REASON_MAX: usize = 120;
const SLOT_MAX: usize = 80;
const SUMMARY_MAX: usize = 300;

/// What a consultant notice is about (the CRM event's `notice`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoticeKind {
    /// A lead handed off (`consultant_message`).
    Handoff,
    /// A handed-off lead's message.
    Relay,
    /// A booked consultation cancelled, or released for a move.
    Released,
    /// A consultation moved to another slot.
    Moved,
    /// A consultation's 24 h or 2 h reminder.
    Reminder,
    /// A reply the lead never got.
    LeadUndelivered,
}

impl NoticeKind {
    /// The stable name in the CRM event.
    pub fn as_str(self) -> &'static str {
        match self {
            NoticeKind::Handoff => "handoff",
            NoticeKind::Relay => "relay",
            NoticeKind::Released => "appointment_released",
            NoticeKind::Moved => "appointment_moved",
            NoticeKind::Reminder => "reminder",
            NoticeKind::LeadUndelivered => "lead_undelivered",
        }
    }
}

/// A notice's `handoff.consultant_template` variables besides the lead: why (a reason label),
/// the consultation's slot if any, a short summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoticeVars {
    pub reason: String,
    /// `None`: `-`.
    pub slot: Option<String>,
    pub summary: String,
}

/// One conversation's notices: who the lead is, and where undeliverable notices go.
#[derive(Debug, Clone, Copy)]
pub struct Notices<'a> {
    /// The workspace's `[handoff]` (templates, team number).
    pub handoff: &'a Handoff,
    /// The CRM webhook, if configured.
    pub crm_url: Option<&'a str>,
    pub workspace_id: &'a str,
    pub conversation_id: i64,
    /// The lead, E.164.
    pub contact_phone: &'a str,
    pub contact_name: Option<&'a str>,
    /// When the notice is queued (the CRM event's `at`).
    pub at: DateTime<Utc>,
}

impl Notices<'_> {
    /// The lead as a template variable: `Budi (+6281234567890)`.
    pub fn lead(&self) -> String {
        template_var(
            &super::lead_label(self.contact_phone, self.contact_name),
            LEAD_MAX,
        )
    }

    /// The fallback of a consultant notice `text` (of `kind`) to `to`.
    pub fn notice(&self, kind: NoticeKind, to: &str, text: &str, vars: &NoticeVars) -> Fallback {
        let undeliverable = self.undelivered(kind, to, text, Some(vars), "failed");
        match &self.handoff.consultant_template {
            Some(t) => Fallback {
                window_closed: vec![QueuedRow {
                    channel: Channel::WhatsappTemplate,
                    to: to.to_string(),
                    body: self.consultant_template(t, vars),
                    once: None,
                    fallback: boxed(Fallback {
                        undeliverable: undeliverable.clone(),
                        ..Fallback::default()
                    }),
                }],
                needs_template: false,
                undeliverable,
            },
            None => Fallback {
                window_closed: self.undelivered(kind, to, text, Some(vars), "needs_template"),
                needs_template: true,
                undeliverable,
            },
        }
    }

    /// The fallback of a relay (`notice_text`, relaying the lead's `lead_text`) to `to`: the
    /// relay template outside the window, one per 24 h per consultant, a later relay merged in
    /// while it waits.
    pub fn relay(&self, to: &str, lead_text: &str, notice_text: &str) -> Fallback {
        let vars = NoticeVars {
            reason: "pesan baru dari lead".into(),
            slot: None,
            summary: lead_text.to_string(),
        };
        let undeliverable =
            self.undelivered(NoticeKind::Relay, to, notice_text, Some(&vars), "failed");
        let messages = template_var(lead_text, SUMMARY_MAX);
        match &self.handoff.relay_template {
            Some(t) => Fallback {
                window_closed: vec![QueuedRow {
                    channel: Channel::WhatsappTemplate,
                    to: to.to_string(),
                    body: template_body(t, &[self.lead(), messages.clone()]),
                    once: Some(Once {
                        key: format!("relay_template:{to}"),
                        window_ms: Some(WINDOW_MS),
                        merge: messages,
                    }),
                    fallback: boxed(Fallback {
                        undeliverable: undeliverable.clone(),
                        ..Fallback::default()
                    }),
                }],
                needs_template: false,
                undeliverable,
            },
            None => Fallback {
                window_closed: self.undelivered(
                    NoticeKind::Relay,
                    to,
                    notice_text,
                    Some(&vars),
                    "needs_template",
                ),
                needs_template: true,
                undeliverable,
            },
        }
    }

    /// The fallback of a reply to the lead while handed off to `consultant` (E.164; the
    /// handoff began at `handoff_at_ms`): if the lead never gets it, one notice per handoff
    /// tells the consultant (with the notice's own fallbacks); a later missed reply merges into
    /// it while it waits, else the next notice or relay lists it.
    pub fn lead_reply(&self, consultant: &str, handoff_at_ms: i64, reply_text: &str) -> Fallback {
        let line = format!("- {}", notice_line(reply_text, SUMMARY_MAX));
        let text = format!(
            "Pesan ARI untuk lead {} tidak terkirim; mohon hubungi lead langsung:\n{line}",
            super::lead_label(self.contact_phone, self.contact_name)
        );
        let vars = NoticeVars {
            reason: "pesan ARI ke lead tidak terkirim".into(),
            slot: None,
            summary: reply_text.to_string(),
        };
        let row = QueuedRow {
            channel: Channel::Whatsapp,
            to: consultant.to_string(),
            body: text.clone(),
            once: Some(Once {
                key: format!("lead_undelivered:{handoff_at_ms}"),
                window_ms: None,
                merge: line,
            }),
            fallback: boxed(self.notice(NoticeKind::LeadUndelivered, consultant, &text, &vars)),
        };
        Fallback {
            window_closed: vec![row.clone()],
            needs_template: false,
            undeliverable: vec![row],
        }
    }

    /// Where a notice nobody received goes: a copy to the team number (itself sent as the
    /// consultant template outside its window) and the CRM event with `status`.
    fn undelivered(
        &self,
        kind: NoticeKind,
        to: &str,
        text: &str,
        vars: Option<&NoticeVars>,
        status: &str,
    ) -> Vec<QueuedRow> {
        let mut rows = Vec::new();
        if let Some(team) = &self.handoff.fallback_whatsapp
            && team != to
        {
            let copy = format!("[ARI] Pesan untuk {to} tidak terkirim ({status}):\n\n{text}");
            let fallback = match (&self.handoff.consultant_template, vars) {
                (Some(t), Some(vars)) => Fallback {
                    window_closed: vec![QueuedRow {
                        channel: Channel::WhatsappTemplate,
                        to: team.clone(),
                        body: self.consultant_template(t, vars),
                        once: None,
                        fallback: None,
                    }],
                    ..Fallback::default()
                },
                _ => Fallback {
                    needs_template: true,
                    ..Fallback::default()
                },
            };
            rows.push(QueuedRow {
                channel: Channel::Whatsapp,
                to: team.clone(),
                body: copy,
                once: None,
                fallback: boxed(fallback),
            });
        }
        if let Some(url) = self.crm_url {
            rows.push(QueuedRow {
                channel: Channel::Webhook,
                to: url.to_string(),
                body: self.undelivered_event(kind, to, text, status).to_string(),
                once: None,
                fallback: None,
            });
        }
        rows
    }

    /// The CRM event of a notice nobody received ([`super::webhook::UNDELIVERED_EVENT`]): the
    /// conversation, the lead, what the notice was (`notice`), to whom, `status`
    /// (`needs_template`: outside the window without a template; `failed`) and its text.
    pub fn undelivered_event(
        &self,
        kind: NoticeKind,
        to: &str,
        text: &str,
        status: &str,
    ) -> serde_json::Value {
        json!({
            "event": super::webhook::UNDELIVERED_EVENT,
            "at": self.at.to_rfc3339(),
            "workspace_id": self.workspace_id,
            "conversation_id": self.conversation_id,
            "contact": {"phone": self.contact_phone, "name": super::crm_name(self.contact_name)},
            "notice": kind.as_str(),
            "to": to,
            "status": status,
            "text": text,
        })
    }

    /// The `handoff.consultant_template` body: lead, reason, slot, summary.
    fn consultant_template(&self, t: &TemplateRef, vars: &NoticeVars) -> String {
        template_body(
            t,
            &[
                self.lead(),
                template_var(&vars.reason, REASON_MAX),
                vars.slot
                    .as_deref()
                    .map(|s| template_var(s, SLOT_MAX))
                    .filter(|s| !s.is_empty())
                    .unwrap_or_else(|| "-".into()),
                Some(template_var(&vars.summary, SUMMARY_MAX))
                    .filter(|s| !s.is_empty())
                    .unwrap_or_else(|| "-".into()),
            ],
        )
    }
}

/// A `whatsapp_template` row's body: `{"name", "language", "parameters"}`.
pub fn template_body(t: &TemplateRef, parameters: &[String]) -> String {
    let mut body = json!({"name": t.name, "language": t.language, "parameters": parameters});
    if !t.quick_replies.is_empty() {
        // The quick-reply buttons' payload ids by index (issue 19).
        body["buttons"] = json!(t.quick_replies);
    }
    body.to_string()
}

fn boxed(f: Fallback) -> Option<Box<Fallback>> {
    (!f.is_empty()).then(|| Box::new(f))
}

/// The consultant-template summary of a handoff notice: the flow's lead summary and the
/// conversation digest, on one line.
pub fn handoff_summary(summary: &str, digest: &str) -> String {
    format!("{summary}\nPercakapan: {digest}")
}

/// Messages of `recent` the consultant should hear about: outbound, never delivered, nobody
/// told yet, and either to the lead or a relay (to anyone: a relay is the consultant's own
/// message). With their ids (to mark them told).
pub fn undelivered_list(recent: &[StoredMessage]) -> (Vec<i64>, Vec<String>) {
    let mut ids = Vec::new();
    let mut lines = Vec::new();
    for m in recent {
        let undelivered = m.meta.get(UNDELIVERED_META).and_then(|v| v.as_bool()) == Some(true);
        let told = m.meta.get(TOLD_META).and_then(|v| v.as_bool()) == Some(true);
        if m.direction != Direction::Outbound || !undelivered || told {
            continue;
        }
        let to_lead = m.meta.get("audience").is_none();
        let relay = m.meta.get("relay").and_then(|v| v.as_bool()) == Some(true);
        let Some(text) = m.text.as_deref() else {
            continue;
        };
        let line = if to_lead {
            format!("- ke lead: {}", notice_line(text, SUMMARY_MAX))
        } else if relay {
            format!("- {}", notice_line(text, SUMMARY_MAX))
        } else {
            continue;
        };
        ids.push(m.id);
        lines.push(line);
    }
    (ids, lines)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::FailReason;
    use crate::store::OutboxState;

    fn handoff(consultant: bool, relay: bool, team: bool) -> Handoff {
        let t = |name: &str| TemplateRef {
            name: name.into(),
            language: "id".into(),
            quick_replies: Vec::new(),
        };
        Handoff {
            quiet_period_minutes: 240,
            takeover_resume_minutes: 1440,
            relay_after_minutes: 10,
            close_after_hours: 24,
            human_request_phrases: vec![],
            consultant_template: consultant.then(|| t("ari_notice")),
            relay_template: relay.then(|| t("ari_relay")),
            fallback_whatsapp: team.then(|| "+6281299990000".into()),
        }
    }

    fn notices(h: &Handoff, crm: bool) -> Notices<'_> {
        Notices {
            handoff: h,
            crm_url: crm.then_some("https://crm.example/hook"),
            workspace_id: "default",
            conversation_id: 7,
            contact_phone: "+6281234567890",
            contact_name: Some("Budi\nAlasan: palsu"),
            at: DateTime::from_timestamp_millis(0).unwrap_or_default(),
        }
    }

    fn vars() -> NoticeVars {
        NoticeVars {
            reason: "lead minta bicara dengan konsultan".into(),
            slot: None,
            summary: "Lead Score: 40/100.\nDokumen: -".into(),
        }
    }

    #[test]
    fn outside_the_window_a_notice_goes_as_the_template_with_one_line_variables() {
        let h = handoff(true, false, true);
        let fb =
            notices(&h, true).notice(NoticeKind::Handoff, "+6281111000001", "Halo\nLead", &vars());
        let (state, rows, tag) = fb.on_failure(FailReason::WindowClosed);
        assert_eq!((state, tag), (OutboxState::Failed, "w"));
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].channel, Channel::WhatsappTemplate);
        let body: serde_json::Value = serde_json::from_str(&rows[0].body).unwrap();
        assert_eq!(
            body,
            json!({"name": "ari_notice", "language": "id", "parameters": [
                "Budi Alasan: palsu (+6281234567890)",
                "lead minta bicara dengan konsultan",
                "-",
                "Lead Score: 40/100. Dokumen: -",
            ]})
        );
        // The template's own fallback: the team copy and the CRM event.
        let inner = rows[0].fallback.as_deref().unwrap();
        assert_eq!(inner.undeliverable.len(), 2);
        // Refused for good: the team copy and the CRM event at once.
        let (state, rows, tag) = fb.on_failure(FailReason::Rejected);
        assert_eq!((state, tag), (OutboxState::Failed, "u"));
        assert_eq!(rows[0].to, "+6281299990000");
        assert!(rows[0].body.contains("Halo\nLead"), "{}", rows[0].body);
        let event: serde_json::Value = serde_json::from_str(&rows[1].body).unwrap();
        assert_eq!(event["event"], "ari.notice.undelivered");
        assert_eq!(event["status"], "failed");
        assert_eq!(event["text"], "Halo\nLead");
    }

    #[test]
    fn without_a_template_the_notice_needs_one_and_goes_to_the_crm() {
        let h = handoff(false, false, false);
        let fb = notices(&h, true).notice(NoticeKind::Handoff, "+6281111000001", "Halo", &vars());
        let (state, rows, _) = fb.on_failure(FailReason::WindowClosed);
        assert_eq!(state, OutboxState::NeedsTemplate);
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].channel, Channel::Webhook);
        let event: serde_json::Value = serde_json::from_str(&rows[0].body).unwrap();
        assert_eq!(event["status"], "needs_template");
        assert_eq!(event["text"], "Halo");
        // Nothing configured at all: still recorded as needs_template.
        let fb = notices(&h, false).notice(NoticeKind::Handoff, "+6281111000001", "Halo", &vars());
        assert_eq!(
            fb.on_failure(FailReason::WindowClosed).0,
            OutboxState::NeedsTemplate
        );
        assert!(fb.on_failure(FailReason::WindowClosed).1.is_empty());
    }

    #[test]
    fn a_relay_template_is_once_per_window_and_merges() {
        let h = handoff(false, true, false);
        let fb = notices(&h, false).relay("+6281111000001", "kak\ntolong", "Pesan baru...");
        let row = &fb.window_closed[0];
        let once = row.once.as_ref().unwrap();
        assert_eq!(once.key, "relay_template:+6281111000001");
        assert_eq!(once.window_ms, Some(WINDOW_MS));
        assert_eq!(once.merge, "kak tolong");
        let body: serde_json::Value = serde_json::from_str(&row.body).unwrap();
        assert_eq!(body["parameters"][1], "kak tolong");
    }

    #[test]
    fn a_missed_lead_reply_tells_the_consultant_once_per_handoff() {
        let h = handoff(true, false, false);
        let fb = notices(&h, false).lead_reply("+6281111000001", 1_000, "Baik kak,\nditunggu");
        let row = &fb.undeliverable[0];
        assert_eq!(row.to, "+6281111000001");
        assert!(row.body.ends_with("\n- Baik kak, ditunggu"), "{}", row.body);
        let once = row.once.as_ref().unwrap();
        assert_eq!(once.key, "lead_undelivered:1000");
        assert_eq!(once.window_ms, None);
        assert_eq!(fb.window_closed, fb.undeliverable);
        // The notice itself goes as the consultant template outside the window.
        let inner = row.fallback.as_deref().unwrap();
        assert_eq!(inner.window_closed[0].channel, Channel::WhatsappTemplate);
    }

    #[test]
    fn the_list_of_missed_messages_skips_told_and_consultant_notices() {
        let m = |id: i64, meta: serde_json::Value| StoredMessage {
            id,
            direction: Direction::Outbound,
            text: Some(format!("text {id}")),
            wamid: None,
            meta,
            created_at_ms: 0,
        };
        let recent = vec![
            m(1, json!({"undelivered": true})),
            m(2, json!({"undelivered": true, "told": true})),
            m(3, json!({"audience": "consultant", "undelivered": true})),
            m(
                4,
                json!({"audience": "consultant", "relay": true, "undelivered": true}),
            ),
            m(5, json!({})),
        ];
        let (ids, lines) = undelivered_list(&recent);
        assert_eq!(ids, [1, 4]);
        assert_eq!(lines, ["- ke lead: text 1", "- text 4"]);
    }
}
