#!/usr/bin/env node
// Entry point of the `hubsync` command (Node >= 22.18 runs this TypeScript file directly).
import { main } from "./main.ts";

process.exitCode = await main(process.argv.slice(2), { processEntry: true });
