/** Pipelines v3 shapes, written from PublicApiSpecs/CRM/Pipelines/Rollouts/145896/v3/pipelines.json. */
import { z } from "zod";
import { collectionNoPaging, dateTime, int32, stringMap } from "./common.ts";

/** PipelineStage: id, label, displayOrder, metadata, createdAt, updatedAt, archived required. */
export const PipelineStage = z.strictObject({
  id: z.string(),
  label: z.string(),
  displayOrder: int32,
  metadata: stringMap,
  createdAt: dateTime,
  updatedAt: dateTime,
  archived: z.boolean(),
  archivedAt: dateTime.optional(),
  writePermissions: z.enum(["CRM_PERMISSIONS_ENFORCEMENT", "INTERNAL_ONLY", "READ_ONLY"]).optional(),
});

/** Pipeline: id, label, displayOrder, stages, createdAt, updatedAt, archived required. */
export const Pipeline = z.strictObject({
  id: z.string(),
  label: z.string(),
  displayOrder: int32,
  stages: z.array(PipelineStage),
  createdAt: dateTime,
  updatedAt: dateTime,
  archived: z.boolean(),
  archivedAt: dateTime.optional(),
});

export const CollectionResponsePipelineNoPaging = collectionNoPaging(Pipeline);
export const CollectionResponsePipelineStageNoPaging = collectionNoPaging(PipelineStage);
