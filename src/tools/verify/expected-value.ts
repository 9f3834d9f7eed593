import type { PgType } from "../../core/schema/mapping.ts";

/**
 * What a typed column should hold for the string HubSpot sends for a property, for the comparison
 * in compare.ts. It is written here from what HubSpot sends, on purpose apart from the pull's own
 * conversion (src/core/schema/mapping.ts): were the comparison to reuse that, a conversion bug would
 * produce the same wrong value on both sides and never show.
 *
 * The result goes to PostgreSQL inside a jsonb document and is read there with the column's type,
 * so `1.50` equals `1.5` and `…T10:00:00+02:00` equals `…T08:00:00Z`. null means the column should
 * be null: HubSpot sent nothing (or an empty string), or a value that is not of the column's type
 * (the README's promise: such a value is null in its column and kept as sent in `properties`).
 *
 * What HubSpot sends, per type:
 * - number: a decimal, e.g. "1234.5", "-3", "1e3";
 * - bool: "true" or "false";
 * - date: "2024-05-31" (older records: epoch milliseconds at UTC midnight);
 * - datetime: ISO 8601 in UTC, "2024-05-31T10:00:00.000Z" (older records: epoch milliseconds);
 * - multi-select checkbox: the chosen values joined with ";".
 */
export function expectedColumnValue(value: string | null | undefined, pgType: PgType): string | boolean | string[] | null {
  if (value === null || value === undefined || value === "") return null;
  switch (pgType) {
    case "text":
      return value;
    case "numeric":
      return decimal(value.trim());
    case "boolean": {
      const word = value.trim().toLowerCase();
      if (word === "true") return true;
      if (word === "false") return false;
      return null;
    }
    case "date":
      return calendarDate(value) ?? instant(value)?.slice(0, 10) ?? null;
    case "timestamptz":
      return instant(value);
    case "text[]": {
      const chosen: string[] = [];
      for (const part of value.split(";")) if (part.trim() !== "") chosen.push(part.trim());
      return chosen;
    }
  }
}

const DECIMAL = /^[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE]([-+]?\d+))?$/;

/**
 * A decimal PostgreSQL reads as numeric. A string longer than 1,000 characters or with an exponent
 * past ±1,000 is no HubSpot number but bad input, which hubsync keeps out of the column (numeric
 * could hold it, but at up to 130,000 digits per value).
 */
function decimal(s: string): string | null {
  const m = DECIMAL.exec(s);
  if (!m || s.length > 1_000) return null;
  if (m[1] !== undefined && Math.abs(Number(m[1])) > 1_000) return null;
  return s;
}

/** "yyyy-mm-dd" naming a day that exists, in years PostgreSQL and JSON share (1–9999). */
function calendarDate(s: string): string | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(s);
  if (!m) return null;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  return y >= 1 && mo >= 1 && mo <= 12 && d >= 1 && d <= daysIn(y, mo) ? s : null;
}

function daysIn(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

const ISO_INSTANT = /^(\d{4}-\d{2}-\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?(?:Z|[-+]\d{2}:\d{2})$/;

/**
 * The moment a datetime names, as an ISO string in UTC: HubSpot's ISO form (a date alone meaning
 * its UTC midnight), or epoch milliseconds, which have at least 10 digits for any moment after
 * 1970-04-26 (so a bare year or "20240531" is not taken for one).
 */
function instant(s: string): string | null {
  let ms: number;
  if (/^-?\d{10,}$/.test(s)) ms = Number(s);
  else if (calendarDate(s)) ms = Date.parse(`${s}T00:00:00Z`);
  else {
    const m = ISO_INSTANT.exec(s);
    if (!m || !calendarDate(m[1]!) || Number(m[2]) > 23 || Number(m[3]) > 59 || Number(m[4] ?? 0) > 59) return null;
    ms = Date.parse(s);
  }
  if (!Number.isFinite(ms)) return null;
  const d = new Date(ms);
  if (Number.isNaN(d.getTime())) return null;
  const year = d.getUTCFullYear();
  return year >= 1 && year <= 9999 ? d.toISOString() : null;
}
