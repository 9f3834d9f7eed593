/**
 * One `hubsync <name>` command: a module under commands/ exporting `command`. It parses its argv
 * with commandOptions (options.ts), so `--help`, unknown options and bad values answer the same
 * way in every command.
 */
export interface Command {
  run(argv: string[]): Promise<number | void>;
}

/** How main.ts lists a command: its one-line summary, and the module loaded only when it is run. */
export interface CommandEntry {
  summary: string;
  load: () => Promise<{ command: Command }>;
}
