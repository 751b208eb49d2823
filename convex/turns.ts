// Turns: `begin` claims a conversation and reads everything a turn needs; `commit` applies the
// turn fenced by version and lease (see src/store/mod.rs, `Store::begin_turn`, `commit_turn`).

import { v } from "convex/values";
import { internalMutation, type QueryCtx } from "./_generated/server";
import type { Doc } from "./_generated/dataModel";
import { reserveSeq } from "./model/seq";
import { inboxRow, messageRow, outboxRow } from "./model/rows";
import { insertControlRow } from "./model/control";
import { moveContact } from "./model/move";

/** Pending inbox rows one turn reads at most (as the SQLite store). */
const TURN_INBOX_LIMIT = 100;
/** Latest messages a turn reads (`RECENT_MESSAGES` in src/store/model.rs). */
const RECENT_MESSAGES = 20;

/** The newest non-empty value of a field among the turn's inbound events. */
function newest(rows: Doc<"inbox">[], field: string): string | undefined {
  for (let i = rows.length - 1; i >= 0; i--) {
    const event = JSON.parse(rows[i].eventJson) as Record<string, unknown>;
    const value = event[field];
    if (typeof value === "string") return value;
  }
  return undefined;
}

/**
 * Claims the conversation `(workspaceId, contactPhone)` until `nowMs + leaseMs` under
 * `leaseToken` (chosen by the caller, so a retried request with the same token finds its own
 * lease and gets the same claim again instead of `busy`). Creates the conversation on its first
 * message. Returns `{status: "idle"}`, `{status: "busy", leaseUntilMs}` or the claim.
 */
export const begin = internalMutation({
  args: {
    workspaceId: v.string(),
    contactPhone: v.string(),
    nowMs: v.number(),
    leaseMs: v.number(),
    leaseToken: v.string(),
    // The caller's `--replica-id` (issue 17 item 4), stamped on the lease.
    replicaId: v.optional(v.string()),
  },
  handler: async (ctx, args) => {
    const pending = await ctx.db
      .query("inbox")
      .withIndex("by_conversation", (q) =>
        q
          .eq("workspaceId", args.workspaceId)
          .eq("contactPhone", args.contactPhone)
          .eq("state", "pending"),
      )
      .take(TURN_INBOX_LIMIT);
    if (pending.length === 0) {
      return { status: "idle" as const };
    }
    let conv = await ctx.db
      .query("conversations")
      .withIndex("by_key", (q) =>
        q.eq("workspaceId", args.workspaceId).eq("contactPhone", args.contactPhone),
      )
      .unique();
    if (
      conv !== null &&
      conv.leaseToken !== undefined &&
      conv.leaseUntilMs !== undefined &&
      conv.leaseUntilMs > args.nowMs &&
      conv.leaseToken !== args.leaseToken
    ) {
      return { status: "busy" as const, leaseUntilMs: conv.leaseUntilMs };
    }
    const name = newest(pending, "contact_name");
    const pnid = newest(pending, "phone_number_id");
    const kapsoId = newest(pending, "kapso_conversation_id");
    const leaseUntilMs = args.nowMs + args.leaseMs;
    if (conv === null) {
      const seq = await reserveSeq(ctx, "conversations", 1);
      const id = await ctx.db.insert("conversations", {
        seq,
        workspaceId: args.workspaceId,
        contactPhone: args.contactPhone,
        contactName: name,
        phoneNumberId: pnid,
        kapsoConversationId: kapsoId,
        version: 0,
        leaseToken: args.leaseToken,
        leaseUntilMs,
        leaseReplica: args.replicaId,
        createdAtMs: args.nowMs,
        updatedAtMs: args.nowMs,
      });
      conv = await ctx.db.get(id);
    } else {
      await ctx.db.patch(conv._id, {
        leaseToken: args.leaseToken,
        leaseUntilMs,
        leaseReplica: args.replicaId,
        contactName: name ?? conv.contactName,
        phoneNumberId: pnid ?? conv.phoneNumberId,
        kapsoConversationId: kapsoId ?? conv.kapsoConversationId,
      });
      conv = await ctx.db.get(conv._id);
    }
    if (conv === null) {
      throw new Error("conversation vanished inside its own transaction");
    }
    const recent = await ctx.db
      .query("messages")
      .withIndex("by_conversation", (q) => q.eq("conversationSeq", conv.seq))
      .order("desc")
      .take(RECENT_MESSAGES);
    recent.reverse();
    return {
      status: "claimed" as const,
      conversationId: conv.seq,
      version: conv.version,
      leaseToken: args.leaseToken,
      snapshotJson: conv.snapshotJson,
      contactName: conv.contactName,
      phoneNumberId: conv.phoneNumberId,
      inbound: pending.map(inboxRow),
      recent: recent.map(messageRow),
    };
  },
});

