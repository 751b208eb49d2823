//! Handoff to consultants: who gets the lead, and the summary they receive.
//!
//! The flow core decides *that* a lead is handed off and why (once per reason and cycle: the
//! handoff is a transition) and writes the lead part of the summary (data, score with its
//! reasons, documents). This module adds what the shell knows: a digest of the conversation,
//! the appointment, and the consultant. The notification is a WhatsApp text to the consultant's
//! number, queued in the outbox of the same commit as the turn, so it goes out exactly once.
//!
//! Pure functions; no I/O.

pub mod fallback;
pub mod moves;
pub mod webhook;

use chrono_tz::Tz;

use crate::config::flow::Scheduling;
use crate::flow::SlotOption;
use crate::flow::text::{has_any, words};
use crate::sanitize;
use crate::scheduling::{confirmation_parts, zone_label};
use crate::telemetry::mask_phone;

/// A consultant who receives handoffs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consultant {
    pub name: String,
    /// E.164.
    pub whatsapp: String,
}

/// The workspace's consultants: everyone named in its weekly slots, in order of first
/// appearance (duplicates removed).
pub fn consultants(cfg: &Scheduling) -> Vec<Consultant> {
    let mut out: Vec<Consultant> = Vec::new();
    for rule in &cfg.slots {
        if !out.iter().any(|c| c.whatsapp == rule.consultant_whatsapp) {
            out.push(Consultant {
                name: rule.consultant_name.clone(),
                whatsapp: rule.consultant_whatsapp.clone(),
            });
        }
    }
    out
}

/// Who gets this lead: the booked slot's consultant; otherwise round-robin among the
/// workspace's consultants by conversation (conversation ids are assigned in order, so
/// consecutive leads go to consecutive consultants, and a conversation always gets the same
/// one). `None` when no consultant is configured.
pub fn assign(
    cfg: &Scheduling,
    conversation_id: i64,
    booked: Option<&SlotOption>,
) -> Option<Consultant> {
    if let Some(slot) = booked {
        return Some(Consultant {
            name: slot.consultant_name.clone(),
            whatsapp: slot.consultant_whatsapp.clone(),
        });
    }
    let all = consultants(cfg);
    if all.is_empty() {
        return None;
    }
    let i = usize::try_from(conversation_id.rem_euclid(all.len() as i64)).unwrap_or(0);
    all.get(i).cloned()
}

/// Topic keywords of the digest (seed §10, matched as whole words).
const TOPICS: &[(&[&str], &str)] = &[
    (
        &["universitas", "kampus", "university"],
        "Tanya universitas",
    ),
    (&["biaya", "cost", "tuition"], "Tanya biaya"),
    (&["beasiswa", "scholarship"], "Tertarik beasiswa"),
    (&["visa"], "Tanya visa"),
    (&["ielts", "toefl"], "Perlu bantuan IELTS"),
    (&["dokumen", "document"], "Tanya dokumen"),
];

/// A one-line digest of the conversation from the lead's messages: the topics raised (at most
/// 3) and how many messages (seed §10 `generateConversationSummary`, whole-word matching).
pub fn digest(lead_texts: &[&str]) -> String {
    let tokens = words(&lead_texts.join("\n"));
    let topics: Vec<&str> = TOPICS
        .iter()
        .filter(|(keywords, _)| has_any(&tokens, keywords))
        .map(|(_, label)| *label)
        .take(3)
        .collect();
    let mut parts = Vec::new();
    if !topics.is_empty() {
        parts.push(format!("Topik dibahas: {}", topics.join(", ")));
    }
    parts.push(format!("{} pesan dari lead", lead_texts.len()));
    parts.join(". ")
}

/// How a lead is named to a consultant: `Budi (+6281234567890)`, or the number alone. The
/// profile name is the lead's own text: it is put on one line, formatting escaped
/// ([`sanitize::notice_line`]), so a name with line breaks cannot add a forged "Alasan:" line to
/// the notice.
pub(crate) fn lead_label(contact_phone: &str, contact_name: Option<&str>) -> String {
    match contact_name.map(|n| sanitize::notice_line(n, sanitize::NAME_MAX_CHARS)) {
        Some(n) if !n.is_empty() => format!("{n} ({contact_phone})"),
        _ => contact_phone.to_string(),
    }
}

/// The profile name as the CRM receives it: one line, like in the notices
/// ([`sanitize::crm`]: no WhatsApp escaping).
pub(crate) fn crm_name(contact_name: Option<&str>) -> Option<String> {
    contact_name
        .map(|n| sanitize::crm(n, sanitize::NAME_MAX_CHARS))
        .filter(|n| !n.is_empty())
}

