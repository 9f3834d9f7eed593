import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import type { Command } from "../command.ts";
import { commandOptions } from "../options.ts";
import { SOAK_FLAGS, SoakFlags } from "../../tools/soak/options.ts";
import { renderMarkdown, renderText } from "../../tools/soak/report.ts";
import { runSoak } from "../../tools/soak/run-soak.ts";

const USAGE = `usage: hubsync soak [--minutes 60] [--tier free|pro] [--faults RATE] [--size N] [--rate N] [--webhooks] [--kill-every S]
                   [--latency MS|MIN-MAX] [--index-lag MS] [--settle S] [--progress S] [--out FILE] [--seed N] [--concurrency N]

Runs the whole product (worker, simulator, PostgreSQL) while changes are made on both sides under
HubSpot faults, waits for the copy to settle, then compares it record by record.
  --minutes M      how long changes are made (default 60)
  --tier T         the simulated HubSpot tier whose rate limits apply (default free)
  --faults RATE    share of HubSpot requests that meet a fault, 0 to 0.5 (default 0.02)
  --size N         records in the seeded portal (default 5000)
  --rate N         changes per second, both sides together (default 2)
  --webhooks       HubSpot changes arrive through signed webhooks too
  --kill-every S   SIGKILL the worker every S seconds (default 0: never)
  --latency MS     simulated HubSpot latency per request, MS or MIN-MAX (default 30-80)
  --index-lag MS   how late search sees changes (default 2000)
  --settle S       how long to wait for the copy to settle once the changes stop (default 600)
  --progress S     seconds between progress lines (default 30)
  --out FILE       also write the report as Markdown (and the figures as .json) there
  --seed N         the random seed of the portal and the changes (default 7)
  --concurrency N  worker concurrency (default: HUBSYNC_WORKER_CONCURRENCY's)`;

export const command: Command = {
  async run(argv) {
    const parsed = commandOptions("soak", argv, SOAK_FLAGS, SoakFlags, USAGE);
    if ("exit" in parsed) return parsed.exit;
    const opts = parsed.options;
    // The first Ctrl-C ends the changes early and still settles, compares and reports; a second one quits.
    const stop = new AbortController();
    const onSignal = () => {
      if (stop.signal.aborted) process.exit(130);
      process.stderr.write("stopping the changes; settling and comparing (Ctrl-C again to quit now)\n");
      stop.abort();
    };
    process.on("SIGINT", onSignal);
    let results;
    try {
      results = await runSoak(opts, (m) => process.stderr.write(`${m}\n`), {}, stop.signal);
    } finally {
      process.off("SIGINT", onSignal);
    }
    process.stdout.write(`\n${renderText(results)}\n`);
    if (opts.out) {
      const file = resolve(opts.out);
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file, renderMarkdown(results));
      // The figures as data too, like the bench's results.json.
      const json = file.replace(/(\.md)?$/, ".json");
      writeFileSync(json, JSON.stringify(results, null, 2) + "\n");
      process.stdout.write(`\nwritten: ${file}, ${json}\n`);
    }
    return results.ok ? 0 : 1;
  },
};
