import { assert, describe, layer } from "@effect/vitest"
import { Effect } from "effect"
import * as MockBackend from "../../src/mock/MockBackend.ts"
import { MockOptions } from "../../src/mock/MockOptions.ts"
import { PIECES } from "../../src/mock/Pieces.ts"
import { call, isIso, isNonNegInt, json, ndjson, type Reply, sse } from "./client.ts"

/**
 * Wire conformance with router-contract §2.5, §2.6, §4.3 and the §5 checklist: every route,
 * every field type the router's pydantic models and SDKs read. Each check runs against a mock
 * that writes a whole stream at once (tokMs 0) and one that steps tokens on the ticker.
 */

const TOKENS = 7
const MODELS = ["mock", "x:7b", "m2:latest"] as const
const FULL = Array.from({ length: TOKENS }, (_, i) => PIECES[i % PIECES.length]).join("")

/** Headers the router's clients send (§2.2); the mock must accept them. */
const ROUTER_HEADERS = {
  authorization: "Bearer no-key",
  "x-stainless-lang": "python",
  "x-stainless-retry-count": "0",
  "http-referer": "https://nomyo.ai",
  "x-title": "NOMYO Router",
  "user-agent": "AsyncOpenAI/Python 1.102.0"
}

const OLLAMA_EXTRAS = { tools: [], options: { temperature: 0 }, keep_alive: "5m", think: false, format: "", unknown_field: 1 }
const CHAT_MESSAGES = [{ role: "system" }, { role: "user", content: "Say hello in a few words" }]

const withUrl = <A>(f: (url: string) => Promise<A>) =>
  Effect.gen(function* () {
    const mock = yield* MockBackend.MockBackend
    return yield* Effect.promise(() => f(mock.url))
  })

const assertJsonType = (r: Reply) => assert.match(r.contentType, /^application\/json/)

const assertOllamaFinal = (line: any, model: string, field: "message" | "response", content: string) => {
  assert.strictEqual(line.model, model)
  assert.isTrue(isIso(line.created_at), `created_at ${line.created_at}`)
  assert.strictEqual(line.done, true)
  assert.strictEqual(line.done_reason, "stop")
  for (const k of ["total_duration", "load_duration", "prompt_eval_count", "prompt_eval_duration", "eval_count", "eval_duration"]) {
    assert.isTrue(isNonNegInt(line[k]), `${k} = ${line[k]} is not a non-negative integer`)
  }
  assert.isAtLeast(line.prompt_eval_count, 1)
  assert.strictEqual(line.eval_count, TOKENS)
  assert.isAtLeast(line.total_duration, line.prompt_eval_duration)
  if (field === "message") assert.deepStrictEqual(line.message, { role: "assistant", content })
  else assert.strictEqual(line.response, content)
}

const assertOllamaStream = (r: Reply, model: string, field: "message" | "response") => {
  assert.strictEqual(r.status, 200)
  assert.strictEqual(r.contentType, "application/x-ndjson")
  const lines = ndjson(r)
  assert.strictEqual(lines.length, TOKENS + 1)
  const pieces: Array<string> = []
  lines.forEach((line, i) => {
    assert.strictEqual(line.model, model)
    assert.isTrue(isIso(line.created_at), `line ${i} created_at ${line.created_at}`)
    assert.isUndefined(line.error)
    if (field === "message") {
      assert.strictEqual(line.message.role, "assistant", `line ${i} has message.role`)
      assert.isString(line.message.content)
      assert.isUndefined(line.response)
    } else {
      assert.isString(line.response, `line ${i} has response`)
      assert.isUndefined(line.message)
    }
    if (i < TOKENS) {
      assert.strictEqual(line.done, false)
      const piece = field === "message" ? line.message.content : line.response
      assert.isAbove(piece.length, 0)
      pieces.push(piece)
    }
  })
  assert.strictEqual(pieces.length, TOKENS)
  assert.strictEqual(pieces.join(""), FULL)
  assertOllamaFinal(lines[TOKENS], model, field, "")
}

