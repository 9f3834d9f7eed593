import type { Command } from "../main.ts";
import { parseBenchArgs } from "../../tools/bench/options.ts";
import { renderMarkdown, renderText } from "../../tools/bench/report.ts";
import { runBench, writeResults } from "../../tools/bench/run-bench.ts";

export const command: Command = {
  summary: "benchmarks against the simulator at real rate limits",
  async run(argv) {
    const opts = parseBenchArgs(argv);
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
