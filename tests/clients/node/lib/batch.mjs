// Appends through both of the client's paths, and proof of which one it
// took. The client appends with `Streams.BatchAppend` when the server lists
// it and the call carries no per-call credentials; with `credentials` it
// uses `Streams.Append`. Which gRPC requests it sent is read from its own
// debug log (namespace `kdb:command:grpc`: one "batchAppend:" line per
// BatchAppend request, one "appendToStream:" line per Append call).

import { createRequire } from "node:module";
import { format } from "node:util";
import { jsonEvent, NO_STREAM, STREAM_EXISTS, ANY, WrongExpectedVersionError } from "@kurrent/kurrentdb-client";
import { STEP_TIMEOUT_MS, assert, assertEqual, check, describeError, expectError, withTimeout } from "./common.mjs";
import { collect } from "./streams.mjs";

const require = createRequire(import.meta.url);
// The `debug` module instance the client itself loads.
const createDebug = createRequire(require.resolve("@kurrent/kurrentdb-client"))("debug");

/** Any per-call credentials make the client use Append; a node without
 * users accepts them. (Over `tls=false` the client leaves the header out.) */
export const FORCE_APPEND = { credentials: { username: "admin", password: "changeit" } };

/**
 * Counts the append requests the client sends until `stop()`:
 * `{ batchAppend, append, credentialsDropped }`, the last being how often it
 * left out credentials because the channel has no TLS.
 */
export function recordAppendPaths() {
  const counts = { batchAppend: 0, append: 0, credentialsDropped: 0 };
  const previousNamespaces = createDebug.disable();
  const previousLog = createDebug.log;
  createDebug.enable([previousNamespaces, "kdb:command:grpc", "kdb:connection"].filter(Boolean).join(","));
  createDebug.log = (...args) => {
    const line = format(...args);
    if (line.includes("kdb:command:grpc") && line.includes("batchAppend: ")) counts.batchAppend += 1;
    else if (line.includes("kdb:command:grpc") && line.includes("appendToStream: ")) counts.append += 1;
    else if (line.includes("Credentials are unsupported in insecure mode")) counts.credentialsDropped += 1;
    // Whoever asked for the client's log still gets it.
    if (previousNamespaces) previousLog.apply(createDebug, args);
  };
  return {
    counts,
    stop() {
      createDebug.log = previousLog;
      createDebug.disable();
      if (previousNamespaces) createDebug.enable(previousNamespaces);
      return { ...counts };
    },
  };
}

/** Runs `body` and returns its result with the append requests it caused. */
async function withPaths(body) {
  const recorder = recordAppendPaths();
  try {
    const result = await body();
    return { result, paths: recorder.stop() };
  } catch (error) {
    recorder.stop();
    throw error;
  }
}

function numbered(kind, n, padding = 0) {
  return jsonEvent({ type: kind, data: { n, padding: "p".repeat(padding) } });
}

/** The stream holds exactly `events`, in order. */
async function assertStream(client, stream, events, what) {
  const read = await collect(client.readStream(stream), `read ${stream}`);
  assertEqual(read.length, events.length, `${what}: number of events`);
  read.forEach((resolved, i) => {
    assertEqual(resolved.event?.id, events[i].id, `${what}: id of event ${i}`);
    assertEqual(resolved.event?.revision, BigInt(i), `${what}: revision of event ${i}`);
    assertEqual(resolved.event?.data, events[i].data, `${what}: data of event ${i}`);
  });
}

/** Appends with every expected-state kind, then wrong ones, through the
 * path `options` select; returns what the e2e test checks. */
