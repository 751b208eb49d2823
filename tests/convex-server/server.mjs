// A local Convex deployment for tests: the project's `convex/` functions run on the official
// `convex-test` package (real validators, indexes, transactional mutations, in-memory data)
// behind Convex's HTTP API wire format (routes, envelope, status codes, internal-function
// visibility, deploy-key check). See the Convex section of README.md.
//
// Run with `node --import tsx tests/convex-server/server.mjs` (tsx loads the TypeScript).
// Environment:
//   PORT               port to bind on 127.0.0.1; 0 (default) lets the OS pick a free one
//   CONVEX_DEPLOY_KEY  the key internal functions need (default `ari-test-deploy-key`)
//   CONVEX_DIR         the functions folder (default: the project's `convex/`)
// Prints one JSON line `{"listening":"http://127.0.0.1:PORT"}` on stdout when ready; everything
// else (function logs) goes to stderr. With EXIT_WITH_STDIN=1 it exits when stdin closes, so a
// test process that dies never leaves a server behind.
//
// Isolated deployments: `/i/<name>/api/...` is a deployment of its own (created on first use),
// so parallel tests share one process without sharing data. `POST /_reset` (or
// `POST /i/<name>/_reset`) replaces a deployment's data with an empty database.
// Test hooks (not part of Convex's API): `GET /i/<name>/_stats` gives `{"calls": {path: n}}`,
// the function calls that reached the deployment (to count round trips per message), and for
// results with a `status` also `{"<path>=><status>": n}` (e.g. `turns:begin=>idle`);
// `POST /i/<name>/_outage` with `{"down": true}` makes its `/api/*` routes answer
// `503 {"code":"ServiceUnavailable"}` until `{"down": false}` (an outage, data kept).
// Not implemented: `/api/query_batch`, `/api/query_at_ts`, WebSocket sync, HTTP actions,
// `logLines` (always omitted, as on a prod deployment).

