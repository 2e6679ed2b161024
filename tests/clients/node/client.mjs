// Drives the official KurrentDB Node.js client (@kurrent/kurrentdb-client)
// against a KurrentDB gRPC endpoint, such as `connectors serve --grpc-listen`.
//
//   node client.mjs check <connection-string> <token>
//       Appends, reads, subscriptions, metadata, delete and tombstone. Prints
//       one JSON line per check and a final summary line; exits 1 on the
//       first failure. Leaves the stream `client-orders-<token>` holding the
//       events listed in the summary line (`orders`), in order.
//
//   node client.mjs auth <connection-string> <user:password> <stream> <count>
//       Against a node that requires basic authentication: reads `<stream>`
//       (which must hold `<count>` events) with the right credentials, and
//       checks that calls without them or with a wrong password are refused.
//
//   node client.mjs bench <connection-string> [--single N] [--batches N] [--concurrent N] [--writers N]
//       Append and read rates; prints one JSON object.
//
// The connection string is the client's own, e.g.
// `kurrentdb://127.0.0.1:2113?tls=false`.

import { createRequire } from "node:module";
import { performance } from "node:perf_hooks";
import {
  KurrentDBClient,
  jsonEvent,
  streamNameFilter,
  eventTypeFilter,
  NO_STREAM,
  STREAM_EXISTS,
  ANY,
  START,
  END,
  FORWARDS,
  BACKWARDS,
  WrongExpectedVersionError,
  StreamNotFoundError,
  StreamDeletedError,
  AccessDeniedError,
} from "@kurrent/kurrentdb-client";

const require = createRequire(import.meta.url);
const CLIENT_VERSION = require("@kurrent/kurrentdb-client/package.json").version;

/** Each call to the server must finish within this, or the run fails. */
const STEP_TIMEOUT_MS = 20_000;
/** The whole run must finish within this. */
const RUN_TIMEOUT_MS = Number(process.env.CLIENT_RUN_TIMEOUT_MS ?? 300_000);

// ---------------------------------------------------------------------------
// Output and assertions

