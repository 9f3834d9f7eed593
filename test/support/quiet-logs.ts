import { Writable } from "node:stream";
import { pino } from "pino";

/**
 * Runs in every test file before it is imported (vitest setupFiles). The product logger writes
 * its JSON lines straight to file descriptor 2 (src/core/log.ts), past vitest, so an in-process
 * worker would print every line of every passing test. Here the loggers built in this process,
 * those of the task files graphile-worker loads with Node's own import() included (they share this
 * one copy of pino), write through console.error instead: vitest keeps those lines with the test
 * that was running and, with `silent: "passed-only"` (vitest.config.ts), prints them only when that
 * test fails. Child processes (`hubsync worker` and the like) are not touched: their output goes
 * where the test sends it.
 */
const original = pino.destination;
const viaConsole = () =>
  new Writable({
    write(chunk, _encoding, done) {
      console.error(String(chunk).trimEnd());
      done();
    },
  });

(pino as { destination: unknown }).destination = (dest?: number | string | { fd?: number }) => {
  const fd = typeof dest === "object" && dest !== null ? dest.fd : dest;
  return fd === 1 || fd === 2 ? viaConsole() : original(dest as Parameters<typeof original>[0]);
};
