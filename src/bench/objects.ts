/**
 * The object types the demo and the bench sync: the four a CRM copy is about. `changeProperty` is a
 * plain text property of each type that the incremental and write-back runs change (and look for).
 */
export interface SyncedType {
  type: string;
  lastModified: string;
  changeProperty: string;
}

export const SYNCED_TYPES: SyncedType[] = [
  { type: "contacts", lastModified: "lastmodifieddate", changeProperty: "jobtitle" },
  { type: "companies", lastModified: "hs_lastmodifieddate", changeProperty: "description" },
  { type: "deals", lastModified: "hs_lastmodifieddate", changeProperty: "description" },
  { type: "tickets", lastModified: "hs_lastmodifieddate", changeProperty: "content" },
];

/** The seed generator spreads a portal over many types; these four get this share of its records. */
export const SYNCED_SHARE_OF_SEED = 0.28 + 0.08 + 0.08 + 0.04;

/** Seed size that gives about `records` records of the synced types. */
export function seedSizeFor(records: number): number {
  return Math.ceil(records / SYNCED_SHARE_OF_SEED);
}
