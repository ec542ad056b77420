/**
 * Operator routes (admin key): a user's sessions, log out everywhere, and
 * questions across sessions through the secondary indexes.
 */
import type { FastifyInstance } from 'fastify'
import { z } from 'zod'
import { requireScope } from '../api-keys.js'
import type { HttpContext } from '../context.js'
import { syncHook } from '../hooks.js'
import { dataKey, handle, parse, userId } from '../schemas.js'
import { sessionMetaJson } from '../session-json.js'

export const DEFAULT_PAGE_SIZE = 100
export const MAX_PAGE_SIZE = 1000

const userParams = z.object({ userId })
const exceptQuery = z.object({ except: handle.optional() })
const indexValue = z.string().min(1).max(16 * 1024)

export function adminRoutes(ctx: HttpContext) {
  const { store } = ctx
  const indexedKey = dataKey.refine((k) => ctx.config.indexedKeys.includes(k), { message: 'is not an indexed key (INDEXED_KEYS)' })
  const listQuery = z.object({
    key: indexedKey,
    value: indexValue,
    limit: z.coerce.number().int().min(1).max(MAX_PAGE_SIZE).default(DEFAULT_PAGE_SIZE),
    cursor: handle.optional()
  })
  const revokeQuery = z.object({ key: indexedKey, value: indexValue })
  const statsQuery = z.object({ by: indexedKey.optional() })

  return async function plugin(app: FastifyInstance): Promise<void> {
    app.addHook('onRequest', syncHook((request) => {
      requireScope(ctx.apiKeys(request), 'admin')
    }))

    app.get('/v1/users/:userId/sessions', async (request) => {
      const params = parse(userParams, request.params, 'path')
      const sessions = await store.listUserSessions(params.userId)
      return { sessions: sessions.map(sessionMetaJson) }
    })

    app.delete('/v1/users/:userId/sessions', async (request) => {
      const params = parse(userParams, request.params, 'path')
      const query = parse(exceptQuery, request.query, 'query')
      const revoked = await store.revokeUserSessions(params.userId, query.except === undefined ? {} : { exceptHandle: query.except })
      return { revoked }
    })

    app.get('/v1/sessions', async (request) => {
      const query = parse(listQuery, request.query, 'query')
      const page = await store.listByIndex(query.key, query.value, { limit: query.limit, cursor: query.cursor ?? null })
      return { sessions: page.sessions.map(sessionMetaJson), nextCursor: page.nextCursor }
    })

    app.delete('/v1/sessions', async (request) => {
      const query = parse(revokeQuery, request.query, 'query')
      return { revoked: await store.revokeByIndex(query.key, query.value) }
    })

    app.get('/v1/stats/sessions', async (request) => {
      const query = parse(statsQuery, request.query, 'query')
      const counts = await store.countSessions(query.by)
      return { total: counts.total, by: counts.by }
    })
  }
}
