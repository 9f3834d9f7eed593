import { describe, expect, it } from "vitest";
import { createProgressDisplay, renderLines, type ProgressModel } from "../src/tools/demo/progress.ts";

const model = (rows: number, phase = "backfilling"): ProgressModel => ({
  objects: [
    { name: "contacts", rows, expected: 2800, phase },
    { name: "companies", rows: 400, expected: 400, phase: "live" },
  ],
  associations: [{ table: "associations_company_contact", rows: 1234 }],
  requests: 52,
  rateLimited: 0,
  budget: { inWindow: 45, capacity: 90, windowMs: 10_000 },
  elapsedMs: 3200,
});

function sink(isTTY: boolean) {
  const chunks: string[] = [];
  const stream = { isTTY, write: (s: string) => (chunks.push(s), true) } as unknown as NodeJS.WriteStream;
  return { stream, text: () => chunks.join("") };
}

describe("demo progress display", () => {
  it("shows each object's rows against HubSpot's count, associations, requests, 429s and the rate budget", () => {
    const lines = renderLines(model(1400));
    expect(lines[0]).toMatch(/contacts\s+█{14}░{14}\s+1,400 \/ 2,800\s+backfilling/);
    expect(lines[1]).toMatch(/companies\s+█{28}\s+400 \/ 400\s+live/);
    expect(lines.join("\n")).toContain("1,234 rows in 1 table(s)");
    expect(lines[lines.length - 1]).toMatch(/requests 52 · 429s 0 · rate budget .* 45\/90 per 10 s · 3\.2 s/);
  });

  it("redraws in place on a terminal", () => {
    const out = sink(true);
    const d = createProgressDisplay(out.stream);
    d.update(model(100));
    d.update(model(200));
    const text = out.text();
    expect(text).toContain(`\x1b[${renderLines(model(0)).length}A`);
    expect(text).toContain("200 / 2,800");
  });

  it("prints plain lines without escape codes into a pipe, not one per redraw", () => {
    const out = sink(false);
    const d = createProgressDisplay(out.stream, { plainEveryMs: 60_000 });
    for (let i = 0; i < 20; i++) d.update(model(i * 100));
    d.finish(model(2800, "live"));
    const text = out.text();
    expect(text).not.toContain("\x1b[");
    expect(text.trim().split("\n")).toHaveLength(2);
    expect(text).toContain("contacts 2,800/2,800 live");
  });
});
