import { parseArgs, type ParseArgsOptionsConfig } from "node:util";
import type { z } from "zod";

/**
 * A long-running command's flags: parsed with parseArgs, then checked with the command's zod
 * schema. `--help` prints the usage (exit 0); a bad value prints what is wrong and the usage (exit 2).
 * Returns the options, or `{ exit }` for the command to return.
 */
export function commandOptions<S extends z.ZodType>(
  command: string,
  argv: string[],
  flags: ParseArgsOptionsConfig,
  schema: S,
  usage: string,
): { options: z.infer<S> } | { exit: number } {
  const { values } = parseArgs({ args: argv, options: { ...flags, help: { type: "boolean", short: "h" } }, strict: true });
  if (values.help) {
    process.stdout.write(`${usage}\n`);
    return { exit: 0 };
  }
  const parsed = schema.safeParse(values);
  if (!parsed.success) {
    process.stderr.write(`hubsync ${command}: ${parsed.error.issues.map((i) => `--${i.path.join(".")}: ${i.message}`).join("; ")}\n${usage}\n`);
    return { exit: 2 };
  }
  return { options: parsed.data };
}

/** Resolves at the first SIGINT or SIGTERM (Ctrl-C, a supervisor's stop), with both listeners removed. */
export function untilStopSignal(): Promise<void> {
  return new Promise((resolve) => {
    const stop = () => {
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
      resolve();
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
  });
}
