import type { Command } from "../command.ts";
import { commandOptions } from "../options.ts";
import { BENCH_FLAGS, BenchFlags } from "../../tools/bench/options.ts";
import { renderMarkdown, renderText } from "../../tools/bench/report.ts";
import { runBench, writeResults } from "../../tools/bench/run-bench.ts";

const USAGE = `usage: hubsync bench [--quick] [--tiers free,pro] [--records N] [--changes N] [--push-rows N] [--latency MS|MIN-MAX] [--out DIR]
                     [--only tiers,scale,workers] [--scale N] [--workers 1,2,4] [--workers-records N]

Measures hubsync against the HubSpot simulator at real rate limits (backfill, incremental pull,
write-back, the triggers' cost) beside a naive script, and writes results.md and results.json.
  --quick          a smoke run of a minute or two (tier pro, small sizes, into .hubsync/bench)
  --tiers T,T      the simulated HubSpot tiers to run (default free,pro)
  --records N      records of the backfill (default 100000)
  --changes N      changes for the incremental pull (default 10000)
  --push-rows N    rows updated for the write-back (default 10000)
  --latency MS     simulated HubSpot latency per request, MS or MIN-MAX (default 30-80)
  --out DIR        where results.md and results.json go (default bench/)
  --only LIST      run only these parts: tiers (the scenarios above, per tier), scale, workers (default all)
  --scale N        contacts of the scale run on Pro, one worker with its RSS sampled (default 1000000; 0 skips;
                   not run by --quick). The simulator holds them in this process: about 3.3 KB of heap each
  --workers LIST   worker processes per run of the scale-out scenario (default 1,2,4; 0 skips; not run by --quick)
  --workers-records N  records of each scale-out run (default 50000)`;

export const command: Command = {
  async run(argv) {
    const parsed = commandOptions("bench", argv, BENCH_FLAGS, BenchFlags, USAGE);
    if ("exit" in parsed) return parsed.exit;
    const opts = parsed.options;
    const results = await runBench(opts, (m) => process.stderr.write(`${m}\n`));
    const markdown = renderMarkdown(results);
    const files = writeResults(results, opts.outDir, markdown);
    process.stdout.write(`\n${renderText(results)}\n\nwritten: ${files.md}, ${files.json}\n`);
    if (!results.ok) {
      process.stdout.write("bench: a run failed, or lost or duplicated records (see the table)\n");
      return 1;
    }
    return 0;
  },
};
