import { randomBytes } from 'node:crypto'
import { z } from 'zod'
import { deepFreeze } from './freeze.js'
import { compileGlobs } from './globs.js'
import { apiKeyList, eventTypeList, globList, hostPortList, httpUrl, indexEntryList, list, origins, port, positiveInt, seconds, trustProxy, webhookSecret } from './config-values.js'
import { isPlainEntry } from './store/index-entries.js'
import { EVENT_TYPES, SYSTEM_ACTOR, type EventType } from './store/events.js'
import type { BackendSettings, EventSettings, RedisConnection } from './store/types.js'

export type ApiKeyScope = 'service' | 'admin'

/** The actor of audit lines for a change a session credential made without an API key; no key may take the name. */
export const SELF_ACTOR = 'self'

export interface ApiKey {
  readonly name: string
  readonly scope: ApiKeyScope
  readonly secret: string
}

export interface Config {
  readonly env: 'development' | 'production' | 'test'
  readonly port: number
  readonly host: string
  readonly logLevel: string
  readonly store: BackendSettings
  readonly storeTimeoutMs: number
  readonly session: {
    readonly idleTtlSec: number
    readonly absoluteTtlSec: number
    readonly touchIntervalSec: number
  }
  readonly cookie: {
    readonly name: string
    /** The first signs, all verify. Empty: cookies are not signed. */
    readonly secrets: readonly string[]
    readonly domain: string | undefined
    readonly sameSite: 'lax' | 'strict' | 'none'
    readonly secure: boolean
    readonly persistent: boolean
  }
  readonly apiKeys: readonly ApiKey[]
  /** Set in development when API_KEYS is empty: printed once at start-up. */
  readonly generatedAdminKey: string | undefined
  readonly publicKeys: readonly string[]
  readonly indexedKeys: readonly string[]
  readonly allowAnonymous: boolean
  readonly limits: {
    readonly maxValueBytes: number
    readonly maxKeys: number
    readonly maxSessionBytes: number
    /** null: unlimited. */
    readonly maxSessionsPerUser: number | null
    readonly maxIndexValues: number
  }
  readonly anonymousRateLimit: number
  readonly metricsToken: string | undefined
  /** Set: GET /metrics is served on this port (bound to HOST) and not on PORT. */
  readonly metricsPort: number | undefined
  readonly trustProxy: boolean | number | readonly string[]
  readonly allowedOrigins: readonly string[]
  readonly events: EventSettings
  /** null: WEBHOOK_URL is not set, nothing is POSTed. */
  readonly webhook: WebhookConfig | null
}

/** Where and how lifecycle events are POSTed (docs/webhooks.md). */
export interface WebhookConfig {
  readonly url: string
  /** `whsec_` + base64: signs every request; never logged. */
  readonly secret: string
  /** The types POSTed; the others are passed over. */
  readonly events: readonly EventType[]
  /** An event not delivered by this age (seconds since it was recorded) is dropped. */
  readonly maxAgeSec: number
}

export class ConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(problems.join('\n'))
    this.name = 'ConfigError'
  }
}

const envSchema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  PORT: port.default(3000),
  HOST: z.string().default('127.0.0.1'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  STORE: z.enum(['memory', 'redis']).optional(),
  REDIS_URL: z.string().regex(/^rediss?:\/\//, 'must start with redis:// or rediss://').optional(),
  REDIS_SENTINELS: hostPortList.optional(),
  REDIS_SENTINEL_NAME: z.string().optional(),
  REDIS_CLUSTER_NODES: hostPortList.optional(),
  REDIS_USERNAME: z.string().optional(),
  REDIS_PASSWORD: z.string().optional(),
  REDIS_TLS: z.stringbool().default(false),
  REDIS_KEY_PREFIX: z.string().max(64).default('sessiond:'),
  REDIS_WAIT_REPLICAS: z.coerce.number().int().min(0).default(0),
  STORE_TIMEOUT_MS: z.coerce.number().int().min(10).max(60000).default(1000),
  SESSION_IDLE_TTL: seconds(1800),
  SESSION_ABSOLUTE_TTL: seconds(86400),
  TOUCH_INTERVAL: z.coerce.number().int().min(0).default(0),
  COOKIE_NAME: z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,64}$/, 'must be a cookie token (letters, digits, and !#$%&\'*+.^_`|~-)').default('sid'),
  COOKIE_SECRET: list.pipe(z.array(z.string().min(32, 'each secret must be at least 32 characters'))).optional(),
  COOKIE_DOMAIN: z.string().optional(),
  COOKIE_SAMESITE: z.string().toLowerCase().pipe(z.enum(['lax', 'strict', 'none'])).default('lax'),
  COOKIE_SECURE: z.stringbool().default(true),
  COOKIE_PERSISTENT: z.stringbool().default(true),
  API_KEYS: apiKeyList.optional(),
  PUBLIC_KEYS: globList.default([]),
  INDEXED_KEYS: indexEntryList.default([]),
  ALLOW_ANONYMOUS: z.stringbool().default(false),
  MAX_VALUE_BYTES: positiveInt(16 * 1024),
  MAX_KEYS: positiveInt(256),
  MAX_SESSION_BYTES: positiveInt(256 * 1024),
  MAX_SESSIONS_PER_USER: z.coerce.number().int().min(0).default(0),
  MAX_INDEX_VALUES: positiveInt(64),
  ANONYMOUS_RATE_LIMIT: positiveInt(30),
  METRICS_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
  METRICS_PORT: port.optional(),
  TRUST_PROXY: trustProxy.default(false),
  ALLOWED_ORIGINS: origins.default([]),
  EVENTS: z.stringbool().default(false),
  EVENTS_RETENTION: seconds(86400),
  EVENTS_EXPIRY_LAG: z.coerce.number().int().min(1).max(3600).default(5),
  WEBHOOK_URL: httpUrl.optional(),
  WEBHOOK_SECRET: webhookSecret.optional(),
  WEBHOOK_EVENTS: eventTypeList.default([...EVENT_TYPES]),
  WEBHOOK_MAX_AGE: seconds(86400)
})

