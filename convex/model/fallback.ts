// A row's final failure and its fallback (issue 20), as the SQLite store's `fail_tx` does it
// (src/store/sqlite.rs; the shapes are `Fallback`, `QueuedRow` and `Once` in
// src/store/model.rs): the row ends `failed` (or `needs_template`), the rows its fallback holds
// for that reason are queued in the same mutation, and its message is marked `undelivered`
// (and `told` when a queued row tells someone).

import type { Doc } from "../_generated/dataModel";
import type { MutationCtx } from "../_generated/server";
import { reserveSeq } from "./seq";

/** States of a row that failed for good (an admin may requeue it). */
export const FAILED_STATES = ["failed", "needs_template"];

/** Longest template parameter a merge makes (`MERGED_PARAMETER_MAX`). */
const MERGED_PARAMETER_MAX = 900;

interface Once {
  key: string;
  window_ms?: number;
  merge: string;
}

interface QueuedRow {
  channel: string;
  to: string;
  body: string;
  once?: Once;
  fallback?: Fallback;
}

interface Fallback {
  window_closed?: QueuedRow[];
  needs_template?: boolean;
  undeliverable?: QueuedRow[];
}

/** `merge_body`: a text gets `addition` on a line of its own, a template's last parameter
 * gets ` | addition` (capped), a webhook body stays. */
export function mergeBody(channel: string, body: string, addition: string): string {
  if (channel === "whatsapp") return `${body}\n${addition}`;
  if (channel !== "whatsapp_template") return body;
  let value: { parameters?: unknown[] };
  try {
    value = JSON.parse(body);
  } catch {
    return body;
  }
  const params = value.parameters;
  if (!Array.isArray(params) || params.length === 0) return body;
  const last = params.length - 1;
  let joined = `${typeof params[last] === "string" ? params[last] : ""} | ${addition}`;
  const chars = Array.from(joined);
  if (chars.length > MERGED_PARAMETER_MAX) {
    joined = chars.slice(0, MERGED_PARAMETER_MAX - 1).join("") + "…";
  }
  params[last] = joined;
  return JSON.stringify(value);
}

function isEmpty(f: Fallback | undefined): boolean {
  return (
    f === undefined ||
    ((f.window_closed ?? []).length === 0 &&
      f.needs_template !== true &&
      (f.undeliverable ?? []).length === 0)
  );
}

/**
 * Records the final failure of `row` (see the file comment). A row that already failed for
 * good is left as it is. `attempted`: this failure was a delivery attempt (counted).
 */
export async function failRow(
  ctx: MutationCtx,
  row: Doc<"outbox">,
  failure: { error: string; reason: string; nowMs: number; attempted: boolean },
): Promise<void> {
  if (FAILED_STATES.includes(row.state)) return;
  let fallback: Fallback = {};
  if (row.fallbackJson !== undefined) {
    try {
      fallback = JSON.parse(row.fallbackJson);
    } catch (e) {
      console.error(`outbox ${row.seq}: unreadable fallback; nothing queued: ${e}`);
    }
  }
  const windowClosed = failure.reason === "window_closed";
  const state = windowClosed && fallback.needs_template === true ? "needs_template" : "failed";
  const queue = (windowClosed ? fallback.window_closed : fallback.undeliverable) ?? [];
  const tag = windowClosed ? "w" : "u";
  await ctx.db.patch(row._id, {
    state,
    attempts: row.attempts + (failure.attempted ? 1 : 0),
    error: failure.error,
    reason: failure.reason,
    updatedAtMs: failure.nowMs,
  });
  let told = false;
  for (const [n, q] of queue.entries()) {
    told =
      (await queueFallback(ctx, row, `${row.idempotencyKey}-${tag}${n}`, q, failure.nowMs)) || told;
  }
  if (row.messageSeq !== undefined) {
    const seq = row.messageSeq;
    const message = await ctx.db
      .query("messages")
      .withIndex("by_seq", (q) => q.eq("seq", seq))
      .unique();
    if (message !== null) {
      let meta: Record<string, unknown> = {};
      try {
        meta = JSON.parse(message.metaJson);
      } catch {
        meta = {};
      }
      meta.undelivered = true;
      if (told) meta.told = true;
      await ctx.db.patch(message._id, { metaJson: JSON.stringify(meta) });
    }
  }
}

/** Queues one fallback row of `parent` (`queue_fallback_tx`); whether it tells someone. */
async function queueFallback(
  ctx: MutationCtx,
  parent: Doc<"outbox">,
  key: string,
  q: QueuedRow,
  nowMs: number,
): Promise<boolean> {
  if (q.once !== undefined) {
    const once = q.once;
    const same = await ctx.db
      .query("outbox")
      .withIndex("by_conversation_once", (i) =>
        i.eq("conversationSeq", parent.conversationSeq).eq("onceKey", once.key),
      )
      .order("desc")
      .collect();
    const waiting = same.find(
      (r) => r.state === "pending" && r.attempts === 0 && r.nextAttemptAtMs <= nowMs,
    );
    if (waiting !== undefined) {
      await ctx.db.patch(waiting._id, {
        body: mergeBody(waiting.channel ?? "whatsapp", waiting.body, once.merge),
        updatedAtMs: nowMs,
      });
      return true;
    }
    const newest = same[0];
    if (newest !== undefined) {
      const queuedAt = newest.queuedAtMs ?? newest.createdAtMs;
      if (once.window_ms === undefined || once.window_ms === null || queuedAt > nowMs - once.window_ms) {
        return false;
      }
    }
  }
  const existing = await ctx.db
    .query("outbox")
    .withIndex("by_idempotency_key", (i) => i.eq("idempotencyKey", key))
    .first();
  if (existing !== null) return true;
  await ctx.db.insert("outbox", {
    seq: await reserveSeq(ctx, "outbox", 1),
    conversationSeq: parent.conversationSeq,
    // Not a turn's commit: -1 keeps these rows out of a commit replay's lookup.
    commitVersion: -1,
    idempotencyKey: key,
    phoneNumberId: q.channel === "webhook" ? "" : parent.phoneNumberId,
    toPhone: q.to,
    body: q.body,
    state: "pending",
    attempts: 0,
    nextAttemptAtMs: nowMs,
    channel: q.channel,
    fallbackJson: isEmpty(q.fallback) ? undefined : JSON.stringify(q.fallback),
    onceKey: q.once?.key,
    queuedAtMs: nowMs,
    createdAtMs: nowMs,
    updatedAtMs: nowMs,
  });
  return true;
}
