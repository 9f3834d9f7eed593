import { HubSpotError } from "../hubspot/errors.ts";
import type { Pipeline } from "../hubspot/schemas.ts";
import { STANDARD_OBJECT_TYPES } from "../schema/object-catalog.ts";
import { inApplyingTransaction } from "../db/transaction.ts";
import { listEnabledObjects } from "../schema/objects.ts";
import type { SyncContext } from "../context.ts";

/** Object types whose pipelines are synced: deals, tickets, and every enabled custom object. */
async function pipelineObjectTypes(deps: SyncContext): Promise<Array<{ objectType: string; apiName: string }>> {
  const rows = (await listEnabledObjects(deps.pool)).filter((o) => o.kind === "crm" && o.object_type_id?.startsWith("2-"));
  return [
    { objectType: "deals", apiName: "deals" },
    { objectType: "tickets", apiName: "tickets" },
    ...rows.filter((r) => !STANDARD_OBJECT_TYPES[r.object_type]).map((r) => ({ objectType: r.object_type, apiName: r.object_type_id! })),
  ];
}

/** Full refresh of hubspot.pipelines and hubspot.pipeline_stages (a handful of rows per object type). */
export async function refreshPipelines(deps: SyncContext): Promise<number> {
  let total = 0;
  for (const { objectType, apiName } of await pipelineObjectTypes(deps)) {
    let pipelines: Pipeline[];
    try {
      pipelines = await deps.hubspot.pipelines(apiName);
    } catch (err) {
      // object types without pipelines answer 400/404
      if (err instanceof HubSpotError && (err.status === 404 || err.status === 400)) continue;
      throw err;
    }
    const stages = pipelines.flatMap((p) =>
      p.stages.map((s) => ({ pipeline_id: p.id, id: s.id, label: s.label, display_order: s.displayOrder, metadata: s.metadata ?? {}, archived: s.archived ?? false, created_at: s.createdAt ?? null, updated_at: s.updatedAt ?? null })),
    );
    const docs = pipelines.map((p) => ({ id: p.id, label: p.label, display_order: p.displayOrder, archived: p.archived ?? false, created_at: p.createdAt ?? null, updated_at: p.updatedAt ?? null }));
    total += await inApplyingTransaction(deps.pool, async (client) => {
      const a = await client.query(
        `insert into hubspot.pipelines as t (object_type, id, label, display_order, archived, created_at, updated_at)
         select $1, id, label, display_order, archived, created_at, updated_at
           from jsonb_to_recordset($2::jsonb) as x(id text, label text, display_order integer, archived boolean, created_at timestamptz, updated_at timestamptz)
         on conflict (object_type, id) do update set label = excluded.label, display_order = excluded.display_order, archived = excluded.archived,
           created_at = excluded.created_at, updated_at = excluded.updated_at, archived_at = null, _sync_updated_at = now()
         where (t.label, t.display_order, t.archived, t.updated_at, t.archived_at) is distinct from
               (excluded.label, excluded.display_order, excluded.archived, excluded.updated_at, null)`,
        [objectType, JSON.stringify(docs)],
      );
      const b = await client.query(
        `insert into hubspot.pipeline_stages as t (object_type, pipeline_id, id, label, display_order, metadata, archived, created_at, updated_at)
         select $1, pipeline_id, id, label, display_order, coalesce(metadata, '{}'), archived, created_at, updated_at
           from jsonb_to_recordset($2::jsonb) as x(pipeline_id text, id text, label text, display_order integer, metadata jsonb, archived boolean,
                created_at timestamptz, updated_at timestamptz)
         on conflict (object_type, pipeline_id, id) do update set label = excluded.label, display_order = excluded.display_order,
           metadata = excluded.metadata, archived = excluded.archived, created_at = excluded.created_at, updated_at = excluded.updated_at,
           archived_at = null, _sync_updated_at = now()
         where (t.label, t.display_order, t.metadata, t.archived, t.updated_at, t.archived_at) is distinct from
               (excluded.label, excluded.display_order, excluded.metadata, excluded.archived, excluded.updated_at, null)`,
        [objectType, JSON.stringify(stages)],
      );
      // pipelines and stages HubSpot no longer returns are kept, marked archived
      await client.query(
        `update hubspot.pipelines set archived = true, archived_at = now() where object_type = $1 and archived_at is null and not (id = any($2::text[]))`,
        [objectType, docs.map((d) => d.id)],
      );
      await client.query(
        `update hubspot.pipeline_stages set archived = true, archived_at = now()
          where object_type = $1 and archived_at is null and not ((pipeline_id || '/' || id) = any($2::text[]))`,
        [objectType, stages.map((s) => `${s.pipeline_id}/${s.id}`)],
      );
      return (a.rowCount ?? 0) + (b.rowCount ?? 0);
    });
  }
  return total;
}