type Env = z.output<typeof envSchema>

/** Every environment variable the service reads. */
export const ENV_NAMES: readonly string[] = Object.keys(envSchema.shape)

/** Cross-field rules that one variable alone cannot express. */
function crossFieldProblems(e: Env): string[] {
  const problems: string[] = []
  const redisSources = [e.REDIS_URL, e.REDIS_SENTINELS, e.REDIS_CLUSTER_NODES].filter((v) => v !== undefined).length
  if (e.STORE === 'redis' && redisSources === 0) problems.push('STORE: redis needs REDIS_URL, REDIS_SENTINELS or REDIS_CLUSTER_NODES')
  if (redisSources > 1) problems.push('REDIS_URL: set only one of REDIS_URL, REDIS_SENTINELS and REDIS_CLUSTER_NODES')
  if (e.REDIS_SENTINELS !== undefined && e.REDIS_SENTINEL_NAME === undefined) problems.push('REDIS_SENTINEL_NAME: required with REDIS_SENTINELS')
  if (e.SESSION_IDLE_TTL > e.SESSION_ABSOLUTE_TTL) problems.push('SESSION_IDLE_TTL: must not exceed SESSION_ABSOLUTE_TTL')
  if (e.TOUCH_INTERVAL >= e.SESSION_IDLE_TTL) problems.push('TOUCH_INTERVAL: must be shorter than SESSION_IDLE_TTL, or sessions in use would expire')
  if (e.NODE_ENV === 'production') {
    if (e.STORE === undefined) problems.push('STORE: must be set explicitly (memory or redis) when NODE_ENV=production')
    if (e.API_KEYS === undefined || e.API_KEYS.length === 0) problems.push('API_KEYS: required when NODE_ENV=production')
    if (e.COOKIE_SECRET === undefined || e.COOKIE_SECRET.length === 0) problems.push('COOKIE_SECRET: required when NODE_ENV=production')
  }
  const names = (e.API_KEYS ?? []).map((k) => k.name)
  const dup = names.find((n, i) => names.indexOf(n) !== i)
  if (dup !== undefined) problems.push(`API_KEYS: the name "${dup}" is used twice`)
  if (names.includes(SELF_ACTOR)) problems.push(`API_KEYS: the name "${SELF_ACTOR}" is reserved: audit lines name a session's own changes so`)
  if (names.includes(SYSTEM_ACTOR)) problems.push(`API_KEYS: the name "${SYSTEM_ACTOR}" is reserved: events name expiry and eviction so`)
  if (e.METRICS_PORT !== undefined && e.METRICS_PORT !== 0 && e.METRICS_PORT === e.PORT) problems.push('METRICS_PORT: must differ from PORT')
  if (e.COOKIE_NAME.startsWith('__Host-')) {
    if (!e.COOKIE_SECURE) problems.push('COOKIE_SECURE: a __Host- cookie must be Secure')
    if (e.COOKIE_DOMAIN !== undefined) problems.push('COOKIE_DOMAIN: a __Host- cookie must not have a Domain')
  }
  if (e.COOKIE_NAME.startsWith('__Secure-') && !e.COOKIE_SECURE) problems.push('COOKIE_SECURE: a __Secure- cookie must be Secure')
  if (e.COOKIE_SAMESITE === 'none') {
    if (e.ALLOWED_ORIGINS.length === 0) problems.push('ALLOWED_ORIGINS: required when COOKIE_SAMESITE=None')
    if (!e.COOKIE_SECURE) problems.push('COOKIE_SECURE: SameSite=None cookies must be Secure')
  }
  if (e.WEBHOOK_URL !== undefined) {
    if (!e.EVENTS) problems.push('WEBHOOK_URL: requires EVENTS=true (webhooks deliver the lifecycle events)')
    if (e.WEBHOOK_SECRET === undefined) problems.push('WEBHOOK_SECRET: required with WEBHOOK_URL (every request is signed)')
    if (e.WEBHOOK_MAX_AGE > e.EVENTS_RETENTION) problems.push('WEBHOOK_MAX_AGE: must not exceed EVENTS_RETENTION, or events would be trimmed before they are delivered or dropped')
  } else if (e.WEBHOOK_SECRET !== undefined) {
    problems.push('WEBHOOK_SECRET: set without WEBHOOK_URL')
  }
  const isPublic = compileGlobs(e.PUBLIC_KEYS)
  // A collection entry describes content (a cart), never authority, so it may index a public key.
  for (const key of e.INDEXED_KEYS.filter(isPlainEntry)) {
    if (isPublic(key)) problems.push(`INDEXED_KEYS: "${key}" is matched by PUBLIC_KEYS, so a browser could choose its own value`)
  }
  return problems
}

