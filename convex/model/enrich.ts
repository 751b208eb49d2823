// A later copy of a stored message completing it: the rule of src/inbox/enrich.rs, applied to
// the fills the Rust store sends with each message item (`Store::enqueue_inbound`).

/** One field a copy may complete: a path into the event's JSON, its value, content or not. */
export type Fill = { path: string[]; valueJson: string; content: boolean };

/** The claim of a message's enrichment row in the inbox's `wamid` field. */
export function enrichmentClaim(wamid: string): string {
  return `${wamid}#enriched`;
}

/**
 * Fills the event (JSON text) where it lacks a field (absent or null) a fill offers; never
 * overwrites. Missing parents are created; a parent that is not an object skips that fill.
 * Returns the new JSON text, whether anything was filled, and whether a filled field is content.
 */
export function applyFills(
  eventJson: string,
  fills: Fill[],
): { eventJson: string; filled: boolean; content: boolean } {
  const event = JSON.parse(eventJson) as Record<string, unknown>;
  let filled = false;
  let content = false;
  for (const fill of fills) {
    const last = fill.path[fill.path.length - 1];
    if (last === undefined) continue;
    let at: unknown = event;
    for (const key of fill.path.slice(0, -1)) {
      if (typeof at !== "object" || at === null || Array.isArray(at)) {
        at = undefined;
        break;
      }
      const obj = at as Record<string, unknown>;
      if (obj[key] === undefined || obj[key] === null) obj[key] = {};
      at = obj[key];
    }
    if (typeof at !== "object" || at === null || Array.isArray(at)) continue;
    const obj = at as Record<string, unknown>;
    if (obj[last] === undefined || obj[last] === null) {
      obj[last] = JSON.parse(fill.valueJson);
      filled = true;
      content = content || fill.content;
    }
  }
  return { eventJson: JSON.stringify(event), filled, content };
}
