/** Everything under `/v1`: every answer is `Cache-Control: no-store` (it may carry session data or a cookie). */
import type { FastifyInstance } from 'fastify'
import { syncHook } from '../hooks.js'
import anonymousRoutes from './anonymous.js'
import authRoutes from './auth.js'
import eventsRoutes from './events.js'
import queriesRoutes from './queries.js'
import sessionRoutes from './session.js'
import sessionsRoutes from './sessions.js'
import usersRoutes from './users.js'

/** One plugin per resource, each encapsulated with its own hooks. */
const RESOURCES = [sessionsRoutes, sessionRoutes, authRoutes, anonymousRoutes, usersRoutes, queriesRoutes, eventsRoutes]

export default async function v1Routes(app: FastifyInstance): Promise<void> {
  app.addHook('onRequest', syncHook((_request, reply) => {
    reply.header('cache-control', 'no-store')
  }))
  for (const routes of RESOURCES) await app.register(routes)
}
