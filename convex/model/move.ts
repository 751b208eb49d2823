// A lead's changed number (Meta's `user_changed_number` system message; issue 16 item 6), applied
// inside the turn commit that read it, as SQLite's `move_number_tx` does.

import type { Doc } from "../_generated/dataModel";
import type { MutationCtx } from "../_generated/server";

/**
 * Moves the conversation `conv` to the number `to` (E.164): its pending replies and not yet
 * turned inbox rows follow. When `to` has no conversation, `conv` takes the new number and
 * records the old one (`previousPhone`). When it has one, `conv` is closed and linked to it
 * (`mergedIntoSeq`, no follow-up), and its appointments move to it too.
 */
export async function moveContact(
  ctx: MutationCtx,
  conv: Doc<"conversations">,
  to: string,
): Promise<void> {
  const from = conv.contactPhone;
  if (from === to) return;
  const target = await ctx.db
    .query("conversations")
    .withIndex("by_key", (q) => q.eq("workspaceId", conv.workspaceId).eq("contactPhone", to))
    .unique();
  const into = target?.seq ?? conv.seq;
  const pendingOut = await ctx.db
    .query("outbox")
    .withIndex("by_conversation_state", (q) =>
      q.eq("conversationSeq", conv.seq).eq("state", "pending"),
    )
    .collect();
  for (const row of pendingOut) {
    if (row.channel === "webhook") continue;
    await ctx.db.patch(row._id, { toPhone: to, conversationSeq: into });
  }
  const pendingIn = await ctx.db
    .query("inbox")
    .withIndex("by_conversation", (q) =>
      q.eq("workspaceId", conv.workspaceId).eq("contactPhone", from).eq("state", "pending"),
    )
    .collect();
  for (const row of pendingIn) {
    await ctx.db.patch(row._id, { contactPhone: to });
  }
  if (target === null) {
    await ctx.db.patch(conv._id, { contactPhone: to, previousPhone: from });
    return;
  }
  const appointments = await ctx.db
    .query("appointments")
    .withIndex("by_conversation", (q) => q.eq("conversationSeq", conv.seq))
    .collect();
  for (const a of appointments) {
    await ctx.db.patch(a._id, { conversationSeq: target.seq });
  }
  await ctx.db.patch(conv._id, { mergedIntoSeq: target.seq, followupDueMs: undefined });
  await ctx.db.patch(target._id, { previousPhone: from });
}
