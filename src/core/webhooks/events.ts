import { z } from "zod";

/**
 * HubSpot's webhook event (app webhooks v3): a batch is a JSON array of up to 100 of these.
 * Fields HubSpot may add are kept (passthrough); ids arrive as numbers, we keep them as text.
 */

const Id = z.union([z.number().int().nonnegative(), z.string().regex(/^\d{1,20}$/)]).transform(String);

export const WEBHOOK_ACTIONS = ["creation", "deletion", "propertyChange", "associationChange", "merge", "restore", "privacyDeletion"] as const;
export type WebhookAction = (typeof WEBHOOK_ACTIONS)[number];

export const WebhookEvent = z
  .object({
    eventId: z.number().int().optional(),
    subscriptionId: z.number().int().optional(),
    portalId: z.number().int().optional(),
    appId: z.number().int().optional(),
    occurredAt: z.number().int(),
    /** `contact.propertyChange`, or `object.creation` with `objectTypeId` for the generic form. */
    subscriptionType: z.string().regex(/^[a-z_]+\.[A-Za-z]+$/, "subscriptionType must look like <object>.<action>"),
    attemptNumber: z.number().int().optional(),
    objectId: Id.optional(),
    objectTypeId: z.string().regex(/^\d+-\d+$/).optional(),
    propertyName: z.string().optional(),
    propertyValue: z.string().optional(),
    changeSource: z.string().optional(),
    sourceId: z.string().optional(),
    changeFlag: z.string().optional(),
    // merge
    primaryObjectId: Id.optional(),
    mergedObjectIds: z.array(Id).optional(),
    newObjectId: Id.optional(),
    numberOfPropertiesMoved: z.number().int().optional(),
    // associationChange
    associationType: z.string().optional(),
    associationTypeId: z.number().int().optional(),
    fromObjectId: Id.optional(),
    toObjectId: Id.optional(),
    fromObjectTypeId: z.string().optional(),
    toObjectTypeId: z.string().optional(),
    associationRemoved: z.boolean().optional(),
    isPrimaryAssociation: z.boolean().optional(),
  })
  .passthrough();
export type WebhookEvent = z.infer<typeof WebhookEvent>;

/** HubSpot sends at most 100 events per request; a bigger batch is not HubSpot. */
export const MAX_EVENTS_PER_BATCH = 100;
export const WebhookBatch = z.array(WebhookEvent).min(1).max(MAX_EVENTS_PER_BATCH);
/** What a request body must be before its events are looked at one by one. */
export const WebhookRequestBody = z.array(z.unknown()).min(1).max(MAX_EVENTS_PER_BATCH);
