// The worker's one periodic read (see src/store/mod.rs, `Store::due`; issue 17 item 3): an idle
// replica calls only this, and the specific claim/list/pass functions only when it says there
// is work.

import { v } from "convex/values";
import { internalQuery, type QueryCtx } from "./_generated/server";
import { KNOWLEDGE_VERSION } from "./model/seq";

/** Pending inbox rows read at most (as `inbox:pendingConversations` reads). */
const PENDING_SCAN = 4096;
/** Pending outbox rows read at most (as `outbox:claim` reads). */
const OUTBOX_SCAN = 4096;
const DAY_MS = 24 * 3_600_000;
const TWO_HOURS_MS = 2 * 3_600_000;


/**
 * What the worker has to do at `nowMs`: `{pending: [{workspaceId, contactPhone}], orphansDue,
 * pendingRows, outboxDue, nextOutboxMs, nextReminderMs, nextFollowupMs, knowledgeVersion}`
 * (`store::DueReport`). Reads only; times are ms since the epoch, absent when there is none.
 */
export const due = internalQuery({
  args: {
    nowMs: v.number(),
    withPending: v.boolean(),
    limit: v.number(),
    orphanTtlMs: v.number(),
    remindersAfterMs: v.number(),
  },
  handler: async (ctx, args) => {
    const inbox = await ctx.db
      .query("inbox")
      .withIndex("by_state", (q) => q.eq("state", "pending"))
      .take(PENDING_SCAN);
    const pending: { workspaceId: string; contactPhone: string }[] = [];
    let orphansDue = false;
    if (args.withPending) {
      const seen = new Set<string>();
      for (const r of inbox) {
        if (r.contactPhone === undefined) {
          if (orphansDue) continue;
          if (r.receivedAtMs < args.nowMs - args.orphanTtlMs) {
            orphansDue = true;
          } else if (r.kapsoConversationId !== undefined) {
            const kapsoId = r.kapsoConversationId;
            const conv = await ctx.db
              .query("conversations")
              .withIndex("by_kapso_id", (q) => q.eq("kapsoConversationId", kapsoId))
              .first();
            orphansDue = conv !== null;
          }
          continue;
        }
        if (r.workspaceId === undefined || pending.length >= args.limit) continue;
        const k = JSON.stringify([r.workspaceId, r.contactPhone]);
        if (seen.has(k)) continue;
        seen.add(k);
        pending.push({ workspaceId: r.workspaceId, contactPhone: r.contactPhone });
      }
    }
    const outbox = await outboxHeads(ctx, args.nowMs);
    const knowledge = await ctx.db
      .query("counters")
      .withIndex("by_name", (q) => q.eq("name", KNOWLEDGE_VERSION))
      .unique();
    const followup = await ctx.db
      .query("conversations")
      .withIndex("by_followup_due", (q) => q.gte("followupDueMs", 0))
      .first();
    return {
      pending,
      orphansDue,
      pendingRows: inbox.length,
      outboxDue: outbox.due,
      nextOutboxMs: outbox.next,
      nextReminderMs: await nextReminder(ctx, args.remindersAfterMs),
      nextFollowupMs: followup?.followupDueMs,
      knowledgeVersion: knowledge?.value ?? 0,
    };
  },
});

/** The heads of line (oldest pending row per conversation and channel): due now, and the next. */
async function outboxHeads(ctx: QueryCtx, nowMs: number): Promise<{ due: number; next?: number }> {
  const rows = await ctx.db
    .query("outbox")
    .withIndex("by_state", (q) => q.eq("state", "pending"))
    .take(OUTBOX_SCAN);
  const heads = new Set<string>();
  let due = 0;
  let next: number | undefined = undefined;
  for (const row of rows) {
    const head = `${row.conversationSeq}:${row.channel ?? "whatsapp"}`;
    if (heads.has(head)) continue;
    heads.add(head);
    if (row.nextAttemptAtMs <= nowMs) due += 1;
    else if (next === undefined || row.nextAttemptAtMs < next) next = row.nextAttemptAtMs;
  }
  return { due, next };
}

/** The earliest reminder time (a booked start minus 24 h or 2 h) after `afterMs`. */
async function nextReminder(ctx: QueryCtx, afterMs: number): Promise<number | undefined> {
  const first = async (after: number) =>
    await ctx.db
      .query("appointments")
      .withIndex("by_status_start", (q) => q.eq("status", "booked").gt("startsAtMs", after))
      .first();
  const times: number[] = [];
  const twoHours = await first(afterMs + TWO_HOURS_MS);
  if (twoHours !== null) times.push(twoHours.startsAtMs - TWO_HOURS_MS);
  const day = await first(afterMs + DAY_MS);
  if (day !== null) times.push(day.startsAtMs - DAY_MS);
  return times.length === 0 ? undefined : Math.min(...times);
}
