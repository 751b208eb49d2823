// Leases a restarted replica takes back (see src/store/convex.rs, `ConvexStore::take_back_leases`;
// issue 17 item 4).

import { v } from "convex/values";
import { internalMutation } from "./_generated/server";

/** Leases one call takes back at most (a replica holds one per conversation it is turning). */
const TAKE_BACK_SCAN = 4096;

/**
 * Releases the leases stamped with `replicaId`, the caller's own (a replica restarting under the
 * same `--replica-id` knows its previous run is dead): every conversation's turn lease is
 * cleared, and every pending outbox row in its send lease is due at `nowMs` again. Returns
 * `{turns, sends}`, the counts. Repeating it changes nothing more.
 */
export const takeBack = internalMutation({
  args: { replicaId: v.string(), nowMs: v.number() },
  handler: async (ctx, args) => {
    const convs = await ctx.db
      .query("conversations")
      .withIndex("by_lease_replica", (q) => q.eq("leaseReplica", args.replicaId))
      .take(TAKE_BACK_SCAN);
    let turns = 0;
    for (const conv of convs) {
      if (conv.leaseToken !== undefined) turns += 1;
      await ctx.db.patch(conv._id, {
        leaseToken: undefined,
        leaseUntilMs: undefined,
        leaseReplica: undefined,
      });
    }
    const rows = await ctx.db
      .query("outbox")
      .withIndex("by_lease_replica", (q) =>
        q.eq("leaseReplica", args.replicaId).eq("state", "pending"),
      )
      .take(TAKE_BACK_SCAN);
    let sends = 0;
    for (const row of rows) {
      if (row.nextAttemptAtMs > args.nowMs) {
        sends += 1;
        await ctx.db.patch(row._id, { nextAttemptAtMs: args.nowMs, leaseReplica: undefined });
      } else {
        await ctx.db.patch(row._id, { leaseReplica: undefined });
      }
    }
    return { turns, sends };
  },
});