const assertOpenAiStream = (r: Reply, model: string, kind: "chat" | "text", includeUsage: boolean) => {
  assert.strictEqual(r.status, 200)
  assert.match(r.contentType, /^text\/event-stream/)
  const events = sse(r)
  assert.strictEqual(events.at(-1), "[DONE]", "[DONE] is last")
  assert.strictEqual(events.filter((e) => e === "[DONE]").length, 1)
  const chunks = events.slice(0, -1).map((e) => JSON.parse(e))
  const object = kind === "chat" ? "chat.completion.chunk" : "text_completion"
  const id = chunks[0].id
  assert.isString(id)
  for (const c of chunks) {
    assert.strictEqual(c.id, id)
    assert.strictEqual(c.object, object)
    assert.isTrue(Number.isInteger(c.created))
    assert.strictEqual(c.model, model)
    assert.isArray(c.choices)
    if (c.choices.length === 0) assert.isObject(c.usage, "choices: [] only with usage")
  }
  let rest = chunks
  if (kind === "chat") {
    assert.deepStrictEqual(rest[0].choices, [{ index: 0, delta: { role: "assistant", content: "" }, finish_reason: null }], "role chunk first")
    rest = rest.slice(1)
  }
  const content = rest.slice(0, TOKENS).map((c) => {
    assert.strictEqual(c.choices.length, 1)
    assert.strictEqual(c.choices[0].index, 0)
    assert.strictEqual(c.choices[0].finish_reason, null)
    const piece = kind === "chat" ? c.choices[0].delta.content : c.choices[0].text
    assert.isString(piece)
    assert.isAbove(piece.length, 0)
    if (kind === "chat") assert.deepStrictEqual(Object.keys(c.choices[0].delta), ["content"])
    return piece as string
  })
  assert.strictEqual(content.join(""), FULL)
  const finish = rest[TOKENS]
  assert.strictEqual(finish.choices[0].finish_reason, "stop")
  if (kind === "chat") assert.deepStrictEqual(finish.choices[0].delta, { content: "" })
  else assert.strictEqual(finish.choices[0].text, "")
  const tail = rest.slice(TOKENS + 1)
  if (includeUsage) {
    assert.strictEqual(tail.length, 1)
    assert.deepStrictEqual(tail[0].choices, [])
    const u = tail[0].usage
    assert.isTrue(Number.isInteger(u.prompt_tokens) && u.prompt_tokens >= 1)
    assert.strictEqual(u.completion_tokens, TOKENS)
    assert.strictEqual(u.total_tokens, u.prompt_tokens + u.completion_tokens)
  } else {
    assert.strictEqual(tail.length, 0, "no usage chunk unless include_usage")
    for (const c of chunks) assert.isUndefined(c.usage)
  }
}

const assertOpenAiWhole = (r: Reply, model: string, kind: "chat" | "text") => {
  assert.strictEqual(r.status, 200)
  assertJsonType(r)
  const body = json(r)
  assert.strictEqual(body.object, kind === "chat" ? "chat.completion" : "text_completion")
  assert.isString(body.id)
  assert.isTrue(Number.isInteger(body.created))
  assert.strictEqual(body.model, model)
  assert.strictEqual(body.choices.length, 1)
  const choice = body.choices[0]
  assert.strictEqual(choice.index, 0)
  assert.strictEqual(choice.finish_reason, "stop")
  if (kind === "chat") assert.deepStrictEqual(choice.message, { role: "assistant", content: FULL })
  else assert.strictEqual(choice.text, FULL)
  assert.isTrue(Number.isInteger(body.usage.prompt_tokens) && body.usage.prompt_tokens >= 1)
  assert.strictEqual(body.usage.completion_tokens, TOKENS)
  assert.strictEqual(body.usage.total_tokens, body.usage.prompt_tokens + TOKENS)
}

