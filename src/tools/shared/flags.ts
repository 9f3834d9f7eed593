import { z } from "zod";

/** A --latency flag of the demo, the bench and the soak: MS or MIN-MAX milliseconds per simulated HubSpot request. */
export const LatencyFlag = z
  .string()
  .regex(/^\d+(-\d+)?$/, "is MS or MIN-MAX (milliseconds)")
  .transform((s) => {
    const [min, max] = s.split("-").map(Number);
    return { min: min!, max: max ?? min! };
  })
  .refine((l) => l.max >= l.min, "MAX is below MIN");
