import type pg from "pg";
import { z } from "zod";
import { readEnv } from "../config.ts";
import type { SyncContext } from "../context.ts";
import type { SearchRequest } from "../hubspot/client.ts";
import { HubSpotError } from "../hubspot/errors.ts";
import type { SearchPage } from "../hubspot/schemas.ts";
import { readCursor, writeCursor } from "../schema/cursors.ts";

/**
 * What this portal has taught about request sizes, kept in hubsync.cursors under a pseudo object
 * type (one database syncs one portal) so every process and every later run starts from it:
 * - how many characters of `properties=` query fit in one GET URL: the setting
 *   (HUBSYNC_URL_BUDGET), or less once the portal has answered 414 to a shorter query;
 * - whether a search body may carry more property names than its 3,000-character cap would
 *   allow. HubSpot does not say whether the cap counts the `properties` list, so hubsync tries a
 *   full-width search once and keeps the answer (a 400 means it does).
 */

/** HubSpot answers 400 to a search body over 3,000 characters (whether the property list counts is learned, below). */
export const SEARCH_BODY_LIMIT = 3_000;

const PORTAL = "_portal";
const STREAM = "url-budget";
const SEARCH_STREAM = "search-width";
const Learned = z.object({ chars: z.number().int().positive(), at: z.string() });
const SearchWidth = z.object({ fullWidth: z.boolean(), at: z.string() });

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

/** Whether a search may carry every property name past the body cap: true, false, or not tried yet. */
export async function searchCarriesWideProperties(pool: pg.Pool): Promise<boolean | undefined> {
  const learned = SearchWidth.safeParse(await readCursor(pool, PORTAL, SEARCH_STREAM));
  return learned.success ? learned.data.fullWidth : undefined;
}

export async function rememberSearchWidth(pool: pg.Pool, fullWidth: boolean): Promise<void> {
  await writeCursor(pool, PORTAL, SEARCH_STREAM, { fullWidth, at: new Date().toISOString() });
}

/** How a stream's searches choose their properties: every one (`full`) or a narrow list; `probe` while this portal's answer is unknown. */
export interface SearchWidth {
  full: boolean;
  probe: boolean;
}

/** The width for a stream whose full property list does (`fits`) or does not fit in a search body. */
export async function searchWidthFor(pool: pg.Pool, fits: boolean): Promise<SearchWidth> {
  const wide = await searchCarriesWideProperties(pool);
  return { full: fits || wide === true, probe: !fits && wide === undefined };
}

/**
 * One search with the properties `width` allows: `all` when full, else `narrow`. While probing, the
 * first call tries `all` once: accepted, this portal's searches carry every property from then on;
 * a 400 means its body cap counts the list, so the search goes again with `narrow` (`refused` is
 * told, for the caller's count). The answer is kept for every process and later run.
 */
export async function searchWithWidth(
  deps: SyncContext,
  apiName: string,
  width: SearchWidth,
  query: (properties: string[]) => SearchRequest,
  all: string[],
  narrow: string[],
  refused?: () => void,
): Promise<SearchPage> {
  if (!width.probe) return deps.hubspot.search(apiName, query(width.full ? all : narrow));
  width.probe = false;
  try {
    const page = await deps.hubspot.search(apiName, query(all));
    await rememberSearchWidth(deps.pool, true);
    width.full = true;
    return page;
  } catch (err) {
    if (!(err instanceof HubSpotError) || err.status !== 400) throw err;
    await rememberSearchWidth(deps.pool, false);
    deps.log.info({ apiName, properties: all.length }, "search refused the full property list: reading records by batch read");
    refused?.();
    return deps.hubspot.search(apiName, query(narrow));
  }
}
