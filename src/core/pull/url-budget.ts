import type pg from "pg";
import { z } from "zod";
import { readEnv } from "../config.ts";
import { readCursor, writeCursor } from "../schema/cursors.ts";

/**
 * How many characters of `properties=` query hubsync puts in one GET URL on this portal: the
 * setting (HUBSYNC_URL_BUDGET), or less once the portal has answered 414 to a shorter query.
 * The lesson is kept in hubsync.cursors under a pseudo object type, one row for the portal
 * (one database syncs one portal), so every process and every later run starts from it.
 */

const PORTAL = "_portal";
const STREAM = "url-budget";
const Learned = z.object({ chars: z.number().int().positive(), at: z.string() });

export async function urlBudget(pool: pg.Pool): Promise<number> {
  const configured = readEnv().HUBSYNC_URL_BUDGET;
  const learned = Learned.safeParse(await readCursor(pool, PORTAL, STREAM));
  return learned.success ? Math.min(configured, learned.data.chars) : configured;
}

/** A query of `refusedChars` got a 414: from now on stay below it (a tenth below, for the rest of the URL). */
export async function rememberUrlRefused(pool: pg.Pool, refusedChars: number): Promise<number> {
  const chars = Math.max(1, Math.floor(refusedChars * 0.9));
  const current = await urlBudget(pool);
  const next = Math.min(current, chars);
  await writeCursor(pool, PORTAL, STREAM, { chars: next, at: new Date().toISOString() });
  return next;
}

/** Length of the `properties=a&properties=b…` query a list call carries for these names. */
export function propertyQueryLength(properties: string[]): number {
  return new URLSearchParams(properties.map((p): [string, string] => ["properties", p])).toString().length;
}
