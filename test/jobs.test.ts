import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jobKey, jobPriority, jobQueue, TASKS, type TaskName } from "../src/core/jobs.ts";
import type { TestDatabase } from "./support/database.ts";
import { installedDatabase } from "./support/database.ts";

// Job keys and queue names are spelled in three places: src/core/jobs.ts (TypeScript),
// sql/05_jobs.sql (SQL) and the crontab file. A job queued under two different keys runs twice;
// under two different queues, a backfill and a pull of one type can overlap.

const tasks = Object.keys(TASKS) as TaskName[];
const perObject = (t: TaskName) => !["hubsync_sweep_associations", "hubsync_webhook_apply", "hubsync_pull_all", "hubsync_pull_archived", "hubsync_reconcile", "hubsync_sweep_lists"].includes(t);

let d: TestDatabase;
beforeAll(async () => {
  d = await installedDatabase("jobs");
});
afterAll(async () => {
  await d?.drop();
});

async function queued(): Promise<{ task: string; key: string | null; queue: string | null; payload: unknown }[]> {
  const { rows } = await d.pool.query(
    `select t.identifier as task, j.key, q.queue_name as queue, j.payload
       from hubsync_worker._private_jobs j join hubsync_worker._private_tasks t on t.id = j.task_id
       left join hubsync_worker._private_job_queues q on q.id = j.job_queue_id
      order by j.id`,
  );
  return rows;
}

describe("job keys and queues", () => {
  it("SQL's hubsync._job_key and _job_queue give what src/core/jobs.ts gives, for every task", async () => {
    const cases = tasks.flatMap((t) => [
      ...(perObject(t) ? [[t, "contacts"] as const] : []),
      ...(TASKS[t].queue !== "object" ? [[t, undefined] as const] : []),
    ]);
    expect(cases.length).toBeGreaterThanOrEqual(tasks.length);
    for (const [task, objectType] of cases) {
      const { rows } = await d.pool.query<{ key: string; queue: string | null }>(`select hubsync._job_key($1, $2) as key, hubsync._job_queue($1, $2) as queue`, [
        task,
        objectType ?? null,
      ]);
      expect({ task, objectType, ...rows[0] }).toEqual({ task, objectType, key: jobKey(task, objectType), queue: jobQueue(task, objectType) });
    }
  });

  it("every crontab entry uses the task's job key and queue", () => {
    const entries = readFileSync(new URL("../crontab", import.meta.url), "utf8")
      .split("\n")
      .filter((l) => l.trim() && !l.startsWith("#"))
      .map((l) => {
        const [task, options] = l.trim().split(/\s+/).slice(5);
        const params = new URLSearchParams((options ?? "").replace(/^\?/, ""));
        return { task: task as TaskName, jobKey: params.get("jobKey"), queue: params.get("queue") };
      });
    expect(entries.map((e) => e.task).sort()).toEqual([
      "hubsync_prune",
      "hubsync_publish",
      "hubsync_pull_all",
      "hubsync_pull_archived",
      "hubsync_push",
      "hubsync_reconcile",
      "hubsync_sweep_associations",
      "hubsync_sweep_lists",
    ]);
    for (const e of entries) expect(e).toEqual({ task: e.task, jobKey: jobKey(e.task), queue: jobQueue(e.task) });
  });

  it("the SQL API queues under those keys and queues: enable_sync, resync, the associations trigger, the push wake-up", async () => {
    await d.pool.query(`select hubsync.enable_sync('contacts')`);
    expect(await queued()).toEqual([{ task: "hubsync_discover", key: "hubsync_discover:contacts", queue: "hubsync:contacts", payload: { objectType: "contacts" } }]);

    // as discovery leaves it: a table and phase backfilling (the associations trigger fires)
    await d.pool.query(`update hubsync.objects set table_name = 'contacts', object_type_id = '0-1', singular_name = 'contact', phase = 'backfilling' where object_type = 'contacts'`);
    await d.pool.query(`select hubsync.resync('contacts')`);
    await d.pool.query(`select hubsync._wake_push('contacts')`);
    const jobs = await queued();
    expect(jobs).toEqual(
      expect.arrayContaining([
        { task: "hubsync_backfill_associations", key: jobKey("hubsync_backfill_associations", "contacts"), queue: "hubsync:associations", payload: { objectType: "contacts" } },
        { task: "hubsync_backfill", key: jobKey("hubsync_backfill", "contacts"), queue: jobQueue("hubsync_backfill", "contacts"), payload: { objectType: "contacts" } },
        { task: "hubsync_push", key: jobKey("hubsync_push", "contacts"), queue: null, payload: { objectType: "contacts" } },
      ]),
    );

    // a refresh on demand goes ahead of every other waiting job (graphile-worker runs the lowest priority first)
    await d.pool.query(`select hubsync.refresh('contacts', array['1'])`);
    const { rows: prioritized } = await d.pool.query(
      `select t.identifier as task, j.key, j.priority from hubsync_worker._private_jobs j join hubsync_worker._private_tasks t on t.id = j.task_id order by j.priority, j.id`,
    );
    expect(prioritized[0]).toEqual({ task: "hubsync_refresh", key: jobKey("hubsync_refresh", "contacts"), priority: jobPriority("hubsync_refresh") });
    expect(jobPriority("hubsync_refresh")).toBeLessThan(0);
    expect(prioritized.slice(1).every((j) => j.priority > jobPriority("hubsync_refresh"))).toBe(true);

    // disabling takes back the waiting jobs of the type, found by the same keys
    await d.pool.query(`select hubsync.disable_sync('contacts')`);
    const left = (await queued()).map((j) => j.task);
    expect(left).not.toContain("hubsync_backfill");
    expect(left).not.toContain("hubsync_backfill_associations");
  });
});
