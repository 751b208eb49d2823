// Outbox bookkeeping (see src/store/mod.rs, `Store::claim_outbox`, `record_send`,
// `record_delivery_failure`).

import { v } from "convex/values";
import { internalMutation, internalQuery } from "./_generated/server";
import { FAILED_STATES, failRow } from "./model/fallback";
import { outboxRow } from "./model/rows";

/** How many pending rows `claim` reads at most to find the due heads of line. */
const CLAIM_SCAN = 4096;

/**
 * Claims rows due for a delivery attempt: per conversation only the oldest pending row (a
 * contact's messages go out one after the other), and only if due at `nowMs`; claimed rows are
 * not due again before `nowMs + leaseMs`. Reads at most `CLAIM_SCAN` pending rows.
 */
export const claim = internalMutation({
  args: {
    nowMs: v.number(),
    leaseMs: v.number(),
    limit: v.number(),
    // The caller's `--replica-id` (issue 17 item 4), stamped on the send leases.
    replicaId: v.optional(v.string()),
  },
  handler: async (ctx, args) => {
    const pending = await ctx.db
      .query("outbox")
      .withIndex("by_state", (q) => q.eq("state", "pending"))
      .take(CLAIM_SCAN);
    // The head of each (conversation, channel): a CRM call never waits behind a reply.
    const heads = new Set<string>();
    const claimed = [];
    for (const row of pending) {
      if (claimed.length >= args.limit) break;
      const head = `${row.conversationSeq}:${row.channel ?? "whatsapp"}`;
      if (heads.has(head)) continue;
      heads.add(head);
      if (row.nextAttemptAtMs > args.nowMs) continue;
      // The row as it was before the lease (as the SQLite store returns it).
      claimed.push(outboxRow(row));
      await ctx.db.patch(row._id, {
        nextAttemptAtMs: args.nowMs + args.leaseMs,
        leaseReplica: args.replicaId,
      });
    }
    return claimed;
  },
});

const outcome = v.union(
  v.object({ kind: v.literal("sent"), kapsoMessageId: v.string() }),
  v.object({ kind: v.literal("delivered") }),
  v.object({ kind: v.literal("dry_run") }),
  v.object({ kind: v.literal("retry"), error: v.string(), nextAttemptAtMs: v.number() }),
  v.object({ kind: v.literal("failed"), error: v.string(), reason: v.string() }),
);


/**
 * Records the outcome of one delivery attempt of the outbox row `outboxId`; an unknown id is a
 * no-op. A final outcome (`sent`, `dry_run`, `failed`) that the row already records is a no-op
 * too, so a retried request does not count a second attempt; `retry` is not idempotent.
 */
export const recordSend = internalMutation({
  args: { outboxId: v.number(), outcome, nowMs: v.number() },
  handler: async (ctx, args) => {
    const row = await ctx.db
      .query("outbox")
      .withIndex("by_seq", (q) => q.eq("seq", args.outboxId))
      .unique();
    if (row === null) return null;
    const o = args.outcome;
    const attempts = row.attempts + 1;
    switch (o.kind) {
      case "delivered":
        if (row.state === "sent") return null;
        await ctx.db.patch(row._id, {
          state: "sent",
          attempts,
          error: undefined,
          updatedAtMs: args.nowMs,
        });
        return null;
      case "sent":
        if (row.state === "sent" && row.kapsoMessageId === o.kapsoMessageId) return null;
        await ctx.db.patch(row._id, {
          state: "sent",
          kapsoMessageId: o.kapsoMessageId,
          attempts,
          error: undefined,
          updatedAtMs: args.nowMs,
        });
        if (row.messageSeq !== undefined) {
          const seq = row.messageSeq;
          const message = await ctx.db
            .query("messages")
            .withIndex("by_seq", (q) => q.eq("seq", seq))
            .unique();
          if (message !== null) {
            await ctx.db.patch(message._id, { wamid: o.kapsoMessageId });
          }
        }
        break;
      case "dry_run":
        if (row.state === "dry_run") return null;
        await ctx.db.patch(row._id, { state: "dry_run", attempts, updatedAtMs: args.nowMs });
        break;
      case "retry":
        if (row.state !== "pending") return null;
        await ctx.db.patch(row._id, {
          attempts,
          error: o.error,
          nextAttemptAtMs: o.nextAttemptAtMs,
          leaseReplica: undefined,
          updatedAtMs: args.nowMs,
        });
        break;
      case "failed":
        // A row that already failed for good stays as it is (a retried request); else its
        // fallback rows are queued in this mutation.
        await failRow(ctx, row, {
          error: o.error,
          reason: o.reason,
          nowMs: args.nowMs,
          attempted: true,
        });
        break;
    }
    return null;
  },
});

/**
 * Marks the rows Kapso knows as `kapsoMessageId` failed with `error` and `reason` (WhatsApp
 * reported the sent message failed), queuing their fallback rows (`model/fallback.ts`); a row
 * that already failed for good stays as it is.
 * Returns the first row's id, or null when no row has that id. Idempotent.
 */
export const recordDeliveryFailure = internalMutation({
  args: {
    kapsoMessageId: v.string(),
    error: v.string(),
    reason: v.string(),
    nowMs: v.number(),
  },
  handler: async (ctx, args) => {
    const rows = await ctx.db
      .query("outbox")
      .withIndex("by_kapso_id", (q) => q.eq("kapsoMessageId", args.kapsoMessageId))
      .collect();
    rows.sort((a, b) => a.seq - b.seq);
    for (const row of rows) {
      await failRow(ctx, row, {
        error: args.error,
        reason: args.reason,
        nowMs: args.nowMs,
        attempted: false,
      });
    }
    return rows.length > 0 ? rows[0].seq : null;
  },
});

/**
 * Outbox rows of every conversation in `state` with `seq > afterId`, oldest first, at most
 * `limit` (`GET /admin/outbox?state=failed`).
 */
export const list = internalQuery({
  args: { state: v.string(), afterId: v.number(), limit: v.number() },
  handler: async (ctx, args) => {
    const rows = await ctx.db
      .query("outbox")
      .withIndex("by_state", (q) => q.eq("state", args.state).gt("seq", args.afterId))
      .take(args.limit);
    return rows.map(outboxRow);
  },
});

/**
 * Requeues a row that failed for good: pending, due at `nowMs`, attempts and age counted afresh,
 * reason cleared (the last error kept). Returns the row after the call (unchanged when it had
 * not failed), or null when no row has that id.
 */
export const requeue = internalMutation({
  args: { outboxId: v.number(), nowMs: v.number() },
  handler: async (ctx, args) => {
    const row = await ctx.db
      .query("outbox")
      .withIndex("by_seq", (q) => q.eq("seq", args.outboxId))
      .unique();
    if (row === null) return null;
    if (FAILED_STATES.includes(row.state)) {
      await ctx.db.patch(row._id, {
        state: "pending",
        attempts: 0,
        reason: undefined,
        nextAttemptAtMs: args.nowMs,
        queuedAtMs: args.nowMs,
        updatedAtMs: args.nowMs,
      });
    }
    const after = await ctx.db.get(row._id);
    return after === null ? null : outboxRow(after);
  },
});
