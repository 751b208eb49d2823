// Reads of one conversation for operators, `ari simulate` and tests
// (see src/store/mod.rs, `Store::conversation_messages`, `conversation_outbox`).

import { v } from "convex/values";
import { internalMutation, internalQuery, type QueryCtx } from "./_generated/server";
import { messageRow, outboxRow } from "./model/rows";

async function conversationSeq(
  ctx: QueryCtx,
  workspaceId: string,
  contactPhone: string,
): Promise<number | null> {
  const conv = await ctx.db
    .query("conversations")
    .withIndex("by_key", (q) => q.eq("workspaceId", workspaceId).eq("contactPhone", contactPhone))
    .unique();
  return conv === null ? null : conv.seq;
}

/** A conversation's messages, oldest first; empty for an unknown conversation. */
export const messages = internalQuery({
  args: { workspaceId: v.string(), contactPhone: v.string() },
  handler: async (ctx, args) => {
    const seq = await conversationSeq(ctx, args.workspaceId, args.contactPhone);
    if (seq === null) return [];
    const rows = await ctx.db
      .query("messages")
      .withIndex("by_conversation", (q) => q.eq("conversationSeq", seq))
      .collect();
    return rows.map(messageRow);
  },
});

/** A conversation's outbox rows, oldest first; empty for an unknown conversation. */
export const outbox = internalQuery({
  args: { workspaceId: v.string(), contactPhone: v.string() },
  handler: async (ctx, args) => {
    const seq = await conversationSeq(ctx, args.workspaceId, args.contactPhone);
    if (seq === null) return [];
    const rows = await ctx.db
      .query("outbox")
      .withIndex("by_conversation", (q) => q.eq("conversationSeq", seq))
      .collect();
    return rows.map(outboxRow);
  },
});

/**
 * A conversation's stored state (snapshot, summary, version) for operators and tests; null for
 * an unknown conversation.
 */
/**
 * Erases a contact's personal data (`Store::erase_contact`, issue 18, UU PDP) in one
 * transaction: refused as `busy` while a turn holds an unexpired lease; else the messages'
 * texts, the snapshot and lead data, the appointments (status `erased`), the outbox bodies and
 * recipients (pending rows fail as `erased`), the inbox rows' payloads (pending ones done) and
 * the deliveries' kept bodies are erased, the contact's phone becomes `erased:<seq>`, and the
 * version moves. The rows stay as counters; the answer is the receipt.
 */
