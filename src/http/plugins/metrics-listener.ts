/**
 * Where GET /metrics is served. By default on the service port. With
 * METRICS_PORT set, only on a listener of its own: a second, small fastify
 * instance, `app.metricsListener`, that `listen` (src/app.ts) binds to
 * HOST:METRICS_PORT, so that the port browsers and gateways reach has no
 * /metrics at all (404 there, like any unknown path). It shares the app's
 * logger, registry, request timing and error handling, and closes with the app.
 */
import Fastify from 'fastify'
import fp from 'fastify-plugin'
import metricsRoutes from '../routes/metrics.js'
import { serverOptions } from '../server-options.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** The instance serving GET /metrics on METRICS_PORT; null when the service port serves it. */
    readonly metricsListener: FastifyInstance | null
  }
}

export default fp(
  async (app) => {
    if (app.config.metricsPort === undefined) {
      app.decorate('metricsListener', null)
      await app.register(metricsRoutes)
      return
    }
    const listener = Fastify(serverOptions(app.config, app.log))
    listener.decorate('config', app.config)
    listener.decorate('metrics', app.metrics)
    listener.addHook('onResponse', app.timeRequest)
    app.shareErrorHandling(listener)
    await listener.register(metricsRoutes)
    app.decorate('metricsListener', listener)
    // Added after the log's flush hook, so it runs before it: the listener's last lines are written out.
    app.addHook('onClose', () => listener.close())
  },
  { name: 'sessiond-metrics-listener', fastify: '5.x', dependencies: ['sessiond-config', 'sessiond-metrics', 'sessiond-problems'] }
)