import { createServer } from "node:http";
import { readdirSync, statSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { randomBytes } from "node:crypto";
import { convexTest } from "convex-test";
import { makeFunctionReference } from "convex/server";
import { convexToJson, jsonToConvex } from "convex/values";

const here = dirname(fileURLToPath(import.meta.url));
const convexDir = resolve(process.env.CONVEX_DIR ?? join(here, "..", "..", "convex"));
const deployKey = process.env.CONVEX_DEPLOY_KEY ?? "ari-test-deploy-key";
const port = Number(process.env.PORT ?? "0");

// ---- Loading the functions ----

/** `{ "./convex/<file>": () => import(file) }` as `convexTest` expects from `import.meta.glob`. */
function collectModules(dir) {
  const modules = {};
  const walk = (d) => {
    for (const name of readdirSync(d)) {
      const full = join(d, name);
      if (statSync(full).isDirectory()) {
        if (name !== "node_modules") walk(full);
        continue;
      }
      if (!/\.(ts|js|mjs)$/.test(name) || /\.d\.ts$/.test(name) || /\.test\.[tj]s$/.test(name)) {
        continue;
      }
      const key = "./convex/" + relative(dir, full).split(sep).join("/");
      const url = pathToFileURL(full).href;
      modules[key] = () => import(url);
    }
  };
  walk(dir);
  return modules;
}

const modules = collectModules(convexDir);
const schema = (await import(pathToFileURL(join(convexDir, "schema.ts")).href)).default;
const moduleByPath = Object.fromEntries(
  Object.entries(modules).map(([k, load]) => [k.slice("./convex/".length).replace(/\.[^.]+$/, ""), load]),
);

/** Deployments by name; `default` serves the un-prefixed routes. */
const deployments = new Map();
/** Function calls per deployment and path: `name -> Map(path -> count)`. */
const stats = new Map();
/** Deployments in a simulated outage. */
const down = new Set();

function countCall(name, path) {
  let calls = stats.get(name);
  if (calls === undefined) {
    calls = new Map();
    stats.set(name, calls);
  }
  calls.set(path, (calls.get(path) ?? 0) + 1);
}
function deployment(name) {
  let t = deployments.get(name);
  if (t === undefined) {
    t = convexTest(schema, modules);
    deployments.set(name, t);
  }
  return t;
}

// ---- Wire format helpers ----

class HttpError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

function send(res, status, body, contentType = "application/json") {
  const text = typeof body === "string" ? body : JSON.stringify(body);
  res.writeHead(status, { "Content-Type": contentType });
  res.end(text);
}

/** Convex's clean JSON export (`format: "json"`): Int64 as a decimal string, bytes as base64. */
function toCleanJson(value) {
  if (value === null || value === undefined) return null;
  if (typeof value === "bigint") return value.toString();
  if (typeof value === "number") {
    if (Number.isNaN(value)) return "NaN";
    if (value === Infinity) return "Infinity";
    if (value === -Infinity) return "-Infinity";
    return value;
  }
  if (value instanceof ArrayBuffer) return Buffer.from(value).toString("base64");
  if (Array.isArray(value)) return value.map(toCleanJson);
  if (typeof value === "object") {
    const out = {};
    for (const [k, v] of Object.entries(value)) {
      if (v !== undefined) out[k] = toCleanJson(v);
    }
    return out;
  }
  return value;
}

function exportValue(value, format) {
  return format === "encoded" ? convexToJson(value ?? null) : toCleanJson(value);
}

function parseFormat(format) {
  if (format === undefined || format === null || format === "json" || format === "convex_clean_json") {
    return "clean";
  }
  if (format === "convex_encoded_json" || format === "convex_json") return "encoded";
  throw new HttpError(400, "BadFormat", `format param must be one of [\`json\`]. Got ${format}`);
}

/** `"mod.js:fn"`, `"folder/mod:fn"`, `"mod"` (default export) → `{module, name, udfPath}`. */
function parsePath(path) {
  if (typeof path !== "string" || path.length === 0) {
    throw new HttpError(400, "BadConvexFunctionIdentifier", `${path} is not a valid path to a Convex function.`);
  }
  const parts = path.split(":");
  if (parts.length > 2 || !/^[A-Za-z0-9_/.-]+$/.test(parts[0]) || (parts[1] !== undefined && !/^[A-Za-z0-9_]+$/.test(parts[1]))) {
    throw new HttpError(
      400,
      "BadConvexFunctionIdentifier",
      `${path} is not a valid path to a Convex function. Function paths are of the form \`module:function\`.`,
    );
  }
  const module = parts[0].replace(/\.js$/, "");
  const name = parts[1] ?? "default";
  return { module, name, udfPath: `${module}:${name}` };
}

function decodeJwtClaims(token) {
  const parts = token.split(".");
  if (parts.length !== 3) throw new HttpError(401, "InvalidAuthHeader", "Could not parse JWT payload");
  let claims;
  try {
    claims = JSON.parse(Buffer.from(parts[1], "base64url").toString("utf8"));
  } catch {
    throw new HttpError(401, "InvalidAuthHeader", "Could not parse JWT payload");
  }
  if (typeof claims.sub !== "string" || typeof claims.iss !== "string") {
    throw new HttpError(401, "InvalidAuthHeader", "Missing required claims sub and iss");
  }
  const camel = (k) => k.replace(/_([a-z])/g, (_, c) => c.toUpperCase());
  const identity = { subject: claims.sub, issuer: claims.iss, tokenIdentifier: `${claims.iss}|${claims.sub}` };
  for (const [k, v] of Object.entries(claims)) {
    if (!["sub", "iss", "aud", "exp", "iat", "nbf"].includes(k)) identity[camel(k)] = v;
  }
  return identity;
}

/** `{admin: boolean, identity?}` from the Authorization header; a wrong deploy key is a 403. */
function authenticate(req) {
  const header = req.headers.authorization;
  if (header === undefined) return { admin: false };
  const m = /^convex\s+(.*)$/i.exec(header);
  if (m !== null) {
    if (m[1] !== deployKey) {
      throw new HttpError(
        403,
        "BadDeployKey",
        "The provided deploy key was invalid for deployment 'local'. Double check that the environment this key was generated for matches the desired deployment.",
      );
    }
    return { admin: true };
  }
  const b = /^bearer\s+(.*)$/i.exec(header);
  if (b !== null) return { admin: false, identity: decodeJwtClaims(b[1]) };
  throw new HttpError(401, "InvalidAuthHeader", "Authorization header must be `Bearer <token>` or `Convex <key>`");
}

const KIND_NAMES = { query: "Query", mutation: "Mutation", action: "Action" };

function kindOf(func) {
  if (func.isQuery) return "query";
  if (func.isMutation) return "mutation";
  if (func.isAction) return "action";
  return undefined;
}

function functionError(message) {
  return { status: "error", errorMessage: message };
}

function requestId() {
  return randomBytes(8).toString("hex");
}

/** Runs one function call and returns the envelope (always HTTP 200 once the path is valid). */
async function call(t, auth, { path, args, format, expected }) {
  const fmt = parseFormat(format);
  const { module, name, udfPath } = parsePath(path);
  if (args === undefined) throw new HttpError(400, "BadJsonBody", "Failed to deserialize body: missing field `args`");
  if (Array.isArray(args)) {
    if (args.length !== 1) throw new HttpError(400, "BadJsonBody", "args must be an object or [object]");
    args = args[0];
  }
  if (args === null || typeof args !== "object") {
    throw new HttpError(400, "BadJsonBody", "args must be an object");
  }
  const load = moduleByPath[module];
  const func = load === undefined ? undefined : (await load())[name];
  const kind = func === undefined ? undefined : kindOf(func);
  if (kind === undefined || (func.isInternal && !auth.admin)) {
    return functionError(`Could not find public function for '${udfPath}'.`);
  }
  if (expected !== undefined && kind !== expected) {
    return functionError(
      `Trying to execute ${module}.js:${name} as ${KIND_NAMES[expected]}, but it is defined as ${KIND_NAMES[kind]}.`,
    );
  }
  let decoded;
  try {
    decoded = jsonToConvex(args);
  } catch (e) {
    throw new HttpError(400, "BadJsonBody", String(e?.message ?? e));
  }
  const runner = auth.identity !== undefined ? t.withIdentity(auth.identity) : t;
  const ref = makeFunctionReference(udfPath);
  try {
    const value = await runner[kind](ref, decoded);
    return { status: "success", value: exportValue(value, fmt) };
  } catch (e) {
    const id = requestId();
    const errName = e?.name ?? "Error";
    let text = String(e?.message ?? e);
    // convex-test words validation failures differently; the backend's prefix lets clients tell
    // them apart from a function's own errors.
    if (/validator/i.test(text) && !text.startsWith("ArgumentValidationError")) {
      text = `ArgumentValidationError: ${text}`;
    }
    console.error(`[${udfPath}] ${errName}: ${e?.stack ?? text}`);
    const envelope = { status: "error", errorMessage: `[Request ID: ${id}] Server Error\nUncaught ${errName}: ${text}\n` };
    if (e !== null && typeof e === "object" && Symbol.for("ConvexError") in e) {
      envelope.errorData = exportValue(e.data, fmt);
    }
    return envelope;
  }
}

async function readJson(req) {
  const type = req.headers["content-type"] ?? "";
  if (!type.toLowerCase().startsWith("application/json")) {
    throw new HttpError(400, "BadJsonBody", "Expected request with `Content-Type: application/json`");
  }
  const chunks = [];
  let size = 0;
  for await (const c of req) {
    size += c.length;
    if (size > 16 * 1024 * 1024) throw new HttpError(413, "RequestTooLarge", "body larger than 16 MiB");
    chunks.push(c);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString("utf8"));
  } catch (e) {
    throw new HttpError(400, "BadJsonBody", `Failed to parse JSON body: ${e.message}`);
  }
}