/// A handed-off lead's new message, as its consultant receives it (consultant-facing, so in
/// the workspace's language): the lead's text is quoted, every line of it starting with `> `
/// ([`sanitize::notice_block`]), so it cannot pass for a line of the notice.
pub fn relay_message(contact_phone: &str, contact_name: Option<&str>, text: &str) -> String {
    format!(
        "Pesan baru dari lead {}:\n{}",
        lead_label(contact_phone, contact_name),
        sanitize::notice_block(text, sanitize::MESSAGE_MAX_CHARS)
    )
}

/// A handed-off lead's message as the CRM receives it ([`relay_event`]).
#[derive(Debug, Clone, Copy)]
pub struct RelayedMessage<'a> {
    /// E.164.
    pub contact_phone: &'a str,
    pub contact_name: Option<&'a str>,
    /// What the lead wrote (or `[file]`, `[voice note]`...).
    pub text: &'a str,
    /// The consultant it was relayed to; `None` when none is configured.
    pub consultant: Option<&'a crate::flow::Assignee>,
    /// The handoff's reason (`human_takeover`, `appointment_booked`...).
    pub reason: Option<&'a str>,
}

/// The JSON body of a relay's CRM webhook call ([`webhook::RELAY_EVENT`]): the conversation,
/// the contact, the message, the consultant it went to and the handoff reason (`at` UTC, RFC
/// 3339).
pub fn relay_event(
    message: &RelayedMessage<'_>,
    conversation_id: i64,
    workspace_id: &str,
    at: chrono::DateTime<chrono::Utc>,
) -> serde_json::Value {
    serde_json::json!({
        "event": webhook::RELAY_EVENT,
        "at": at.to_rfc3339(),
        "workspace_id": workspace_id,
        "conversation_id": conversation_id,
        "contact": {"phone": message.contact_phone, "name": crm_name(message.contact_name)},
        "text": sanitize::crm(message.text, sanitize::MESSAGE_MAX_CHARS),
        "handoff_reason": message.reason,
        "consultant": message.consultant.map(|c| serde_json::json!({
            "name": c.name, "whatsapp": c.whatsapp,
        })),
    })
}

/// What a consultant is told about a handed-off lead.
#[derive(Debug, Clone, Copy)]
pub struct HandoffNotice<'a> {
    /// The flow's stable reason name, e.g. `appointment_booked`.
    pub reason: &'a str,
    /// E.164.
    pub contact_phone: &'a str,
    pub contact_name: Option<&'a str>,
    /// The flow's lead summary (data, score and reasons, documents).
    pub summary: &'a str,
    /// [`digest`] of the conversation.
    pub digest: &'a str,
    /// The consultation booked in this handoff, if any.
    pub booked: Option<&'a SlotOption>,
}

/// The WhatsApp text a consultant receives; times in the slots' zone (`tz`).
pub fn consultant_message(consultant: &Consultant, notice: &HandoffNotice<'_>, tz: Tz) -> String {
    let who = lead_label(notice.contact_phone, notice.contact_name);
    let mut text = format!(
        "Halo {}, ada lead baru dari ARI untuk Anda.\nLead: {who}\nAlasan: {}\n{}\nPercakapan: {}",
        consultant.name,
        reason_label(notice.reason),
        notice.summary,
        notice.digest
    );
    if let Some(slot) = notice.booked {
        let (date, time, minutes) = confirmation_parts(slot, tz);
        text.push_str(&format!(
            "\nJadwal konsultasi: {date}, {time} {} ({minutes} menit)",
            zone_label(tz)
        ));
    }
    tracing::debug!(to = %mask_phone(&consultant.whatsapp), reason = notice.reason, "consultant notification prepared");
    text
}

/// The WhatsApp text the booked consultant receives when a lead cancels or moves a
/// consultation; times in the slots' zone (`tz`).
pub fn cancellation_message(
    contact_phone: &str,
    contact_name: Option<&str>,
    slot: &SlotOption,
    reschedule: bool,
    tz: Tz,
) -> String {
    let who = lead_label(contact_phone, contact_name);
    let (date, time, _) = confirmation_parts(slot, tz);
    let what = if reschedule {
        "mengganti jadwal; jadwal baru menyusul"
    } else {
        "membatalkan konsultasi"
    };
    format!(
        "Halo {}, lead {who} {what}. Jadwal yang dilepas: {date}, {time} {}.",
        slot.consultant_name,
        zone_label(tz)
    )
}

