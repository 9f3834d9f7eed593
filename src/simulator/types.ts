/**
 * The shapes the simulated portal stores: property definitions, owners, pipelines, records. Kept
 * apart from store.ts so that the default catalogs (default-properties.ts, default-pipelines.ts),
 * which store.ts loads, can name them without importing store.ts back.
 */

export type PropertyType = "string" | "number" | "date" | "datetime" | "enumeration" | "bool" | "phone_number";

export interface PropertyOption {
  label: string;
  value: string;
  description: string;
  displayOrder: number;
  hidden: boolean;
}

export interface PropertyDefinition {
  name: string;
  label: string;
  type: PropertyType;
  fieldType: string;
  groupName: string;
  description: string;
  options: PropertyOption[];
  displayOrder: number;
  hasUniqueValue: boolean;
  hidden: boolean;
  formField: boolean;
  hubspotDefined: boolean;
  calculated: boolean;
  externalOptions: boolean;
  createdAt: string;
  updatedAt: string;
  archived: boolean;
  archivedAt?: string;
  modificationMetadata: { archivable: boolean; readOnlyDefinition: boolean; readOnlyValue: boolean; readOnlyOptions?: boolean };
  referencedObjectType?: string;
}

/** A new custom object type, as the schemas API and the control API take it; P is how one property is given. */
export interface ObjectTypeInput<P> {
  name: string;
  labels: { singular: string; plural: string };
  primaryDisplayProperty?: string;
  secondaryDisplayProperties?: string[];
  searchableProperties?: string[];
  requiredProperties?: string[];
  properties?: P[];
}

export interface Owner {
  id: string;
  email: string | null;
  firstName: string | null;
  lastName: string | null;
  userId: number | null;
  userIdIncludingInactive: number | null;
  type: "PERSON" | "QUEUE";
  teams: { id: string; name: string; primary: boolean }[];
  createdAt: number;
  updatedAt: number;
  archived: boolean;
}

export interface PipelineStage {
  id: string;
  label: string;
  displayOrder: number;
  metadata: Record<string, string>;
  createdAt: number;
  updatedAt: number;
  archived: boolean;
}

export interface Pipeline {
  id: string;
  label: string;
  displayOrder: number;
  stages: PipelineStage[];
  createdAt: number;
  updatedAt: number;
  archived: boolean;
}

export interface StoredRecord {
  readonly id: string;
  readonly idNum: number;
  /** Every value as HubSpot returns it (strings); a missing key means "no value". */
  properties: Record<string, string>;
  createdAt: number;
  updatedAt: number;
  archived: boolean;
  archivedAt: number | null;
  /**
   * Every version of each property that changed since the record was created, oldest first (a
   * property never changed has one version, its value at creation). Kept only once a property
   * changes, so a million seeded records cost nothing extra.
   */
  history?: Record<string, PropertyVersion[]>;
}

/** One value a property had, as propertiesWithHistory lists it ("" for a cleared value). */
export interface PropertyVersion {
  value: string;
  at: number;
  sourceType: string;
  sourceId?: string;
  updatedByUserId?: number;
}

/** What search sees of a record: the live record, or a frozen older copy while the index lags. */
export interface SearchView {
  readonly id: string;
  readonly idNum: number;
  readonly properties: Readonly<Record<string, string>>;
  readonly createdAt: number;
  readonly updatedAt: number;
}
