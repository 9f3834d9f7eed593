import type { Command } from "../main.ts";

export const command: Command = {
  summary: "push",
  async run() {
    throw new Error("hubsync push: not built yet");
  },
};