const suite = (name: string, shaping: { ttftMs: number; tokMs: number }) =>
  layer(MockBackend.layer(MockOptions.make({ ...shaping, tokens: TOKENS, models: [...MODELS] })), { excludeTestServices: true })(
    name,
    (it) => {
      it.effect("GET /api/tags lists tagged names with model, digest, details", () =>
        withUrl(async (url) => {
          const r = await call(url, "/api/tags")
          assert.strictEqual(r.status, 200)
          assertJsonType(r)
          const { models } = json(r)
          assert.deepStrictEqual(
            models.map((m: any) => m.name),
            ["mock:latest", "x:7b", "m2:latest"]
          )
          for (const m of models) {
            assert.strictEqual(m.model, m.name)
            assert.match(m.digest, /^[0-9a-f]{64}$/)
            assert.isTrue(isIso(m.modified_at))
            assert.isTrue(Number.isInteger(m.size))
            assert.deepInclude(m.details, { format: "gguf", family: "mock", parameter_size: "1B", quantization_level: "Q4_0" })
          }
          assert.strictEqual(new Set(models.map((m: any) => m.digest)).size, models.length, "digests are distinct")
        }))

      it.effect("GET /api/ps lists the same models as loaded", () =>
        withUrl(async (url) => {
          const r = await call(url, "/api/ps")
          assert.strictEqual(r.status, 200)
          assertJsonType(r)
          const { models } = json(r)
          assert.deepStrictEqual(
            models.map((m: any) => m.name),
            ["mock:latest", "x:7b", "m2:latest"]
          )
          for (const m of models) {
            assert.strictEqual(m.model, m.name)
            assert.isTrue(Number.isInteger(m.size_vram))
            assert.isTrue(isIso(m.expires_at))
          }
        }))

      it.effect("GET /api/version and /v1/api/version", () =>
        withUrl(async (url) => {
          const ollama = await call(url, "/api/version")
          assertJsonType(ollama)
          assert.deepStrictEqual(json(ollama), { version: "0.12.3" })
          const openai = await call(url, "/v1/api/version")
          assertJsonType(openai)
          assert.deepStrictEqual(json(openai), { version: "0.0.0" })
        }))

      it.effect("GET /v1/models and /models", () =>
        withUrl(async (url) => {
          for (const path of ["/v1/models", "/models"]) {
            const r = await call(url, path, { headers: ROUTER_HEADERS })
            assert.strictEqual(r.status, 200)
            assertJsonType(r)
            const body = json(r)
            assert.strictEqual(body.object, "list")
            assert.deepStrictEqual(
              body.data.map((m: any) => m.id),
              [...MODELS]
            )
            for (const m of body.data) {
              assert.strictEqual(m.object, "model")
              assert.isTrue(Number.isInteger(m.created))
              assert.strictEqual(m.owned_by, "nomyo-load")
            }
          }
        }))

      it.effect("POST /api/chat streams NDJSON (stream true and absent), m and m:latest, router extras", () =>
        withUrl(async (url) => {
          for (const [model, stream] of [["mock", true], ["mock:latest", undefined], ["x:7b", true], ["m2", true]] as const) {
            const body = { model, messages: CHAT_MESSAGES, ...OLLAMA_EXTRAS, ...(stream === undefined ? {} : { stream }) }
            assertOllamaStream(await call(url, "/api/chat", { body, headers: ROUTER_HEADERS }), model, "message")
          }
        }))

      it.effect("concurrent streams of several models and routes each carry their own model and lines", () =>
        // With tokMs 0 responses of one millisecond share an encoded token block: it must never cross models or wires.
        withUrl(async (url) => {
          // Neighbours differ in the wire only or in the model only.
          const cycle = [
            ["/api/generate", "mock"], ["/api/chat", "mock"], ["/api/chat", "x:7b"], ["/api/generate", "x:7b"],
            ["/api/generate", "m2"], ["/api/chat", "m2"], ["/api/chat", "mock:latest"], ["/api/generate", "mock:latest"]
          ] as const
          const replies = await Promise.all(
            Array.from({ length: 32 }, (_, i) => {
              const [route, model] = cycle[i % cycle.length]!
              const body = route === "/api/chat" ? { model, messages: CHAT_MESSAGES } : { model, prompt: "hi" }
              return call(url, route, { body }).then((r) => ({ r, model, route }))
            })
          )
          for (const { model, r, route } of replies) assertOllamaStream(r, model, route === "/api/chat" ? "message" : "response")
        }))

      it.effect("POST /api/chat with stream false: one object like the final line, whole content", () =>
        withUrl(async (url) => {
          const r = await call(url, "/api/chat", { body: { model: "mock:latest", messages: CHAT_MESSAGES, stream: false, ...OLLAMA_EXTRAS } })
          assert.strictEqual(r.status, 200)
          assertJsonType(r)
          assertOllamaFinal(json(r), "mock:latest", "message", FULL)
        }))

      it.effect("POST /api/generate: `response` on every line; buffered too", () =>
        withUrl(async (url) => {
          assertOllamaStream(await call(url, "/api/generate", { body: { model: "mock", prompt: "hello", stream: true } }), "mock", "response")
          assertOllamaStream(await call(url, "/api/generate", { body: { model: "x:7b", prompt: "hello" } }), "x:7b", "response")
          const r = await call(url, "/api/generate", { body: { model: "mock", prompt: "hello", stream: false, options: {} } })
          assertJsonType(r)
          assertOllamaFinal(json(r), "mock", "response", FULL)
        }))

      it.effect("POST /v1/chat/completions streams SSE with include_usage on and off", () =>
        withUrl(async (url) => {
          for (const model of ["mock", "mock:latest"]) {
            const on = await call(url, "/v1/chat/completions", {
              body: { model, messages: CHAT_MESSAGES, stream: true, stream_options: { include_usage: true }, tools: [], n: 1 },
              headers: ROUTER_HEADERS,
              separator: "\n\n"
            })
            assertOpenAiStream(on, model, "chat", true)
          }
          for (const stream_options of [undefined, { include_usage: false }]) {
            const off = await call(url, "/v1/chat/completions", {
              body: { model: "x:7b", messages: CHAT_MESSAGES, stream: true, ...(stream_options ? { stream_options } : {}) }
            })
            assertOpenAiStream(off, "x:7b", "chat", false)
          }
        }))

      it.effect("POST /v1/chat/completions buffered accepts stream_options (stream false and absent)", () =>
        withUrl(async (url) => {
          for (const stream of [false, undefined]) {
            const body = { model: "mock", messages: CHAT_MESSAGES, stream_options: { include_usage: true }, ...(stream === undefined ? {} : { stream }) }
            assertOpenAiWhole(await call(url, "/v1/chat/completions", { body, headers: ROUTER_HEADERS }), "mock", "chat")
          }
        }))

      it.effect("POST /v1/completions streams and buffers", () =>
        withUrl(async (url) => {
          const s = await call(url, "/v1/completions", {
            body: { model: "mock", prompt: "hello", stream: true, stream_options: { include_usage: true } },
            separator: "\n\n"
          })
          assertOpenAiStream(s, "mock", "text", true)
          assertOpenAiStream(await call(url, "/v1/completions", { body: { model: "m2:latest", prompt: ["a", "b"], stream: true } }), "m2:latest", "text", false)
          assertOpenAiWhole(
            await call(url, "/v1/completions", { body: { model: "mock", prompt: "hello", stream: false, stream_options: { include_usage: true } } }),
            "mock",
            "text"
          )
        }))

      it.effect("prompt tokens are a chars/4 estimate, at least 1", () =>
        withUrl(async (url) => {
          const long = "x".repeat(400)
          const r = await call(url, "/v1/chat/completions", { body: { model: "mock", messages: [{ role: "user", content: long }] } })
          assert.strictEqual(json(r).usage.prompt_tokens, 100)
          const empty = await call(url, "/api/chat", { body: { model: "mock", messages: [], stream: false } })
          assert.strictEqual(json(empty).prompt_eval_count, 1)
        }))

      it.effect("unknown model: 404 in each family's shape", () =>
        withUrl(async (url) => {
          for (const path of ["/api/chat", "/api/generate"]) {
            const r = await call(url, path, { body: { model: "nope", messages: [], prompt: "x", stream: false } })
            assert.strictEqual(r.status, 404)
            assertJsonType(r)
            assert.deepStrictEqual(json(r), { error: 'model "nope" not found, try pulling it first' })
          }
          for (const path of ["/v1/chat/completions", "/v1/completions"]) {
            const r = await call(url, path, { body: { model: "nope:latest", messages: [], prompt: "x", stream: true } })
            assert.strictEqual(r.status, 404)
            assertJsonType(r)
            const { error } = json(r)
            assert.include(error.message, "nope:latest")
            assert.deepInclude(error, { type: "invalid_request_error", param: "model", code: "model_not_found" })
          }
          // x:7b is advertised with its own tag: neither `x` nor `x:latest` is it.
          assert.strictEqual((await call(url, "/api/chat", { body: { model: "x:latest", stream: false } })).status, 404)
        }))

      it.effect("malformed or non-object body: 400 in each family's shape; missing model: 400", () =>
        withUrl(async (url) => {
          for (const body of ["{not json", "[1,2]", ""]) {
            const ollama = await call(url, "/api/chat", { method: "POST", body: body === "" ? "" : body })
            assert.strictEqual(ollama.status, 400)
            assertJsonType(ollama)
            assert.isString(json(ollama).error)
            const openai = await call(url, "/v1/chat/completions", { method: "POST", body })
            assert.strictEqual(openai.status, 400)
            assertJsonType(openai)
            assert.strictEqual(json(openai).error.type, "invalid_request_error")
          }
          const missing = await call(url, "/api/generate", { body: { prompt: "x" } })
          assert.strictEqual(missing.status, 400)
          assert.strictEqual(json(missing).error, "model is required")
        }))

      it.effect("unknown path 404 JSON; wrong method 405 with Allow", () =>
        withUrl(async (url) => {
          for (const path of ["/nope", "/api/nope", "/v1/nope"]) {
            const r = await call(url, path)
            assert.strictEqual(r.status, 404)
            assertJsonType(r)
            assert.isDefined(json(r).error)
          }
          const get = await call(url, "/api/chat")
          assert.strictEqual(get.status, 405)
          assertJsonType(get)
          const post = await call(url, "/api/tags", { method: "POST", body: "{}" })
          assert.strictEqual(post.status, 405)
          const del = await call(url, "/v1/chat/completions", { method: "DELETE" })
          assert.strictEqual(del.status, 405)
          assert.strictEqual(json(del).error.type, "invalid_request_error")
        }))

      it.effect("POST /api/show answers with model_info", () =>
        withUrl(async (url) => {
          const r = await call(url, "/api/show", { body: { model: "mock" } })
          assert.strictEqual(r.status, 200)
          assert.property(json(r), "model_info")
          assert.strictEqual((await call(url, "/api/show", { body: { model: "nope" } })).status, 404)
        }))

      it.effect("stats count answered requests and tokens; nothing stays active", () =>
        Effect.gen(function* () {
          const mock = yield* MockBackend.MockBackend
          const before = mock.stats()
          yield* Effect.promise(() => call(mock.url, "/api/chat", { body: { model: "mock", stream: true } }))
          yield* Effect.promise(() => call(mock.url, "/v1/chat/completions", { body: { model: "mock" } }))
          yield* Effect.promise(() => call(mock.url, "/api/chat", { body: { model: "nope" } }))
          const after = mock.stats()
          assert.strictEqual(after.requests - before.requests, 2)
          assert.strictEqual(after.tokensSent - before.tokensSent, 2 * TOKENS)
          assert.strictEqual(after.activeStreams, 0)
        }))
    }
  )

describe("mock backend conformance", () => {
  suite("whole stream at TTFT (tokMs 0)", { ttftMs: 0, tokMs: 0 })
  suite("tokens stepped on the ticker", { ttftMs: 2, tokMs: 1 })
})
