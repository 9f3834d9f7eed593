import { z } from "zod";
import { isReadOnlyProperty, type PropertyDef } from "../hubspot/schemas.ts";
import { LOCAL_ID_PROPERTY } from "./plan.ts";

/** A change HubSpot would refuse, by the property's own rules (as the properties API describes them). */
export interface Problem {
  property: string;
  value: string;
  code: string;
  message: string;
}

const Options = z.array(z.object({ value: z.string(), hidden: z.boolean().optional() }).passthrough()).catch([]);

const NUMBER = /^-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/;
const DATE = /^\d{4}-\d{2}-\d{2}$/;
const EPOCH_MS = /^-?\d+$/;
const EMAIL = /^[^\s@;,]+@[^\s@;,]+\.[^\s@;,]+$/;
const MAX_STRING = 65_536;

/** Checks one property value against its definition; '' (clearing) is always allowed for writable properties. */
export function checkValue(objectType: string, def: PropertyDef | undefined, name: string, value: string): Problem | null {
  const problem = (code: string, message: string): Problem => ({ property: name, value, code, message });
  if (name === LOCAL_ID_PROPERTY) return null;
  if (!def || def.archived) return problem("PROPERTY_DOESNT_EXIST", `Property "${name}" does not exist`);
  if (isReadOnlyProperty(def)) {
    return problem("READ_ONLY_VALUE", `Property "${name}" is read-only${def.calculated ? " (calculated)" : ""}`);
  }
  if (value === "") return null;
  switch (def.type) {
    case "number":
      if (!NUMBER.test(value)) return problem("INVALID_NUMBER", `"${value}" is not a valid number`);
      break;
    case "bool":
      if (value !== "true" && value !== "false") return problem("INVALID_BOOLEAN", `"${value}" is not true or false`);
      break;
    case "date":
      if (!DATE.test(value) && !EPOCH_MS.test(value)) return problem("INVALID_DATE", `"${value}" is not a date (YYYY-MM-DD)`);
      if (DATE.test(value) && Number.isNaN(Date.parse(`${value}T00:00:00Z`))) return problem("INVALID_DATE", `"${value}" is not a date`);
      break;
    case "datetime":
      if (!EPOCH_MS.test(value) && Number.isNaN(Date.parse(value))) return problem("INVALID_DATETIME", `"${value}" is not an ISO 8601 datetime`);
      break;
    case "enumeration": {
      const options = Options.parse((def as { options?: unknown }).options ?? []).map((o) => o.value);
      const values = def.fieldType === "checkbox" ? value.replace(/^;/, "").split(";") : [value];
      const bad = values.filter((v) => !options.includes(v));
      if (bad.length > 0 && options.length > 0) {
        return problem("INVALID_OPTION", `${bad.map((b) => `"${b}"`).join(", ")} was not one of the allowed options: [${options.join(", ")}]`);
      }
      break;
    }
    default:
      if (value.length > MAX_STRING) return problem("INVALID_LENGTH", `longer than ${MAX_STRING} characters`);
      if (objectType === "contacts" && name === "email" && !EMAIL.test(value)) {
        return problem("INVALID_EMAIL", `Email address ${value} is invalid`);
      }
  }
  return null;
}

export function checkProperties(objectType: string, defs: PropertyDef[], properties: Record<string, string>): Problem[] {
  const byName = new Map(defs.map((d) => [d.name, d]));
  const out: Problem[] = [];
  for (const [name, value] of Object.entries(properties)) {
    const p = checkValue(objectType, byName.get(name), name, value);
    if (p) out.push(p);
  }
  return out;
}
