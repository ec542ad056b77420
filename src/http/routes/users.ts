/** A user's sessions (admin key): list them, or log the user out everywhere. */
import type { FastifyInstance } from 'fastify'
import { z } from 'zod'
import { audit, changeBy } from '../audit.js'
import { handle, parse, userId } from '../schemas.js'
import { sessionMetaJson } from '../session-json.js'

const userParams = z.object({ userId })
const exceptQuery = z.object({ except: handle.optional() })

export default async function usersRoutes(app: FastifyInstance): Promise<void> {
  const { store } = app
  app.addHook('onRequest', app.requireApiKey('admin'))

  app.get('/v1/users/:userId/sessions', async (request) => {
    const params = parse(userParams, request.params, 'path')
    const sessions = await store.listUserSessions(params.userId)
    return { sessions: sessions.map(sessionMetaJson) }
  })

  app.delete('/v1/users/:userId/sessions', async (request) => {
    const params = parse(userParams, request.params, 'path')
    const query = parse(exceptQuery, request.query, 'query')
    const by = changeBy(request)
    const revoked = await store.revokeUserSessions(params.userId, query.except === undefined ? by : { ...by, exceptHandle: query.except })
    audit(request, 'logout_all', query.except === undefined ? { userId: params.userId } : { userId: params.userId, except: query.except }, revoked)
    return { revoked }
  })
}
