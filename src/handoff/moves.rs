//! What consultants are told when a lead moves a booked consultation: one message when the
//! same consultant has both slots, else one to each (the new one with the lead's summary, as
//! the lead is new to them). Consultant-facing, so in the workspace's language
//! (`persona.language`: `en` in English, anything else in Indonesian, as the other notices).

use chrono_tz::Tz;

use super::lead_label;
use crate::flow::SlotOption;
use crate::scheduling::{confirmation_parts, zone_label};

/// One notice to a consultant: E.164 `to` and the text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MoveNotice {
    /// The consultant's number (E.164).
    pub to: String,
    /// The WhatsApp text.
    pub text: String,
}

/// The lead (`contact_phone`, `contact_name`) who moved the `from` booking to `to`.
#[derive(Debug, Clone, Copy)]
pub struct Move<'a> {
    /// E.164.
    pub contact_phone: &'a str,
    pub contact_name: Option<&'a str>,
    /// The released slot.
    pub from: &'a SlotOption,
    /// The newly booked slot.
    pub to: &'a SlotOption,
    /// The flow's lead summary, for a consultant who gets the lead only now.
    pub summary: &'a str,
}

/// The notices of a move; times in the slots' zone (`tz`), words in `language`.
pub fn move_notices(m: &Move<'_>, tz: Tz, language: &str) -> Vec<MoveNotice> {
    let who = lead_label(m.contact_phone, m.contact_name);
    let when = |s: &SlotOption| {
        let (date, time, _) = confirmation_parts(s, tz);
        format!("{date}, {time} {}", zone_label(tz))
    };
    let (old, new) = (when(m.from), when(m.to));
    let en = language == "en";
    if m.from.consultant_whatsapp == m.to.consultant_whatsapp {
        let text = if en {
            format!(
                "Hi {}, lead {who} moved their consultation from {old} to {new}.",
                m.to.consultant_name
            )
        } else {
            format!(
                "Halo {}, lead {who} memindahkan jadwal konsultasi dari {old} ke {new}.",
                m.to.consultant_name
            )
        };
        return vec![MoveNotice {
            to: m.to.consultant_whatsapp.clone(),
            text,
        }];
    }
    let (released, taken) = if en {
        (
            format!(
                "Hi {}, lead {who} moved their consultation to {} ({new}). Your slot {old} is free again.",
                m.from.consultant_name, m.to.consultant_name
            ),
            format!(
                "Hi {}, lead {who} moved their consultation to your slot {new} (was {old} with {}).\n{}",
                m.to.consultant_name, m.from.consultant_name, m.summary
            ),
        )
    } else {
        (
            format!(
                "Halo {}, lead {who} memindahkan konsultasinya ke {} ({new}). Jadwal Anda {old} sudah dilepas.",
                m.from.consultant_name, m.to.consultant_name
            ),
            format!(
                "Halo {}, lead {who} memindahkan konsultasinya ke jadwal Anda: {new} (sebelumnya {old} dengan {}).\n{}",
                m.to.consultant_name, m.from.consultant_name, m.summary
            ),
        )
    };
    vec![
        MoveNotice {
            to: m.from.consultant_whatsapp.clone(),
            text: released,
        },
        MoveNotice {
            to: m.to.consultant_whatsapp.clone(),
            text: taken,
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn slot(id: &str, hour: u32, name: &str, wa: &str) -> SlotOption {
        SlotOption {
            id: id.into(),
            start: chrono::Utc
                .with_ymd_and_hms(2026, 11, 26, hour - 7, 0, 0)
                .single()
                .unwrap(),
            duration_minutes: 60,
            consultant_name: name.into(),
            consultant_whatsapp: wa.into(),
        }
    }

    #[test]
    fn one_consultant_gets_one_notice_with_both_slots() {
        let (a, b) = (
            slot("a", 10, "Kak Dimas", "+6281111000002"),
            slot("b", 14, "Kak Dimas", "+6281111000002"),
        );
        let m = Move {
            contact_phone: "+6281234567890",
            contact_name: Some("Budi"),
            from: &a,
            to: &b,
            summary: "Lead Score: 90/100",
        };
        let n = move_notices(&m, chrono_tz::Asia::Jakarta, "id");
        assert_eq!(n.len(), 1);
        assert!(
            n[0].text.contains("10:00") && n[0].text.contains("14:00"),
            "{}",
            n[0].text
        );
        assert!(n[0].text.contains("Budi (+6281234567890)"));
    }

    #[test]
    fn two_consultants_each_get_theirs_in_english_when_configured() {
        let (a, b) = (
            slot("a", 10, "Kak Dimas", "+6281111000002"),
            slot("b", 14, "Kak Rina", "+6281111000003"),
        );
        let m = Move {
            contact_phone: "+6281234567890",
            contact_name: None,
            from: &a,
            to: &b,
            summary: "Lead Score: 90/100",
        };
        let n = move_notices(&m, chrono_tz::Asia::Jakarta, "en");
        assert_eq!(n.len(), 2);
        assert_eq!(n[0].to, "+6281111000002");
        assert!(n[0].text.contains("free again"), "{}", n[0].text);
        assert_eq!(n[1].to, "+6281111000003");
        assert!(n[1].text.contains("Lead Score: 90/100"), "{}", n[1].text);
    }
}
