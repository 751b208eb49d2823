// Health: the start-up key check and the readiness probe (see src/store/convex.rs).

import { v } from "convex/values";
import { internalMutation, internalQuery } from "./_generated/server";

/**
 * The cheapest internal call: proves the deploy key is accepted (internal functions are
 * invisible without it) and that these functions are deployed. Returns the schema's name.
 */
export const ping = internalQuery({
  args: {},
  handler: async () => ({ app: "ari", schema: 2 }),
});

/** Proves the deployment accepts writes (`GET /readyz`): upserts one row. */
export const checkWritable = internalMutation({
  args: { nowMs: v.number() },
  handler: async (ctx, args) => {
    const row = await ctx.db
      .query("health")
      .withIndex("by_name", (q) => q.eq("name", "readyz"))
      .unique();
    if (row === null) {
      await ctx.db.insert("health", { name: "readyz", checkedAtMs: args.nowMs });
    } else {
      await ctx.db.patch(row._id, { checkedAtMs: args.nowMs });
    }
    return null;
  },
});
