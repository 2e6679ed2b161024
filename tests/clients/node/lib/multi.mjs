// Multi-stream appends (`multiStreamAppend`, the server's AppendSession):
// one atomic append to several streams with their revisions, a wrong
// expectation that writes nothing, and the events read back with their
// metadata. Part of the `check` mode.

import { jsonEvent, NO_STREAM, STREAM_EXISTS, ANY, WrongExpectedVersionError } from "@kurrent/kurrentdb-client";
import {
  STEP_TIMEOUT_MS,
  assert,
  assertEqual,
  check,
  describeError,
  expectError,
  toJson,
  withTimeout,
} from "./common.mjs";
import { collect } from "./streams.mjs";

/** The revisions of a multi-stream append's answer, by stream. */
function revisions(result) {
  return Object.fromEntries(result.responses.map((r) => [r.streamName, r.revision]));
}

export async function runMultiChecks(client, token) {
  const carts = `client-multi-carts-${token}`;
  const stock = `client-multi-stock-${token}`;
  const audit = `client-multi-audit-${token}`;
  const written = { [carts]: [], [stock]: [], [audit]: [] };
  let lastPosition;

  await check("multi-append-supported", async () => {
    const features = await withTimeout(client.capabilities, STEP_TIMEOUT_MS, "ServerFeatures.GetSupportedMethods");
    const appendSession = features.supports({ path: "/kurrentdb.protocol.v2.streams.StreamsService/AppendSession" });
    const appendRecords = features.supports({ path: "/kurrentdb.protocol.v2.streams.StreamsService/AppendRecords" });
    assert(appendSession, "the server does not list StreamsService.AppendSession");
    assert(!appendRecords, "the server lists StreamsService.AppendRecords, which it does not serve");
    return { appendSession, appendRecords };
  });

  await check("multi-append-streams", async () => {
    const cartEvents = [
      jsonEvent({ type: "ItemAdded", data: { sku: "A-1", qty: 2 }, metadata: { tenant: "acme", source: "web" } }),
      jsonEvent({ type: "ItemAdded", data: { sku: "B-7", qty: 1 } }),
    ];
    const stockEvents = [jsonEvent({ type: "StockReserved", data: { sku: "A-1", qty: 2 }, metadata: { tenant: "acme" } })];
    const first = await withTimeout(
      client.multiStreamAppend([
        { streamName: carts, expectedState: NO_STREAM, events: cartEvents },
        { streamName: stock, expectedState: ANY, events: stockEvents },
      ]),
      STEP_TIMEOUT_MS,
      "multiStreamAppend to two new streams",
    );
    assertEqual(revisions(first), { [carts]: 1n, [stock]: 0n }, "revisions after the first append");
    assert(first.position > 0n, `a position: ${toJson(first)}`);
    written[carts].push(...cartEvents);
    written[stock].push(...stockEvents);

    const more = [jsonEvent({ type: "CheckedOut", data: { total: 30 } })];
    const restock = [jsonEvent({ type: "StockReserved", data: { sku: "B-7", qty: 1 } })];
    const audited = [jsonEvent({ type: "Audited", data: { by: "client" } })];
    const second = await withTimeout(
      client.multiStreamAppend([
        { streamName: carts, expectedState: 1n, events: more },
        { streamName: stock, expectedState: STREAM_EXISTS, events: restock },
        { streamName: audit, expectedState: NO_STREAM, events: audited },
      ]),
      STEP_TIMEOUT_MS,
      "multiStreamAppend with a revision, STREAM_EXISTS and NO_STREAM",
    );
    assertEqual(revisions(second), { [carts]: 2n, [stock]: 1n, [audit]: 0n }, "revisions after the second append");
    assert(second.position > first.position, `positions grow: ${second.position} after ${first.position}`);
    written[carts].push(...more);
    written[stock].push(...restock);
    written[audit].push(...audited);
    lastPosition = second.position;
    return { first: revisions(first), second: revisions(second), position: second.position };
  });

  await check("multi-append-wrong-expectation", async () => {
    const error = await expectError(
      () =>
        client.multiStreamAppend([
          { streamName: audit, expectedState: 0n, events: [jsonEvent({ type: "Audited", data: { by: "nobody" } })] },
          { streamName: carts, expectedState: 0n, events: [jsonEvent({ type: "ItemAdded", data: { sku: "Z" } })] },
        ]),
      "multiStreamAppend with revision 0 for a stream at revision 2",
    );
    assert(error instanceof WrongExpectedVersionError, `expected WrongExpectedVersionError, got ${describeError(error)}`);
    assertEqual(error.streamName, carts, "streamName");
    assertEqual(error.expectedState, 0n, "expectedState");
    assertEqual(error.actualState, 2n, "actualState");
    for (const stream of [audit, carts]) {
      const events = await collect(client.readStream(stream), `read ${stream} after the refused append`);
      assertEqual(events.length, written[stream].length, `events of ${stream}: nothing was written`);
    }
    return { streamName: error.streamName, expectedState: error.expectedState, actualState: error.actualState };
  });

  await check("multi-append-read-back", async () => {
    let last = 0n;
    for (const stream of [carts, stock, audit]) {
      const events = await collect(client.readStream(stream), `read ${stream}`);
      assertEqual(events.length, written[stream].length, `events of ${stream}`);
      events.forEach((resolved, i) => {
        const e = resolved.event;
        const sent = written[stream][i];
        const at = `${stream}, event ${i}`;
        assertEqual(e.revision, BigInt(i), `${at}: revision`);
        assertEqual(e.id, sent.id, `${at}: id`);
        assertEqual(e.type, sent.type, `${at}: type`);
        assertEqual(e.isJson, true, `${at}: isJson`);
        assertEqual(e.data, sent.data, `${at}: data`);
        if (sent.metadata !== undefined) assertEqual(e.metadata, sent.metadata, `${at}: metadata`);
        if (e.position.commit > last) last = e.position.commit;
      });
    }
    assertEqual(last, lastPosition, "the last append's position is its last event's");
    return { streams: 3, events: Object.values(written).flat().length };
  });
}
