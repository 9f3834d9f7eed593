import type { AssociationPair } from "./pairs.ts";

/**
 * HubSpot's own association types between standard objects, the same in every portal, keyed by a
 * table's ends (singular names, alphabetical: a>b): the pair's unlabeled (default) type and, where
 * the pair has one, its primary (labelled "Primary"), each as [a→b id, b→a id]. Same-type pairs
 * have one symmetric unlabeled id. Every other type (user labels, parent/child companies) is the
 * portal's to say, through its labels.
 */
const DEFAULT_TYPES: Record<string, { unlabeled: [number, number]; primary?: [number, number] }> = {
  "company>contact": { unlabeled: [280, 279], primary: [2, 1] },
  "company>deal": { unlabeled: [342, 341], primary: [6, 5] },
  "company>ticket": { unlabeled: [340, 339], primary: [25, 26] },
  "contact>deal": { unlabeled: [4, 3] },
  "contact>ticket": { unlabeled: [15, 16] },
  "deal>line_item": { unlabeled: [19, 20] },
  "deal>ticket": { unlabeled: [27, 28] },
  "company>company": { unlabeled: [450, 450] },
  "contact>contact": { unlabeled: [449, 449] },
  "deal>deal": { unlabeled: [451, 451] },
  "ticket>ticket": { unlabeled: [452, 452] },
};

/** The pair's default types in the a→b direction, with their labels; undefined for pairs HubSpot ships none for. */
export function defaultTypes(pair: Pick<AssociationPair, "a" | "b">): { unlabeled: number; primary?: number; labels: Map<number, string | null> } | undefined {
  const d = DEFAULT_TYPES[`${pair.a.singular}>${pair.b.singular}`];
  if (!d) return undefined;
  const labels = new Map<number, string | null>([[d.unlabeled[0], null]]);
  if (d.primary) labels.set(d.primary[0], "Primary");
  return { unlabeled: d.unlabeled[0], primary: d.primary?.[0], labels };
}

/** b→a id → a→b id for the pair's default types (what type-map.ts would otherwise learn by reading). */
export function defaultTypeMap(pair: Pick<AssociationPair, "a" | "b">): Record<string, number> {
  const d = DEFAULT_TYPES[`${pair.a.singular}>${pair.b.singular}`];
  if (!d) return {};
  const map: Record<string, number> = { [String(d.unlabeled[1])]: d.unlabeled[0] };
  if (d.primary) map[String(d.primary[1])] = d.primary[0];
  return map;
}
