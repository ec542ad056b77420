/**
 * Prometheus metrics at GET /metrics (spec §9). The app's own metrics live in
 * a registry per app instance (the store's are added by instrumentStore);
 * Node's default metrics describe the process, so one process-wide registry
 * holds them and every scrape appends it. With METRICS_TOKEN set the route
 * needs `Authorization: Bearer <token>`.
 *
 * Request durations are labelled by route pattern (`/v1/sessions/:handle`,
 * never the raw URL), method and status: no handle, token or user id in any
 * label.
 */
import { hash, timingSafeEqual } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { Histogram, Registry, collectDefaultMetrics } from 'prom-client'
import { AppError } from '../errors.js'
import { cachedChildren } from '../metric-children.js'
import { sendProblem } from './problem.js'

export interface MetricsOptions {
  /** The app's registry (the store's metrics are already in it). */
  readonly registry: Registry
  /** METRICS_TOKEN: when set, scrapes must present it as a bearer token. */
  readonly token: string | undefined
}

const HTTP_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
/** The route label of requests no route matched (404s), so raw URLs never become labels. */
const UNMATCHED = 'unmatched'

let processRegistry: Registry | undefined
/** Node's default metrics, registered once per process however many apps it builds. */
function processMetrics(): Registry {
  if (processRegistry === undefined) {
    processRegistry = new Registry()
    collectDefaultMetrics({ register: processRegistry })
  }
  return processRegistry
}

const digest = (s: string): Buffer => hash('sha256', s, 'buffer')

async function metricsPlugin(app: FastifyInstance, options: MetricsOptions): Promise<void> {
  const { registry } = options
  const defaults = processMetrics()
  const expected = options.token === undefined ? undefined : digest(`Bearer ${options.token}`)
  const requestDuration = new Histogram({
    name: 'sessiond_http_request_duration_seconds',
    help: 'Duration of HTTP requests by route pattern, method and status.',
    labelNames: ['route', 'method', 'status'] as const,
    buckets: HTTP_BUCKETS,
    registers: [registry]
  })

  const childFor = cachedChildren(requestDuration)
  app.addHook('onResponse', (request, reply, done) => {
    const route = request.routeOptions.url ?? UNMATCHED
    const status = String(reply.statusCode)
    const child = childFor(`${route} ${request.method} ${status}`, { route, method: request.method, status })
    child.observe(reply.elapsedTime / 1000)
    done()
  })

  app.get('/metrics', async (request, reply) => {
    if (expected !== undefined && !timingSafeEqual(digest(request.headers.authorization ?? ''), expected)) {
      return sendProblem(reply, new AppError('unauthenticated', 'GET /metrics needs "Authorization: Bearer <METRICS_TOKEN>"'))
    }
    const text = `${await registry.metrics()}\n${await defaults.metrics()}`
    return reply.header('cache-control', 'no-store').type(registry.contentType).send(text)
  })
}

/** Registered on the root instance (not encapsulated), so its hook sees every route. */
export const metricsRoutes = fp(metricsPlugin, { name: 'sessiond-metrics', fastify: '5.x' })
