//! Ingress fuzz target: the webhook signature check and the payload parser over arbitrary
//! bytes, as every payload kind (Kapso v2 single events under every event header, batched
//! deliveries, raw Meta format: the body decides which parser branch runs).
//!
//! Input layout: byte 0 picks the `X-Webhook-Event` header (or none) and whether
//! `X-Webhook-Batch: true` is sent; the rest is the raw request body.
//!
//! Properties checked (a failure aborts, and libFuzzer keeps the input):
//! - the signature of the body under the configured secret (either of a rotation pair)
//!   verifies, a different body or an arbitrary header value does not, and nothing panics;
//! - `parse_body` never panics; it fails exactly on JSON that is not an object, and an object
//!   always yields at least one item (nothing is dropped);
//! - every parsed event survives the store's round trip (`event_json` is written with
//!   `serde_json::to_string` and read back with `from_str`): otherwise the row could never be
//!   processed.

#![no_main]

use libfuzzer_sys::fuzz_target;

use ari::inbox::InboundEvent;
use ari::ingress::events::parse_body;
use ari::ingress::signature::{WebhookSecrets, sign};

const EVENTS: &[&str] = &[
    "whatsapp.message.received",
    "whatsapp.message.sent",
    "whatsapp.message.delivered",
    "whatsapp.message.read",
    "whatsapp.message.failed",
    "whatsapp.conversation.created",
    "whatsapp.conversation.ended",
    "whatsapp.conversation.inactive",
    "workflow.execution.handoff",
    "workflow.execution.failed",
    "something.new",
];

fuzz_target!(|data: &[u8]| {
    let Some((&control, body)) = data.split_first() else {
        return;
    };

    // Signature check.
    let secrets = WebhookSecrets::parse("fuzz-secret-new, fuzz-secret-old").expect("secrets");
    let good = sign(b"fuzz-secret-old", body);
    assert!(secrets.verify(body, &good), "own signature refused");
    assert!(
        secrets.verify(body, &format!("sha256={}", good.to_uppercase())),
        "prefixed upper-case signature refused"
    );
    let mut other = body.to_vec();
    other.push(b' ');
    assert!(!secrets.verify(&other, &good), "signature of another body accepted");
    // The body's own bytes as a header value: arbitrary, attacker-chosen.
    let header = String::from_utf8_lossy(&body[..body.len().min(80)]);
    if secrets.verify(body, &header) {
        let h = header.trim();
        assert_eq!(
            h.strip_prefix("sha256=").unwrap_or(h).to_ascii_lowercase(),
            good,
            "a header other than the HMAC verified"
        );
    }

    // Parsing.
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(body) else {
        return;
    };
    let event = EVENTS.get(usize::from(control & 0x0f)).copied();
    let batch = control & 0x80 != 0;
    match parse_body(&value, event, batch) {
        Ok(items) => {
            assert!(value.is_object(), "a non-object was accepted");
            assert!(!items.is_empty(), "an accepted delivery yielded no item");
            for (event, _raw) in &items {
                let _ = event.wamid();
                let stored = serde_json::to_string(event).expect("event serialises");
                let back: InboundEvent = serde_json::from_str(&stored)
                    .unwrap_or_else(|e| panic!("stored event does not decode: {e}: {stored}"));
                assert_eq!(back.kind, event.kind);
            }
        }
        Err(_) => assert!(!value.is_object(), "an object was refused"),
    }
});
