import type { Owner } from "../hubspot/schemas.ts";
import { inApplyingTransaction } from "../db/transaction.ts";
import type { SyncContext } from "../context.ts";

/** hubspot.owners is small: every refresh reads all owners, active and archived, and upserts them. */
export async function refreshOwners(deps: SyncContext): Promise<number> {
  const all: Owner[] = [];
  for (const archived of [false, true]) {
    let after: string | null = null;
    do {
      const page = await deps.hubspot.ownersPage({ after, archived });
      all.push(...page.results.map((o) => ({ ...o, archived })));
      after = page.nextAfter;
    } while (after);
  }
  const docs = all.map((o) => ({
    id: o.id,
    email: o.email ?? null,
    first_name: o.firstName ?? null,
    last_name: o.lastName ?? null,
    user_id: o.userId ?? null,
    user_id_including_inactive: o.userIdIncludingInactive ?? null,
    type: o.type ?? null,
    teams: o.teams ?? [],
    archived: o.archived ?? false,
    created_at: o.createdAt ?? null,
    updated_at: o.updatedAt ?? null,
  }));
  return inApplyingTransaction(deps.pool, async (client) => {
    const { rowCount } = await client.query(
      `insert into hubspot.owners as t (id, email, first_name, last_name, user_id, user_id_including_inactive, type, teams, archived, created_at, updated_at, archived_at)
       select id, email, first_name, last_name, user_id, user_id_including_inactive, type, coalesce(teams, '[]'), archived, created_at, updated_at,
              case when archived then coalesce(updated_at, now()) end
         from jsonb_to_recordset($1::jsonb) as x(id text, email text, first_name text, last_name text, user_id bigint,
              user_id_including_inactive bigint, type text, teams jsonb, archived boolean, created_at timestamptz, updated_at timestamptz)
       on conflict (id) do update set email = excluded.email, first_name = excluded.first_name, last_name = excluded.last_name,
              user_id = excluded.user_id, user_id_including_inactive = excluded.user_id_including_inactive, type = excluded.type,
              teams = excluded.teams, archived = excluded.archived, created_at = excluded.created_at, updated_at = excluded.updated_at,
              archived_at = case when excluded.archived then coalesce(t.archived_at, excluded.archived_at) end, _sync_updated_at = now()
        where (t.email, t.first_name, t.last_name, t.user_id, t.user_id_including_inactive, t.type, t.teams, t.archived, t.updated_at)
              is distinct from (excluded.email, excluded.first_name, excluded.last_name, excluded.user_id, excluded.user_id_including_inactive,
              excluded.type, excluded.teams, excluded.archived, excluded.updated_at)`,
      [JSON.stringify(docs)],
    );
    // owners HubSpot no longer lists at all
    await client.query(`update hubspot.owners set archived = true, archived_at = now() where archived_at is null and not (id = any($1::text[]))`, [
      docs.map((d) => d.id),
    ]);
    return rowCount ?? 0;
  });
}
