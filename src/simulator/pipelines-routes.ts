import { notFound } from "./http-errors.ts";
import { requireType } from "./objects-routes.ts";
import type { Router, SimContext, SimRequest, SimResponse } from "./router.ts";
import type { Pipeline, PipelineStage } from "./store.ts";

/** Pipelines v3: list (HubSpot does not page it), one pipeline, its stages. */

const iso = (ms: number): string => new Date(ms).toISOString();

export function stageJson(s: PipelineStage) {
  return { id: s.id, label: s.label, displayOrder: s.displayOrder, metadata: s.metadata, createdAt: iso(s.createdAt), updatedAt: iso(s.updatedAt), archived: s.archived, writePermissions: "CRM_PERMISSIONS_ENFORCEMENT" };
}

export function pipelineJson(p: Pipeline) {
  return { id: p.id, label: p.label, displayOrder: p.displayOrder, stages: p.stages.filter((s) => !s.archived).map(stageJson), createdAt: iso(p.createdAt), updatedAt: iso(p.updatedAt), archived: p.archived };
}

function pipelineOf(req: SimRequest, ctx: SimContext): Pipeline {
  const type = requireType(ctx.store, req.params.objectType!);
  const p = ctx.store.pipelinesOf(type).find((x) => x.id === req.params.pipelineId && !x.archived);
  if (!p) throw notFound(`Unable to find pipeline ${req.params.pipelineId}`);
  return p;
}

function list(req: SimRequest, ctx: SimContext): SimResponse {
  const type = requireType(ctx.store, req.params.objectType!);
  return { status: 200, body: { results: ctx.store.pipelinesOf(type).filter((p) => !p.archived).map(pipelineJson) } };
}

function getOne(req: SimRequest, ctx: SimContext): SimResponse {
  return { status: 200, body: pipelineJson(pipelineOf(req, ctx)) };
}

function stages(req: SimRequest, ctx: SimContext): SimResponse {
  return { status: 200, body: { results: pipelineOf(req, ctx).stages.filter((s) => !s.archived).map(stageJson) } };
}

function stage(req: SimRequest, ctx: SimContext): SimResponse {
  const s = pipelineOf(req, ctx).stages.find((x) => x.id === req.params.stageId && !x.archived);
  if (!s) throw notFound(`Unable to find stage ${req.params.stageId}`);
  return { status: 200, body: stageJson(s) };
}

export function registerPipelineRoutes(router: Router): void {
  router.route("GET", "/crm/v3/pipelines/{objectType}", list);
  router.route("GET", "/crm/v3/pipelines/{objectType}/{pipelineId}", getOne);
  router.route("GET", "/crm/v3/pipelines/{objectType}/{pipelineId}/stages", stages);
  router.route("GET", "/crm/v3/pipelines/{objectType}/{pipelineId}/stages/{stageId}", stage);
}
