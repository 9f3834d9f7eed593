import { z } from "zod";
import { readEnv, requireDatabaseUrl } from "../../core/config.ts";
import { createPool } from "../../core/db/pool.ts";
import type { Command } from "../command.ts";
import { commandOptions } from "../options.ts";

const USAGE = `usage: hubsync refresh [--timeout SECONDS] <object> <id>...

Reads these records (HubSpot ids) and their associations from HubSpot now, ahead of every other
job, and waits until the worker has written them: select hubsync.refresh(object, ids) and wait.
Ids HubSpot no longer has are removed from the table (or marked, per on_archive).
  --timeout S   give up waiting after S seconds (default 60); the request stays queued
  object        the object type, e.g. contacts
  id...         record ids, e.g. 123 456 (at most 1,000)`;

const Options = z.object({ timeout: z.coerce.number().positive("must be a positive number of seconds").default(60) });

const Request = z.object({
  done_at: z.date().nullable(),
  error: z.string().nullable(),
  result: z.record(z.string(), z.unknown()).nullable(),
});

/** "2 inserted, 1 updated, 1 removed": what a finished request changed, the nonzero counts only. */
function describeResult(result: Record<string, unknown> | null): string {
  const n = (k: string) => (typeof result?.[k] === "number" ? (result[k] as number) : 0);
  const parts = [
    [n("inserted"), "inserted"],
    [n("updated"), "updated"],
    [n("unchanged"), "already current"],
    [n("archived") + n("gone"), "removed (no longer in HubSpot)"],
    [n("associations"), "association rows changed"],
  ]
    .filter(([count]) => (count as number) > 0)
    .map(([count, what]) => `${count} ${what}`);
  return parts.length ? parts.join(", ") : "nothing to change";
}

export const command: Command = {
  async run(argv) {
    const parsed = commandOptions("refresh", argv, { timeout: { type: "string" } }, Options, USAGE, { positionals: Infinity });
    if ("exit" in parsed) return parsed.exit;
    const [objectType, ...ids] = parsed.positionals;
    if (!objectType || ids.length === 0) {
      process.stderr.write(`hubsync refresh: name the object type and at least one record id\n${USAGE}\n`);
      return 2;
    }
    const pool = createPool(requireDatabaseUrl(readEnv()), { applicationName: "hubsync refresh" });
    try {
      let request: number;
      try {
        const { rows } = await pool.query<{ request: string }>(`select hubsync.refresh($1, $2::text[]) as request`, [objectType, ids]);
        request = Number(rows[0]!.request);
      } catch (err) {
        // the SQL API's refusals carry a hint that says what to do instead
        const hint = (err as { hint?: unknown }).hint;
        if (typeof hint === "string" && err instanceof Error) throw new Error(`${err.message}\n${hint}`);
        throw err;
      }
      const started = Date.now();
      const deadline = started + parsed.options.timeout * 1000;
      let lastError: string | null = null;
      for (;;) {
        const { rows } = await pool.query(`select done_at, error, result from hubsync.refresh_requests where id = $1`, [request]);
        const r = Request.parse(rows[0]);
        if (r.done_at) {
          if (r.error) {
            process.stderr.write(`hubsync refresh: ${objectType}: ${r.error}\n`);
            return 1;
          }
          process.stdout.write(`${objectType}: ${ids.length} record(s) read in ${((Date.now() - started) / 1000).toFixed(1)} s: ${describeResult(r.result)}\n`);
          return 0;
        }
        lastError = r.error;
        if (Date.now() > deadline) {
          process.stderr.write(
            `hubsync refresh: not done after ${parsed.options.timeout} s (request ${request} in hubsync.refresh_requests stays queued)` +
              (lastError ? `; the last attempt failed: ${lastError}` : "; is a worker running? (hubsync worker)") +
              "\n",
          );
          return 1;
        }
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    } finally {
      await pool.end();
    }
  },
};
