// `check` mode: appends, reads, subscriptions, metadata, delete and
// tombstone, then appends through both of the client's paths (BatchAppend
// and Append, lib/batch.mjs), one named check each, then a summary line.

import {
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
} from "@kurrent/kurrentdb-client";
import {
  CLIENT_VERSION,
  STEP_TIMEOUT_MS,
  assert,
  assertEqual,
  check,
  connect,
  describeError,
  expectError,
  passed,
  sleep,
  toJson,
  waitUntil,
  withTimeout,
} from "./common.mjs";
import { collect, summarize, waitForEvents, watch } from "./streams.mjs";
import { runBatchChecks } from "./batch.mjs";
import { runMultiChecks } from "./multi.mjs";

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

export async function runCheck(connectionString, token) {
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
    const deadlineDuration = features.supports({ path: "/event_store.client.streams.Streams/BatchAppend" }, "deadline_duration");
    const read = supports("/event_store.client.streams.Streams/Read");
    assert(append, "the server does not list Streams.Append");
    assert(read, "the server does not list Streams.Read");
    assert(batchAppend, "the server does not list Streams.BatchAppend; the client would append with Append");
    assert(deadlineDuration, "the server does not list BatchAppend's deadline_duration feature");
    return { serverVersion: features.serverVersion, append, read, batchAppend, deadlineDuration };
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

  await runBatchChecks(client, token);
  await runMultiChecks(client, token);

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
