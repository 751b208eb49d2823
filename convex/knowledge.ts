// Knowledge entries admins store (see src/store/mod.rs, `Store::knowledge_entries` and
// `put_knowledge_entry`). A put bumps the `knowledgeVersion` counter `worker:due` reports.

import { v } from "convex/values";
import { internalMutation, internalQuery } from "./_generated/server";
import { KNOWLEDGE_VERSION } from "./model/seq";

/** A workspace's stored entries as `[{entryId, toml}]`, by id. */
export const list = internalQuery({
  args: { workspaceId: v.string() },
  handler: async (ctx, args) => {
    const rows = await ctx.db
      .query("knowledgeEntries")
      .withIndex("by_workspace", (q) => q.eq("workspaceId", args.workspaceId))
      .collect();
    return rows.map((r) => ({ entryId: r.entryId, toml: r.toml }));
  },
});

/** Stores or replaces one entry's TOML text (validated by ARI before). */
export const put = internalMutation({
  args: { workspaceId: v.string(), entryId: v.string(), toml: v.string(), nowMs: v.number() },
  handler: async (ctx, args) => {
    const row = await ctx.db
      .query("knowledgeEntries")
      .withIndex("by_workspace", (q) =>
        q.eq("workspaceId", args.workspaceId).eq("entryId", args.entryId),
      )
      .unique();
    if (row === null) {
      await ctx.db.insert("knowledgeEntries", {
        workspaceId: args.workspaceId,
        entryId: args.entryId,
        toml: args.toml,
        updatedAtMs: args.nowMs,
      });
    } else {
      await ctx.db.patch(row._id, { toml: args.toml, updatedAtMs: args.nowMs });
    }
    // Replicas see the version move in `worker:due` and reread the stored entries.
    const version = await ctx.db
      .query("counters")
      .withIndex("by_name", (q) => q.eq("name", KNOWLEDGE_VERSION))
      .unique();
    if (version === null) {
      await ctx.db.insert("counters", { name: KNOWLEDGE_VERSION, value: 1 });
    } else {
      await ctx.db.patch(version._id, { value: version.value + 1 });
    }
    return null;
  },
});
