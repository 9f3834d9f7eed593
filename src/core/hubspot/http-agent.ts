import http from "node:http";
import https from "node:https";
import type { Duplex } from "node:stream";
import { RequestTimeoutError } from "./errors.ts";

/**
 * @hubspot/api-client has no request timeout. It does send through `httpAgent` when one is given,
 * so the timeout lives in the agent: a socket silent for `timeoutMs` is destroyed, which fails the
 * request with RequestTimeoutError and lets the client retry.
 */
export function createTimeoutAgent(basePath: string, timeoutMs: number, maxSockets: number): http.Agent {
  const isHttps = new URL(basePath).protocol === "https:";
  const options = { keepAlive: true, maxSockets, timeout: timeoutMs };
  const arm = (socket: Duplex) => {
    socket.on("timeout", () => socket.destroy(new RequestTimeoutError(timeoutMs)));
    return socket;
  };
  if (isHttps) {
    return new (class extends https.Agent {
      override createConnection(...args: Parameters<https.Agent["createConnection"]>) {
        return arm(super.createConnection(...args) as Duplex) as ReturnType<https.Agent["createConnection"]>;
      }
    })(options);
  }
  return new (class extends http.Agent {
    override createConnection(...args: Parameters<http.Agent["createConnection"]>) {
      return arm(super.createConnection(...args) as Duplex) as ReturnType<http.Agent["createConnection"]>;
    }
  })(options);
}
