import { assert, describe, it } from "@effect/vitest"
import { Either } from "effect"
import * as YAML from "yaml"
import * as RouterConfig from "../../src/router/RouterConfig.ts"
import { RouterOptions } from "../../src/router/RouterOptions.ts"
import { expandCommand } from "../../src/router/RouterProcess.ts"

const input = { endpoints: ["http://127.0.0.1:4001/"], maxConcurrentConnections: 32, dbPath: "/tmp/x/token_counts.db" }

describe("RouterConfig", () => {
  it("generates the router-contract §1.10 config", () => {
    assert.deepStrictEqual(RouterConfig.generate(input), {
      endpoints: ["http://127.0.0.1:4001"],
      max_concurrent_connections: 32,
      conversation_affinity: false,
      cache_enabled: false,
      db_path: "/tmp/x/token_counts.db"
    })
  })

  it("lists native Ollama endpoints before /v1 ones and gives every /v1 URL an api_keys entry", () => {
    const c = RouterConfig.generate({ ...input, endpoints: ["http://127.0.0.1:5/v1", "http://127.0.0.1:4"] })
    assert.deepStrictEqual(c["endpoints"], ["http://127.0.0.1:4", "http://127.0.0.1:5/v1"])
    assert.deepStrictEqual(c["api_keys"], { "http://127.0.0.1:5/v1": "nomyo-load" })
  })

  it("parses overrides: VALUE as YAML, KEY= removes, errors are one line", () => {
    assert.deepStrictEqual(RouterConfig.parseOverride("cache_ttl=60"), Either.right({ key: "cache_ttl", value: 60, remove: false }))
    assert.deepStrictEqual(RouterConfig.parseOverride("x=[a, 2]"), Either.right({ key: "x", value: ["a", 2], remove: false }))
    assert.deepStrictEqual(RouterConfig.parseOverride("x={a: true}"), Either.right({ key: "x", value: { a: true }, remove: false }))
    assert.deepStrictEqual(RouterConfig.parseOverride('x=""'), Either.right({ key: "x", value: "", remove: false }))
    assert.deepStrictEqual(RouterConfig.parseOverride("x=a=b"), Either.right({ key: "x", value: "a=b", remove: false }))
    assert.deepStrictEqual(RouterConfig.parseOverride("conversation_affinity="), Either.right({ key: "conversation_affinity", value: undefined, remove: true }))
    for (const bad of ["novalue", "=3", "a b=1", "x=[unclosed"]) {
      const r = RouterConfig.parseOverride(bad)
      assert.isTrue(Either.isLeft(r), bad)
      if (Either.isLeft(r)) assert.notInclude(r.left, "\n")
    }
  })

  it("applies overrides in order on top of the generated keys", () => {
    const r = RouterConfig.build(input, ["conversation_affinity=", "max_concurrent_connections=2", "cache_ttl=5", "cache_ttl="])
    assert.isTrue(Either.isRight(r))
    if (Either.isRight(r)) {
      assert.notProperty(r.right, "conversation_affinity")
      assert.notProperty(r.right, "cache_ttl")
      assert.strictEqual(r.right["max_concurrent_connections"], 2)
      // The YAML round-trips.
      assert.deepStrictEqual(YAML.parse(RouterConfig.render(r.right)), r.right)
    }
  })

  it("RouterOptions rejects a malformed --router-config entry with a readable message", () => {
    assert.throws(() => RouterOptions.make({ configOverrides: ["nokey"] }), /--router-config: expects KEY=VALUE/)
    assert.strictEqual(RouterOptions.make({}).workers, 1)
    assert.strictEqual(RouterOptions.make({}).startTimeoutSeconds, 60)
  })

  it("expands --router-cmd placeholders, or appends host/port/workers", () => {
    const v = { host: "127.0.0.1", port: 4321, workers: 3, config: "/tmp/a b/config.yaml" }
    assert.strictEqual(expandCommand("serve --port {port} -c {config}", v), "serve --port 4321 -c '/tmp/a b/config.yaml'")
    assert.strictEqual(expandCommand(".venv/bin/uvicorn router:app", v), ".venv/bin/uvicorn router:app --host 127.0.0.1 --port 4321 --workers 3")
    assert.strictEqual(expandCommand("x {host}:{port} w{workers}", v), "x 127.0.0.1:4321 w3")
  })
})
