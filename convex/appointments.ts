// Booking (see src/store/mod.rs, `Store::book_slot`, `move_appointment`, `booked_slots`,
// `conversation_appointments`).

import { v } from "convex/values";
import { internalMutation, internalQuery, type MutationCtx } from "./_generated/server";
import type { Doc } from "./_generated/dataModel";
import { reserveSeq } from "./model/seq";
import { outboxRow } from "./model/rows";

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
const bookingArgs = {
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
};

type BookingArgs = {
  conversationId: number;
  workspaceId: string;
  slotId: string;
  startsAtMs: number;
  durationMinutes: number;
  consultantName: string;
  consultantWhatsapp: string;
  capacity: number;
  notes: string;
  nowMs: number;
};

/**
 * The booking step of `book` and `move`, inside the caller's mutation: the conversation's own
 * booking of the slot comes back (a redone turn); otherwise one is inserted while the slot's
 * booked appointments, not counting `movingFrom` (the lead's own booking being moved), are
 * fewer than `capacity`.
 */
async function bookIn(ctx: MutationCtx, args: BookingArgs, movingFrom: number | null) {
  const mine = await ctx.db
    .query("appointments")
    .withIndex("by_conversation_slot", (q) =>
      q.eq("conversationSeq", args.conversationId).eq("slotId", args.slotId).eq("status", "booked"),
    )
    .first();
  if (mine !== null) {
    return { status: "booked" as const, appointmentId: mine.seq };
  }
  // Counting stops one past the capacity: no slot holds more, and the read stays small.
  const booked = await ctx.db
    .query("appointments")
    .withIndex("by_slot", (q) =>
      q.eq("workspaceId", args.workspaceId).eq("slotId", args.slotId).eq("status", "booked"),
    )
    .take(Math.max(0, Math.floor(args.capacity)) + 1);
  const taken = booked.filter((a) => a.seq !== movingFrom).length;
  if (taken >= args.capacity) {
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
}

/**
 * Books a consultation atomically: in this one mutation, a conversation that already holds the
 * slot gets its appointment back (a redone turn, or a retried request); otherwise the slot's
 * booked appointments are counted and one is inserted only while fewer than `capacity`. Two
 * concurrent bookings read the same index range, so Convex runs one after the other (OCC), and
 * a slot is never overbooked. Returns `{status: "booked", appointmentId}` or `{status: "full"}`.
 */
export const book = internalMutation({
  args: bookingArgs,
  handler: async (ctx, args) => bookIn(ctx, args, null),
});

/**
 * Moves a booked consultation (see src/store/mod.rs, `Store::move_appointment`): in this one
 * mutation, books the new slot as `book` does, without counting the lead's own old booking
 * against its capacity, and cancels appointment `fromAppointmentId` of this conversation. A
 * full slot changes nothing (the old booking stays). A repeat finds the new slot held and the
 * old one cancelled: the same answer. Returns what `book` returns.
 */
export const move = internalMutation({
  args: { ...bookingArgs, fromAppointmentId: v.number() },
  handler: async (ctx, args) => {
    const { fromAppointmentId, ...booking } = args;
    const outcome = await bookIn(ctx, booking, fromAppointmentId);
    if (outcome.status === "booked" && outcome.appointmentId !== fromAppointmentId) {
      const old = await ctx.db
        .query("appointments")
        .withIndex("by_seq", (q) => q.eq("seq", fromAppointmentId))
        .unique();
      if (old !== null && old.conversationSeq === args.conversationId && old.status === "booked") {
        await ctx.db.patch(old._id, { status: "cancelled", updatedAtMs: args.nowMs });
      }
    }
    return outcome;
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

/**
 * Cancels a booked appointment of this conversation (the lead asked to cancel or move it).
 * Returns whether a booked appointment was cancelled.
 */
export const cancel = internalMutation({
  args: { conversationId: v.number(), appointmentId: v.number(), nowMs: v.number() },
  handler: async (ctx, args) => {
    const a = await ctx.db
      .query("appointments")
      .withIndex("by_seq", (q) => q.eq("seq", args.appointmentId))
      .unique();
    if (a === null || a.conversationSeq !== args.conversationId || a.status !== "booked") {
      return false;
    }
    await ctx.db.patch(a._id, { status: "cancelled", updatedAtMs: args.nowMs });
    return true;
  },
});

/**
 * Booked appointments starting in `[fromMs, untilMs)`, soonest first, at most `limit`, with
 * what the reminder task needs: the conversation's key and business number, the reminders
 * already recorded, and the lead's latest message (WhatsApp's 24 h window).
 */
export const upcoming = internalQuery({
  args: { fromMs: v.number(), untilMs: v.number(), limit: v.number() },
  handler: async (ctx, args) => {
    const rows = await ctx.db
      .query("appointments")
      .withIndex("by_status_start", (q) =>
        q.eq("status", "booked").gte("startsAtMs", args.fromMs).lt("startsAtMs", args.untilMs),
      )
      .take(Math.max(0, Math.floor(args.limit)));
    const out = [];
    for (const a of rows) {
      const conv = await ctx.db
        .query("conversations")
        .withIndex("by_seq", (q) => q.eq("seq", a.conversationSeq))
        .unique();
      if (conv === null) continue;
      const sent = [];
      for (const kind of ["reminder_24h", "reminder_2h"]) {
        const r = await ctx.db
          .query("appointmentReminders")
          .withIndex("by_appointment_kind", (q) => q.eq("appointmentSeq", a.seq).eq("kind", kind))
          .first();
        if (r !== null) sent.push(kind);
      }
      let lastInboundMs: number | undefined = undefined;
      for await (const m of ctx.db
        .query("messages")
        .withIndex("by_conversation", (q) => q.eq("conversationSeq", conv.seq))
        .order("desc")) {
        if (m.direction === "inbound") {
          lastInboundMs = m.createdAtMs;
          break;
        }
      }
      out.push({
        appointment: appointmentRow(a),
        workspaceId: conv.workspaceId,
        contactPhone: conv.contactPhone,
        phoneNumberId: conv.phoneNumberId,
        contactName: conv.contactName,
        bookedAtMs: a.createdAtMs,
        remindersSent: sent,
        lastInboundMs,
        language: conv.language,
      });
    }
    return out;
  },
});

/**
 * Records a reminder once: marks its kind sent for the appointment and queues its messages in
 * the conversation's outbox, in this one mutation. Rows come back claimed until `nowMs +
 * outboxLeaseMs`, or unclaimed (and not returned) behind an older undelivered reply of the
 * contact. `{status: "skipped"}` when already recorded or no longer booked.
 */
export const recordReminder = internalMutation({
  args: {
    appointmentId: v.number(),
    conversationId: v.number(),
    kind: v.string(),
    messages: v.array(
      v.object({
        to: v.string(),
        body: v.string(),
        channel: v.optional(v.string()),
        fallbackJson: v.optional(v.string()),
        // The lead's reminder as reply buttons (issue 19): Meta's interactive object as JSON.
        interactiveJson: v.optional(v.string()),
      }),
    ),
    phoneNumberId: v.string(),
    contactPhone: v.string(),
    nowMs: v.number(),
    outboxLeaseMs: v.number(),
    language: v.optional(v.union(v.string(), v.null())),
  },
  handler: async (ctx, args) => {
    const a = await ctx.db
      .query("appointments")
      .withIndex("by_seq", (q) => q.eq("seq", args.appointmentId))
      .unique();
    if (a === null || a.status !== "booked") return { status: "skipped" as const };
    const seen = await ctx.db
      .query("appointmentReminders")
      .withIndex("by_appointment_kind", (q) =>
        q.eq("appointmentSeq", args.appointmentId).eq("kind", args.kind),
      )
      .first();
    if (seen !== null) return { status: "skipped" as const };
    await ctx.db.insert("appointmentReminders", {
      appointmentSeq: args.appointmentId,
      kind: args.kind,
      sentAtMs: args.nowMs,
    });
    const pendingOfContact = await ctx.db
      .query("outbox")
      .withIndex("by_conversation_state", (q) =>
        q.eq("conversationSeq", args.conversationId).eq("state", "pending"),
      )
      .collect();
    const held = pendingOfContact.some((r) => (r.channel ?? "whatsapp") === "whatsapp");
    const claimedUntilMs = held ? args.nowMs : args.nowMs + args.outboxLeaseMs;
    const outbox = [];
    for (const [n, m] of args.messages.entries()) {
      const channel = m.channel ?? "whatsapp";
      let messageSeq: number | undefined = undefined;
      if (m.to === args.contactPhone && channel === "whatsapp") {
        messageSeq = await reserveSeq(ctx, "messages", 1);
        await ctx.db.insert("messages", {
          seq: messageSeq,
          conversationSeq: args.conversationId,
          direction: "outbound",
          text: m.body,
          metaJson: JSON.stringify({ reminder: args.kind, language: args.language ?? null }),
          createdAtMs: args.nowMs,
        });
      }
      const seq = await reserveSeq(ctx, "outbox", 1);
      const id = await ctx.db.insert("outbox", {
        seq,
        conversationSeq: args.conversationId,
        messageSeq,
        // Not a turn's commit: -1 keeps these rows out of a commit replay's lookup.
        commitVersion: -1,
        idempotencyKey: `ari-reminder-${args.appointmentId}-${args.kind}-${n}`,
        phoneNumberId: args.phoneNumberId,
        toPhone: m.to,
        body: m.body,
        state: "pending",
        attempts: 0,
        nextAttemptAtMs: claimedUntilMs,
        channel,
        fallbackJson: m.fallbackJson,
        interactiveJson: m.interactiveJson,
        createdAtMs: args.nowMs,
        updatedAtMs: args.nowMs,
      });
      const row = await ctx.db.get(id);
      if (row !== null && !held) outbox.push(outboxRow(row));
    }
    return { status: "recorded" as const, outbox };
  },
});
