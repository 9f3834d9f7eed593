/**
 * The association part of the typed control client (SimulatorControl): thin calls to the
 * simulator's /_sim/associations endpoints, so tests can set up or inspect associations the way a
 * HubSpot user would change them in the UI, without going through (and counting as) API calls.
 */
import { z } from "zod";

const spec = z.object({ category: z.string(), typeId: z.number(), label: z.string().nullable() });
const pairResult = z.object({ fromObjectTypeId: z.string(), fromObjectId: z.number(), toObjectTypeId: z.string(), toObjectId: z.number(), labels: z.array(z.string()) });
const listResult = z.object({ results: z.array(z.object({ fromId: z.string(), toId: z.string(), types: z.array(spec) })) });

export type ListedAssociation = z.infer<typeof listResult>["results"][number];
export type AssociationPairResult = z.infer<typeof pairResult>;

export interface AssociationControl {
  /** Adds the given type ids (default: the pair's unlabeled type) to whatever the pair has. */
  associate(fromType: string, fromId: string, toType: string, toId: string, typeIds?: number[]): Promise<AssociationPairResult>;
  /** Removes every association between the pair. */
  unassociate(fromType: string, fromId: string, toType: string, toId: string): Promise<boolean>;
  /** Replaces the pair's type ids (the unlabeled type always stays). */
  setAssociationLabels(fromType: string, fromId: string, toType: string, toId: string, typeIds: number[]): Promise<AssociationPairResult>;
  /** Every live association fromType → toType, ordered by (fromId, toId). */
  listAssociations(fromType: string, toType: string): Promise<ListedAssociation[]>;
}

export function associationControl(baseUrl: string): AssociationControl {
  const call = async <T extends z.ZodType>(method: string, path: string, schema: T, body?: unknown): Promise<z.infer<T>> => {
    const res = await fetch(`${baseUrl}${path}`, {
      method,
      headers: body === undefined ? {} : { "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`simulator control ${method} ${path}: ${res.status} ${text}`);
    return schema.parse(JSON.parse(text));
  };
  return {
    associate: (fromType, fromId, toType, toId, typeIds) =>
      call("POST", "/_sim/associations", pairResult, { fromType, fromId, toType, toId, typeIds }),
    unassociate: async (fromType, fromId, toType, toId) =>
      (await call("POST", "/_sim/associations/remove", z.object({ removed: z.boolean() }), { fromType, fromId, toType, toId })).removed,
    setAssociationLabels: (fromType, fromId, toType, toId, typeIds) =>
      call("PUT", "/_sim/associations/labels", pairResult, { fromType, fromId, toType, toId, typeIds }),
    listAssociations: async (fromType, toType) =>
      (await call("GET", `/_sim/associations?${new URLSearchParams({ fromType, toType })}`, listResult)).results,
  };
}
