//! A flow edit during a running `ari serve` applies from the next turn, without a restart; a
//! broken edit is rejected with its errors and the previous flow stays.

mod common;

use common::kapso_mock::MockKapso;
use common::{Options, Service, text_payload};

fn sighup(svc: &Service) {
    let status = std::process::Command::new("kill")
        .args(["-HUP", &svc.pid().to_string()])
        .status()
        .expect("kill -HUP");
    assert!(status.success());
}

#[tokio::test]
async fn a_flow_edit_applies_to_the_next_turn_without_a_restart() {
    let mock = MockKapso::start().await;
    let svc = Service::spawn_with(Options {
        kapso: Some((mock.uri(), "k".into())),
        ..Options::default()
    });
    let c = reqwest::Client::new();
    let first = "+6281300000001";
    svc.post_signed(
        &c,
        &text_payload(first, "wamid.L1", "halo"),
        Some("whatsapp.message.received"),
        None,
    )
    .await;
    let replies = mock.wait_for(1).await;
    assert!(replies[0].body.contains("Saya ARI"), "{}", replies[0].body);

    // An admin renames the bot.
    let flow = svc.flow_dir.join("ari.toml");
    let text = std::fs::read_to_string(&flow).unwrap();
    std::fs::write(
        &flow,
        text.replace("bot_name = \"ARI\"", "bot_name = \"Sari\""),
    )
    .unwrap();
    sighup(&svc);
    assert!(
        svc.wait_for_log("flow config reloaded"),
        "{}",
        svc.logs_text()
    );

    let second = "+6281300000002";
    svc.post_signed(
        &c,
        &text_payload(second, "wamid.L2", "halo"),
        Some("whatsapp.message.received"),
        None,
    )
    .await;
    let replies = mock.wait_for(2).await;
    assert!(replies[1].body.contains("Saya Sari"), "{}", replies[1].body);

    // A broken edit (weights no longer sum to 100) is rejected; "Sari" stays.
    let text = std::fs::read_to_string(&flow).unwrap();
    let broken = text.replacen("basic = 25", "basic = 26", 1);
    assert_ne!(broken, text, "the weights line moved: update this test");
    std::fs::write(&flow, broken).unwrap();
    sighup(&svc);
    assert!(
        svc.wait_for_log("flow config rejected"),
        "{}",
        svc.logs_text()
    );
    let third = "+6281300000003";
    svc.post_signed(
        &c,
        &text_payload(third, "wamid.L3", "halo"),
        Some("whatsapp.message.received"),
        None,
    )
    .await;
    let replies = mock.wait_for(3).await;
    assert!(replies[2].body.contains("Saya Sari"), "{}", replies[2].body);
}

#[test]
fn an_invalid_flow_refuses_to_start_with_file_line_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let flow_dir = dir.path().join("state-machines");
    std::fs::create_dir_all(&flow_dir).unwrap();
    let shipped = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/state-machines/ari.toml"
    ))
    .unwrap();
    std::fs::write(
        flow_dir.join("ari.toml"),
        shipped.replacen("hot_threshold = 70", "hot_threshold = 30", 1),
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ari"))
        .args(["serve", "--bind", "127.0.0.1:0"])
        .arg("--flow-dir")
        .arg(&flow_dir)
        .arg("--database")
        .arg(dir.path().join("x.db"))
        .env("ARI_WEBHOOK_SECRET", "s")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("ari.toml:"), "{stderr}");
    assert!(stderr.contains("threshold"), "{stderr}");
}

fn reloads(svc: &Service) -> usize {
    svc.logs_text().matches("flow config reloaded").count()
}

/// The file watcher reloads after an edit, and then stays quiet: reading the files during a
/// reload is not a change (it once made the watcher reload every 300 ms, forever).
#[tokio::test]
async fn the_watcher_reloads_on_an_edit_and_then_stays_quiet() {
    let svc = Service::spawn();
    let c = reqwest::Client::new();
    svc.post_signed(
        &c,
        &text_payload("+6281300000009", "wamid.Q1", "halo"),
        Some("whatsapp.message.received"),
        None,
    )
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(1_500)).await;
    assert_eq!(
        reloads(&svc),
        0,
        "reloaded without an edit:\n{}",
        svc.logs_text()
    );
    let flow = svc.flow_dir.join("ari.toml");
    let text = std::fs::read_to_string(&flow).unwrap();
    std::fs::write(
        &flow,
        text.replace("bot_name = \"ARI\"", "bot_name = \"Sari\""),
    )
    .unwrap();
    assert!(svc.wait_for_log("file change"), "{}", svc.logs_text());
    tokio::time::sleep(std::time::Duration::from_millis(1_500)).await;
    let after_edit = reloads(&svc);
    tokio::time::sleep(std::time::Duration::from_millis(1_500)).await;
    assert_eq!(
        reloads(&svc),
        after_edit,
        "still reloading with no edit:\n{}",
        svc.logs_text()
    );
    assert!(after_edit <= 3, "{after_edit} reloads for one edit");
}
