// `bench` mode: append rates through BatchAppend and through Append side by
// side (the same workloads: sequential single-event appends, concurrent
// writers sharing the client, batches of 100), then read and subscription
// catch-up rates, printed as one JSON object.

import { performance } from "node:perf_hooks";
import { jsonEvent, START } from "@kurrent/kurrentdb-client";
import { CLIENT_VERSION, assertEqual, connect, fail, sleep } from "./common.mjs";
import { FORCE_APPEND, recordAppendPaths } from "./batch.mjs";
import { watch } from "./streams.mjs";

/** About 250 bytes of JSON, like the store benchmarks' events. */
function benchEvent(n) {
  return jsonEvent({
    type: "OrderPlaced",
    data: {
      orderId: `order-${n}`,
      customer: { id: `customer-${n % 1000}`, name: "Ada Lovelace", tier: "gold" },
      lines: [
        { sku: "sku-1234", quantity: 2, price: 19.99 },
        { sku: "sku-5678", quantity: 1, price: 89.5 },
      ],
      total: 129.48,
      currency: "EUR",
    },
  });
}

function rate(count, ms) {
  return Math.round((count * 1000) / ms);
}

/** Runs `body` (which returns how many events it handled): wall time, rate,
 * and the CPU time this client process used, per event in microseconds. */
async function timed(body) {
  const cpu = process.cpuUsage();
  const started = performance.now();
  const count = await body();
  const ms = performance.now() - started;
  const used = process.cpuUsage(cpu);
  const clientCpuUsPerEvent = Math.round(((used.user + used.system) / count) * 10) / 10;
  return { count, ms: Math.round(ms), perSecond: rate(count, ms), clientCpuUsPerEvent };
}

/** Append workloads, each run through both of the client's paths. */
async function appendWorkloads(client, run, { single, batches, concurrent, writers }) {
  const results = {};
  for (const [path, options] of Object.entries(PATHS)) {
    const prefix = `bench-${path}-${run}`;
    const sequential = await timed(async () => {
      for (let i = 0; i < single; i++) await client.appendToStream(`${prefix}-single`, benchEvent(i), options);
      return single;
    });
    const parallel = await timed(async () => {
      let next = 0;
      const writer = async (w) => {
        while (next < concurrent) {
          const n = next++;
          await client.appendToStream(`${prefix}-concurrent-${w}`, benchEvent(n), options);
        }
      };
      await Promise.all(Array.from({ length: writers }, (_, w) => writer(w)));
      return concurrent;
    });
    parallel.writers = writers;
    const batched = await timed(async () => {
      for (let b = 0; b < batches; b++) {
        const events = Array.from({ length: 100 }, (_, i) => benchEvent(b * 100 + i));
        await client.appendToStream(`${prefix}-batches`, events, options);
      }
      return batches * 100;
    });
    (results.appendSequential ??= {})[path] = sequential;
    (results.appendConcurrent ??= {})[path] = parallel;
    (results.appendBatchesOf100 ??= {})[path] = batched;
  }
  return results;
}

/** The two append paths: BatchAppend (the client's choice when the server
 * lists it) and Append (forced by per-call credentials). */
const PATHS = { batchAppend: {}, append: FORCE_APPEND };

export async function runBench(connectionString, options) {
  const client = connect(connectionString);
  const run = Date.now().toString(36);
  const single = options.single ?? 2000;
  const batches = options.batches ?? 200;
  const concurrent = options.concurrent ?? 2000;
  const writers = options.writers ?? 16;
  const batchStream = `bench-batchAppend-${run}-batches`;
  // Warm up the connection and the server features lookup, and check that
  // each path is the one its name says.
  const recorder = recordAppendPaths();
  await client.appendToStream(`bench-warmup-${run}`, benchEvent(0), PATHS.batchAppend);
  const afterBatch = { ...recorder.counts };
  await client.appendToStream(`bench-warmup-${run}`, benchEvent(1), PATHS.append);
  const paths = recorder.stop();
  if (afterBatch.batchAppend !== 1 || afterBatch.append !== 0 || paths.append !== 1) {
    fail(`the client did not take the expected paths: ${JSON.stringify({ afterBatch, paths })}`);
  }

  const results = await appendWorkloads(client, run, { single, batches, concurrent, writers });

  const readStreamRuns = [];
  for (let i = 0; i < 3; i++) {
    readStreamRuns.push(
      await timed(async () => {
        let count = 0;
        for await (const _ of client.readStream(batchStream)) count++;
        assertEqual(count, batches * 100, "events read from the batch stream");
        return count;
      }),
    );
  }
  results.readStreamForwards = readStreamRuns;

  const readAllRuns = [];
  for (let i = 0; i < 3; i++) {
    readAllRuns.push(
      await timed(async () => {
        let count = 0;
        for await (const _ of client.readAll({ fromPosition: START })) count++;
        return count;
      }),
    );
  }
  results.readAllForwards = readAllRuns;

  // Catching up with a subscription goes through the client's own gRPC code
  // (reads go through its Rust core).
  const total = readAllRuns[0].count;
  results.subscribeAllCatchUp = await timed(async () => {
    const state = watch(client.subscribeToAll({ fromPosition: START }));
    const deadline = performance.now() + 120_000;
    while (state.events.length < total) {
      if (state.error) throw state.error;
      if (performance.now() > deadline) fail(`subscription caught up with ${state.events.length} of ${total}`);
      await sleep(1);
    }
    await state.subscription.unsubscribe();
    return state.events.length;
  });

  console.log(
    JSON.stringify(
      { client: CLIENT_VERSION, node: process.version, platform: `${process.platform}-${process.arch}`, results },
      null,
      2,
    ),
  );
}
