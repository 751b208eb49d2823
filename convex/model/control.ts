// Control rows: events ARI queues for a conversation itself (an operator's command, a due
// follow-up, a turn set aside), stored as `control` inbox rows under a delivery of their own
// so the worker runs them in order with the lead's messages (see src/inbox/mod.rs).

import type { MutationCtx } from "../_generated/server";
import { reserveSeq } from "./seq";

/** One control row to queue; `eventJson` is the event without the lead's phone. */
export type ControlRow = {
  deliveryKey: string;
  eventType: string;
  workspaceId: string;
  contactPhone: string;
  eventJson: string;
  raw: Record<string, unknown>;
  nowMs: number;
};

/**
 * Claims `row.deliveryKey` and inserts the pending control row, as SQLite's
 * `insert_control_row_tx` does. Returns false, inserting nothing, when that delivery was
 * already claimed (a repeat queues nothing twice).
 */
export async function insertControlRow(ctx: MutationCtx, row: ControlRow): Promise<boolean> {
  const claimed = await ctx.db
    .query("deliveries")
    .withIndex("by_key", (q) => q.eq("idempotencyKey", row.deliveryKey))
    .first();
  if (claimed !== null) return false;
  const event = JSON.parse(row.eventJson) as Record<string, unknown>;
  event.contact_phone = row.contactPhone;
  await ctx.db.insert("deliveries", {
    idempotencyKey: row.deliveryKey,
    eventHeader: row.eventType,
    requestId: "",
    itemCount: 1,
    receivedAtMs: row.nowMs,
  });
  await ctx.db.insert("inbox", {
    seq: await reserveSeq(ctx, "inbox", 1),
    deliveryKey: row.deliveryKey,
    kind: "control",
    eventType: row.eventType,
    workspaceId: row.workspaceId,
    claimPhone: "",
    contactPhone: row.contactPhone,
    state: "pending",
    eventJson: JSON.stringify(event),
    rawJson: JSON.stringify(row.raw),
    receivedAtMs: row.nowMs,
  });
  return true;
}