/** Parses the environment once into a frozen Config, or throws ConfigError with one line per problem. */
export function loadConfig(raw: NodeJS.ProcessEnv): Config {
  const present = Object.fromEntries(Object.entries(raw).filter(([, v]) => v !== undefined && v !== ''))
  const parsed = envSchema.safeParse(present)
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`))
  }
  const e = parsed.data
  const problems = crossFieldProblems(e)
  if (problems.length > 0) throw new ConfigError(problems)

  const apiKeys = e.API_KEYS ?? []
  const generatedAdminKey =
    apiKeys.length === 0 && e.NODE_ENV !== 'production' ? randomBytes(24).toString('base64url') : undefined
  return deepFreeze({
    env: e.NODE_ENV,
    port: e.PORT,
    host: e.HOST,
    logLevel: e.LOG_LEVEL,
    store: storeConfig(e),
    storeTimeoutMs: e.STORE_TIMEOUT_MS,
    session: {
      idleTtlSec: e.SESSION_IDLE_TTL,
      absoluteTtlSec: e.SESSION_ABSOLUTE_TTL,
      touchIntervalSec: e.TOUCH_INTERVAL
    },
    cookie: {
      name: e.COOKIE_NAME,
      secrets: e.COOKIE_SECRET ?? [],
      domain: e.COOKIE_DOMAIN,
      sameSite: e.COOKIE_SAMESITE,
      secure: e.COOKIE_SECURE,
      persistent: e.COOKIE_PERSISTENT
    },
    apiKeys: generatedAdminKey === undefined ? apiKeys : [{ name: 'generated', scope: 'admin' as const, secret: generatedAdminKey }],
    generatedAdminKey,
    publicKeys: e.PUBLIC_KEYS,
    indexedKeys: e.INDEXED_KEYS,
    allowAnonymous: e.ALLOW_ANONYMOUS,
    limits: {
      maxValueBytes: e.MAX_VALUE_BYTES,
      maxKeys: e.MAX_KEYS,
      maxSessionBytes: e.MAX_SESSION_BYTES,
      maxSessionsPerUser: e.MAX_SESSIONS_PER_USER === 0 ? null : e.MAX_SESSIONS_PER_USER,
      maxIndexValues: e.MAX_INDEX_VALUES
    },
    anonymousRateLimit: e.ANONYMOUS_RATE_LIMIT,
    metricsToken: e.METRICS_TOKEN,
    metricsPort: e.METRICS_PORT,
    trustProxy: e.TRUST_PROXY,
    allowedOrigins: e.ALLOWED_ORIGINS,
    events: { enabled: e.EVENTS, retentionSec: e.EVENTS_RETENTION, expiryLagSec: e.EVENTS_EXPIRY_LAG },
    webhook:
      e.WEBHOOK_URL === undefined || e.WEBHOOK_SECRET === undefined
        ? null
        : { url: e.WEBHOOK_URL, secret: e.WEBHOOK_SECRET, events: [...new Set(e.WEBHOOK_EVENTS)], maxAgeSec: e.WEBHOOK_MAX_AGE }
  })
}

function storeConfig(e: Env): BackendSettings {
  const kind = e.STORE ?? (e.REDIS_URL !== undefined || e.REDIS_SENTINELS !== undefined || e.REDIS_CLUSTER_NODES !== undefined ? 'redis' : 'memory')
  if (kind === 'memory') return { kind }
  const auth = { username: e.REDIS_USERNAME, password: e.REDIS_PASSWORD, tls: e.REDIS_TLS }
  const connection: RedisConnection =
    e.REDIS_SENTINELS !== undefined
      ? { mode: 'sentinel', sentinels: e.REDIS_SENTINELS, name: e.REDIS_SENTINEL_NAME ?? '', ...auth }
      : e.REDIS_CLUSTER_NODES !== undefined
        ? { mode: 'cluster', nodes: e.REDIS_CLUSTER_NODES, ...auth }
        : { mode: 'single', url: e.REDIS_URL ?? '' }
  return { kind, connection, keyPrefix: e.REDIS_KEY_PREFIX, waitReplicas: e.REDIS_WAIT_REPLICAS }
}