const newMessage = v.object({
  direction: v.union(v.literal("inbound"), v.literal("outbound")),
  inboxId: v.optional(v.number()),
  wamid: v.optional(v.string()),
  text: v.optional(v.string()),
  metaJson: v.string(),
  send: v.optional(
    v.object({
      phoneNumberId: v.string(),
      to: v.string(),
      // What to queue if it cannot be delivered (`store::Fallback` as JSON).
      fallbackJson: v.optional(v.string()),
      // `whatsapp` (the text) or `whatsapp_template` (the text is the template body JSON).
      channel: v.optional(v.string()),
      // The reply as WhatsApp buttons or a list (issue 19): Meta's interactive object as JSON.
      interactiveJson: v.optional(v.string()),
    }),
  ),
});

/** The outbox rows a commit created (the sender gets them without another read). */
async function outboxOfCommit(ctx: QueryCtx, conversationSeq: number, version: number) {
  const rows = await ctx.db
    .query("outbox")
    .withIndex("by_conversation_version", (q) =>
      q.eq("conversationSeq", conversationSeq).eq("commitVersion", version),
    )
    .collect();
  return rows.map(outboxRow);
}

/**
 * Applies one turn in one transaction, fenced by `version` and `leaseToken`: bumps the version,
 * stores the snapshot and summary, releases the lease, marks the consumed inbox rows done,
 * inserts the messages and, for each outbound message with `send`, an outbox row claimed by
 * the committer until `nowMs + outboxLeaseMs` and returned; when the contact still has an older
 * pending reply, the new rows are due at once but unclaimed (the poller sends them after it)
 * and none are returned. A moved version or lost lease gives
 * `{status: "stale"}` and writes nothing. `commitId` (unique per call, reused by retries) makes
 * a retried commit whose first attempt was applied answer `committed` again.
 */
