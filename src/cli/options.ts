import { parseArgs, type ParseArgsOptionsConfig } from "node:util";
import type { z } from "zod";

export interface CommandOptionsExtra {
  /** How many positional arguments the command takes (default none). */
  positionals?: number;
  /** Values used for flags not given on the command line (e.g. read from the environment), checked by the same schema. */
  fallbacks?: Record<string, unknown>;
}

/**
 * The one options parser of every command: argv is parsed with parseArgs, then checked with the
 * command's zod schema. `--help` prints the usage (exit 0); an unknown option, a missing value or a
 * bad one prints one line naming the option, then the usage (exit 2). Returns the options and the
 * positional arguments, or `{ exit }` for the command to return.
 */
export function commandOptions<S extends z.ZodType>(
  command: string,
  argv: string[],
  flags: ParseArgsOptionsConfig,
  schema: S,
  usage: string,
  extra: CommandOptionsExtra = {},
): { options: z.infer<S>; positionals: string[] } | { exit: number } {
  const refuse = (problem: string) => {
    process.stderr.write(`hubsync ${command}: ${problem}\n${usage}\n`);
    return { exit: 2 };
  };
  let parsedArgs;
  try {
    parsedArgs = parseArgs({
      args: argv,
      options: { ...flags, help: { type: "boolean", short: "h" } },
      strict: true,
      allowPositionals: true,
    });
  } catch (err) {
    // parseArgs names the option in its own words ("Unknown option '--x'", "Option '--port <value>' argument missing")
    return refuse(firstSentence(err instanceof Error ? err.message : String(err)));
  }
  const { values, positionals } = parsedArgs;
  if (values.help) {
    process.stdout.write(`${usage}\n`);
    return { exit: 0 };
  }
  const max = extra.positionals ?? 0;
  if (positionals.length > max) {
    return refuse(max === 0 ? `unexpected argument '${positionals[0]}'` : `at most ${max} argument(s), got ${positionals.length}: ${positionals.join(" ")}`);
  }
  const { help: _help, ...given } = values;
  const defined = Object.fromEntries(Object.entries(given).filter(([, v]) => v !== undefined));
  const parsed = schema.safeParse({ ...extra.fallbacks, ...defined });
  if (!parsed.success) return refuse(parsed.error.issues.map((i) => `--${i.path.join(".")}: ${i.message}`).join("; "));
  return { options: parsed.data, positionals };
}

function firstSentence(message: string): string {
  return message.split(/\.\s|\n/)[0]!.trim();
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
