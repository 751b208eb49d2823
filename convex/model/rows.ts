// Shapes the functions return to the Rust store (src/store/convex.rs decodes them). Convex
// internals (`_id`, `_creationTime`) and claim helpers stay inside the deployment.

import type { Doc } from "../_generated/dataModel";

/** An inbox row as `InboxRow` needs it (`id` = `seq`). */
export function inboxRow(r: Doc<"inbox">) {
  return {
    id: r.seq,
    deliveryKey: r.deliveryKey,
    kind: r.kind,
    eventType: r.eventType,
    workspaceId: r.workspaceId,
    state: r.state,
    eventJson: r.eventJson,
    rawJson: r.rawJson,
    receivedAtMs: r.receivedAtMs,
  };
}

/** A message as `StoredMessage` needs it. */
export function messageRow(m: Doc<"messages">) {
  return {
    id: m.seq,
    direction: m.direction,
    text: m.text,
    wamid: m.wamid,
    metaJson: m.metaJson,
    createdAtMs: m.createdAtMs,
  };
}

/** An outbox row as `OutboxRow` needs it. */
export function outboxRow(o: Doc<"outbox">) {
  return {
    id: o.seq,
    conversationId: o.conversationSeq,
    idempotencyKey: o.idempotencyKey,
    phoneNumberId: o.phoneNumberId,
    to: o.toPhone,
    body: o.body,
    state: o.state,
    attempts: o.attempts,
    nextAttemptAtMs: o.nextAttemptAtMs,
    kapsoMessageId: o.kapsoMessageId,
    error: o.error,
    channel: o.channel ?? "whatsapp",
    reason: o.reason,
    queuedAtMs: o.queuedAtMs ?? o.createdAtMs,
    interactiveJson: o.interactiveJson,
  };
}
