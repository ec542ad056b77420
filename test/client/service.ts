/**
 * The real service, listening on a free loopback port, for client and plugin
 * tests: `buildApp(loadConfig(...))` through the shared harness (memory or
 * Redis), then `listen({ port: 0 })`. Closed when the test ends.
 */
import type { AddressInfo } from 'node:net'
import type { FastifyInstance } from 'fastify'
import type { Test } from 'tap'
import { createSessionClient, type SessionClient } from '../../packages/client/src/index.js'
import { ADMIN_KEY, SERVICE_KEY, type Harness } from '../helpers/app.js'

export interface RunningService {
  readonly url: string
  readonly app: FastifyInstance
  /** A client with the service key. */
  readonly client: SessionClient
  /** A client with the admin key. */
  readonly admin: SessionClient
}

export const SERVICE_ENV: Readonly<Record<string, string>> = { INDEXED_KEYS: 'tenant', PUBLIC_KEYS: 'prefs.*', COOKIE_SECURE: 'false' }

export async function startService(t: Test, h: Harness, env: Record<string, string> = {}): Promise<RunningService> {
  const app = await h.build(t, { ...SERVICE_ENV, ...env })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`
  return { url, app, client: createSessionClient({ baseUrl: url, apiKey: SERVICE_KEY }), admin: createSessionClient({ baseUrl: url, apiKey: ADMIN_KEY }) }
}

/** `sid=<token>` out of a Set-Cookie list. */
export function sidCookie(setCookie: readonly string[]): string {
  const found = setCookie.find((c) => c.startsWith('sid='))
  if (found === undefined) throw new Error(`no sid cookie in ${JSON.stringify(setCookie)}`)
  return found.split(';')[0] ?? ''
}
