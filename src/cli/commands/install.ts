import type { Command } from "../main.ts";

export const command: Command = {
  summary: "install",
  async run() {
    throw new Error("hubsync install: not built yet");
  },
};
