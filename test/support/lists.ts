/**
 * A list filter as HubSpot's Lists API takes it: an OR branch at the root holding one AND branch
 * with one property filter (the shape HubSpot requires for DYNAMIC and SNAPSHOT lists).
 */
export function propertyFilter(property: string, operation: Record<string, unknown>) {
  return {
    filterBranchType: "OR",
    filterBranchOperator: "OR",
    filters: [],
    filterBranches: [{
      filterBranchType: "AND",
      filterBranchOperator: "AND",
      filterBranches: [],
      filters: [{ filterType: "PROPERTY", property, operation: { includeObjectsWithNoValueSet: false, ...operation } }],
    }],
  };
}
