import type { HubSpotApi } from "../hubspot/client.ts";
import type { AssociationPair } from "./pairs.ts";
import { readAssociations, sortedTypeIds, type Edges } from "./read.ts";

/** Sample edges per unmapped type id, and edges without it, checked from the other side. */
const SAMPLES_PER_TYPE = 20;
const CONTRAST_SAMPLES = 200;

/**
 * Association type ids come per direction (contact→company 279/1, company→contact 280/2), and
 * HubSpot's labels API does not say which id is which one's inverse. Tables keep a→b ids, so when
 * a pair is read from its b end the b→a ids must be translated. The translation is learned from the
 * data: a sample of the edges just read is read again from the a end (one batch call), and each
 * b→a id t maps to the one a→b id present on every sampled edge that has t and absent from every
 * sampled edge that has not (associations are symmetric, so that id is t's inverse). Ids left
 * ambiguous (say every edge of the pair carries the same two types) are resolved by elimination;
 * if any is still ambiguous, null is returned and the caller reads the pair from the a end.
 */
export async function learnTypeMap(api: HubSpotApi, pair: AssociationPair, fromB: Edges, known: Record<string, number>): Promise<Record<string, number> | null> {
  const unknown = new Set<number>();
  for (const targets of fromB.values()) for (const types of targets.values()) for (const t of sortedTypeIds(types)) if (!(String(t) in known)) unknown.add(t);
  if (unknown.size === 0) return known;

  // Edges as (bId, aId, b→a ids): those with an unknown id, and a contrast set without it.
  const all: Array<{ b: string; a: string; ids: number[] }> = [];
  for (const [b, targets] of fromB) for (const [a, types] of targets) all.push({ b, a, ids: sortedTypeIds(types) });
  const sample = new Map<string, { b: string; a: string; ids: number[] }>();
  for (const t of unknown) {
    for (const e of all.filter((x) => x.ids.includes(t)).slice(0, SAMPLES_PER_TYPE)) sample.set(`${e.a}|${e.b}`, e);
    for (const e of all.filter((x) => !x.ids.includes(t)).slice(0, CONTRAST_SAMPLES / unknown.size)) sample.set(`${e.a}|${e.b}`, e);
  }
  const aIds = [...new Set([...sample.values()].map((e) => e.a))].slice(0, 1000);
  const fromA = await readAssociations(api, pair.a.objectTypeId, pair.b.objectTypeId, aIds);
  const observed: Array<{ ba: number[]; ab: number[] }> = [];
  for (const e of sample.values()) {
    const types = fromA.get(e.a)?.get(e.b);
    if (types) observed.push({ ba: e.ids, ab: sortedTypeIds(types) }); // gone in between: no evidence
  }

  const map: Record<string, number> = { ...known };
  const taken = new Set(Object.values(known));
  let progress = true;
  while (progress) {
    progress = false;
    for (const t of unknown) {
      if (String(t) in map) continue;
      const withT = observed.filter((o) => o.ba.includes(t));
      if (withT.length === 0) continue;
      let candidates = new Set(withT[0]!.ab);
      for (const o of withT) candidates = new Set(o.ab.filter((x) => candidates.has(x)));
      for (const o of observed) if (!o.ba.includes(t)) for (const x of o.ab) candidates.delete(x);
      for (const x of taken) candidates.delete(x);
      if (candidates.size === 1) {
        const [only] = candidates;
        map[String(t)] = only!;
        taken.add(only!);
        progress = true;
      }
    }
  }
  return [...unknown].every((t) => String(t) in map) ? map : null;
}
