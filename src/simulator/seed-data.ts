/**
 * Vocabulary and value formatting for seeded portals. Kept apart from seed.ts so the seeder reads
 * as "what a portal contains" and this file as "what the values look like".
 */
import type { Prng } from "./prng.ts";
import type { PropertyType } from "./store.ts";

export const FIRST_NAMES = [
  "Ada", "Ben", "Chloé", "Dmitri", "Elif", "Femi", "Greta", "Hiro", "Ines", "Jonas", "Kavya", "Liam", "Mei", "Nadia", "Oscar",
  "Priya", "Quentin", "Rosa", "Sven", "Tariq", "Uma", "Viktor", "Wen", "Ximena", "Yusuf", "Zoë", "Amara", "Björn", "Carmen", "Dario",
];
export const LAST_NAMES = [
  "Abara", "Becker", "Castillo", "Dubois", "Eriksen", "Fischer", "García", "Haddad", "Ivanova", "Jensen", "Kowalski", "López",
  "Müller", "Nakamura", "O'Brien", "Patel", "Quinn", "Rossi", "Schmidt", "Tanaka", "Usman", "Van Dijk", "Wagner", "Xu", "Yılmaz", "Zhang",
];
const COMPANY_WORDS = [
  "Acme", "Apex", "Beacon", "Blue", "Cedar", "Cobalt", "Delta", "Ember", "Falcon", "Granite", "Harbor", "Helix", "Iron", "Juniper",
  "Keystone", "Lumen", "Maple", "Nimbus", "Nova", "Orbit", "Pioneer", "Quartz", "Redwood", "Summit", "Tidal", "Umbra", "Vertex", "Willow",
];
const COMPANY_SUFFIXES = ["Labs", "Systems", "Logistics", "Health", "Analytics", "Foods", "Robotics", "Capital", "Energy", "Studio", "Works", "Retail"];
export const CITIES: Array<[string, string]> = [
  ["Berlin", "Germany"], ["Boston", "United States"], ["Lisbon", "Portugal"], ["Lyon", "France"], ["Osaka", "Japan"], ["Toronto", "Canada"],
  ["Austin", "United States"], ["Dublin", "Ireland"], ["Melbourne", "Australia"], ["São Paulo", "Brazil"], ["Nairobi", "Kenya"], ["Pune", "India"],
];
export const JOB_TITLES = ["CEO", "CTO", "VP Sales", "Head of Operations", "Engineer", "Account Manager", "Buyer", "Finance Director", "Marketing Lead", "Analyst"];
export const PRODUCT_NAMES = ["Starter plan", "Growth plan", "Enterprise plan", "Onboarding", "Support add-on", "Training day", "API pack", "Hardware kit", "Data migration", "Consulting hour"];
export const CAR_MAKES: Record<string, string[]> = {
  volkswagen: ["Golf", "Passat", "ID.4"],
  toyota: ["Corolla", "Yaris", "RAV4"],
  tesla: ["Model 3", "Model Y"],
  renault: ["Clio", "Zoe", "Megane"],
};

export function companyName(rng: Prng, index: number): string {
  const base = `${rng.pick(COMPANY_WORDS)} ${rng.pick(COMPANY_SUFFIXES)}`;
  // Names repeat in real portals; domains (the dedupe key) stay unique through the index.
  return index % 7 === 0 ? `${base} ${index}` : base;
}

export function domainOf(name: string, index: number): string {
  return `${name.toLowerCase().normalize("NFD").replace(/[^a-z0-9]+/g, "")}${index}.example.com`;
}

export function emailOf(first: string, last: string, index: number, domain: string): string {
  const local = `${first}.${last}`.toLowerCase().normalize("NFD").replace(/[^a-z.]/g, "");
  return `${local}${index}@${domain}`;
}

export function phone(rng: Prng): string {
  return `+1 (${rng.int(200, 989)}) ${rng.int(200, 999)}-${String(rng.int(0, 9999)).padStart(4, "0")}`;
}

export function isoDate(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

export function isoDateTime(ms: number): string {
  return new Date(ms).toISOString();
}

const WORDS = "the customer asked about pricing renewal integration onboarding invoice contract timeline demo feedback roadmap support".split(" ");

export function sentence(rng: Prng, words: number): string {
  const out: string[] = [];
  for (let i = 0; i < words; i++) out.push(rng.pick(WORDS));
  const text = out.join(" ");
  return text[0]!.toUpperCase() + text.slice(1) + ".";
}

/** A custom property of each HubSpot type/fieldType combination, added to contacts, companies and deals. */
export interface CustomPropertySpec {
  name: string;
  label: string;
  type: PropertyType;
  fieldType: string;
  options?: string[];
}

export const CUSTOM_PROPERTIES: CustomPropertySpec[] = [
  { name: "sim_nickname", label: "Nickname", type: "string", fieldType: "text" },
  { name: "sim_notes", label: "Account notes", type: "string", fieldType: "textarea" },
  { name: "sim_score", label: "Health score", type: "number", fieldType: "number" },
  { name: "sim_vip", label: "VIP", type: "bool", fieldType: "booleancheckbox" },
  { name: "sim_renewal_date", label: "Renewal date", type: "date", fieldType: "date" },
  { name: "sim_last_review_at", label: "Last review", type: "datetime", fieldType: "date" },
  { name: "sim_tier", label: "Tier", type: "enumeration", fieldType: "select", options: ["bronze", "silver", "gold", "platinum"] },
  { name: "sim_region", label: "Region", type: "enumeration", fieldType: "radio", options: ["emea", "amer", "apac"] },
  { name: "sim_interests", label: "Interests", type: "enumeration", fieldType: "checkbox", options: ["analytics", "automation", "billing", "mobile", "security"] },
  { name: "sim_backup_phone", label: "Backup phone", type: "phone_number", fieldType: "phonenumber" },
];

/** A value for one custom property, or undefined (left empty, as many real values are). */
export function customValue(rng: Prng, spec: CustomPropertySpec, now: number): string | undefined {
  if (rng.chance(0.2)) return undefined;
  switch (spec.fieldType) {
    case "text":
      return rng.pick(FIRST_NAMES);
    case "textarea":
      return `${sentence(rng, 6)}\n${sentence(rng, 4)}`;
    case "number":
      return rng.chance(0.3) ? String(rng.int(0, 100)) : (rng.next() * 100).toFixed(2);
    case "booleancheckbox":
      return rng.chance(0.3) ? "true" : "false";
    case "date":
      return spec.type === "date" ? isoDate(now + rng.int(-400, 400) * 86_400_000) : isoDateTime(now - rng.int(0, 400 * 86_400_000));
    case "select":
    case "radio":
      return rng.pick(spec.options!);
    case "checkbox":
      return rng.sample(spec.options!, rng.int(1, 3)).join(";");
    case "phonenumber":
      return phone(rng);
    default:
      return undefined;
  }
}