// ---- Routes ----

async function route(req, res) {
  const url = new URL(req.url, "http://localhost");
  let path = url.pathname;
  let name = "default";
  const scoped = /^\/i\/([A-Za-z0-9_-]+)(\/.*)$/.exec(path);
  if (scoped !== null) {
    name = scoped[1];
    path = scoped[2];
  }
  if (req.method === "GET" && path === "/version") {
    return send(res, 200, "ari-convex-test-server convex-test@0.0.60", "text/plain");
  }
  if (req.method === "POST" && path === "/_reset") {
    deployments.delete(name);
    stats.delete(name);
    return send(res, 200, { status: "reset", deployment: name });
  }
  if (req.method === "GET" && path === "/_stats") {
    return send(res, 200, { calls: Object.fromEntries(stats.get(name) ?? new Map()) });
  }
  if (req.method === "POST" && path === "/_outage") {
    const body = await readJson(req);
    if (body.down === true) down.add(name);
    else down.delete(name);
    return send(res, 200, { down: down.has(name) });
  }
  if (down.has(name) && path.startsWith("/api/")) {
    throw new HttpError(503, "ServiceUnavailable", `deployment ${name} is down (test outage)`);
  }
  const auth = authenticate(req);
  const t = deployment(name);
  if (req.method === "GET" && path === "/api/query") {
    let args;
    try {
      args = JSON.parse(url.searchParams.get("args") ?? "{}");
    } catch (e) {
      throw new HttpError(400, "BadJsonBody", `Failed to parse args: ${e.message}`);
    }
    const body = { path: url.searchParams.get("path"), args, format: url.searchParams.get("format") ?? undefined };
    countCall(name, String(body.path));
    return send(res, 200, await call(t, auth, { ...body, expected: "query" }));
  }
  if (req.method !== "POST") throw new HttpError(404, "NotFound", `No route for ${req.method} ${path}`);
  const kinds = { "/api/query": "query", "/api/mutation": "mutation", "/api/action": "action", "/api/function": undefined };
  if (path in kinds) {
    const body = await readJson(req);
    countCall(name, String(body.path));
    const envelope = await call(t, auth, { path: body.path, args: body.args, format: body.format, expected: kinds[path] });
    // Also per outcome (`turns:begin=>claimed`, `turns:begin=>idle`, ...) for round-trip tests.
    const status = envelope.status === "success" ? envelope.value?.status : undefined;
    if (typeof status === "string") countCall(name, `${body.path}=>${status}`);
    return send(res, 200, envelope);
  }
  if (path.startsWith("/api/run/")) {
    const segments = path.slice("/api/run/".length).split("/").filter((s) => s !== "").map(decodeURIComponent);
    if (segments.length < 2) throw new HttpError(400, "MissingIdentifier", "Expected /api/run/{module}/{function}");
    const fn = segments.pop();
    const body = await readJson(req);
    const udf = `${segments.join("/")}:${fn}`;
    countCall(name, udf);
    return send(res, 200, await call(t, auth, { path: udf, args: body.args ?? {}, format: body.format }));
  }
  throw new HttpError(404, "NotFound", `No route for ${req.method} ${path}`);
}

const server = createServer((req, res) => {
  route(req, res).catch((e) => {
    if (e instanceof HttpError) return send(res, e.status, { code: e.code, message: e.message });
    console.error(e?.stack ?? e);
    send(res, 500, { code: "InternalServerError", message: String(e?.message ?? e) });
  });
});

server.listen(port, "127.0.0.1", () => {
  const { port: bound } = server.address();
  process.stdout.write(JSON.stringify({ listening: `http://127.0.0.1:${bound}` }) + "\n");
});

// The parent (a test process) holds our stdin: when it goes away, so do we.
if (process.env.EXIT_WITH_STDIN === "1") {
  process.stdin.on("end", () => process.exit(0));
  process.stdin.on("error", () => process.exit(0));
  process.stdin.resume();
}
// Function logs belong on stderr: stdout carries only the listening line.
console.log = (...a) => console.error(...a);
console.info = (...a) => console.error(...a);
