// Booking (see src/store/mod.rs, `Store::book_slot`, `booked_slots`,
// `conversation_appointments`).

import { v } from "convex/values";
import { internalMutation, internalQuery } from "./_generated/server";
import type { Doc } from "./_generated/dataModel";
import { reserveSeq } from "./model/seq";

/** An appointment as `Appointment` needs it (`id` = `seq`). */
function appointmentRow(a: Doc<"appointments">) {
  return {
    id: a.seq,
    conversationId: a.conversationSeq,
    slotId: a.slotId,
    startsAtMs: a.startsAtMs,
    durationMinutes: a.durationMinutes,
    consultantName: a.consultantName,
    consultantWhatsapp: a.consultantWhatsapp,
    status: a.status,
    notes: a.notes,
  };
}

/**
 * Books a consultation atomically: in this one mutation, a conversation that already holds the
 * slot gets its appointment back (a redone turn, or a retried request); otherwise the slot's
 * booked appointments are counted and one is inserted only while fewer than `capacity`. Two
 * concurrent bookings read the same index range, so Convex runs one after the other (OCC), and
 * a slot is never overbooked. Returns `{status: "booked", appointmentId}` or `{status: "full"}`.
 */
export const book = internalMutation({
  args: {
    conversationId: v.number(),
    workspaceId: v.string(),
    slotId: v.string(),
    startsAtMs: v.number(),
    durationMinutes: v.number(),
    consultantName: v.string(),
    consultantWhatsapp: v.string(),
    capacity: v.number(),
    notes: v.string(),
    nowMs: v.number(),
  },
  handler: async (ctx, args) => {
    const mine = await ctx.db
      .query("appointments")
      .withIndex("by_conversation_slot", (q) =>
        q.eq("conversationSeq", args.conversationId).eq("slotId", args.slotId).eq("status", "booked"),
      )
      .first();
    if (mine !== null) {
      return { status: "booked" as const, appointmentId: mine.seq };
    }
    // Counting stops at the capacity: no slot holds more, and the read stays small.
    const taken = await ctx.db
      .query("appointments")
      .withIndex("by_slot", (q) =>
        q.eq("workspaceId", args.workspaceId).eq("slotId", args.slotId).eq("status", "booked"),
      )
      .take(Math.max(0, Math.floor(args.capacity)));
    if (taken.length >= args.capacity) {
      return { status: "full" as const };
    }
    const seq = await reserveSeq(ctx, "appointments", 1);
    await ctx.db.insert("appointments", {
      seq,
      workspaceId: args.workspaceId,
      conversationSeq: args.conversationId,
      slotId: args.slotId,
      startsAtMs: args.startsAtMs,
      durationMinutes: args.durationMinutes,
      consultantName: args.consultantName,
      consultantWhatsapp: args.consultantWhatsapp,
      status: "booked",
      notes: args.notes,
      createdAtMs: args.nowMs,
      updatedAtMs: args.nowMs,
    });
    return { status: "booked" as const, appointmentId: seq };
  },
});

/**
 * Booked appointments per slot id of a workspace, for slots starting in `[fromMs, toMs)`, as
 * `[{slotId, count}]` (Convex object keys may not be arbitrary strings, so no map).
 */
export const bookedSlots = internalQuery({
  args: { workspaceId: v.string(), fromMs: v.number(), toMs: v.number() },
  handler: async (ctx, args) => {
    const rows = await ctx.db
      .query("appointments")
      .withIndex("by_start", (q) =>
        q
          .eq("workspaceId", args.workspaceId)
          .eq("status", "booked")
          .gte("startsAtMs", args.fromMs)
          .lt("startsAtMs", args.toMs),
      )
      .collect();
    const counts = new Map<string, number>();
    for (const r of rows) counts.set(r.slotId, (counts.get(r.slotId) ?? 0) + 1);
    return [...counts.entries()].map(([slotId, count]) => ({ slotId, count }));
  },
});

/** A conversation's appointments, oldest first; empty for an unknown conversation. */
export const forConversation = internalQuery({
  args: { workspaceId: v.string(), contactPhone: v.string() },
  handler: async (ctx, args) => {
    const conv = await ctx.db
      .query("conversations")
      .withIndex("by_key", (q) =>
        q.eq("workspaceId", args.workspaceId).eq("contactPhone", args.contactPhone),
      )
      .unique();
    if (conv === null) return [];
    const rows = await ctx.db
      .query("appointments")
      .withIndex("by_conversation", (q) => q.eq("conversationSeq", conv.seq))
      .collect();
    return rows.map(appointmentRow);
  },
});