export const erase = internalMutation({
  args: { workspaceId: v.string(), contactPhone: v.string(), nowMs: v.number(), erasedEventJson: v.string() },
  handler: async (ctx, args) => {
    const conv = await ctx.db
      .query("conversations")
      .withIndex("by_key", (q) =>
        q.eq("workspaceId", args.workspaceId).eq("contactPhone", args.contactPhone),
      )
      .unique();
    if (conv === null) return { status: "not_found" as const };
    if (conv.leaseUntilMs !== undefined && conv.leaseUntilMs > args.nowMs) {
      return { status: "busy" as const };
    }
    const erased = `erased:${conv.seq}`;
    let inboxRows = 0;
    for (const state of ["pending", "done", "unroutable", "no_sender"]) {
      const rows = await ctx.db
        .query("inbox")
        .withIndex("by_conversation", (q) =>
          q.eq("workspaceId", args.workspaceId).eq("contactPhone", args.contactPhone).eq("state", state),
        )
        .collect();
      for (const r of rows) {
        const event = JSON.parse(args.erasedEventJson) as Record<string, unknown>;
        event.kind = r.kind;
        event.event_type = r.eventType;
        event.contact_phone = erased;
        const delivery = await ctx.db
          .query("deliveries")
          .withIndex("by_key", (q) => q.eq("idempotencyKey", r.deliveryKey))
          .first();
        if (delivery !== null && delivery.originalBody !== undefined) {
          await ctx.db.patch(delivery._id, { originalBody: undefined });
        }
        await ctx.db.patch(r._id, {
          rawJson: "{}",
          eventJson: JSON.stringify(event),
          contactPhone: erased,
          state: state === "pending" ? "done" : state,
        });
        inboxRows++;
      }
    }
    const messages = await ctx.db
      .query("messages")
      .withIndex("by_conversation", (q) => q.eq("conversationSeq", conv.seq))
      .collect();
    for (const m of messages) await ctx.db.patch(m._id, { text: undefined, metaJson: "{}" });
    const outbox = await ctx.db
      .query("outbox")
      .withIndex("by_conversation", (q) => q.eq("conversationSeq", conv.seq))
      .collect();
    for (const o of outbox) {
      const pending = o.state === "pending";
      await ctx.db.patch(o._id, {
        body: "",
        toPhone: erased,
        fallbackJson: undefined,
        updatedAtMs: args.nowMs,
        state: pending ? "failed" : o.state,
        error: pending ? "erased" : o.error,
      });
    }
    const appointments = await ctx.db
      .query("appointments")
      .withIndex("by_conversation", (q) => q.eq("conversationSeq", conv.seq))
      .collect();
    for (const a of appointments) {
      await ctx.db.patch(a._id, { notes: "", status: "erased", updatedAtMs: args.nowMs });
    }
    const contact = await ctx.db
      .query("contacts")
      .withIndex("by_key", (q) =>
        q.eq("workspaceId", args.workspaceId).eq("contactPhone", args.contactPhone),
      )
      .unique();
    if (contact !== null) await ctx.db.delete(contact._id);
    await ctx.db.patch(conv._id, {
      contactPhone: erased,
      contactName: undefined,
      snapshotJson: undefined,
      flowState: undefined,
      leadScore: undefined,
      leadTemperature: undefined,
      handoffReason: undefined,
      leadStatus: undefined,
      tagsJson: "[]",
      language: undefined,
      followupDueMs: undefined,
      kapsoConversationId: undefined,
      leaseToken: undefined, leaseReplica: undefined,
      leaseUntilMs: undefined,
      version: conv.version + 1,
      updatedAtMs: args.nowMs,
    });
    return {
      status: "erased" as const,
      conversationId: conv.seq,
      messages: messages.length,
      appointments: appointments.length,
      outboxRows: outbox.length,
      inboxRows,
      erasedAtMs: args.nowMs,
    };
  },
});

/** The key of the conversation `conversationId` (its seq), or null (`Store::conversation_key`). */
export const keyOf = internalQuery({
  args: { conversationId: v.number() },
  handler: async (ctx, args) => {
    const conv = await ctx.db
      .query("conversations")
      .withIndex("by_seq", (q) => q.eq("seq", args.conversationId))
      .unique();
    if (conv === null) return null;
    return { workspaceId: conv.workspaceId, contactPhone: conv.contactPhone };
  },
});

export const get = internalQuery({
  args: { workspaceId: v.string(), contactPhone: v.string() },
  handler: async (ctx, args) => {
    const conv = await ctx.db
      .query("conversations")
      .withIndex("by_key", (q) =>
        q.eq("workspaceId", args.workspaceId).eq("contactPhone", args.contactPhone),
      )
      .unique();
    if (conv === null) return null;
    return {
      id: conv.seq,
      version: conv.version,
      snapshotJson: conv.snapshotJson,
      flowState: conv.flowState,
      leadScore: conv.leadScore,
      leadTemperature: conv.leadTemperature,
      handoffReason: conv.handoffReason,
      language: conv.language,
      followupDueMs: conv.followupDueMs,
      contactName: conv.contactName,
      phoneNumberId: conv.phoneNumberId,
      leadStatus: conv.leadStatus,
      tags: conv.tagsJson === undefined ? [] : (JSON.parse(conv.tagsJson) as string[]),
      previousPhone: conv.previousPhone,
    };
  },
});
