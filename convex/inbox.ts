// The inbox: webhook deliveries and their items, claimed once (see src/store/mod.rs,
// `Store::enqueue_inbound`, `inbox_depth`, `list_inbox`, `pending_conversations`).

import { v } from "convex/values";
import { internalMutation, internalQuery } from "./_generated/server";
import { reserveSeq } from "./model/seq";
import { inboxRow } from "./model/rows";

/** How many pending rows `pendingConversations` reads at most to find distinct conversations. */
const PENDING_SCAN = 4096;

const item = v.object({
  kind: v.string(),
  eventType: v.string(),
  workspaceId: v.optional(v.string()),
  phoneNumberId: v.optional(v.string()),
  contactPhone: v.optional(v.string()),
  kapsoConversationId: v.optional(v.string()),
  wamid: v.optional(v.string()),
  statusValue: v.optional(v.string()),
  state: v.string(),
  eventJson: v.string(),
  rawJson: v.string(),
});

/**
 * Records one delivery in one transaction: claims its idempotency key (a second claim stores
 * nothing and returns `{duplicateDelivery: true}`), then each message's `(phone, wamid)` and each
 * status's `(phone, wamid, status)`; an item already claimed counts as a duplicate.
 */
export const enqueue = internalMutation({
  args: {
    idempotencyKey: v.string(),
    eventHeader: v.optional(v.string()),
    requestId: v.string(),
    receivedAtMs: v.number(),
    items: v.array(item),
  },
  handler: async (ctx, args) => {
    const claimed = await ctx.db
      .query("deliveries")
      .withIndex("by_key", (q) => q.eq("idempotencyKey", args.idempotencyKey))
      .first();
    if (claimed !== null) {
      return { duplicateDelivery: true, stored: 0, duplicates: 0 };
    }
    await ctx.db.insert("deliveries", {
      idempotencyKey: args.idempotencyKey,
      eventHeader: args.eventHeader,
      requestId: args.requestId,
      itemCount: args.items.length,
      receivedAtMs: args.receivedAtMs,
    });
    // Claims of this delivery's own items, so a batch repeating an item stores it once.
    const fresh = [];
    let duplicates = 0;
    const seen = new Set<string>();
    for (const it of args.items) {
      const claimPhone = it.phoneNumberId ?? "";
      // As SQLite's partial unique indexes: only messages and statuses with a wamid (and a
      // status value) are claimed; NULLs never collide.
      const claimable =
        it.wamid !== undefined &&
        (it.kind === "message" || (it.kind === "status" && it.statusValue !== undefined));
      if (claimable) {
        const statusValue = it.kind === "status" ? it.statusValue : undefined;
        const local = JSON.stringify([it.kind, claimPhone, it.wamid, statusValue ?? null]);
        const existing = await ctx.db
          .query("inbox")
          .withIndex("by_claim", (q) =>
            q
              .eq("kind", it.kind)
              .eq("claimPhone", claimPhone)
              .eq("wamid", it.wamid)
              .eq("statusValue", statusValue),
          )
          .first();
        if (existing !== null || seen.has(local)) {
          duplicates += 1;
          continue;
        }
        seen.add(local);
      }
      fresh.push({ ...it, claimPhone });
    }
    let seq = fresh.length > 0 ? await reserveSeq(ctx, "inbox", fresh.length) : 0;
    for (const it of fresh) {
      await ctx.db.insert("inbox", {
        ...it,
        seq: seq++,
        deliveryKey: args.idempotencyKey,
        receivedAtMs: args.receivedAtMs,
      });
    }
    return { duplicateDelivery: false, stored: fresh.length, duplicates };
  },
});

/** Number of inbox rows in state `pending`. */
export const depth = internalQuery({
  args: {},
  handler: async (ctx) => {
    const rows = await ctx.db
      .query("inbox")
      .withIndex("by_state", (q) => q.eq("state", "pending"))
      .collect();
    return rows.length;
  },
});

/** Inbox rows with `seq > afterId`, in arrival order, at most `limit`. */
export const list = internalQuery({
  args: { afterId: v.number(), limit: v.number() },
  handler: async (ctx, args) => {
    const rows = await ctx.db
      .query("inbox")
      .withIndex("by_seq", (q) => q.gt("seq", args.afterId))
      .take(Math.max(0, Math.floor(args.limit)));
    return rows.map(inboxRow);
  },
});

/**
 * Conversations with pending rows, the one waiting longest first, at most `limit`. Reads at most
 * `PENDING_SCAN` pending rows (a transaction's read budget); the worker polls again.
 */
export const pendingConversations = internalQuery({
  args: { limit: v.number() },
  handler: async (ctx, args) => {
    const rows = await ctx.db
      .query("inbox")
      .withIndex("by_state", (q) => q.eq("state", "pending"))
      .take(PENDING_SCAN);
    const keys: { workspaceId: string; contactPhone: string }[] = [];
    const seen = new Set<string>();
    for (const r of rows) {
      if (keys.length >= args.limit) break;
      if (r.workspaceId === undefined || r.contactPhone === undefined) continue;
      const k = JSON.stringify([r.workspaceId, r.contactPhone]);
      if (seen.has(k)) continue;
      seen.add(k);
      keys.push({ workspaceId: r.workspaceId, contactPhone: r.contactPhone });
    }
    return keys;
  },
});
