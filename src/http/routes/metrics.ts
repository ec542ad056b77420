/**
 * GET /metrics (spec §9): Prometheus text of `app.metrics`, then Node's
 * default metrics. Those describe the process, so one process-wide registry
 * holds them however many apps the process builds. With METRICS_TOKEN set the
 * route needs `Authorization: Bearer <token>`.
 */
import { hash, timingSafeEqual } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import { Registry, collectDefaultMetrics } from 'prom-client'
import { AppError } from '../../errors.js'

let processRegistry: Registry | undefined
function processMetrics(): Registry {
  if (processRegistry === undefined) {
    processRegistry = new Registry()
    collectDefaultMetrics({ register: processRegistry })
  }
  return processRegistry
}

const digest = (s: string): Buffer => hash('sha256', s, 'buffer')

export default async function metricsRoutes(app: FastifyInstance): Promise<void> {
  const registry = app.metrics
  const defaults = processMetrics()
  const token = app.config.metricsToken
  const expected = token === undefined ? undefined : digest(`Bearer ${token}`)

  app.get('/metrics', async (request, reply) => {
    if (expected !== undefined && !timingSafeEqual(digest(request.headers.authorization ?? ''), expected)) {
      throw new AppError('unauthenticated', 'GET /metrics needs "Authorization: Bearer <METRICS_TOKEN>"')
    }
    const text = `${await registry.metrics()}\n${await defaults.metrics()}`
    return reply.header('cache-control', 'no-store').type(registry.contentType).send(text)
  })
}
