import type { Command } from "../main.ts";

export const command: Command = {
  summary: "the embedded default",
  async run() {
    process.stdout.write("hubsync is installed and set up. The demo arrives with the sync.\n");
    return 0;
  },
};