export const commit = internalMutation({
  args: {
    commitId: v.string(),
    conversationId: v.number(),
    version: v.number(),
    leaseToken: v.string(),
    consumedInboxIds: v.array(v.number()),
    snapshotJson: v.string(),
    flowState: v.optional(v.string()),
    leadScore: v.optional(v.number()),
    leadTemperature: v.optional(v.string()),
    handoffReason: v.optional(v.string()),
    language: v.optional(v.union(v.string(), v.null())),
    followupDueMs: v.optional(v.union(v.number(), v.null())),
    messages: v.array(newMessage),
    nowMs: v.number(),
    outboxLeaseMs: v.number(),
    // The caller's `--replica-id`, stamped on the send leases of the rows it gets back.
    replicaId: v.optional(v.string()),
    leadStatus: v.optional(v.string()),
    addTags: v.optional(v.array(v.string())),
    webhooks: v.optional(v.array(v.object({ url: v.string(), body: v.string() }))),
    // Undelivered messages a notice or relay of this turn listed: marked told.
    toldUndelivered: v.optional(v.array(v.number())),
    // The lead's new number (E.164), when this turn read a `user_changed_number` message.
    moveTo: v.optional(v.string()),
  },
  handler: async (ctx, args) => {
    const conv = await ctx.db
      .query("conversations")
      .withIndex("by_seq", (q) => q.eq("seq", args.conversationId))
      .unique();
    if (conv === null) {
      return { status: "stale" as const };
    }
    if (conv.version !== args.version || conv.leaseToken !== args.leaseToken) {
      if (conv.lastCommitId === args.commitId && conv.version === args.version + 1) {
        return {
          status: "committed" as const,
          version: conv.version,
          outbox: conv.lastCommitHeld === true ? [] : await outboxOfCommit(ctx, conv.seq, conv.version),
        };
      }
      return { status: "stale" as const };
    }
    const version = args.version + 1;
    // Replies queued behind an older undelivered reply of this contact (waiting for a retry, or
    // in flight) are not handed out for direct delivery: the poller sends them head-of-line, so
    // a contact's messages never overtake each other.
    const pendingOfContact = await ctx.db
      .query("outbox")
      .withIndex("by_conversation_state", (q) =>
        q.eq("conversationSeq", conv.seq).eq("state", "pending"),
      )
      .collect();
    const held = pendingOfContact.some((r) => (r.channel ?? "whatsapp") === "whatsapp");
    const hooksHeld = pendingOfContact.some((r) => r.channel === "webhook");
    const claimedUntilMs = held ? args.nowMs : args.nowMs + args.outboxLeaseMs;
    await ctx.db.patch(conv._id, {
      version,
      snapshotJson: args.snapshotJson,
      flowState: args.flowState,
      leadScore: args.leadScore,
      leadTemperature: args.leadTemperature,
      handoffReason: args.handoffReason,
      language: args.language ?? undefined,
      followupDueMs: args.followupDueMs ?? undefined,
      leaseToken: undefined, leaseReplica: undefined,
      leaseUntilMs: undefined,
      lastCommitId: args.commitId,
      lastCommitHeld: held,
      updatedAtMs: args.nowMs,
    });
    // CRM: the status only when this turn set one; tags only added.
    if (args.leadStatus !== undefined) {
      await ctx.db.patch(conv._id, { leadStatus: args.leadStatus });
    }
    const addTags = args.addTags ?? [];
    if (addTags.length > 0) {
      const tags: string[] = conv.tagsJson === undefined ? [] : JSON.parse(conv.tagsJson);
      for (const t of addTags) if (!tags.includes(t)) tags.push(t);
      await ctx.db.patch(conv._id, { tagsJson: JSON.stringify(tags) });
    }
    for (const id of args.consumedInboxIds) {
      const row = await ctx.db
        .query("inbox")
        .withIndex("by_seq", (q) => q.eq("seq", id))
        .unique();
      if (row !== null && row.state === "pending") {
        await ctx.db.patch(row._id, { state: "done" });
      }
    }
    for (const id of args.toldUndelivered ?? []) {
      const message = await ctx.db
        .query("messages")
        .withIndex("by_seq", (q) => q.eq("seq", id))
        .unique();
      if (message !== null && message.conversationSeq === conv.seq) {
        const meta = JSON.parse(message.metaJson);
        meta.told = true;
        await ctx.db.patch(message._id, { metaJson: JSON.stringify(meta) });
      }
    }
    const sends = args.messages.filter((m) => m.send !== undefined).length;
    let messageSeq = await reserveSeq(ctx, "messages", args.messages.length);
    let outboxSeq = sends > 0 ? await reserveSeq(ctx, "outbox", sends) : 0;
    const outbox = [];
    for (const [n, m] of args.messages.entries()) {
      const seq = messageSeq++;
      await ctx.db.insert("messages", {
        seq,
        conversationSeq: conv.seq,
        direction: m.direction,
        inboxSeq: m.inboxId,
        wamid: m.wamid,
        text: m.text,
        metaJson: m.metaJson,
        createdAtMs: args.nowMs,
      });
      if (m.send !== undefined) {
        const id = await ctx.db.insert("outbox", {
          seq: outboxSeq++,
          conversationSeq: conv.seq,
          messageSeq: seq,
          commitVersion: version,
          idempotencyKey: `ari-${conv.seq}-${version}-${n}`,
          phoneNumberId: m.send.phoneNumberId,
          toPhone: m.send.to,
          body: m.text ?? "",
          state: "pending",
          attempts: 0,
          nextAttemptAtMs: claimedUntilMs,
          leaseReplica: held ? undefined : args.replicaId,
          channel: m.send.channel ?? "whatsapp",
          fallbackJson: m.send.fallbackJson,
          interactiveJson: m.send.interactiveJson,
          createdAtMs: args.nowMs,
          updatedAtMs: args.nowMs,
        });
        const row = await ctx.db.get(id);
        if (row !== null && !held) outbox.push(outboxRow(row));
      }
    }
    for (const [n, hook] of (args.webhooks ?? []).entries()) {
      const id = await ctx.db.insert("outbox", {
        seq: await reserveSeq(ctx, "outbox", 1),
        conversationSeq: conv.seq,
        commitVersion: version,
        idempotencyKey: `ari-${conv.seq}-${version}-hook-${n}`,
        phoneNumberId: "",
        toPhone: hook.url,
        body: hook.body,
        state: "pending",
        attempts: 0,
        nextAttemptAtMs: hooksHeld ? args.nowMs : args.nowMs + args.outboxLeaseMs,
        leaseReplica: hooksHeld ? undefined : args.replicaId,
        channel: "webhook",
        createdAtMs: args.nowMs,
        updatedAtMs: args.nowMs,
      });
      const row = await ctx.db.get(id);
      if (row !== null && !hooksHeld) outbox.push(outboxRow(row));
    }
    if (args.moveTo !== undefined) await moveContact(ctx, conv, args.moveTo);
    return { status: "committed" as const, version, outbox };
  },
});

