import { crmBase, seg, type ApiVersion } from "./version.ts";

/** Pipelines and their stages: `/crm/pipelines/{v}/{type}` (legacy `/crm/v3/pipelines/{type}`). */
export function pipelinesPaths(version: ApiVersion) {
  const base = crmBase("pipelines", version, "/crm/v3/pipelines");
  return { list: (objectType: string) => `${base}/${seg(objectType)}` };
}