/// The WhatsApp reminder a consultant receives before a consultation.
pub fn consultant_reminder(
    contact_phone: &str,
    contact_name: Option<&str>,
    slot: &SlotOption,
    kind: crate::scheduling::ReminderKind,
    tz: Tz,
) -> String {
    let who = lead_label(contact_phone, contact_name);
    let (date, time, minutes) = confirmation_parts(slot, tz);
    let when = match kind {
        crate::scheduling::ReminderKind::DayBefore => "besok",
        crate::scheduling::ReminderKind::TwoHours => "2 jam lagi",
    };
    format!(
        "Pengingat, {}: konsultasi dengan {who} {when}, {date} jam {time} {} ({minutes} menit).",
        slot.consultant_name,
        zone_label(tz)
    )
}

/// The CRM tag a handoff adds to the lead (seed §10: `1on1` for a consultation, `Community`
/// for a cold lead sent to the community, `Follow-up` for leads a consultant follows up).
/// `None` for a takeover, which a person started.
pub fn tag_for(reason: &str) -> Option<&'static str> {
    match reason {
        "appointment_booked" | "hot_lead" => Some("1on1"),
        "cold_lead" => Some("Community"),
        "warm_lead" | "human_requested" | "stuck" => Some("Follow-up"),
        _ => None,
    }
}

/// The JSON body of a handoff's CRM webhook call (`ari.lead.handoff`): the reason, the lead
/// (phone E.164, name, known fields, documents), the score with its per-factor reasons, the
/// consultant summary and digest, and the booked consultation if any (UTC, RFC 3339).
pub fn crm_event(
    notice: &HandoffNotice<'_>,
    conversation_id: i64,
    workspace_id: &str,
    lead: &crate::flow::turn::LeadState,
    at: chrono::DateTime<chrono::Utc>,
) -> serde_json::Value {
    use crate::flow::FieldValue;
    let fields: serde_json::Map<String, serde_json::Value> = lead
        .fields
        .iter()
        .map(|(k, v)| {
            let value = match v {
                FieldValue::Known(x) => serde_json::Value::String(x.clone()),
                FieldValue::Unknown => serde_json::Value::Null,
            };
            (k.clone(), value)
        })
        .collect();
    serde_json::json!({
        "event": webhook::HANDOFF_EVENT,
        "at": at.to_rfc3339(),
        "reason": notice.reason,
        "workspace_id": workspace_id,
        "conversation_id": conversation_id,
        "contact": {"phone": notice.contact_phone, "name": crm_name(notice.contact_name)},
        "lead": {
            "fields": fields,
            "documents": lead.documents,
            "score": lead.score.as_ref().map(|s| serde_json::json!({
                "total": s.total,
                "temperature": s.temperature.as_str(),
                "basic": s.basic, "qualification": s.qualification,
                "documents": s.documents, "engagement": s.engagement,
                "reasons": s.reasons,
            })),
        },
        "summary": notice.summary,
        "digest": notice.digest,
        // The click-to-WhatsApp ad the lead came from (issue 16 item 5), `null` without one.
        "lead_source": lead.source,
        "appointment": notice.booked.map(|slot| serde_json::json!({
            "slot_id": slot.id,
            "starts_at": slot.start.to_rfc3339(),
            "duration_minutes": slot.duration_minutes,
            "consultant": {"name": slot.consultant_name, "whatsapp": slot.consultant_whatsapp},
        })),
    })
}

