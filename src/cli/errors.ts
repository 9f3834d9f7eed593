/**
 * What a failed command prints: one line that names what to fix. Connection failures come from pg
 * and node as codes and terse messages ("connect ECONNREFUSED 127.0.0.1:5432", "password
 * authentication failed for user …"); an operator needs to read "check DATABASE_URL" next to them.
 */

interface ErrorLike {
  message?: unknown;
  code?: unknown;
  errno?: unknown;
  address?: unknown;
  port?: unknown;
  hostname?: unknown;
  errors?: unknown;
}

/** Host, port and database of a postgres:// URL, without its password. */
export function describeDatabaseUrl(url: string | undefined): string {
  if (!url) return "DATABASE_URL";
  try {
    const u = new URL(url);
    const db = decodeURIComponent(u.pathname.replace(/^\//, "")) || "(default database)";
    return `${u.username ? `${decodeURIComponent(u.username)}@` : ""}${u.hostname || "localhost"}${u.port ? `:${u.port}` : ""}/${db}`;
  } catch {
    return "DATABASE_URL";
  }
}

function firstLine(text: string): string {
  return text.split("\n")[0]!.trim();
}

export function describeError(err: unknown, env: NodeJS.ProcessEnv = process.env): string {
  const e = (err ?? {}) as ErrorLike;
  // AggregateError (node tries every address of a host): the first one says enough
  const inner = Array.isArray(e.errors) && e.errors.length > 0 ? (e.errors[0] as ErrorLike) : e;
  const code = typeof inner.code === "string" ? inner.code : typeof e.code === "string" ? e.code : undefined;
  const message = typeof e.message === "string" && e.message ? e.message : String(err);
  const where = describeDatabaseUrl(env.DATABASE_URL);
  switch (code) {
    case "ECONNREFUSED":
      return `hubsync: cannot reach PostgreSQL at ${where} (connection refused: is the server running, and are host and port right?) — check DATABASE_URL`;
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return `hubsync: PostgreSQL host of ${where} not found (DNS) — check DATABASE_URL`;
    case "ETIMEDOUT":
    case "EHOSTUNREACH":
    case "ENETUNREACH":
      return `hubsync: PostgreSQL at ${where} did not answer (${code}) — check DATABASE_URL and the network`;
    case "28P01":
    case "28000":
      return `hubsync: PostgreSQL refused the login for ${where} (${firstLine(message)}) — check the user and password in DATABASE_URL`;
    case "3D000":
      return `hubsync: ${firstLine(message)} on ${where.replace(/\/[^/]*$/, "")} — create it or fix the database name in DATABASE_URL`;
    case "42P01":
      if (/relation "hubsync\./.test(message)) return `hubsync: hubsync is not installed in ${where} — run \`hubsync install\` first (or check DATABASE_URL)`;
      break;
    case "42501":
      return `hubsync: ${firstLine(message)} — connect as the role that ran \`hubsync install\` (or one granted hubsync_admin)`;
  }
  if (/^Invalid URL|ERR_INVALID_URL/.test(message) || code === "ERR_INVALID_URL") return `hubsync: DATABASE_URL is not a valid URL — expected postgres://user:password@host:5432/database`;
  if (/self[- ]signed certificate|SSL|certificate/i.test(message)) return `hubsync: TLS to PostgreSQL failed (${firstLine(message)}) — check sslmode in DATABASE_URL`;
  if (/Connection terminated/i.test(message)) return `hubsync: PostgreSQL at ${where} closed the connection (${firstLine(message)}) — check DATABASE_URL and the server's log`;
  // hubsync's own errors already say what to fix (some add usage lines)
  return message;
}
