import { z } from "zod";
import type { Queryable } from "../db/transaction.ts";
import { isReadOnlyProperty, type PropertyDef } from "../hubspot/schemas.ts";

const Options = z.array(z.object({ value: z.string() }).passthrough()).catch([]);

/**
 * Keeps hubsync.property_catalog equal to the object type's property definitions: what
 * hubsync.publish() checks match keys and mapped properties against, and hubsync.plan() checks
 * values against, without asking HubSpot.
 */
export async function writeCatalog(db: Queryable, objectType: string, defs: PropertyDef[]): Promise<void> {
  const rows = defs
    .filter((d) => !d.archived)
    .map((d) => ({
      name: d.name,
      type: d.type,
      field_type: d.fieldType ?? null,
      read_only: isReadOnlyProperty(d),
      unique_value: d.hasUniqueValue ?? false,
      options: d.type === "enumeration" ? Options.parse((d as { options?: unknown }).options ?? []).map((o) => o.value) : null,
    }));
  await db.query(
    `with x as (select * from jsonb_to_recordset($2::jsonb) as x(name text, type text, field_type text, read_only boolean, unique_value boolean, options text[])),
     gone as (delete from hubsync.property_catalog c where c.object_type = $1 and not exists (select from x where x.name = c.name))
     insert into hubsync.property_catalog as c (object_type, name, type, field_type, read_only, unique_value, options)
     select $1, x.name, x.type, x.field_type, x.read_only, x.unique_value, x.options from x
     on conflict (object_type, name) do update
       set type = excluded.type, field_type = excluded.field_type, read_only = excluded.read_only,
           unique_value = excluded.unique_value, options = excluded.options
     where (c.type, c.field_type, c.read_only, c.unique_value, c.options)
           is distinct from (excluded.type, excluded.field_type, excluded.read_only, excluded.unique_value, excluded.options)`,
    [objectType, JSON.stringify(rows)],
  );
}
