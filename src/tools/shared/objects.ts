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

/**
 * The seed generator spreads a portal over many types; these four get 48% of its records, of which
 * a few are archived or merged away: 46.7% are live (measured: 97,335 of a 208,334-record seed).
 */
export const SYNCED_SHARE_OF_SEED = 0.465;

/** Seed size that gives about `records` records of the synced types. */
export function seedSizeFor(records: number): number {
  return Math.ceil(records / SYNCED_SHARE_OF_SEED);
}
