/**
 * Association type definitions (labels) per ordered pair of object types, as HubSpot's v4 schema API
 * exposes them. Type ids are only unique within a pair and direction in HubSpot (USER_DEFINED 28 on
 * contact→company and HUBSPOT_DEFINED 28 on ticket→deal coexist), so everything here is keyed by the
 * ordered pair of object type ids ("0-1", "2-123").
 */
import { standardObjectTypes } from "./object-types.ts";

export type AssociationCategory = "HUBSPOT_DEFINED" | "USER_DEFINED" | "INTEGRATOR_DEFINED" | "WORK";

export interface AssociationTypeDef {
  typeId: number;
  category: AssociationCategory;
  /** null for the unlabeled type, as HubSpot sends it. */
  label: string | null;
  /** Internal name given when a USER_DEFINED label was created (HubSpot's `name`). */
  name?: string;
  /** The id of the same association seen from the other side. */
  inverseTypeId: number;
  /** Exactly one target may carry it per source record (contact→company "Primary"). */
  primary?: boolean;
  /** The pair's default type: every labeled association implies it (HubSpot creates it too). */
  unlabeled?: boolean;
}

/** Singular name → type id of the standard objects (the names HubSpot's association docs use). */
const OBJECT_TYPE_IDS: Record<string, string> = Object.fromEntries(
  standardObjectTypes().map((t) => [t.singular, t.objectTypeId]),
);
type Std = "contact" | "company" | "deal" | "ticket" | "line_item" | "quote" | "communication" | "task" | "note" | "meeting" | "call" | "email" | "postal_mail";

/** [from, to, forward id, inverse id, forward label, inverse label, primary?]: HubSpot's
 * HUBSPOT_DEFINED type ids from its association docs, the same as @hubspot/api-client's AssociationTypes. */
type Row = [Std, Std, number, number, (string | null)?, (string | null)?, boolean?];

// Unlabeled rows first: the first row of a pair is its default ("unlabeled") type.
const DEFAULT_ROWS: Row[] = [
  ["contact", "company", 279, 280],
  ["contact", "company", 1, 2, "Primary", "Primary", true],
  ["contact", "deal", 4, 3],
  ["deal", "company", 341, 342],
  ["deal", "company", 5, 6, "Primary", "Primary", true],
  ["contact", "ticket", 15, 16],
  ["ticket", "company", 339, 340],
  ["ticket", "company", 26, 25, "Primary", "Primary", true],
  ["deal", "ticket", 27, 28],
  ["deal", "line_item", 19, 20],
  ["deal", "quote", 63, 64],
  ["quote", "line_item", 67, 68],
  ["quote", "contact", 69, 70],
  ["quote", "company", 71, 72],
  ["quote", "task", 217, 218],
  // Same-type pairs: one symmetric unlabeled id.
  ["contact", "contact", 449, 449],
  ["company", "company", 450, 450],
  // The label names the *target*: from a parent the target is its child.
  ["company", "company", 13, 14, "Child Company", "Parent Company"],
  ["deal", "deal", 451, 451],
  ["ticket", "ticket", 452, 452],
  ["contact", "call", 193, 194],
  ["contact", "email", 197, 198],
  ["contact", "meeting", 199, 200],
  ["contact", "note", 201, 202],
  ["contact", "task", 203, 204],
  ["company", "call", 181, 182],
  ["company", "email", 185, 186],
  ["company", "meeting", 187, 188],
  ["company", "note", 189, 190],
  ["company", "task", 191, 192],
  ["deal", "call", 205, 206],
  ["deal", "email", 209, 210],
  ["deal", "meeting", 211, 212],
  ["deal", "note", 213, 214],
  ["deal", "task", 215, 216],
  ["ticket", "call", 219, 220],
  ["ticket", "email", 223, 224],
  ["ticket", "meeting", 225, 226],
  ["ticket", "note", 227, 228],
  ["ticket", "task", 229, 230],
  ["communication", "contact", 81, 82],
  ["communication", "ticket", 83, 84],
  ["communication", "deal", 85, 86],
  ["communication", "company", 87, 88],
  ["postal_mail", "contact", 453, 454],
  ["postal_mail", "ticket", 455, 456],
  ["postal_mail", "deal", 457, 458],
  ["postal_mail", "company", 459, 460],
  ["call", "meeting", 399, 400],
];

export function pairKey(fromTypeId: string, toTypeId: string): string {
  return `${fromTypeId}>${toTypeId}`;
}

export interface AssociationTypesOptions {
  /** USER_DEFINED labels (and unlabeled types of pairs HubSpot has no default for) get ids from here up. */
  firstUserDefinedTypeId?: number;
}

export class AssociationTypeRegistry {
  #pairs = new Map<string, Map<number, AssociationTypeDef>>();
  #nextUserId: number;

