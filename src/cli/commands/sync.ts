import type { Command } from "../main.ts";

export const command: Command = {
  summary: "sync",
  async run() {
    throw new Error("hubsync sync: not built yet");
  },
};
