// What a KurrentDB user writes today to move events to an HTTP endpoint:
// the official Node.js client's `subscribeToAll` with a stream-prefix
// filter, and `fetch`, written the way the client's documentation shows
// them. The speed benchmark (`cargo bench --bench speed`) runs it against
// the same events and the same receiver as the connectors, side by side.
//
//   node baseline.mjs batch     <connection-string> <stream-prefix> <count> <url>
//   node baseline.mjs per-event <connection-string> <stream-prefix> <count> <url>
//
// batch: collects events into a JSON array and POSTs it when it holds
// 1,000 (or when the <count>th event arrived), awaiting each POST before
// reading on; the request says how many events it carries in
// `esdb-batch-size`, as the connectors' batches do, so one receiver counts
// both. per-event: one POST per event with the event's data as its body,
// awaited before the next (in order, as the connectors' per-event mode).
//
// The clock starts just before `subscribeToAll` (the client connects on
// that first call) and stops when the answer to the POST of the <count>th
// event has been read. Prints one JSON line:
// {"mode", "events", "ms", "perSecond", "client", "node"}.

import { createRequire } from "node:module";
import { performance } from "node:perf_hooks";
import { KurrentDBClient, START, streamNameFilter } from "@kurrent/kurrentdb-client";

const require = createRequire(import.meta.url);
const CLIENT_VERSION = require("@kurrent/kurrentdb-client/package.json").version;

/** The whole run must finish within this. */
const RUN_TIMEOUT_MS = Number(process.env.BASELINE_TIMEOUT_MS ?? 600_000);
const BATCH_SIZE = 1000;

const [mode, connectionString, prefix, countText, url] = process.argv.slice(2);
const count = Number(countText);
if (!["batch", "per-event"].includes(mode) || !connectionString || !prefix || !(count > 0) || !url) {
  console.error("usage: node baseline.mjs batch|per-event <connection-string> <stream-prefix> <count> <url>");
  process.exit(2);
}

setTimeout(() => {
  console.error(`baseline ${mode}: not done within ${RUN_TIMEOUT_MS} ms`);
  process.exit(1);
}, RUN_TIMEOUT_MS).unref();

async function post(body, events) {
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", "esdb-batch-size": String(events) },
    body,
  });
  if (!response.ok) throw new Error(`POST ${url} answered ${response.status}`);
  await response.arrayBuffer();
}

/** The event as the batch's JSON carries it (bigints as numbers). */
function asJson(event) {
  return {
    id: event.id,
    stream: event.streamId,
    revision: Number(event.revision),
    position: Number(event.position?.commit ?? 0),
    type: event.type,
    created: event.created,
    data: event.data,
    metadata: event.metadata,
  };
}

const client = KurrentDBClient.connectionString`${connectionString}`;

const started = performance.now();
const subscription = client.subscribeToAll({
  fromPosition: START,
  filter: streamNameFilter({ prefixes: [prefix] }),
});

let seen = 0;
let batch = [];
for await (const resolvedEvent of subscription) {
  const event = resolvedEvent.event;
  if (!event) continue;
  seen += 1;
  if (mode === "per-event") {
    const response = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(event.data),
    });
    if (!response.ok) throw new Error(`POST ${url} answered ${response.status}`);
    await response.arrayBuffer();
  } else {
    batch.push(asJson(event));
    if (batch.length === BATCH_SIZE || seen === count) {
      await post(JSON.stringify(batch), batch.length);
      batch = [];
    }
  }
  if (seen === count) break;
}
const ms = performance.now() - started;

await subscription.unsubscribe();
await client.dispose();
console.log(
  JSON.stringify({
    mode,
    events: seen,
    ms: Math.round(ms),
    perSecond: Math.round((seen * 1000) / ms),
    client: CLIENT_VERSION,
    node: process.version,
  }),
);
process.exit(0);
