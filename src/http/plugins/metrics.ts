/**
 * The app's metrics registry, `app.metrics` (one per app instance; the store's
 * metrics are added to it by instrumentStore), and the duration of every
 * request. Durations are labelled by route pattern (`/v1/sessions/:handle`,
 * never the raw URL), method and status: no handle, token or user id in any
 * label. Not encapsulated, so its hook sees every route of the app.
 */
import type { onResponseHookHandler } from 'fastify'
import fp from 'fastify-plugin'
import { Histogram, Registry } from 'prom-client'
import { cachedChildren } from '../../metric-children.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** This app's metrics: the store's and the request durations, served at GET /metrics. */
    readonly metrics: Registry
    /** The onResponse hook that times each request; the metrics listener (METRICS_PORT) adds it too. */
    readonly timeRequest: onResponseHookHandler
  }
}

const HTTP_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
/** The route label of requests no route matched (404s), so raw URLs never become labels. */
const UNMATCHED = 'unmatched'

export default fp(
  async (app) => {
    const registry = new Registry()
    app.decorate('metrics', registry)
    const requestDuration = new Histogram({
      name: 'sessiond_http_request_duration_seconds',
      help: 'Duration of HTTP requests by route pattern, method and status.',
      labelNames: ['route', 'method', 'status'] as const,
      buckets: HTTP_BUCKETS,
      registers: [registry]
    })

    const childFor = cachedChildren(requestDuration)
    const timeRequest: onResponseHookHandler = (request, reply, done) => {
      const route = request.routeOptions.url ?? UNMATCHED
      const status = String(reply.statusCode)
      const child = childFor(`${route} ${request.method} ${status}`, { route, method: request.method, status })
      child.observe(reply.elapsedTime / 1000)
      done()
    }
    app.decorate('timeRequest', timeRequest)
    app.addHook('onResponse', timeRequest)
  },
  { name: 'sessiond-metrics', fastify: '5.x' }
)
