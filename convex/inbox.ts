// The inbox: webhook deliveries and their items, claimed once (see src/store/mod.rs,
// `Store::enqueue_inbound`, `inbox_depth`, `list_inbox`, `pending_conversations`).

import { v, type Infer } from "convex/values";
import type { Doc } from "./_generated/dataModel";
import { internalMutation, internalQuery, type MutationCtx } from "./_generated/server";
import { reserveSeq } from "./model/seq";
import { insertControlRow } from "./model/control";
import { inboxRow } from "./model/rows";
import { applyFills, enrichmentClaim, type Fill } from "./model/enrich";

/** How many pending rows `pendingConversations` reads at most to find distinct conversations. */
const PENDING_SCAN = 4096;

const fill = v.object({ path: v.array(v.string()), valueJson: v.string(), content: v.boolean() });

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
  // What a later copy of a message may complete in the stored one (src/inbox/enrich.rs).
  fills: v.optional(v.array(fill)),
});

type Item = Omit<Infer<typeof item>, "fills">;
type Row = Item & { claimPhone: string };

/** Whether a turn holds the row's conversation at `nowMs` (it may be reading the row now). */
async function takenByTurn(ctx: MutationCtx, row: Doc<"inbox">, nowMs: number) {
  const { workspaceId, contactPhone } = row;
  if (workspaceId === undefined || contactPhone === undefined) return false;
  const conv = await ctx.db
    .query("conversations")
    .withIndex("by_key", (q) => q.eq("workspaceId", workspaceId).eq("contactPhone", contactPhone))
    .first();
  return (
    conv !== null &&
    conv.leaseToken !== undefined &&
    conv.leaseUntilMs !== undefined &&
    conv.leaseUntilMs > nowMs
  );
}

async function messageRow(ctx: MutationCtx, claimPhone: string, wamid: string) {
  return await ctx.db
    .query("inbox")
    .withIndex("by_claim", (q) =>
      q
        .eq("kind", "message")
        .eq("claimPhone", claimPhone)
        .eq("wamid", wamid)
        .eq("statusValue", undefined),
    )
    .first();
}

/**
 * A copy of an already stored message: completes the stored one with what the copy adds, as
 * the SQLite store does (src/store/sqlite.rs, `enrich_tx`). Returns whether anything was
 * completed, and the enrichment row to insert, if one is queued.
 */
async function enrichStored(
  ctx: MutationCtx,
  it: Row,
  fills: Fill[],
  nowMs: number,
): Promise<{ enriched: boolean; row?: Row }> {
  const wamid = it.wamid;
  if (wamid === undefined || fills.length === 0) return { enriched: false };
  const claim = enrichmentClaim(wamid);
  const queued = await messageRow(ctx, it.claimPhone, claim);
  if (queued !== null) {
    const applied = applyFills(queued.eventJson, fills);
    if (queued.state === "pending" && applied.filled) {
      await ctx.db.patch(queued._id, { eventJson: applied.eventJson });
      return { enriched: true };
    }
    return { enriched: false };
  }
  const original = await messageRow(ctx, it.claimPhone, wamid);
  if (original === null) return { enriched: false };
  const applied = applyFills(original.eventJson, fills);
  if (!applied.filled) return { enriched: false };
  const event = JSON.parse(applied.eventJson) as { kapso_conversation_id?: string | null };
  const kapsoConversationId =
    original.kapsoConversationId ?? event.kapso_conversation_id ?? undefined;
  const inPlace = async () => {
    await ctx.db.patch(original._id, { eventJson: applied.eventJson, kapsoConversationId });
    return { enriched: true };
  };
  const pending = original.state === "pending";
  if (pending && !(await takenByTurn(ctx, original, nowMs))) return await inPlace();
  const readable = pending || original.state === "done";
  if (!(applied.content && readable && it.state === "pending")) return await inPlace();
  return {
    enriched: true,
    row: {
      ...it,
      workspaceId: it.workspaceId ?? original.workspaceId,
      contactPhone: it.contactPhone ?? original.contactPhone,
      kapsoConversationId: event.kapso_conversation_id ?? undefined,
      wamid: claim,
      state: "pending",
      eventJson: applied.eventJson,
    },
  };
}

/**
 * Records one delivery in one transaction: claims its idempotency key (a second claim stores
 * nothing and returns `{duplicateDelivery: true}`), then each message's `(phone, wamid)` and each
 * status's `(phone, wamid, status)`; an item already claimed counts as a duplicate, and a
 * message copy that adds content completes the stored one (`enriched`, see `enrichStored`).
 */
