import { notFound } from "./http-errors.ts";
import { boolParam, decodeCursor, encodeCursor, limitParam } from "./params.ts";
import type { Router, SimContext, SimRequest, SimResponse } from "./router.ts";
import type { Owner } from "./store.ts";

/** Owners v3: list with email/after/limit (default 100)/archived, get by id or userId. */

export function ownerJson(o: Owner) {
  return {
    id: o.id,
    email: o.email ?? undefined,
    firstName: o.firstName ?? undefined,
    lastName: o.lastName ?? undefined,
    userId: o.userId,
    userIdIncludingInactive: o.userIdIncludingInactive,
    type: o.type,
    teams: o.teams,
    createdAt: new Date(o.createdAt).toISOString(),
    updatedAt: new Date(o.updatedAt).toISOString(),
    archived: o.archived,
  };
}

function list(req: SimRequest, ctx: SimContext): SimResponse {
  const limit = limitParam(req.query.get("limit"), 100, 500, true);
  const archived = boolParam(req.query, "archived");
  const email = req.query.get("email")?.toLowerCase();
  const after = decodeCursor(req.query.get("after"));
  const all = ctx.store.ownerList().filter((o) => o.archived === archived && (!email || o.email?.toLowerCase() === email) && Number(o.id) > after);
  const page = all.slice(0, limit);
  const body: Record<string, unknown> = { results: page.map(ownerJson) };
  const last = page[page.length - 1];
  if (all.length > limit && last) {
    const cursor = encodeCursor(Number(last.id));
    body.paging = { next: { after: cursor, link: `?after=${cursor}` } };
  }
  return { status: 200, body };
}

function getOne(req: SimRequest, ctx: SimContext): SimResponse {
  const archived = boolParam(req.query, "archived");
  const byUser = req.query.get("idProperty") === "userId";
  const ref = req.params.ownerId!;
  const o = byUser
    ? ctx.store.ownerList().find((x) => String(x.userId ?? x.userIdIncludingInactive) === ref)
    : ctx.store.getOwner(ref);
  if (!o || o.archived !== archived) throw notFound(`No owner with ${byUser ? "userId" : "id"} ${ref}`);
  return { status: 200, body: ownerJson(o) };
}

export function registerOwnerRoutes(router: Router): void {
  router.route("GET", "/crm/v3/owners", list);
  router.route("GET", "/crm/v3/owners/{ownerId}", getOne);
}
