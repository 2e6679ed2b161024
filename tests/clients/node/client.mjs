// Drives the official KurrentDB Node.js client (@kurrent/kurrentdb-client)
// against a KurrentDB gRPC endpoint, such as `connectors serve --grpc-listen`.
//
//   node client.mjs check <connection-string> <token>
//       Appends (through BatchAppend, and through Append by passing per-call
//       credentials), reads, subscriptions, metadata, delete and tombstone. Prints
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
//
// This file parses the command line and dispatches; the modes live in
// lib/check.mjs (with lib/batch.mjs), lib/auth.mjs and lib/bench.mjs, their
// shared helpers in lib/common.mjs and lib/streams.mjs.

import { describeError, exit, toJson } from "./lib/common.mjs";
import { runCheck } from "./lib/check.mjs";
import { runAuth } from "./lib/auth.mjs";
import { runBench } from "./lib/bench.mjs";

/** The whole run must finish within this. */
const RUN_TIMEOUT_MS = Number(process.env.CLIENT_RUN_TIMEOUT_MS ?? 300_000);

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
