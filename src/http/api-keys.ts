/**
 * Service API keys (`Authorization: Bearer <secret>`). Secrets are hashed
 * once at start-up and compared in constant time against every configured
 * key, so neither timing nor the key list leaks which one almost matched.
 */
import { hash, timingSafeEqual } from 'node:crypto'
import type { FastifyRequest } from 'fastify'
import { FifoMap } from 'toad-cache'
import type { ApiKey, ApiKeyScope } from '../config.js'
import { AppError } from '../errors.js'

export interface Caller {
  readonly name: string
  readonly scope: ApiKeyScope
}

export type ApiKeyVerifier = (request: FastifyRequest) => Caller | null

const digest = (s: string): Buffer => hash('sha256', s, 'buffer')

/**
 * Authorization headers that already matched a key, so a backend's every
 * request costs no hashing: only exact texts that verified are kept (a few
 * per key at most), so wrong guesses never grow it.
 */
const VERIFIED_HEADERS = 64

export function createApiKeyVerifier(keys: readonly ApiKey[]): ApiKeyVerifier {
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
