import * as os from "node:os"
import { Environment } from "../domain/Results.ts"
import { TOOL, VERSION } from "../Version.ts"

/** Where a run happened. Under Deno, process.versions.node is Deno's Node-compat version, not a Node. */
export const currentEnvironment = (startedAt: Date): Environment => {
  const versions = process.versions as Record<string, string | undefined>
  const runtime = versions["deno"] !== undefined ? "deno" : versions["bun"] !== undefined ? "bun" : versions["node"] !== undefined ? "node" : "unknown"
  const runtimeVersion = versions["deno"] ?? versions["bun"] ?? versions["node"] ?? "unknown"
  let hostname = "unknown"
  try {
    hostname = os.hostname()
  } catch {
    // Deno without --allow-sys
  }
  return Environment.make({
    tool: TOOL,
    toolVersion: VERSION,
    runtime,
    runtimeVersion,
    platform: process.platform,
    arch: process.arch,
    cpus: typeof os.availableParallelism === "function" ? os.availableParallelism() : 1,
    hostname,
    startedAt: startedAt.toISOString()
  })
}
