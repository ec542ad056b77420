/**
 * Questions across sessions through the secondary indexes (admin key): list,
 * revoke and count the sessions filed under a value of an INDEXED_KEYS entry
 * (`tenant`, `tags[]`, `cart[].sku`), and count those filed under none.
 */
import type { FastifyInstance } from 'fastify'
import { z } from 'zod'
import { audit, changeBy } from '../audit.js'
import { handle, parse } from '../schemas.js'
import { sessionMetaJson } from '../session-json.js'

const DEFAULT_PAGE_SIZE = 100
const MAX_PAGE_SIZE = 1000

/** Its length and text are the store's rule (assertIndexValue): the bound a write was held to. */
const indexValue = z.string().min(1)

export default async function queriesRoutes(app: FastifyInstance): Promise<void> {
  const { store, config } = app
  const indexedKey = z.string().refine((k) => config.indexedKeys.includes(k), { message: 'is not an INDEXED_KEYS entry' })
  const listQuery = z.object({
    key: indexedKey,
    value: indexValue,
    limit: z.coerce.number().int().min(1).max(MAX_PAGE_SIZE).default(DEFAULT_PAGE_SIZE),
    cursor: handle.optional()
  })
  const revokeQuery = z.object({ key: indexedKey, value: indexValue })
  const statsQuery = z.object({ by: indexedKey.optional() })
  app.addHook('onRequest', app.requireApiKey('admin'))

  app.get('/v1/sessions', async (request) => {
    const query = parse(listQuery, request.query, 'query')
    const page = await store.listByIndex(query.key, query.value, { limit: query.limit, cursor: query.cursor ?? null })
    return { sessions: page.sessions.map(sessionMetaJson), nextCursor: page.nextCursor }
  })

  app.delete('/v1/sessions', async (request) => {
    const query = parse(revokeQuery, request.query, 'query')
    const revoked = await store.revokeByIndex(query.key, query.value, changeBy(request))
    audit(request, 'index_revoke', { key: query.key, value: query.value }, revoked)
    return { revoked }
  })

  app.get('/v1/stats/sessions', async (request) => {
    const query = parse(statsQuery, request.query, 'query')
    const counts = await store.countSessions(query.by)
    return counts.without === null ? { total: counts.total, by: counts.by } : counts
  })
}
