/**
 * Builds the real app for app.inject tests, on either backend. Every HTTP
 * test file runs its cases once per backend through `forEachBackend`; the
 * Redis backend gets its own redis-server per file and a key prefix per app.
 */
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import type { Test } from 'tap'
import { buildApp } from '../../src/app.js'
import { loadConfig } from '../../src/config.js'
import { startRedisServer, type RedisServer } from './redis-server.js'

export const SERVICE_KEY = 'service-key-0123456789abcdef'
export const ADMIN_KEY = 'admin-key-0123456789abcdefgh'
export const service = { authorization: `Bearer ${SERVICE_KEY}` }
export const admin = { authorization: `Bearer ${ADMIN_KEY}` }

export const BASE_ENV: Readonly<Record<string, string>> = {
  NODE_ENV: 'test',
  LOG_LEVEL: 'silent',
  API_KEYS: `backend:service:${SERVICE_KEY},ops:admin:${ADMIN_KEY}`
}

export type Backend = 'memory' | 'redis'

export interface Harness {
  readonly backend: Backend
  /** A fresh app (and store) with BASE_ENV plus `env`, closed when the test ends. */
  build(t: Test, env?: Record<string, string>, options?: { clock?: () => number }): Promise<FastifyInstance>
}

let redis: Promise<RedisServer> | undefined
let prefixes = 0

function harness(backend: Backend, root: Test): Harness {
  return {
    backend,
    async build(t, env = {}, options = {}) {
      const storeEnv: Record<string, string> =
        backend === 'memory'
          ? { STORE: 'memory' }
          : { STORE: 'redis', REDIS_URL: (await redisServer(root)).url, REDIS_KEY_PREFIX: `app${prefixes++}:`, STORE_TIMEOUT_MS: '2000' }
      const config = loadConfig({ ...BASE_ENV, ...storeEnv, ...env })
      const app = await buildApp(config, options.clock === undefined ? {} : { clock: options.clock })
      t.teardown(() => app.close())
      return app
    }
  }
}

function redisServer(root: Test): Promise<RedisServer> {
  if (redis === undefined) {
    redis = startRedisServer()
    const started = redis
    root.teardown(async () => (await started).stop())
  }
  return redis
}

/** Runs `cases` as one subtest per backend. */
export function forEachBackend(root: Test, cases: (t: Test, h: Harness) => Promise<void>): void {
  for (const backend of ['memory', 'redis'] as const) {
    root.test(backend, (t) => cases(t, harness(backend, root)))
  }
}

export function json<T = Record<string, unknown>>(res: LightMyRequestResponse): T {
  return res.json<T>()
}

/** Creates a session through the API and returns its token, handle and response. */
export async function createSession(app: FastifyInstance, body: Record<string, unknown> = {}) {
  const res = await app.inject({ method: 'POST', url: '/v1/sessions', headers: service, payload: body })
  if (res.statusCode !== 201) throw new Error(`create failed: ${res.statusCode} ${res.body}`)
  const created = res.json<{ token: string; session: { handle: string; version: number } }>()
  return { token: created.token, handle: created.session.handle, res }
}
