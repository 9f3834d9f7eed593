import type { Command } from "../main.ts";

export const command: Command = {
  summary: "bench",
  async run() {
    throw new Error("hubsync bench: not built yet");
  },
};