/** JSON.stringify with bigints as numbers (or strings when too large). */
function toJson(value) {
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

class CheckFailure extends Error {}

function fail(message, details) {
  const error = new CheckFailure(message);
  error.details = details;
  throw error;
}

function assert(condition, message, details) {
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

function assertEqual(actual, expected, what) {
  const a = toJson(canonical(actual));
  const e = toJson(canonical(expected));
  if (a !== e) fail(`${what}: expected ${e}, got ${a}`);
}

/** A short description of any error, for messages. */
function describeError(error) {
  if (error == null) return String(error);
  const parts = [error.constructor?.name ?? "Error"];
  if (error.type) parts.push(`type=${error.type}`);
  if (error.code !== undefined) parts.push(`code=${error.code}`);
  if (error.message) parts.push(`message=${JSON.stringify(error.message)}`);
  return parts.join(" ");
}

let passed = 0;

/** Runs one named check; prints `{"check", "ok": true, ...details}` or fails the run. */
async function check(name, body) {
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
function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new CheckFailure(`${what}: no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Expects `action` to throw; returns the error, failing when it succeeds. */
async function expectError(action, what) {
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

function connect(connectionString) {
  const client = KurrentDBClient.connectionString(connectionString);
  clients.push(client);
  return client;
}

async function exit(code) {
  // Do not wait forever on a server that does not close streams.
  await withTimeout(
    Promise.allSettled(clients.map((c) => c.dispose())),
    5_000,
    "dispose",
  ).catch(() => {});
  process.exit(code);
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function waitUntil(condition, ms, what) {
  const deadline = performance.now() + ms;
  while (!condition()) {
    if (performance.now() > deadline) fail(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(10);
  }
}

// ---------------------------------------------------------------------------
// Reads and subscriptions

/** Every event of a read (readStream / readAll), with a deadline. */
async function collect(iterable, what) {
  const read = async () => {
    const events = [];
    for await (const resolved of iterable) events.push(resolved);
    return events;
  };
  return withTimeout(read(), STEP_TIMEOUT_MS, what);
}

/** Records what a subscription delivers as it arrives. */
function watch(subscription) {
  const state = {
    subscription,
    events: [],
    checkpoints: [],
    caughtUp: 0,
    confirmed: false,
    error: null,
  };
  subscription.on("data", (resolved) => state.events.push(resolved));
  subscription.on("error", (error) => {
    state.error = error;
  });
  subscription.on("confirmation", () => {
    state.confirmed = true;
  });
  subscription.on("caughtUp", () => {
    state.caughtUp += 1;
  });
  return state;
}

/** Waits until the subscription delivered at least `count` events. */
async function waitForEvents(state, count, what) {
  const deadline = performance.now() + STEP_TIMEOUT_MS;
  while (state.events.length < count) {
    if (state.error) fail(`${what}: the subscription failed: ${describeError(state.error)}`);
    if (performance.now() > deadline) {
      fail(`${what}: got ${state.events.length} of ${count} events within ${STEP_TIMEOUT_MS} ms`, {
        got: state.events.map(summarize),
      });
    }
    await sleep(5);
  }
}

/** The interesting fields of a resolved event, for comparisons and messages. */
function summarize(resolved) {
  const e = resolved.event;
  if (!e) return { event: null };
  return { stream: e.streamId, revision: e.revision, type: e.type, id: e.id };
}

// ---------------------------------------------------------------------------
// check mode

/** The event the check appends as number `n` of the orders stream. */
function orderEvent(token, n) {
  const types = ["OrderPlaced", "OrderPaid", "OrderShipped", "OrderDelivered"];
  return jsonEvent({
    type: types[n % types.length],
    data: { orderId: `order-${token}-${n}`, n, total: 100 + n * 10, currency: "EUR" },
    // Every other event carries metadata.
    metadata: n % 2 === 0 ? { tenant: "acme", n } : undefined,
  });
}

/** Compares read events with the appended ones, in the given order. */
function assertRecorded(read, appended, stream, firstRevision, step, what) {
  assertEqual(read.length, appended.length, `${what}: number of events`);
  read.forEach((resolved, i) => {
    const e = resolved.event;
    const sent = appended[i];
    const at = `${what}, event ${i}`;
    assert(e, `${at}: no event in the resolved event`);
    assertEqual(e.streamId, stream, `${at}: stream`);
    assertEqual(e.revision, BigInt(firstRevision + i * step), `${at}: revision`);
    assertEqual(e.id, sent.id, `${at}: id`);
    assertEqual(e.type, sent.type, `${at}: type`);
    assertEqual(e.isJson, true, `${at}: isJson`);
    assertEqual(e.data, sent.data, `${at}: data`);
    if (sent.metadata !== undefined) assertEqual(e.metadata, sent.metadata, `${at}: metadata`);
    assert(e.created instanceof Date && !Number.isNaN(e.created.getTime()), `${at}: created is not a date: ${e.created}`);
    const skew = Math.abs(Date.now() - e.created.getTime());
    assert(skew < 10 * 60_000, `${at}: created ${e.created.toISOString()} is ${skew} ms away from now`);
  });
}

/** Positions of the events strictly grow, (commit, prepare) in that order. */
function assertPositionsGrow(events, what) {
  let last = { commit: -1n, prepare: -1n };
  for (const resolved of events) {
    const p = resolved.event?.position;
    assert(p, `${what}: an event without a position: ${toJson(summarize(resolved))}`);
    const grows = p.commit > last.commit || (p.commit === last.commit && p.prepare > last.prepare);
    assert(grows, `${what}: position ${toJson(p)} after ${toJson(last)}`);
    last = p;
  }
}

async function runCheck(connectionString, token) {
  const client = connect(connectionString);
  const orders = `client-orders-${token}`;
  const payments = `client-payments-${token}`;
  const noise = `client-noise-${token}`;
  const live = `client-live-${token}`;
  const meta = `client-meta-${token}`;
  const deleted = `client-deleted-${token}`;
  const tombstoned = `client-tombstoned-${token}`;
  const missing = `client-missing-${token}`;

  const appended = []; // every event of `orders`, in revision order
  let lastOrdersPosition;

  await check("server-features", async () => {
    const features = await withTimeout(client.capabilities, STEP_TIMEOUT_MS, "ServerFeatures.GetSupportedMethods");
    const supports = (path) => features.supports({ path });
    const append = supports("/event_store.client.streams.Streams/Append");
    const batchAppend = supports("/event_store.client.streams.Streams/BatchAppend");
    const read = supports("/event_store.client.streams.Streams/Read");
    assert(append, "the server does not list Streams.Append");
    assert(read, "the server does not list Streams.Read");
    assert(!batchAppend, "the server lists Streams.BatchAppend; the client would use it");
    return { serverVersion: features.serverVersion, append, read, batchAppend };
  });

  await check("append-no-stream", async () => {
    const events = [orderEvent(token, 0), orderEvent(token, 1)];
    const result = await withTimeout(
      client.appendToStream(orders, events, { streamState: NO_STREAM }),
      STEP_TIMEOUT_MS,
      "append with NO_STREAM",
    );
    assertEqual(result.success, true, "success");
    assertEqual(result.nextExpectedRevision, 1n, "nextExpectedRevision");
    assert(result.position, "an append result without a position");
    appended.push(...events);
    lastOrdersPosition = result.position;
    return { stream: orders, nextExpectedRevision: result.nextExpectedRevision, position: result.position };
  });

  await check("append-expected-revision", async () => {
    const event = orderEvent(token, 2);
    const result = await withTimeout(
      client.appendToStream(orders, event, { streamState: 1n }),
      STEP_TIMEOUT_MS,
      "append with revision 1",
    );
    assertEqual(result.success, true, "success");
    assertEqual(result.nextExpectedRevision, 2n, "nextExpectedRevision");
    assert(
      result.position && result.position.commit > lastOrdersPosition.commit,
      `positions grow: ${toJson(result.position)} after ${toJson(lastOrdersPosition)}`,
    );
    appended.push(event);
    lastOrdersPosition = result.position;
    return { nextExpectedRevision: result.nextExpectedRevision, position: result.position };
  });

  await check("append-wrong-expected-revision", async () => {
    const error = await expectError(
      () => client.appendToStream(orders, orderEvent(token, 99), { streamState: 0n }),
      "append with revision 0 to a stream at revision 2",
    );
    assert(error instanceof WrongExpectedVersionError, `expected WrongExpectedVersionError, got ${describeError(error)}`);
    assertEqual(error.streamName, orders, "streamName");
    assertEqual(error.expectedState, 0n, "expectedState");
    assertEqual(error.actualState, 2n, "actualState");
    return { expectedState: error.expectedState, actualState: error.actualState };
  });

  await check("append-wrong-no-stream", async () => {
    const error = await expectError(
      () => client.appendToStream(orders, orderEvent(token, 99), { streamState: NO_STREAM }),
      "append with NO_STREAM to an existing stream",
    );
    assert(error instanceof WrongExpectedVersionError, `expected WrongExpectedVersionError, got ${describeError(error)}`);
    assertEqual(error.expectedState, NO_STREAM, "expectedState");
    assertEqual(error.actualState, 2n, "actualState");
    return { expectedState: error.expectedState, actualState: error.actualState };
  });

  await check("append-wrong-stream-exists", async () => {
    const error = await expectError(
      () => client.appendToStream(missing, orderEvent(token, 99), { streamState: STREAM_EXISTS }),
      "append with STREAM_EXISTS to a missing stream",
    );
    assert(error instanceof WrongExpectedVersionError, `expected WrongExpectedVersionError, got ${describeError(error)}`);
    assertEqual(error.expectedState, STREAM_EXISTS, "expectedState");
    assertEqual(error.actualState, NO_STREAM, "actualState");
    return { expectedState: error.expectedState, actualState: error.actualState };
  });

  await check("append-stream-exists-and-any", async () => {
    const third = orderEvent(token, 3);
    const exists = await withTimeout(
      client.appendToStream(orders, third, { streamState: STREAM_EXISTS }),
      STEP_TIMEOUT_MS,
      "append with STREAM_EXISTS",
    );
    assertEqual(exists.nextExpectedRevision, 3n, "nextExpectedRevision after STREAM_EXISTS");
    appended.push(third);
    const rest = [4, 5, 6, 7, 8, 9].map((n) => orderEvent(token, n));
    const any = await withTimeout(
      client.appendToStream(orders, rest, { streamState: ANY }),
      STEP_TIMEOUT_MS,
      "append with ANY",
    );
    assertEqual(any.nextExpectedRevision, 9n, "nextExpectedRevision after ANY");
    appended.push(...rest);
    lastOrdersPosition = any.position;
    return { nextExpectedRevision: any.nextExpectedRevision, events: appended.length };
  });

  await check("read-stream-forwards", async () => {
    const all = await collect(client.readStream(orders, { direction: FORWARDS, fromRevision: START }), "readStream forwards");
    assertRecorded(all, appended, orders, 0, 1, "whole stream");
    const page = await collect(
      client.readStream(orders, { direction: FORWARDS, fromRevision: 3n, maxCount: 4 }),
      "readStream forwards from 3, 4 events",
    );
    assertRecorded(page, appended.slice(3, 7), orders, 3, 1, "from revision 3, max 4");
    return { events: all.length, page: page.map((r) => r.event.revision) };
  });

  await check("read-stream-backwards", async () => {
    const all = await collect(client.readStream(orders, { direction: BACKWARDS, fromRevision: END }), "readStream backwards");
    assertRecorded(all, [...appended].reverse(), orders, appended.length - 1, -1, "whole stream backwards");
    const last3 = await collect(
      client.readStream(orders, { direction: BACKWARDS, fromRevision: END, maxCount: 3 }),
      "readStream backwards from the end, 3 events",
    );
    assertRecorded(last3, appended.slice(-3).reverse(), orders, appended.length - 1, -1, "last 3 backwards");
    const from5 = await collect(
      client.readStream(orders, { direction: BACKWARDS, fromRevision: 5n, maxCount: 2 }),
      "readStream backwards from 5, 2 events",
    );
    assertRecorded(from5, [appended[5], appended[4]], orders, 5, -1, "from revision 5 backwards, max 2");
    return { events: all.length, last3: last3.map((r) => r.event.revision), from5: from5.map((r) => r.event.revision) };
  });

  await check("read-missing-stream", async () => {
    const error = await expectError(() => collect(client.readStream(missing), "readStream of a missing stream"), "read a missing stream");
    assert(error instanceof StreamNotFoundError, `expected StreamNotFoundError, got ${describeError(error)}`);
    return { error: error.type };
  });

  // Events of other streams, for the filters to skip.
  const paymentEvents = [
    jsonEvent({ type: "PaymentReceived", data: { orderId: `order-${token}-0`, amount: 100 } }),
    jsonEvent({ type: "PaymentRefunded", data: { orderId: `order-${token}-0`, amount: 100 } }),
  ];
  let beforePayments;
  await check("append-other-streams", async () => {
    // 40 events nobody's filter matches, then the payments.
    const noiseEvents = Array.from({ length: 40 }, (_, i) => jsonEvent({ type: "NoiseHappened", data: { i } }));
    const noiseResult = await withTimeout(client.appendToStream(noise, noiseEvents), STEP_TIMEOUT_MS, "append noise");
    beforePayments = noiseResult.position;
    for (const event of paymentEvents) {
      await withTimeout(client.appendToStream(payments, event), STEP_TIMEOUT_MS, "append a payment");
    }
    return { noise: noiseEvents.length, payments: paymentEvents.length };
  });

  await check("read-all-forwards", async () => {
    const all = await collect(client.readAll({ direction: FORWARDS, fromPosition: START }), "readAll forwards");
    assertPositionsGrow(all, "$all forwards");
    const ours = all.filter((r) => r.event?.streamId === orders);
    assertRecorded(ours, appended, orders, 0, 1, "orders events in $all");
    const ids = new Set(all.map((r) => r.event?.id));
    for (const e of paymentEvents) assert(ids.has(e.id), `payment ${e.id} missing from $all`);
    return { events: all.length, ours: ours.length };
  });

  await check("read-all-backwards", async () => {
    const all = await collect(client.readAll({ direction: BACKWARDS, fromPosition: END }), "readAll backwards");
    assertPositionsGrow([...all].reverse(), "$all backwards");
    const ours = all.filter((r) => r.event?.streamId === orders);
    assertRecorded(ours, [...appended].reverse(), orders, appended.length - 1, -1, "orders events in $all backwards");
    // The newest events of this run are the two payments.
    const last = await collect(client.readAll({ direction: BACKWARDS, fromPosition: END, maxCount: 10 }), "readAll backwards, 10 events");
    assertEqual(last.length, 10, "events read backwards with maxCount 10");
    const newest = last.filter((r) => r.event?.streamId.endsWith(`-${token}`)).slice(0, 2);
    assertEqual(newest.map((r) => r.event?.id), [paymentEvents[1].id, paymentEvents[0].id], "the newest two events of this run in $all");
    return { events: all.length, ours: ours.length };
  });

  await check("read-all-filtered", async () => {
    const byStream = await collect(
      client.readAll({ fromPosition: START, filter: streamNameFilter({ prefixes: [orders] }) }),
      "readAll with a stream prefix filter",
    );
    assertRecorded(byStream, appended, orders, 0, 1, "readAll filtered by stream prefix");
    const byType = await collect(
      client.readAll({ fromPosition: START, filter: eventTypeFilter({ regex: "^Payment(Received|Refunded)$" }) }),
      "readAll with an event type regex filter",
    );
    const ours = byType.filter((r) => r.event?.streamId === payments);
    assertEqual(ours.map((r) => r.event.id), paymentEvents.map((e) => e.id), "payments in readAll filtered by type");
    assert(
      byType.every((r) => /^Payment(Received|Refunded)$/.test(r.event?.type)),
      `readAll filtered by type returned other types: ${toJson(byType.map(summarize))}`,
    );
    return { byStream: byStream.length, byType: byType.length };
  });

  await check("subscribe-all-stream-prefix-filter", async () => {
    const checkpoints = [];
    const filter = streamNameFilter({
      prefixes: [payments],
      checkpointInterval: 1,
      checkpointReached: (_subscription, position) => {
        checkpoints.push(position);
      },
    });
    const state = watch(client.subscribeToAll({ fromPosition: START, filter }));
    await waitForEvents(state, paymentEvents.length, "catch-up of the stream-prefix subscription");
    const liveEvent = jsonEvent({ type: "PaymentReceived", data: { orderId: `order-${token}-1`, amount: 110 } });
    await withTimeout(client.appendToStream(payments, liveEvent), STEP_TIMEOUT_MS, "append a live payment");
    paymentEvents.push(liveEvent);
    await waitForEvents(state, paymentEvents.length, "live event on the stream-prefix subscription");
    await sleep(300); // nothing else arrives
    await state.subscription.unsubscribe();
    assertEqual(state.events.map((r) => r.event?.id), paymentEvents.map((e) => e.id), "events delivered");
    assertEqual(state.events.map((r) => r.event?.revision), [0n, 1n, 2n], "revisions delivered");
    assertPositionsGrow(state.events, "subscription events");
    assert(checkpoints.length > 0, "no checkpoint while scanning past the 40 filtered-out events");
    for (let i = 1; i < checkpoints.length; i++) {
      assert(checkpoints[i].commit >= checkpoints[i - 1].commit, `checkpoints go backwards: ${toJson(checkpoints)}`);
    }
    return { events: state.events.length, checkpoints: checkpoints.length, caughtUp: state.caughtUp, confirmed: state.confirmed };
  });

  await check("subscribe-all-event-type-filter", async () => {
    // From the position of the last append before the payments: only later
    // events are delivered.
    const filter = eventTypeFilter({ regex: "^Payment(Received|Refunded)$" });
    const state = watch(client.subscribeToAll({ fromPosition: beforePayments, filter }));
    await waitForEvents(state, paymentEvents.length, "catch-up of the event-type subscription");
    const liveEvent = jsonEvent({ type: "PaymentRefunded", data: { orderId: `order-${token}-1`, amount: 110 } });
    await withTimeout(client.appendToStream(payments, liveEvent), STEP_TIMEOUT_MS, "append a live refund");
    paymentEvents.push(liveEvent);
    // An event of another type in the same stream is filtered out.
    await withTimeout(
      client.appendToStream(payments, jsonEvent({ type: "PaymentAudited", data: { ok: true } })),
      STEP_TIMEOUT_MS,
      "append an audit event",
    );
    await waitForEvents(state, paymentEvents.length, "live event on the event-type subscription");
    await sleep(300);
    await state.subscription.unsubscribe();
    assertEqual(state.events.map((r) => r.event?.id), paymentEvents.map((e) => e.id), "events delivered");
    return { events: state.events.length, caughtUp: state.caughtUp };
  });

  await check("subscribe-stream", async () => {
    const state = watch(client.subscribeToStream(orders, { fromRevision: START }));
    await waitForEvents(state, appended.length, "catch-up of the orders stream subscription");
    await sleep(200);
    await state.subscription.unsubscribe();
    assertRecorded(state.events, appended, orders, 0, 1, "stream subscription from the start");

    // A subscription from a revision starts after it.
    const after = watch(client.subscribeToStream(orders, { fromRevision: 4n }));
    await waitForEvents(after, appended.length - 5, "catch-up of the subscription after revision 4");
    await sleep(200);
    await after.subscription.unsubscribe();
    assertRecorded(after.events, appended.slice(5), orders, 5, 1, "stream subscription after revision 4");
    return { fromStart: state.events.length, afterRevision4: after.events.length };
  });

  await check("subscribe-stream-live", async () => {
    // To a stream that does not exist yet, from the start and from the end.
    const fromStart = watch(client.subscribeToStream(live, { fromRevision: START }));
    const fromEnd = watch(client.subscribeToStream(live, { fromRevision: END }));
    await waitUntil(() => fromStart.confirmed && fromEnd.confirmed, STEP_TIMEOUT_MS, "subscription confirmations");
    const events = [jsonEvent({ type: "Ping", data: { n: 0 } }), jsonEvent({ type: "Ping", data: { n: 1 } })];
    await withTimeout(client.appendToStream(live, events[0]), STEP_TIMEOUT_MS, "append live ping 0");
    await withTimeout(client.appendToStream(live, events[1]), STEP_TIMEOUT_MS, "append live ping 1");
    await waitForEvents(fromStart, 2, "live events on the subscription from the start");
    await waitForEvents(fromEnd, 2, "live events on the subscription from the end");
    await sleep(200);
    await fromStart.subscription.unsubscribe();
    await fromEnd.subscription.unsubscribe();
    assertRecorded(fromStart.events, events, live, 0, 1, "live subscription from the start");
    assertRecorded(fromEnd.events, events, live, 0, 1, "live subscription from the end");
    return { events: fromStart.events.length };
  });

  await check("stream-metadata", async () => {
    const none = await withTimeout(client.getStreamMetadata(meta), STEP_TIMEOUT_MS, "getStreamMetadata before any");
    assertEqual(none.metadata, undefined, "metadata of a stream without any");
    await withTimeout(client.appendToStream(meta, jsonEvent({ type: "Noted", data: {} })), STEP_TIMEOUT_MS, "append to meta stream");
    const first = { maxCount: 100, maxAge: 3600, owner: "team-orders" };
    const set1 = await withTimeout(client.setStreamMetadata(meta, first), STEP_TIMEOUT_MS, "setStreamMetadata");
    assertEqual(set1.nextExpectedRevision, 0n, "revision of the first metadata event");
    const got1 = await withTimeout(client.getStreamMetadata(meta), STEP_TIMEOUT_MS, "getStreamMetadata");
    assertEqual(got1.metadata, first, "metadata read back");
    const second = { maxCount: 50, owner: "team-billing", tags: ["a", "b"] };
    const set2 = await withTimeout(client.setStreamMetadata(meta, second), STEP_TIMEOUT_MS, "setStreamMetadata again");
    assertEqual(set2.success, true, "success of the second metadata write");
    const got2 = await withTimeout(client.getStreamMetadata(meta), STEP_TIMEOUT_MS, "getStreamMetadata again");
    assertEqual(got2.metadata, second, "latest metadata read back");
    // KurrentDB would answer revision 1 here; the node keeps only the latest
    // metadata, as the one event of the metadata stream, so it answers 0.
    return { metadata: got2.metadata, revisions: [set1.nextExpectedRevision, set2.nextExpectedRevision] };
  });

  await check("delete-stream", async () => {
    const events = [jsonEvent({ type: "Temp", data: { n: 0 } }), jsonEvent({ type: "Temp", data: { n: 1 } })];
    await withTimeout(client.appendToStream(deleted, events, { streamState: NO_STREAM }), STEP_TIMEOUT_MS, "append to delete");
    const wrong = await expectError(
      () => client.deleteStream(deleted, { expectedRevision: 0n }),
      "delete with revision 0 a stream at revision 1",
    );
    assert(wrong instanceof WrongExpectedVersionError, `expected WrongExpectedVersionError, got ${describeError(wrong)}`);
    // The protocol allows an answer without a position (KurrentDB sends one).
    const result = await withTimeout(client.deleteStream(deleted, { expectedRevision: 1n }), STEP_TIMEOUT_MS, "deleteStream");
    const error = await expectError(() => collect(client.readStream(deleted), "read a deleted stream"), "read a deleted stream");
    assert(error instanceof StreamNotFoundError, `reading a deleted stream: expected StreamNotFoundError, got ${describeError(error)}`);
    // A deleted (not tombstoned) stream can be written again; revisions go on.
    const again = jsonEvent({ type: "Temp", data: { n: 2 } });
    const appendedAgain = await withTimeout(client.appendToStream(deleted, again), STEP_TIMEOUT_MS, "append after delete");
    assertEqual(appendedAgain.nextExpectedRevision, 2n, "revision after recreating a deleted stream");
    const read = await collect(client.readStream(deleted), "read the recreated stream");
    assertRecorded(read, [again], deleted, 2, 1, "recreated stream");
    return { position: result.position ?? null };
  });

  await check("tombstone-stream", async () => {
    await withTimeout(
      client.appendToStream(tombstoned, jsonEvent({ type: "Temp", data: {} })),
      STEP_TIMEOUT_MS,
      "append to tombstone",
    );
    const result = await withTimeout(client.tombstoneStream(tombstoned), STEP_TIMEOUT_MS, "tombstoneStream");
    const readError = await expectError(() => collect(client.readStream(tombstoned), "read a tombstoned stream"), "read a tombstoned stream");
    assert(readError instanceof StreamDeletedError, `reading a tombstoned stream: expected StreamDeletedError, got ${describeError(readError)}`);
    const appendError = await expectError(
      () => client.appendToStream(tombstoned, jsonEvent({ type: "Temp", data: {} })),
      "append to a tombstoned stream",
    );
    assert(appendError instanceof StreamDeletedError, `appending to a tombstoned stream: expected StreamDeletedError, got ${describeError(appendError)}`);
    return { position: result.position ?? null, read: readError.type, append: appendError.type };
  });

  await check("discovery-via-gossip", async () => {
    // `kurrentdb+discover://` makes the client ask Gossip.Read for the leader
    // before its first call.
    const discovering = connect(connectionString.replace(/^(kurrentdb|esdb)(\+discover)?:\/\//, "kurrentdb+discover://"));
    const result = await withTimeout(
      discovering.appendToStream(live, jsonEvent({ type: "Ping", data: { n: 2 } }), { streamState: 1n }),
      STEP_TIMEOUT_MS,
      "append through a discovering client",
    );
    assertEqual(result.nextExpectedRevision, 2n, "nextExpectedRevision");
    return {};
  });

  // The orders stream is left with exactly `appended`.
  const final = await collect(client.readStream(orders), "final read of the orders stream");
  assertRecorded(final, appended, orders, 0, 1, "orders stream at the end");
  console.log(
    toJson({
      check: "summary",
      ok: true,
      passed,
      client: CLIENT_VERSION,
      node: process.version,
      stream: orders,
      orders: appended.map((e, revision) => ({ revision, id: e.id, type: e.type, data: e.data })),
    }),
  );
}

// ---------------------------------------------------------------------------
// auth mode

/** The connection string with `user:password@` in front of the host. */
function withCredentials(connectionString, userPassword) {
  const match = /^([a-z+]+:\/\/)(?:[^@/]*@)?(.*)$/.exec(connectionString);
  if (!match) throw new Error(`not a connection string: ${connectionString}`);
  const [user, password] = userPassword.split(":");
  return `${match[1]}${encodeURIComponent(user)}:${encodeURIComponent(password)}@${match[2]}`;
}

function withoutCredentials(connectionString) {
  return connectionString.replace(/^([a-z+]+:\/\/)[^@/]*@/, "$1");
}

/** Access refused: the client's AccessDeniedError, or the raw gRPC status. */
function isAccessDenied(error) {
  return (
    error instanceof AccessDeniedError ||
    error?.code === 7 || // PERMISSION_DENIED
    error?.code === 16 // UNAUTHENTICATED
  );
}

async function runAuth(connectionString, userPassword, stream, count) {
  const anonymous = connect(withoutCredentials(connectionString));
  const authorized = connect(withCredentials(connectionString, userPassword));
  const wrongPassword = connect(withCredentials(connectionString, `${userPassword.split(":")[0]}:not-the-password`));

  await check("auth-read-with-credentials", async () => {
    const events = await collect(authorized.readStream(stream), "readStream with credentials");
    assertEqual(events.length, count, `events in ${stream}`);
    events.forEach((r, i) => assertEqual(r.event?.revision, BigInt(i), `revision of event ${i}`));
    return { events: events.length };
  });

  await check("auth-read-all-with-credentials", async () => {
    const events = await collect(authorized.readAll({ maxCount: 1000 }), "readAll with credentials");
    assert(events.some((r) => r.event?.streamId === stream), `no event of ${stream} in $all`);
    return { events: events.length };
  });

  await check("auth-missing-stream-with-credentials", async () => {
    const error = await expectError(
      () => collect(authorized.readStream(`${stream}-missing`), "read a missing stream"),
      "read a missing stream with credentials",
    );
    assert(error instanceof StreamNotFoundError, `expected StreamNotFoundError, got ${describeError(error)}`);
    return { error: error.type };
  });

  await check("auth-read-without-credentials", async () => {
    const error = await expectError(() => collect(anonymous.readStream(stream), "read"), "readStream without credentials");
    assert(isAccessDenied(error), `expected access denied, got ${describeError(error)}`);
    return { error: describeError(error) };
  });

  await check("auth-read-wrong-password", async () => {
    const error = await expectError(() => collect(wrongPassword.readStream(stream), "read"), "readStream with a wrong password");
    assert(isAccessDenied(error), `expected access denied, got ${describeError(error)}`);
    return { error: describeError(error) };
  });

  await check("auth-append-without-credentials", async () => {
    const error = await expectError(
      () => anonymous.appendToStream(stream, jsonEvent({ type: "Sneaky", data: {} })),
      "appendToStream without credentials",
    );
    assert(isAccessDenied(error), `expected access denied, got ${describeError(error)}`);
    return { error: describeError(error) };
  });

  await check("auth-subscribe-without-credentials", async () => {
    const state = watch(anonymous.subscribeToStream(stream, { fromRevision: START }));
    await waitUntil(() => state.error || state.events.length > 0, STEP_TIMEOUT_MS, "the subscription to fail");
    assert(state.events.length === 0, "an anonymous subscription received events");
    assert(isAccessDenied(state.error), `expected access denied, got ${describeError(state.error)}`);
    return { error: describeError(state.error) };
  });

  await check("auth-append-with-credentials", async () => {
    // With `tls=false` the client attaches credentials to the calls made by
    // its Rust core (readStream, readAll) but not to the gRPC calls it makes
    // itself (append, delete, subscriptions): its metadata generator returns
    // no `authorization` header on insecure channels, as a KurrentDB node
    // without TLS runs without access control. So the append is refused.
    try {
      await withTimeout(
        authorized.appendToStream(stream, jsonEvent({ type: "Authorized", data: {} })),
        STEP_TIMEOUT_MS,
        "appendToStream with credentials",
      );
    } catch (error) {
      if (error instanceof CheckFailure) throw error;
      assert(isAccessDenied(error), `expected access denied, got ${describeError(error)}`);
      return { sent: "no authorization header (tls=false)", error: describeError(error) };
    }
    fail("the append succeeded although the client sends no credentials over tls=false: the server accepts anonymous appends");
  });

  console.log(toJson({ check: "summary", ok: true, passed, client: CLIENT_VERSION, node: process.version }));
}

// ---------------------------------------------------------------------------
// bench mode

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

async function runBench(connectionString, options) {
  const client = connect(connectionString);
  const run = Date.now().toString(36);
  const single = options.single ?? 2000;
  const batches = options.batches ?? 200;
  const concurrent = options.concurrent ?? 2000;
  const writers = options.writers ?? 16;
  const batchStream = `bench-batches-${run}`;
  const results = {};
  // Warm up the connection and the server features lookup.
  await client.appendToStream(`bench-warmup-${run}`, benchEvent(0));

  results.appendSequential = await timed(async () => {
    const stream = `bench-single-${run}`;
    for (let i = 0; i < single; i++) await client.appendToStream(stream, benchEvent(i));
    return single;
  });

  results.appendConcurrent = await timed(async () => {
    let next = 0;
    const writer = async (w) => {
      while (next < concurrent) {
        const n = next++;
        await client.appendToStream(`bench-concurrent-${run}-${w}`, benchEvent(n));
      }
    };
    await Promise.all(Array.from({ length: writers }, (_, w) => writer(w)));
    return concurrent;
  });
  results.appendConcurrent.writers = writers;

  results.appendBatchesOf100 = await timed(async () => {
    for (let b = 0; b < batches; b++) {
      const events = Array.from({ length: 100 }, (_, i) => benchEvent(b * 100 + i));
      await client.appendToStream(batchStream, events);
    }
    return batches * 100;
  });

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

// ---------------------------------------------------------------------------

function usage(message) {
  if (message) console.error(message);
  console.error(
    [
      "usage:",
      "  node client.mjs check <connection-string> <token>",
      "  node client.mjs auth  <connection-string> <user:password> <stream> <event-count>",
      "  node client.mjs bench <connection-string> [--single N] [--batches N] [--concurrent N] [--writers N]",
    ].join("\n"),
  );
  process.exit(2);
}

function parseFlags(args) {
  const flags = {};
  for (let i = 0; i < args.length; i += 2) {
    const name = args[i]?.replace(/^--/, "");
    const value = Number(args[i + 1]);
    if (!["single", "batches", "concurrent", "writers"].includes(name) || !Number.isInteger(value) || value <= 0) {
      usage(`bad option: ${args[i]} ${args[i + 1] ?? ""}`);
    }
    flags[name] = value;
  }
  return flags;
}

async function main() {
  const [mode, connectionString, ...rest] = process.argv.slice(2);
  if (!mode || !connectionString) usage();
  const overall = setTimeout(() => {
    console.log(toJson({ check: "run", ok: false, error: `the run did not finish within ${RUN_TIMEOUT_MS} ms` }));
    console.error(`the run did not finish within ${RUN_TIMEOUT_MS} ms`);
    process.exit(1);
  }, RUN_TIMEOUT_MS);
  overall.unref();
  switch (mode) {
    case "check": {
      const [token] = rest;
      if (!token || !/^[A-Za-z0-9_-]+$/.test(token)) usage("check needs a token of letters, digits, '-' or '_'");
      await runCheck(connectionString, token);
      break;
    }
    case "auth": {
      const [userPassword, stream, count] = rest;
      if (!userPassword?.includes(":") || !stream || !Number.isInteger(Number(count))) usage("auth needs user:password, a stream and its event count");
      await runAuth(connectionString, userPassword, stream, Number(count));
      break;
    }
    case "bench":
      await runBench(connectionString, parseFlags(rest));
      break;
    default:
      usage(`unknown mode: ${mode}`);
  }
  await exit(0);
}

main().catch(async (error) => {
  console.log(toJson({ check: "run", ok: false, error: describeError(error) }));
  console.error(error?.stack ?? error);
  await exit(1);
});
