import type { Command } from "../main.ts";

export const command: Command = {
  summary: "simulator",
  async run() {
    throw new Error("hubsync simulator: not built yet");
  },
};
