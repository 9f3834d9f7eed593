import type { Command } from "../main.ts";

export const command: Command = {
  summary: "worker",
  async run() {
    throw new Error("hubsync worker: not built yet");
  },
};
