// Reads and subscriptions: collecting a read, recording what a subscription
// delivers, and waiting for it.

import { performance } from "node:perf_hooks";
import { STEP_TIMEOUT_MS, describeError, fail, sleep, withTimeout } from "./common.mjs";

/** Every event of a read (readStream / readAll), with a deadline. */
export async function collect(iterable, what) {
  const read = async () => {
    const events = [];
    for await (const resolved of iterable) events.push(resolved);
    return events;
  };
  return withTimeout(read(), STEP_TIMEOUT_MS, what);
}

/** Records what a subscription delivers as it arrives. */
export function watch(subscription) {
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
export async function waitForEvents(state, count, what) {
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
export function summarize(resolved) {
  const e = resolved.event;
  if (!e) return { event: null };
  return { stream: e.streamId, revision: e.revision, type: e.type, id: e.id };
}
