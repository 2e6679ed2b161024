// Shared helpers of the client modes: JSON output, named checks and
// assertions, timeouts, connections (disposed on exit) and waiting.

import { createRequire } from "node:module";
import { performance } from "node:perf_hooks";
import { KurrentDBClient } from "@kurrent/kurrentdb-client";

const require = createRequire(import.meta.url);
export const CLIENT_VERSION = require("@kurrent/kurrentdb-client/package.json").version;

/** Each call to the server must finish within this, or the run fails. */
export const STEP_TIMEOUT_MS = 20_000;

// ---------------------------------------------------------------------------
// Output and assertions

/** JSON.stringify with bigints as numbers (or strings when too large). */
export function toJson(value) {
  return JSON.stringify(value, (_key, v) => {
    if (typeof v === "bigint") {
      return v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= -BigInt(Number.MAX_SAFE_INTEGER)
        ? Number(v)
        : v.toString();
    }
    if (v instanceof Uint8Array) {
      return { bytes: v.length };
    }
    return v;
  });
}

export class CheckFailure extends Error {}

export function fail(message, details) {
  const error = new CheckFailure(message);
  error.details = details;
  throw error;
}

export function assert(condition, message, details) {
  if (!condition) fail(message, details);
}

/** The value with object keys sorted, so that comparisons ignore key order. */
function canonical(value) {
  if (Array.isArray(value)) return value.map(canonical);
  if (value && typeof value === "object" && !(value instanceof Uint8Array) && !(value instanceof Date)) {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((key) => [key, canonical(value[key])]),
    );
  }
  return value;
}

export function assertEqual(actual, expected, what) {
  const a = toJson(canonical(actual));
  const e = toJson(canonical(expected));
  if (a !== e) fail(`${what}: expected ${e}, got ${a}`);
}

/** A short description of any error, for messages. */
export function describeError(error) {
  if (error == null) return String(error);
  const parts = [error.constructor?.name ?? "Error"];
  if (error.type) parts.push(`type=${error.type}`);
  if (error.code !== undefined) parts.push(`code=${error.code}`);
  if (error.message) parts.push(`message=${JSON.stringify(error.message)}`);
  return parts.join(" ");
}

/** How many checks passed so far (a live binding: importers see it grow). */
export let passed = 0;

/** Runs one named check; prints `{"check", "ok": true, ...details}` or fails the run. */
export async function check(name, body) {
  const started = performance.now();
  let details;
  try {
    details = await withTimeout(Promise.resolve().then(body), STEP_TIMEOUT_MS * 3, name);
  } catch (error) {
    const message = error instanceof CheckFailure ? error.message : `unexpected error: ${describeError(error)}`;
    const details = error instanceof CheckFailure ? error.details : undefined;
    console.log(toJson({ check: name, ok: false, error: message, details }));
    console.error(`check "${name}" failed: ${message}`);
    if (!(error instanceof CheckFailure) && error?.stack) console.error(error.stack);
    await exit(1);
  }
  passed += 1;
  const ms = Math.round(performance.now() - started);
  console.log(toJson({ check: name, ok: true, ms, ...(details ?? {}) }));
  return details;
}

/** Rejects with a clear message when `promise` does not settle in time. */
export function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new CheckFailure(`${what}: no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Expects `action` to throw; returns the error, failing when it succeeds. */
export async function expectError(action, what) {
  let result;
  try {
    result = await withTimeout(Promise.resolve().then(action), STEP_TIMEOUT_MS, what);
  } catch (error) {
    if (error instanceof CheckFailure) throw error;
    return error;
  }
  fail(`${what}: expected an error, but it succeeded with ${toJson(result)}`);
}

const clients = [];

export function connect(connectionString) {
  const client = KurrentDBClient.connectionString(connectionString);
  clients.push(client);
  return client;
}

export async function exit(code) {
  // Do not wait forever on a server that does not close streams.
  await withTimeout(
    Promise.allSettled(clients.map((c) => c.dispose())),
    5_000,
    "dispose",
  ).catch(() => {});
  process.exit(code);
}

export function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export async function waitUntil(condition, ms, what) {
  const deadline = performance.now() + ms;
  while (!condition()) {
    if (performance.now() > deadline) fail(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(10);
  }
}