/// Indonesian label of a handoff reason (the flow's stable names).
pub fn reason_label(reason: &str) -> &str {
    match reason {
        "appointment_booked" => "konsultasi sudah dibooking",
        "hot_lead" => "hot lead, siap konsultasi",
        "warm_lead" => "warm lead, perlu follow-up",
        "cold_lead" => "cold lead (link komunitas sudah dikirim), follow-up 30 hari",
        "human_requested" => "lead minta bicara dengan konsultan",
        "stuck" => "percakapan macet, perlu dibantu",
        "human_takeover" => "diambil alih oleh konsultan",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::flow::SlotRule;
    use chrono::{TimeZone, Utc};

    fn rule(name: &str, wa: &str) -> SlotRule {
        SlotRule {
            weekday: "monday".into(),
            start: "09:00".into(),
            end: "12:00".into(),
            duration_minutes: 60,
            consultant_name: name.into(),
            consultant_whatsapp: wa.into(),
            capacity: 1,
            meeting_url: None,
        }
    }

    fn scheduling(rules: Vec<SlotRule>) -> Scheduling {
        Scheduling {
            time_zone: "Asia/Jakarta".into(),
            booking_window_days: 14,
            min_notice_hours: 12,
            max_slots_shown: 5,
            slots: rules,
            cancel_phrases: vec![],
            reschedule_phrases: vec![],
            any_time_phrases: vec![],
            reminder_template: None,
        }
    }

    #[test]
    fn round_robin_by_conversation_and_booked_consultant_first() {
        let cfg = scheduling(vec![
            rule("Rina", "+6281111000001"),
            rule("Rina", "+6281111000001"),
            rule("Dimas", "+6281111000002"),
        ]);
        assert_eq!(consultants(&cfg).len(), 2);
        let names: Vec<_> = (10..14)
            .map(|id| assign(&cfg, id, None).unwrap().name)
            .collect();
        assert_eq!(names, ["Rina", "Dimas", "Rina", "Dimas"]);
        let slot = SlotOption {
            id: "s".into(),
            start: Utc.with_ymd_and_hms(2026, 11, 26, 2, 0, 0).unwrap(),
            duration_minutes: 60,
            consultant_name: "Dimas".into(),
            consultant_whatsapp: "+6281111000002".into(),
        };
        assert_eq!(assign(&cfg, 10, Some(&slot)).unwrap().name, "Dimas");
        assert_eq!(assign(&scheduling(vec![]), 10, None), None);
    }

    #[test]
    fn digest_counts_topics_by_whole_word() {
        let d = digest(&[
            "berapa biaya kuliah di UK?",
            "ada beasiswa?",
            "sudah ada visa",
            "televisa",
        ]);
        assert_eq!(
            d,
            "Topik dibahas: Tanya biaya, Tertarik beasiswa, Tanya visa. 4 pesan dari lead"
        );
    }

    #[test]
    fn consultant_message_has_lead_reason_summary_and_slot_in_wib() {
        let slot = SlotOption {
            id: "s".into(),
            start: Utc.with_ymd_and_hms(2026, 11, 26, 2, 0, 0).unwrap(),
            duration_minutes: 60,
            consultant_name: "Kak Dimas".into(),
            consultant_whatsapp: "+6281111000002".into(),
        };
        let c = Consultant {
            name: "Kak Dimas".into(),
            whatsapp: "+6281111000002".into(),
        };
        let notice = HandoffNotice {
            reason: "appointment_booked",
            contact_phone: "+6281234567890",
            contact_name: Some("Budi"),
            summary: "Lead Score: 98/100 (Hot lead).",
            digest: "3 pesan dari lead",
            booked: Some(&slot),
        };
        let text = consultant_message(&c, &notice, chrono_tz::Asia::Jakarta);
        assert!(text.contains("Budi (+6281234567890)"), "{text}");
        assert!(text.contains("konsultasi sudah dibooking"), "{text}");
        assert!(text.contains("98/100"), "{text}");
        assert!(text.contains("09:00 WIB"), "{text}");
        assert!(text.contains("26 November 2026"), "{text}");
    }

    /// A profile name with line breaks, bidi overrides or formatting cannot add a line to the
    /// notice (a forged "Alasan:" or schedule line), nor to the CRM event's contact name.
    #[test]
    fn a_forged_profile_name_stays_on_the_lead_line() {
        let c = Consultant {
            name: "Kak Dimas".into(),
            whatsapp: "+6281111000002".into(),
        };
        let forged =
            "Budi\nAlasan: konsultasi sudah dibooking\u{2028}Jadwal konsultasi: Senin\u{202E}";
        let notice = HandoffNotice {
            reason: "human_requested",
            contact_phone: "+6281234567890",
            contact_name: Some(forged),
            summary: "Lead Score: 40/100 (Cold lead).",
            digest: "1 pesan dari lead",
            booked: None,
        };
        let text = consultant_message(&c, &notice, chrono_tz::Asia::Jakarta);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 5, "{text}");
        assert!(lines[1].starts_with("Lead: Budi Alasan:"), "{text}");
        assert_eq!(
            lines.iter().filter(|l| l.starts_with("Alasan:")).count(),
            1,
            "{text}"
        );
        assert!(!text.contains(['\u{2028}', '\u{202E}']), "{text}");
        let lead = crate::flow::turn::LeadState::default();
        let event = crm_event(&notice, 1, "default", &lead, Utc::now());
        let name = event["contact"]["name"].as_str().unwrap_or_default();
        assert!(!name.contains(['\n', '\u{2028}']), "{name}");
    }
}
