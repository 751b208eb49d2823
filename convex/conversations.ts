// Reads of one conversation for operators, `ari simulate` and tests
// (see src/store/mod.rs, `Store::conversation_messages`, `conversation_outbox`).

import { v } from "convex/values";
import { internalQuery, type QueryCtx } from "./_generated/server";
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
    };
  },
});
