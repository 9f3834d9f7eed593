import type { ApiVersion } from "./version.ts";

/**
 * Account information: `/account-info/{v}/details` (legacy `/account-info/v3/details`). Any token
 * may read it; its time zone is the one whose midnight resets the daily quota.
 */
export function accountPaths(version: ApiVersion) {
  return { details: () => `/account-info/${version === "legacy" ? "v3" : version}/details` };
}