export const enqueue = internalMutation({
  args: {
    idempotencyKey: v.string(),
    eventHeader: v.optional(v.string()),
    requestId: v.string(),
    receivedAtMs: v.number(),
    originalBody: v.optional(v.string()),
    bodyHash: v.optional(v.union(v.string(), v.null())),
    items: v.array(item),
  },
  handler: async (ctx, args) => {
    const claimed = await ctx.db
      .query("deliveries")
      .withIndex("by_key", (q) => q.eq("idempotencyKey", args.idempotencyKey))
      .first();
    const bodyHash = args.bodyHash ?? undefined;
    const sameBody =
      bodyHash === undefined
        ? null
        : await ctx.db
            .query("deliveries")
            .withIndex("by_body_hash", (q) => q.eq("bodyHash", bodyHash))
            .first();
    if (claimed !== null || sameBody !== null) {
      return { duplicateDelivery: true, stored: 0, duplicates: 0, enriched: 0 };
    }
    await ctx.db.insert("deliveries", {
      idempotencyKey: args.idempotencyKey,
      eventHeader: args.eventHeader,
      requestId: args.requestId,
      itemCount: args.items.length,
      receivedAtMs: args.receivedAtMs,
      originalBody: args.originalBody,
      bodyHash,
    });
    // Rows to insert in item order; claims of this delivery's own items, so a batch repeating an
    // item stores it once (a repeat that adds content completes the row about to be inserted).
    const rows: Row[] = [];
    let stored = 0;
    let duplicates = 0;
    let enriched = 0;
    const seen = new Map<string, number>();
    for (const { fills = [], ...rest } of args.items) {
      const it: Row = { ...rest, claimPhone: rest.phoneNumberId ?? "" };
      // As SQLite's partial unique indexes: only messages and statuses with a wamid (and a
      // status value) are claimed; NULLs never collide.
      const claimable =
        it.wamid !== undefined &&
        (it.kind === "message" || (it.kind === "status" && it.statusValue !== undefined));
      if (claimable) {
        const statusValue = it.kind === "status" ? it.statusValue : undefined;
        const local = JSON.stringify([it.kind, it.claimPhone, it.wamid, statusValue ?? null]);
        const earlier = seen.get(local);
        if (earlier !== undefined) {
          duplicates += 1;
          const applied = applyFills(rows[earlier].eventJson, fills);
          if (it.kind === "message" && applied.filled) {
            rows[earlier] = { ...rows[earlier], eventJson: applied.eventJson };
            enriched += 1;
          }
          continue;
        }
        const existing = await ctx.db
          .query("inbox")
          .withIndex("by_claim", (q) =>
            q
              .eq("kind", it.kind)
              .eq("claimPhone", it.claimPhone)
              .eq("wamid", it.wamid)
              .eq("statusValue", statusValue),
          )
          .first();
        if (existing !== null) {
          duplicates += 1;
          if (it.kind === "message") {
            const out = await enrichStored(ctx, it, fills, args.receivedAtMs);
            if (out.enriched) enriched += 1;
            if (out.row !== undefined) rows.push(out.row);
          }
          continue;
        }
        seen.set(local, rows.length);
      }
      stored += 1;
      rows.push(it);
    }
    let seq = rows.length > 0 ? await reserveSeq(ctx, "inbox", rows.length) : 0;
    for (const it of rows) {
      await ctx.db.insert("inbox", {
        ...it,
        seq: seq++,
        deliveryKey: args.idempotencyKey,
        receivedAtMs: args.receivedAtMs,
      });
    }
    return { duplicateDelivery: false, stored, duplicates, enriched };
  },
});

/** The original body of a delivery, when ingress kept it (`Store::delivery_original_body`). */
export const originalBody = internalQuery({
  args: { idempotencyKey: v.string() },
  handler: async (ctx, args) => {
    const d = await ctx.db
      .query("deliveries")
      .withIndex("by_key", (q) => q.eq("idempotencyKey", args.idempotencyKey))
      .first();
    return d?.originalBody ?? null;
  },
});

/**
 * Most pending rows `depth` counts (Convex has no COUNT): past it the depth reads as this
 * many, so a scrape never reads the whole backlog (`/metrics` asks at most every 2 s).
 */
const DEPTH_SCAN = 1000;

