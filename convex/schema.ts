// The tables ARI keeps in Convex. Mirrors the SQLite store (src/store/sqlite.rs) table for
// table, so both stores pass the same contract tests.
//
// Why the `seq` fields: the Rust `Store` trait speaks in i64 ids that grow in arrival order
// (inbox rows are processed in id order, outbox rows per contact in id order). Convex document
// ids are opaque strings, so every table the trait addresses by id carries `seq`, allocated from
// the `counters` table inside the same mutation (serialisable, so strictly increasing).
//
// Why `*Json` strings: webhook payloads and flow snapshots may hold keys Convex refuses in
// documents (starting with `$` or `_`), and the store never queries inside them.
//
// Units: every `*Ms` field is milliseconds since the Unix epoch, a float64 (`v.number()`).

import { defineSchema, defineTable } from "convex/server";
import { v } from "convex/values";

export default defineSchema({
  // Next value of each id sequence (`name` = table name).
  counters: defineTable({
    name: v.string(),
    value: v.number(),
  }).index("by_name", ["name"]),

  // One row per accepted webhook delivery: the claim on its idempotency key.
  deliveries: defineTable({
    idempotencyKey: v.string(),
    eventHeader: v.optional(v.string()),
    requestId: v.string(),
    itemCount: v.number(),
    receivedAtMs: v.number(),
    // The body verbatim, only when ingress repaired it to parse it (lone surrogate escapes).
    originalBody: v.optional(v.string()),
    // `sha256:<hex>` of the body as received (issue 21): the same bytes under another key are
    // a duplicate delivery.
    bodyHash: v.optional(v.string()),
  })
    .index("by_key", ["idempotencyKey"])
    .index("by_body_hash", ["bodyHash"]),

  // One row per item of a delivery, in arrival order (`seq`).
  inbox: defineTable({
    seq: v.number(),
    deliveryKey: v.string(),
    kind: v.string(),
    eventType: v.string(),
    workspaceId: v.optional(v.string()),
    phoneNumberId: v.optional(v.string()),
    // `phoneNumberId ?? ""`: the claim treats a missing number as one number, as SQLite's
    // `COALESCE(phone_number_id, '')` does.
    claimPhone: v.string(),
    contactPhone: v.optional(v.string()),
    kapsoConversationId: v.optional(v.string()),
    wamid: v.optional(v.string()),
    statusValue: v.optional(v.string()),
    state: v.string(),
    eventJson: v.string(),
    rawJson: v.string(),
    receivedAtMs: v.number(),
  })
    .index("by_seq", ["seq"])
    // The per-message claim `(kind='message', phone, wamid)` and the per-status claim
    // `(kind='status', phone, wamid, status)`.
    .index("by_claim", ["kind", "claimPhone", "wamid", "statusValue"])
    .index("by_state", ["state", "seq"])
    .index("by_conversation", ["workspaceId", "contactPhone", "state", "seq"]),

  // One row per lead per workspace: flow snapshot, the version fencing commits, the lease.
  conversations: defineTable({
    seq: v.number(),
    workspaceId: v.string(),
    contactPhone: v.string(),
    contactName: v.optional(v.string()),
    phoneNumberId: v.optional(v.string()),
    kapsoConversationId: v.optional(v.string()),
    snapshotJson: v.optional(v.string()),
    flowState: v.optional(v.string()),
    leadScore: v.optional(v.number()),
    leadTemperature: v.optional(v.string()),
    handoffReason: v.optional(v.string()),
    // The conversation's language (id, en): written by every commit, read by reminders.
    language: v.optional(v.string()),
    // When the next follow-up falls due (ms; issue 18): written by every commit from the
    // snapshot, cleared when `inbox:queueDueFollowups` queues it.
    followupDueMs: v.optional(v.number()),
    // The lead's number before a `user_changed_number` moved the conversation (issue 16 item 6).
    previousPhone: v.optional(v.string()),
    // Closed by a changed number whose new number had a conversation already: that one's seq.
    mergedIntoSeq: v.optional(v.number()),
    // The lead's CRM status: written only when a turn sets it, so a person's edit stays.
    leadStatus: v.optional(v.string()),
    // JSON array of tags (only added).
    tagsJson: v.optional(v.string()),
    version: v.number(),
    leaseToken: v.optional(v.string()),
    leaseUntilMs: v.optional(v.number()),
    // The `--replica-id` of the replica holding the lease (issue 17 item 4), cleared with it.
    leaseReplica: v.optional(v.string()),
    // The request id of the last applied commit: a retried commit (lost response) is answered
    // with the same outcome instead of `stale`.
    lastCommitId: v.optional(v.string()),
    // Whether that commit's outbox rows were left unclaimed behind an older undelivered reply
    // (then its replay returns no rows, as the first answer did).
    lastCommitHeld: v.optional(v.boolean()),
    createdAtMs: v.number(),
    updatedAtMs: v.number(),
  })
    .index("by_seq", ["seq"])
    .index("by_key", ["workspaceId", "contactPhone"])
    .index("by_kapso_id", ["kapsoConversationId"])
    .index("by_followup_due", ["followupDueMs"])
    .index("by_lease_replica", ["leaseReplica"]),

  messages: defineTable({
    seq: v.number(),
    conversationSeq: v.number(),
    direction: v.string(),
    inboxSeq: v.optional(v.number()),
    wamid: v.optional(v.string()),
    text: v.optional(v.string()),
    metaJson: v.string(),
    createdAtMs: v.number(),
  })
    .index("by_seq", ["seq"])
    .index("by_conversation", ["conversationSeq", "seq"]),

  outbox: defineTable({
    seq: v.number(),
    conversationSeq: v.number(),
    messageSeq: v.optional(v.number()),
    // The conversation version the commit that wrote this row produced.
    commitVersion: v.number(),
    idempotencyKey: v.string(),
    phoneNumberId: v.string(),
    toPhone: v.string(),
    body: v.string(),
    state: v.string(),
    attempts: v.number(),
    nextAttemptAtMs: v.number(),
    kapsoMessageId: v.optional(v.string()),
    error: v.optional(v.string()),
    // `whatsapp` (absent on older rows), `whatsapp_template`, or `webhook` (a CRM call:
    // `toPhone` holds the URL).
    channel: v.optional(v.string()),
    // Why the row failed for good (`FailReason` in src/store/model.rs); absent unless it did.
    reason: v.optional(v.string()),
    // When it was queued or last requeued by an admin: the age cap counts from it (absent on
    // older rows: `createdAtMs`).
    queuedAtMs: v.optional(v.number()),
    // What to queue when it fails for good (`store::Fallback` as JSON): the template version,
    // the team's copy, the CRM event. See `model/fallback.ts`.
    fallbackJson: v.optional(v.string()),
    // A reply sent as WhatsApp buttons or a list (issue 19): Meta's interactive object as JSON;
    // `body` is its text fallback.
    interactiveJson: v.optional(v.string()),
    // Keeps rows of this key to one per conversation and window (`store::Once`).
    onceKey: v.optional(v.string()),
    // The `--replica-id` of the replica whose send lease `nextAttemptAtMs` is (issue 17 item
    // 4): set when a row is claimed, cleared by a retry outcome.
    leaseReplica: v.optional(v.string()),
    createdAtMs: v.number(),
    updatedAtMs: v.number(),
  })
    .index("by_seq", ["seq"])
    .index("by_idempotency_key", ["idempotencyKey"])
    .index("by_state", ["state", "seq"])
    .index("by_conversation", ["conversationSeq", "seq"])
    // Head-of-line checks: a conversation's pending rows, oldest first.
    .index("by_conversation_state", ["conversationSeq", "state", "seq"])
    .index("by_conversation_version", ["conversationSeq", "commitVersion", "seq"])
    .index("by_kapso_id", ["kapsoMessageId"])
    .index("by_conversation_once", ["conversationSeq", "onceKey", "seq"])
    .index("by_lease_replica", ["leaseReplica", "state"]),

  // Written by the readiness probe to prove the deployment accepts writes.
  health: defineTable({
    name: v.string(),
    checkedAtMs: v.number(),
  }).index("by_name", ["name"]),

  // ---- Tables for the later issues (workspaces, scheduling, knowledge, admin overrides). ----

  // A tenant: one consultancy, its business numbers and flow.
  workspaces: defineTable({
    workspaceId: v.string(),
    name: v.string(),
    phoneNumberIds: v.array(v.string()),
    timezone: v.string(),
    createdAtMs: v.number(),
  }).index("by_workspace", ["workspaceId"]),

  // A lead's CRM card (what the flow learned), one per phone per workspace.
  contacts: defineTable({
    workspaceId: v.string(),
    contactPhone: v.string(),
    name: v.optional(v.string()),
    email: v.optional(v.string()),
    fieldsJson: v.string(),
    updatedAtMs: v.number(),
  }).index("by_key", ["workspaceId", "contactPhone"]),

  // A weekly consultant slot (local time in the workspace's zone) and its capacity.
  consultantSlots: defineTable({
    workspaceId: v.string(),
    slotId: v.string(),
    consultant: v.string(),
    weekday: v.number(),
    startMinute: v.number(),
    durationMinutes: v.number(),
    capacity: v.number(),
    active: v.boolean(),
  })
    .index("by_workspace", ["workspaceId", "slotId"])
    .index("by_workspace_weekday", ["workspaceId", "weekday"]),

  // A booked consultation (mirrors the SQLite `appointments` table). Booking is atomic: the
  // capacity count and the insert run in one mutation (`appointments:book`), and Convex's
  // optimistic concurrency control retries a mutation whose read index range another one wrote.
  appointments: defineTable({
    seq: v.number(),
    workspaceId: v.string(),
    conversationSeq: v.number(),
    // The slot's stable id (the same for every lead offered that slot).
    slotId: v.string(),
    startsAtMs: v.number(),
    durationMinutes: v.number(),
    consultantName: v.string(),
    consultantWhatsapp: v.string(),
    // `booked` or `cancelled`.
    status: v.string(),
    notes: v.string(),
    createdAtMs: v.number(),
    updatedAtMs: v.number(),
  })
    .index("by_seq", ["seq"])
    // Capacity: booked rows of a slot.
    .index("by_slot", ["workspaceId", "slotId", "status"])
    // Idempotency: this conversation's booking of a slot.
    .index("by_conversation_slot", ["conversationSeq", "slotId", "status"])
    .index("by_conversation", ["conversationSeq", "seq"])
    // `booked_slots`: booked rows of a workspace starting in a window.
    .index("by_start", ["workspaceId", "status", "startsAtMs"])
    // Reminders: booked rows of every workspace starting in a window.
    .index("by_status_start", ["status", "startsAtMs"]),

  // A reminder recorded for an appointment (mirrors SQLite's `appointment_reminders`): one row
  // per (appointment, kind), so each reminder goes out once.
  appointmentReminders: defineTable({
    appointmentSeq: v.number(),
    // `reminder_24h` or `reminder_2h`.
    kind: v.string(),
    sentAtMs: v.number(),
  }).index("by_appointment_kind", ["appointmentSeq", "kind"]),

  // A knowledge-base entry (universities, the consultancy) the flow answers questions from.
  knowledgeEntries: defineTable({
    workspaceId: v.string(),
    entryId: v.string(),
    // The entry in the knowledge files' TOML format (`[[faq]] ...` or `[[destination]] ...`),
    // validated by ARI; edit it in the dashboard or with PUT /admin/knowledge/{ws}/{id}.
    toml: v.string(),
    updatedAtMs: v.number(),
  }).index("by_workspace", ["workspaceId", "entryId"]),

  // An admin's override of the flow config (TOML text), newest version wins.
  flowOverrides: defineTable({
    workspaceId: v.string(),
    version: v.number(),
    toml: v.string(),
    author: v.optional(v.string()),
    createdAtMs: v.number(),
  }).index("by_workspace", ["workspaceId", "version"]),
});
