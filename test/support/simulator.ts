import { Client } from "@hubspot/api-client";
import { startSimulator, type RunningSimulator, type SimulatorOptions } from "../../src/simulator/index.ts";

/**
 * A simulator for one test file plus a @hubspot/api-client Client pointed at it. The SDK's
 * retry settings are process-global: each new Client resets them, and an API object (e.g.
 * crm.contacts.basicApi) takes the settings current when it is first touched. So build each
 * client's API objects right away.
 */

export interface TestSimulator extends RunningSimulator {
  client(options?: { numberOfApiCallRetries?: number; accessToken?: string }): Client;
}

export async function testSimulator(options: Partial<SimulatorOptions> = {}): Promise<TestSimulator> {
  const sim = await startSimulator({ rateLimits: false, ...options });
  return Object.assign(sim, {
    client(o: { numberOfApiCallRetries?: number; accessToken?: string } = {}): Client {
      const c = new Client({ accessToken: o.accessToken ?? sim.token, basePath: sim.url, numberOfApiCallRetries: o.numberOfApiCallRetries ?? 0 });
      // Touch the APIs now so they keep this client's retry decorators.
      void c.crm.contacts.basicApi;
      void c.crm.objects.searchApi;
      return c;
    },
  });
}

export interface ApiFailure {
  code: number;
  body: Record<string, any>;
  headers: Record<string, string>;
}

/** The ApiException a generated SDK call throws (status, parsed body, headers); fails if it succeeds. */
export async function apiError(p: Promise<unknown>): Promise<ApiFailure> {
  try {
    await p;
  } catch (e) {
    const err = e as { code: number; body: unknown; headers: Record<string, string> };
    return { code: err.code, body: typeof err.body === "string" ? JSON.parse(err.body) : (err.body as Record<string, any>), headers: err.headers };
  }
  throw new Error("expected the call to fail");
}