/** Number of inbox rows in state `pending`, at most `DEPTH_SCAN`. */
export const depth = internalQuery({
  args: {},
  handler: async (ctx) => {
    const rows = await ctx.db
      .query("inbox")
      .withIndex("by_state", (q) => q.eq("state", "pending"))
      .take(DEPTH_SCAN);
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
 * The worker's recovery poll (`Store::pending_conversations`), in one transaction as the SQLite
 * store does it: first attaches pending rows that name only a Kapso conversation id (workflow
 * events) to the conversation with that id (they get its workspace and phone); then marks
 * pending rows still without a phone that arrived before `nowMs - orphanTtlMs` unroutable; then
 * lists the conversations with pending rows, the one waiting longest first, at most `limit`.
 * Reads at most `PENDING_SCAN` pending rows (a transaction's read budget); the worker polls
 * again. Repeating it with the same arguments changes nothing more, so the client may retry it.
 */
export const pendingConversations = internalMutation({
  args: { limit: v.number(), nowMs: v.number(), orphanTtlMs: v.number() },
  handler: async (ctx, args) => {
    const rows = await ctx.db
      .query("inbox")
      .withIndex("by_state", (q) => q.eq("state", "pending"))
      .take(PENDING_SCAN);
    const orphanBefore = args.nowMs - args.orphanTtlMs;
    const keys: { workspaceId: string; contactPhone: string }[] = [];
    const seen = new Set<string>();
    for (const r of rows) {
      let workspaceId = r.workspaceId;
      let contactPhone = r.contactPhone;
      if (contactPhone === undefined) {
        const kapsoId = r.kapsoConversationId;
        const conv =
          kapsoId === undefined
            ? null
            : await ctx.db
                .query("conversations")
                .withIndex("by_kapso_id", (q) => q.eq("kapsoConversationId", kapsoId))
                .first();
        if (conv !== null) {
          workspaceId = conv.workspaceId;
          contactPhone = conv.contactPhone;
          await ctx.db.patch(r._id, { workspaceId, contactPhone });
        } else {
          if (r.receivedAtMs < orphanBefore) {
            await ctx.db.patch(r._id, { state: "unroutable" });
          }
          continue;
        }
      }
      if (keys.length >= args.limit || workspaceId === undefined) continue;
      const k = JSON.stringify([workspaceId, contactPhone]);
      if (seen.has(k)) continue;
      seen.add(k);
      keys.push({ workspaceId, contactPhone });
    }
    return keys;
  },
});

/**
 * Queues the follow-ups due at `nowMs` (`Store::queue_due_followups`, issue 18): for at most
 * `limit` conversations whose `followupDueMs` has come, soonest first, one `control` inbox row
 * of `eventType` (`ari.followup.due`) with `due_at_ms` in its raw JSON, under the delivery
 * `followup:<conversation>:<due ms>` (queued once per due time), and the due time cleared.
 * Returns the keys of the conversations that got a row.
 */
export const queueDueFollowups = internalMutation({
  args: { nowMs: v.number(), limit: v.number(), eventType: v.string(), eventJson: v.string() },
  handler: async (ctx, args) => {
    const due = await ctx.db
      .query("conversations")
      .withIndex("by_followup_due", (q) => q.gte("followupDueMs", 0).lte("followupDueMs", args.nowMs))
      .take(args.limit);
    const keys = [];
    for (const conv of due) {
      const dueMs = conv.followupDueMs ?? 0;
      const deliveryKey = `followup:${conv.seq}:${dueMs}`;
      await ctx.db.patch(conv._id, { followupDueMs: undefined });
      const queued = await insertControlRow(ctx, {
        deliveryKey,
        eventType: args.eventType,
        workspaceId: conv.workspaceId,
        contactPhone: conv.contactPhone,
        eventJson: args.eventJson,
        raw: { conversation_id: conv.seq, event: args.eventType, due_at_ms: dueMs },
        nowMs: args.nowMs,
      });
      if (!queued) continue;
      keys.push({ workspaceId: conv.workspaceId, contactPhone: conv.contactPhone });
    }
    return keys;
  },
});

/**
 * Queues an operator's command for the conversation `conversationId` (`Store::enqueue_control`)
 * as a `control` inbox row under the delivery `deliveryKey` (`control:<uuid>`, chosen by the
 * caller so a retried request finds its own delivery and stores nothing twice). `eventJson` is
 * the event without the lead's phone; the conversation's phone is filled in here. Returns the
 * conversation's key, or null when no conversation has that id.
 */
export const enqueueControl = internalMutation({
  args: {
    conversationId: v.number(),
    eventType: v.string(),
    deliveryKey: v.string(),
    eventJson: v.string(),
    nowMs: v.number(),
  },
  handler: async (ctx, args) => {
    const conv = await ctx.db
      .query("conversations")
      .withIndex("by_seq", (q) => q.eq("seq", args.conversationId))
      .unique();
    if (conv === null) return null;
    const key = { workspaceId: conv.workspaceId, contactPhone: conv.contactPhone };
    await insertControlRow(ctx, {
      deliveryKey: args.deliveryKey,
      eventType: args.eventType,
      workspaceId: conv.workspaceId,
      contactPhone: conv.contactPhone,
      eventJson: args.eventJson,
      raw: { conversation_id: args.conversationId, event: args.eventType },
      nowMs: args.nowMs,
    });
    return key;
  },
});
