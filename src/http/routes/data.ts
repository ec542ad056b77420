/**
 * The data-key routes, registered by the two ways of addressing a session
 * (under their prefix, sharing their hooks): by handle
 * (`/v1/sessions/{handle}/data...`, API key, never touches) and by credential
 * (`/v1/session/data...`, touches, public keys only without a key).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { AppError } from '../../errors.js'
import type { AccessOptions, SessionData, SessionRecord } from '../../store/types.js'
import { batchBody, keyParams, parse, parseIfMatch, putValueBody } from '../schemas.js'
import { sessionJson, setEtag } from '../session-json.js'

export interface DataRouteTarget {
  /** The session a request addresses, and whether the use slides its expiry. */
  resolve(request: FastifyRequest): { handle: string; access: AccessOptions }
  /** Throws `forbidden` when the caller may not read or write `keys`. */
  authorizeKeys(request: FastifyRequest, keys: readonly string[]): void
  /** The part of the data the caller may see. */
  visibleData(request: FastifyRequest, session: SessionRecord): SessionData
}

const ifMatchOf = (request: FastifyRequest) => parseIfMatch(request.headers['if-match'])

export default async function dataRoutes(app: FastifyInstance, target: DataRouteTarget): Promise<void> {
  const { store } = app
  const keyOf = (request: FastifyRequest): string => {
    const { key } = parse(keyParams, { key: (request.params as { key?: unknown }).key }, 'path')
    target.authorizeKeys(request, [key])
    return key
  }

  app.get('/data/:key', async (request, reply) => {
    const { handle, access } = target.resolve(request)
    const key = keyOf(request)
    const { value, version } = await store.getKey(handle, key, access)
    if (value === undefined) throw new AppError('not_found', `the session has no key "${key}"`)
    return setEtag(reply, version).send({ key, value })
  })

  app.put('/data/:key', async (request, reply) => {
    const { handle, access } = target.resolve(request)
    const key = keyOf(request)
    const value = parse(putValueBody, request.body, 'body')
    const version = await store.setKey(handle, key, value, { ...access, ifMatch: ifMatchOf(request) })
    return setEtag(reply, version).code(204).send()
  })

  app.delete('/data/:key', async (request, reply) => {
    const { handle, access } = target.resolve(request)
    const key = keyOf(request)
    const version = await store.deleteKey(handle, key, { ...access, ifMatch: ifMatchOf(request) })
    return setEtag(reply, version).code(204).send()
  })

  app.patch('/data', async (request, reply) => {
    const { handle, access } = target.resolve(request)
    const ops = parse(batchBody, request.body, 'body')
    target.authorizeKeys(request, [...Object.keys(ops.set ?? {}), ...(ops.del ?? []), ...Object.keys(ops.incr ?? {})])
    const session = await store.patch(handle, ops, { ...access, ifMatch: ifMatchOf(request) })
    return setEtag(reply, session.version).send(sessionJson(session, target.visibleData(request, session)))
  })
}