/**
 * Gives up a claimed turn without writing anything (a newer message interrupted it): clears
 * the lease when `leaseToken` still holds it. Returns null.
 */
export const release = internalMutation({
  args: { conversationId: v.number(), leaseToken: v.string() },
  handler: async (ctx, args) => {
    const conv = await ctx.db
      .query("conversations")
      .withIndex("by_seq", (q) => q.eq("seq", args.conversationId))
      .unique();
    if (conv !== null && conv.leaseToken === args.leaseToken) {
      await ctx.db.patch(conv._id, { leaseToken: undefined, leaseReplica: undefined, leaseUntilMs: undefined });
    }
    return null;
  },
});

/**
 * Sets a conversation's turn aside after it failed the same way `attempts` times
 * (`Store::set_aside_turn`, issue 16 item 9): the contact's pending inbox rows become
 * `set_aside`, the lease is released and the follow-up cleared, the snapshot is cleared when
 * `resetSnapshot` (its text kept in the queued row), and one `ari.turn.stuck` control row is
 * queued under `deliveryKey` unless such a row was among those set aside. A retry finds its
 * delivery claimed and changes nothing.
 */
export const setAside = internalMutation({
  args: {
    workspaceId: v.string(),
    contactPhone: v.string(),
    error: v.string(),
    attempts: v.number(),
    resetSnapshot: v.boolean(),
    nowMs: v.number(),
    eventType: v.string(),
    eventJson: v.string(),
    deliveryKey: v.string(),
  },
  handler: async (ctx, args) => {
    const conv = await ctx.db
      .query("conversations")
      .withIndex("by_key", (q) =>
        q.eq("workspaceId", args.workspaceId).eq("contactPhone", args.contactPhone),
      )
      .unique();
    const conversationId = conv?.seq ?? null;
    const repeat = await ctx.db
      .query("deliveries")
      .withIndex("by_key", (q) => q.eq("idempotencyKey", args.deliveryKey))
      .first();
    if (repeat !== null) return { conversationId, rows: 0, queued: true };
    const pending = await ctx.db
      .query("inbox")
      .withIndex("by_conversation", (q) =>
        q
          .eq("workspaceId", args.workspaceId)
          .eq("contactPhone", args.contactPhone)
          .eq("state", "pending"),
      )
      .collect();
    for (const row of pending) {
      await ctx.db.patch(row._id, { state: "set_aside" });
    }
    let snapshot: string | null = null;
    if (conv !== null) {
      if (args.resetSnapshot) snapshot = conv.snapshotJson ?? null;
      await ctx.db.patch(conv._id, {
        leaseToken: undefined, leaseReplica: undefined,
        leaseUntilMs: undefined,
        followupDueMs: undefined,
        updatedAtMs: args.nowMs,
        ...(args.resetSnapshot ? { snapshotJson: undefined, version: conv.version + 1 } : {}),
      });
    }
    const stuckAgain = pending.some((row) => row.eventType === args.eventType);
    const queued =
      !stuckAgain &&
      (await insertControlRow(ctx, {
        deliveryKey: args.deliveryKey,
        eventType: args.eventType,
        workspaceId: args.workspaceId,
        contactPhone: args.contactPhone,
        eventJson: args.eventJson,
        raw: {
          conversation_id: conversationId,
          event: args.eventType,
          error: args.error,
          attempts: args.attempts,
          set_aside: pending.map((row) => row.seq),
          snapshot,
        },
        nowMs: args.nowMs,
      }));
    return { conversationId, rows: pending.length, queued };
  },
});
