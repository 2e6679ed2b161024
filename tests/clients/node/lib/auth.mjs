// `auth` mode: against a node that requires basic authentication, reads with
// the right credentials and checks that calls without them are refused.

import { jsonEvent, START, StreamNotFoundError, AccessDeniedError } from "@kurrent/kurrentdb-client";
import {
  CLIENT_VERSION,
  STEP_TIMEOUT_MS,
  CheckFailure,
  assert,
  assertEqual,
  check,
  connect,
  describeError,
  expectError,
  fail,
  passed,
  toJson,
  waitUntil,
  withTimeout,
} from "./common.mjs";
import { collect, watch } from "./streams.mjs";

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

export async function runAuth(connectionString, userPassword, stream, count) {
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