async function appendWithEveryState(client, stream, options) {
  const events = [];
  const append = async (batch, streamState, what) => {
    const result = await withTimeout(client.appendToStream(stream, batch, { streamState, ...options }), STEP_TIMEOUT_MS, what);
    events.push(...batch);
    return result;
  };
  const first = await append([numbered("Step", 0), numbered("Step", 1), numbered("Step", 2)], NO_STREAM, "append with NO_STREAM");
  assertEqual(first.nextExpectedRevision, 2n, "revision after NO_STREAM");
  assert(first.position, "a position after NO_STREAM");
  const second = await append([numbered("Step", 3), numbered("Step", 4)], 2n, "append at revision 2");
  assertEqual(second.nextExpectedRevision, 4n, "revision after revision 2");
  assert(second.position.commit > first.position.commit, `positions grow: ${second.position.commit} after ${first.position.commit}`);
  const third = await append([numbered("Step", 5)], STREAM_EXISTS, "append with STREAM_EXISTS");
  assertEqual(third.nextExpectedRevision, 5n, "revision after STREAM_EXISTS");
  const fourth = await append([numbered("Step", 6), numbered("Step", 7)], ANY, "append with ANY");
  assertEqual(fourth.nextExpectedRevision, 7n, "revision after ANY");

  const wrong = [
    [0n, 0n, 7n],
    [NO_STREAM, "no_stream", 7n],
  ];
  for (const [state, expectedState, actualState] of wrong) {
    const error = await expectError(
      () => client.appendToStream(stream, numbered("Wrong", 99), { streamState: state, ...options }),
      `append expecting ${state} to a stream at revision 7`,
    );
    assert(error instanceof WrongExpectedVersionError, `expected WrongExpectedVersionError, got ${describeError(error)}`);
    assertEqual(error.streamName, stream, "streamName");
    assertEqual(error.expectedState, expectedState, "expectedState");
    assertEqual(error.actualState, actualState, "actualState");
  }
  const missing = `${stream}-missing`;
  const error = await expectError(
    () => client.appendToStream(missing, numbered("Wrong", 99), { streamState: STREAM_EXISTS, ...options }),
    "append expecting STREAM_EXISTS to a missing stream",
  );
  assert(error instanceof WrongExpectedVersionError, `expected WrongExpectedVersionError, got ${describeError(error)}`);
  assertEqual(error.actualState, "no_stream", "actualState of a missing stream");
  await assertStream(client, stream, events, stream);
  return { appends: 4, refused: 3, events: events.length };
}

export async function runBatchChecks(client, token) {
  await check("batch-append-expected-states", async () => {
    const { result, paths } = await withPaths(() => appendWithEveryState(client, `client-batch-${token}`, {}));
    assertEqual(paths.append, 0, "Append calls while BatchAppend is listed");
    // One request per append: each fits in one chunk.
    assertEqual(paths.batchAppend, 7, "BatchAppend requests (4 appends, 3 refused)");
    return { ...result, paths };
  });

  await check("batch-append-chunked", async () => {
    const stream = `client-batch-chunked-${token}`;
    // 100 events of about 1 KiB in requests of at most 16 KiB.
    const events = Array.from({ length: 100 }, (_, n) => numbered("Chunked", n, 1000));
    const { result, paths } = await withPaths(() =>
      withTimeout(
        client.appendToStream(stream, events, { streamState: NO_STREAM, batchAppendSize: 16 * 1024 }),
        STEP_TIMEOUT_MS,
        "a chunked append",
      ),
    );
    assertEqual(result.nextExpectedRevision, 99n, "revision after the chunked append");
    assertEqual(paths.append, 0, "Append calls");
    assert(paths.batchAppend >= 6, `the client split the append into ${paths.batchAppend} requests, expected at least 6`);
    await assertStream(client, stream, events, "the chunked stream");
    return { events: events.length, paths };
  });

  await check("append-path-with-credentials", async () => {
    const { result, paths } = await withPaths(async () => {
      const states = await appendWithEveryState(client, `client-append-${token}`, FORCE_APPEND);
      // A large append goes the same way: one call, one request per event.
      const stream = `client-append-large-${token}`;
      const events = Array.from({ length: 100 }, (_, n) => numbered("Large", n, 1000));
      const large = await withTimeout(
        client.appendToStream(stream, events, { streamState: NO_STREAM, batchAppendSize: 16 * 1024, ...FORCE_APPEND }),
        STEP_TIMEOUT_MS,
        "a large append with credentials",
      );
      assertEqual(large.nextExpectedRevision, 99n, "revision after the large append");
      await assertStream(client, stream, events, "the large stream");
      return states;
    });
    assertEqual(paths.batchAppend, 0, "BatchAppend requests when the call carries credentials");
    assertEqual(paths.append, 8, "Append calls (5 appends, 3 refused)");
    return { ...result, paths };
  });
}
