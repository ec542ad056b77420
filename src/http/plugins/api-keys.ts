/**
 * Service API keys (`Authorization: Bearer <secret>`): `app.verifyApiKey`
 * names the caller, `app.requireApiKey(scope)` is the onRequest hook of the
 * routes that need one. Secrets are hashed once at start-up and compared in
 * constant time against every configured key, so neither timing nor the key
 * list leaks which one almost matched.
 */
import { hash, timingSafeEqual } from 'node:crypto'
import type { FastifyRequest, onRequestHookHandler } from 'fastify'
import fp from 'fastify-plugin'
import { FifoMap } from 'toad-cache'
import type { ApiKey, ApiKeyScope } from '../../config.js'
import { AppError } from '../../errors.js'
import { syncHook } from '../hooks.js'

export interface Caller {
  readonly name: string
  readonly scope: ApiKeyScope
}

/** The caller the Authorization header names; null without one; throws `unauthenticated` for a wrong one. */
export type ApiKeyVerifier = (request: FastifyRequest) => Caller | null

declare module 'fastify' {
  interface FastifyInstance {
    readonly verifyApiKey: ApiKeyVerifier
    /** A hook that refuses requests without a key of at least `scope`, and names the caller (`request.caller`). */
    readonly requireApiKey: (scope: ApiKeyScope) => onRequestHookHandler
  }
  interface FastifyRequest {
    /** The API key that came with the request: on key-addressed routes always, on credential-addressed ones if any. */
    caller: Caller | null
  }
}

const digest = (s: string): Buffer => hash('sha256', s, 'buffer')

/**
 * Authorization headers that already matched a key, so that a backend's
 * repeated requests are not hashed again: only exact texts that verified are
 * kept (a few per key at most), so wrong guesses never grow it.
 */
const VERIFIED_HEADERS = 64

function createApiKeyVerifier(keys: readonly ApiKey[]): ApiKeyVerifier {
  const known = keys.map((k) => ({ caller: { name: k.name, scope: k.scope }, hash: digest(k.secret) }))
  const verified = new FifoMap<Caller>(VERIFIED_HEADERS, 0)
  return (request) => {
    const header = request.headers.authorization
    if (header === undefined) return null
    const cached = verified.get(header)
    if (cached !== undefined) return cached
    const match = /^Bearer ([\x21-\x7e]+)$/i.exec(header)
    if (match === null) throw new AppError('unauthenticated', 'the Authorization header must be "Bearer <api key>"')
    const presented = digest(match[1] as string)
    let found: Caller | null = null
    for (const k of known) {
      if (timingSafeEqual(k.hash, presented)) found = k.caller
    }
    if (found === null) throw new AppError('unauthenticated', 'unknown API key')
    verified.set(header, found)
    return found
  }
}

/** Throws unless the caller holds a key of at least `scope` (admin includes service). */
export function requireScope(caller: Caller | null, scope: ApiKeyScope): Caller {
  if (caller === null) throw new AppError('unauthenticated', 'an API key is required (Authorization: Bearer <api key>)')
  if (scope === 'admin' && caller.scope !== 'admin') throw new AppError('forbidden', 'this needs an admin API key')
  return caller
}

export default fp(
  async (app) => {
    const verify = createApiKeyVerifier(app.config.apiKeys)
    app.decorate('verifyApiKey', verify)
    app.decorate('requireApiKey', (scope: ApiKeyScope) =>
      syncHook((request) => {
        request.caller = requireScope(verify(request), scope)
      })
    )
    app.decorateRequest('caller', null)
  },
  { name: 'sessiond-api-keys', fastify: '5.x', dependencies: ['sessiond-config'] }
)
