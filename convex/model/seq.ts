// Id sequences: the Rust store addresses rows by increasing i64 ids (see schema.ts).

import type { MutationCtx } from "../_generated/server";

/**
 * Reserves `count` consecutive ids of the sequence `name` and returns the first. Runs inside the
 * caller's mutation, so two concurrent mutations never get the same id (Convex retries the
 * loser of the write conflict on the counter).
 */
export async function reserveSeq(
  ctx: MutationCtx,
  name: string,
  count: number,
): Promise<number> {
  const row = await ctx.db
    .query("counters")
    .withIndex("by_name", (q) => q.eq("name", name))
    .unique();
  if (row === null) {
    await ctx.db.insert("counters", { name, value: 1 + count });
    return 1;
  }
  await ctx.db.patch(row._id, { value: row.value + count });
  return row.value;
}

/** The counter `knowledge:put` bumps and `worker:due` reports (a row of `counters`, not an id
 * sequence): replicas reread the stored knowledge entries when it moves. */
export const KNOWLEDGE_VERSION = "knowledgeVersion";
