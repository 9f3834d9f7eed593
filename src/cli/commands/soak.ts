import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import type { Command } from "../main.ts";
import { parseSoakArgs } from "../../tools/soak/options.ts";
import { renderMarkdown, renderText } from "../../tools/soak/report.ts";
import { runSoak } from "../../tools/soak/run-soak.ts";

export const command: Command = {
  summary: "two-way changes with faults for a while, then a record-by-record comparison",
  async run(argv) {
    const opts = parseSoakArgs(argv);
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
