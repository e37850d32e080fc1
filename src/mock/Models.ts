import { createHash } from "node:crypto"

/**
 * The mock's model catalog: the names it advertises and accepts, and the listing bodies,
 * encoded once at start (they never change while the server runs).
 */

/** One accepted spelling of a model (`m` or `m:latest`). Responses echo it, as Ollama does. */
export interface ModelVariant {
  /** The name as requested. */
  readonly name: string
  /** `JSON.stringify(name)`, for building response lines without re-escaping. */
  readonly json: string
}

export interface Catalog {
  /** Accepted spelling → variant; undefined for an unknown model. */
  readonly resolve: (name: unknown) => ModelVariant | undefined
  /** `GET /api/tags` body. */
  readonly tags: Buffer
  /** `GET /api/ps` body. */
  readonly ps: Buffer
  /** `GET /v1/models` and `GET /models` body. */
  readonly openAiModels: Buffer
  /** `POST /api/show` body for an accepted name. */
  readonly show: (variant: ModelVariant) => Buffer
}

/** Ollama's tagged form: `m` → `m:latest`; a name that already has a tag keeps it. */
export const tagged = (name: string): string => (hasTag(name) ? name : `${name}:latest`)

/** A tag is a `:` after the last `/` (a registry host's `host:port/` is not a tag). */
const hasTag = (name: string): boolean => name.lastIndexOf(":") > name.lastIndexOf("/")

const LATEST = ":latest"
const DETAILS = { parent_model: "", format: "gguf", family: "mock", families: ["mock"], parameter_size: "1B", quantization_level: "Q4_0" }
const SIZE = 1_000_000_000
/** Advertised as loaded for a day after start; only /api/ps shows it. */
const EXPIRES_MS = 24 * 3600 * 1000

export const makeCatalog = (models: ReadonlyArray<string>, startedAt: Date = new Date()): Catalog => {
  const variants = new Map<string, ModelVariant>()
  const accept = (name: string) => {
    if (!variants.has(name)) variants.set(name, { name, json: JSON.stringify(name) })
  }
  const unique = [...new Set(models)]
  for (const m of unique) {
    accept(m)
    accept(tagged(m))
    // The router strips `:latest` on its OpenAI paths, so `m:latest` must also answer to `m`.
    if (m.endsWith(LATEST)) accept(m.slice(0, -LATEST.length))
  }
  const modifiedAt = startedAt.toISOString()
  const expiresAt = new Date(startedAt.getTime() + EXPIRES_MS).toISOString()
  const createdSeconds = Math.floor(startedAt.getTime() / 1000)
  const tagItems = unique.map((m) => {
    const name = tagged(m)
    return {
      name,
      model: name,
      modified_at: modifiedAt,
      size: SIZE,
      // Distinct per model: the router de-duplicates /api/tags on (digest, name, id).
      digest: createHash("sha256").update(name).digest("hex"),
      details: DETAILS
    }
  })
  const psItems = tagItems.map(({ modified_at: _, ...item }) => ({ ...item, expires_at: expiresAt, size_vram: SIZE }))
  const json = (value: unknown) => Buffer.from(JSON.stringify(value))
  const showBodies = new Map<string, Buffer>()
  return {
    resolve: (name) => (typeof name === "string" ? variants.get(name) : undefined),
    tags: json({ models: tagItems }),
    ps: json({ models: psItems }),
    openAiModels: json({
      object: "list",
      data: unique.map((id) => ({ id, object: "model", created: createdSeconds, owned_by: "nomyo-load" }))
    }),
    show: (variant) => {
      let body = showBodies.get(variant.name)
      if (body === undefined) {
        body = json({
          modelfile: `FROM ${tagged(variant.name)}\n`,
          parameters: "",
          template: "{{ .Prompt }}",
          details: DETAILS,
          // The router's pydantic model requires the key (it may be null).
          model_info: { "general.architecture": "mock", "general.parameter_count": SIZE },
          capabilities: ["completion"],
          modified_at: modifiedAt
        })
        showBodies.set(variant.name, body)
      }
      return body
    }
  }
}
