import type { Command } from "../main.ts";

export const command: Command = {
  summary: "status",
  async run() {
    throw new Error("hubsync status: not built yet");
  },
};