  constructor(options: AssociationTypesOptions = {}) {
    this.#nextUserId = options.firstUserDefinedTypeId ?? 1000;
    for (const [from, to, fwd, inv, fwdLabel, invLabel, primary] of DEFAULT_ROWS) {
      const a = OBJECT_TYPE_IDS[from]!;
      const b = OBJECT_TYPE_IDS[to]!;
      const unlabeled = !fwdLabel;
      this.#put(a, b, { typeId: fwd, category: "HUBSPOT_DEFINED", label: fwdLabel ?? null, inverseTypeId: inv, primary, unlabeled });
      if (a !== b || fwd !== inv) {
        // Uniqueness binds the source side only: a contact has one primary company, a company many primary contacts.
        this.#put(b, a, { typeId: inv, category: "HUBSPOT_DEFINED", label: invLabel ?? null, inverseTypeId: fwd, unlabeled });
      }
    }
  }

  #put(from: string, to: string, def: AssociationTypeDef): void {
    const key = pairKey(from, to);
    let defs = this.#pairs.get(key);
    if (!defs) this.#pairs.set(key, (defs = new Map()));
    defs.set(def.typeId, def);
  }

  /** Every type for the pair, unlabeled first; creates the pair's unlabeled type on first use. */
  list(from: string, to: string): AssociationTypeDef[] {
    this.unlabeled(from, to);
    return [...this.#pairs.get(pairKey(from, to))!.values()];
  }

  get(from: string, to: string, typeId: number): AssociationTypeDef | undefined {
    this.unlabeled(from, to);
    return this.#pairs.get(pairKey(from, to))!.get(typeId);
  }

  /**
   * The pair's default type. Pairs HubSpot ships no default for (custom objects, products…) get one
   * allocated the first time they are used, as a custom object's schema association would.
   */
  unlabeled(from: string, to: string): AssociationTypeDef {
    const defs = this.#pairs.get(pairKey(from, to));
    if (defs) for (const d of defs.values()) if (d.unlabeled) return d;
    const fwd = this.#nextUserId++;
    const inv = from === to ? fwd : this.#nextUserId++;
    this.#put(from, to, { typeId: fwd, category: "USER_DEFINED", label: null, inverseTypeId: inv, unlabeled: true });
    if (from !== to) this.#put(to, from, { typeId: inv, category: "USER_DEFINED", label: null, inverseTypeId: fwd, unlabeled: true });
    return this.#pairs.get(pairKey(from, to))!.get(fwd)!;
  }

  /**
   * A USER_DEFINED label. Like HubSpot it exists in both directions: with an inverseLabel the reverse
   * direction is named by it, without one the reverse carries the same label. Same-type pairs without
   * an inverse label share one id. Returns the definitions created (forward first).
   */
  createLabel(from: string, to: string, input: { label: string; name: string; inverseLabel?: string }): AssociationTypeDef[] {
    this.unlabeled(from, to);
    const symmetric = from === to && !input.inverseLabel;
    const fwd = this.#nextUserId++;
    const inv = symmetric ? fwd : this.#nextUserId++;
    const forward: AssociationTypeDef = { typeId: fwd, category: "USER_DEFINED", label: input.label, name: input.name, inverseTypeId: inv };
    this.#put(from, to, forward);
    if (symmetric) return [forward];
    const inverse: AssociationTypeDef = {
      typeId: inv,
      category: "USER_DEFINED",
      label: input.inverseLabel ?? input.label,
      name: input.name,
      inverseTypeId: fwd,
    };
    this.#put(to, from, inverse);
    return [forward, inverse];
  }

  /** Renames a USER_DEFINED label (and its inverse). False when the id is not a user label of the pair. */
  updateLabel(from: string, to: string, typeId: number, label: string, inverseLabel?: string): boolean {
    const def = this.get(from, to, typeId);
    if (!def || def.category !== "USER_DEFINED" || def.unlabeled) return false;
    def.label = label;
    const inv = this.get(to, from, def.inverseTypeId);
    if (inv && inv !== def) inv.label = inverseLabel ?? (inv.label === null ? label : inv.label);
    return true;
  }

  /** Deletes a USER_DEFINED label in both directions. */
  deleteLabel(from: string, to: string, typeId: number): AssociationTypeDef | undefined {
    const def = this.get(from, to, typeId);
    if (!def || def.category !== "USER_DEFINED" || def.unlabeled) return undefined;
    this.#pairs.get(pairKey(from, to))!.delete(typeId);
    this.#pairs.get(pairKey(to, from))?.delete(def.inverseTypeId);
    return def;
  }

  /** Ordered pairs (both directions) with at least one definition. */
  pairs(): Array<{ from: string; to: string }> {
    return [...this.#pairs.keys()].map((k) => {
      const [from, to] = k.split(">") as [string, string];
      return { from, to };
    });
  }
}
