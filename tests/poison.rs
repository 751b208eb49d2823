//! Issue 16 item 9, end to end: a conversation whose turn fails the same way every time (its
//! stored snapshot unreadable) is set aside after `--max-turn-attempts` and handed off as
//! `stuck`: the lead hears back, the failing messages are kept, a metric counts it.

mod common;

use ari::inbox::InboxState;
use ari::store::Store;
use common::kapso_mock::MockKapso;
use common::{Options, Service};

/// The shipped `stages.handoff.texts.stuck` (Indonesian), as the lead receives it.
const STUCK_TEXT: &str = "Konsultan kami akan segera menghubungi kamu";

/// Overwrites the contact's stored snapshot, as a bad manual edit or a bug would.
fn corrupt_snapshot(svc: &Service, phone: &str, snapshot: &str) {
    let db = rusqlite::Connection::open(&svc.db_path).expect("open db");
    let changed = db
        .execute(
            "UPDATE conversations SET snapshot_json = ?2 WHERE contact_phone = ?1",
            rusqlite::params![phone, snapshot],
        )
        .expect("update");
    assert_eq!(changed, 1);
}

async fn handoff_reason(svc: &Service, phone: &str) -> (Option<String>, Option<String>) {
    let store = ari::store::sqlite::SqliteStore::open(&svc.db_path)
        .await
        .expect("open store");
    let key = ari::store::ConversationKey {
        workspace_id: "default".into(),
        contact_phone: phone.into(),
    };
    let record = store.conversation_record(&key).await.expect("record");
    store.close().await.expect("close");
    let summary = record.expect("conversation").summary;
    (summary.flow_state, summary.handoff_reason)
}

#[tokio::test]
async fn a_conversation_that_fails_every_turn_is_handed_off_as_stuck() {
    let mock = MockKapso::start().await;
    let svc = Service::spawn_with(Options {
        kapso: Some((mock.uri(), "test-kapso-key".into())),
        extra_args: vec!["--max-turn-attempts".into(), "3".into()],
        ..Options::default()
    });
    let c = reqwest::Client::new();
    // Two leads: one snapshot is not JSON, the other JSON of the wrong shape.
    let leads = [
        ("+6281200000001", "{\"state\": "),
        ("+6281200000002", "{\"state\": 42}"),
    ];
    for (i, (phone, _)) in leads.iter().enumerate() {
        svc.say(&c, phone, &format!("wamid.hi{i}"), "halo kak")
            .await;
    }
    mock.wait_for(2).await;
    svc.wait_processed().await;
    for (i, (phone, bad)) in leads.iter().enumerate() {
        corrupt_snapshot(&svc, phone, bad);
        svc.say(
            &c,
            phone,
            &format!("wamid.next{i}"),
            "mau kuliah di australia",
        )
        .await;
    }
    // Each lead hears back: the stuck handoff text, once (consultants' handoff notices go
    // through the same mock, so wait for the leads' replies themselves).
    let stuck_replies = |phone: &str| {
        let to = phone.trim_start_matches('+').to_string();
        mock.accepted()
            .into_iter()
            .filter(|r| r.to == to && r.body.contains(STUCK_TEXT))
            .count()
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while leads.iter().any(|(phone, _)| stuck_replies(phone) == 0) {
        assert!(
            std::time::Instant::now() < deadline,
            "no stuck reply in 60 s: {:#?}",
            mock.accepted()
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let rows = svc.wait_processed().await;
    for (phone, _) in &leads {
        assert_eq!(stuck_replies(phone), 1, "{phone}: {:#?}", mock.accepted());
    }
    for (i, (phone, _)) in leads.iter().enumerate() {
        assert_eq!(
            handoff_reason(&svc, phone).await,
            (Some("handoff".into()), Some("stuck".into())),
            "{phone}"
        );
        let next = rows
            .iter()
            .find(|r| r.event.wamid() == Some(format!("wamid.next{i}").as_str()))
            .expect("the failing message is kept");
        assert_eq!(next.state, InboxState::SetAside);
    }
    let metrics = c
        .get(svc.url("/metrics"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert!(metrics.contains("ari_turns_set_aside_total 2"), "{metrics}");
    assert!(svc.wait_for_log("handed off as stuck"));
}
