/* eslint-disable */
/**
 * Generated `api` utility.
 *
 * THIS CODE IS AUTOMATICALLY GENERATED.
 *
 * To regenerate, run `npx convex dev`.
 * @module
 */

import type {
  ApiFromModules,
  FilterApi,
  FunctionReference,
} from "convex/server";
import type * as appointments from "../appointments.js";
import type * as conversations from "../conversations.js";
import type * as health from "../health.js";
import type * as inbox from "../inbox.js";
import type * as model_rows from "../model/rows.js";
import type * as model_seq from "../model/seq.js";
import type * as outbox from "../outbox.js";
import type * as turns from "../turns.js";

/**
 * A utility for referencing Convex functions in your app's API.
 *
 * Usage:
 * ```js
 * const myFunctionReference = api.myModule.myFunction;
 * ```
 */
declare const fullApi: ApiFromModules<{
  appointments: typeof appointments;
  conversations: typeof conversations;
  health: typeof health;
  inbox: typeof inbox;
  "model/rows": typeof model_rows;
  "model/seq": typeof model_seq;
  outbox: typeof outbox;
  turns: typeof turns;
}>;
export declare const api: FilterApi<
  typeof fullApi,
  FunctionReference<any, "public">
>;
export declare const internal: FilterApi<
  typeof fullApi,
  FunctionReference<any, "internal">
>;
