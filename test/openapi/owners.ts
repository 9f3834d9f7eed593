/** Owners v3 shapes, written from PublicApiSpecs/CRM/Crm Owners/Rollouts/146888/v3/crmOwners.json. */
import { z } from "zod";
import { collectionForwardPaging, dateTime, int32 } from "./common.ts";

/** PublicTeam: id, name, primary required. */
export const PublicTeam = z.strictObject({ id: z.string(), name: z.string(), primary: z.boolean() });

/**
 * PublicOwner: id, type (PERSON|QUEUE), archived, createdAt, updatedAt required. DEVIATION: the docs
 * say a deactivated owner has `userId: null` (the id moves to userIdIncludingInactive), so null is allowed.
 */
export const PublicOwner = z.strictObject({
  id: z.string(),
  type: z.enum(["PERSON", "QUEUE"]),
  archived: z.boolean(),
  createdAt: dateTime,
  updatedAt: dateTime,
  email: z.string().optional(),
  firstName: z.string().optional(),
  lastName: z.string().optional(),
  userId: int32.nullable().optional(),
  userIdIncludingInactive: int32.optional(),
  teams: z.array(PublicTeam).optional(),
});

export const CollectionResponsePublicOwnerForwardPaging = collectionForwardPaging(PublicOwner);
