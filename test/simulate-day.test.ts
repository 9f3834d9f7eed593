import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { DEFAULT_CRONTAB } from "../src/core/worker/runner.ts";
import { dayCrontab } from "../src/tools/day/simulate-day.ts";

describe("hubsync simulate-day and the crontab", () => {
  it("knows every task of the repository's crontab, so a day counts every scheduled call", () => {
    const tasks = dayCrontab(DEFAULT_CRONTAB).map((c) => c.task);
    expect(new Set(tasks)).toEqual(
      new Set(["hubsync_pull_all", "hubsync_push", "hubsync_pull_archived", "hubsync_sweep_associations", "hubsync_reconcile", "hubsync_prune", "hubsync_publish", "hubsync_sweep_lists"]),
    );
  });

  it("refuses a crontab naming a task it cannot simulate before it seeds anything", () => {
    const path = join(mkdtempSync(join(tmpdir(), "hubsync-day-")), "crontab");
    writeFileSync(path, `${readFileSync(DEFAULT_CRONTAB, "utf8")}\n*/2 * * * * hubsync_something_new\n`);
    expect(() => dayCrontab(path)).toThrow(/does not know the crontab's task\(s\) hubsync_something_new/);
  });
});
