/**
 * buildApp(config): the whole service as one fastify instance, for
 * server.ts to `listen` with and for tests to drive with app.inject. The
 * plugins decorate the app in dependency order; the routes read them.
 */
import Fastify, { type FastifyInstance } from 'fastify'
import type { DestinationStream } from 'pino'
import type { Config } from './config.js'
import apiKeys from './http/plugins/api-keys.js'
import configPlugin from './http/plugins/config.js'
import cookies from './http/plugins/cookies.js'
import credentials from './http/plugins/credentials.js'
import csrf from './http/plugins/csrf.js'
import metricsListener from './http/plugins/metrics-listener.js'
import metrics from './http/plugins/metrics.js'
import problems from './http/plugins/problems.js'
import store from './http/plugins/store.js'
import webhooks from './http/plugins/webhooks.js'
import healthRoutes from './http/routes/health.js'
import v1Routes from './http/routes/v1.js'
import { serverOptions } from './http/server-options.js'
import { createLogger } from './log/logger.js'
import type { Store } from './store/types.js'

export interface AppOptions {
  /** A store the caller owns (and closes); by default the configured one, closed with the app. */
  readonly store?: Store
  readonly clock?: () => number
  /** Where logs go (tests capture them); stdout by default. */
  readonly logStream?: DestinationStream
}

export async function buildApp(config: Config, options: AppOptions = {}): Promise<FastifyInstance> {
  const log = createLogger(config.logLevel, options.logStream)
  const app = Fastify(serverOptions(config, log.logger))
  // Only JSON bodies are accepted: anything else is 415.
  app.removeContentTypeParser('text/plain')

  await app.register(configPlugin, { config })
  await app.register(metrics)
  await app.register(store, { store: options.store, clock: options.clock })
  // Added after the store's: onClose hooks run last-added first, so buffered lines are written out before the store closes.
  if (log.close !== undefined) app.addHook('onClose', log.close)
  await app.register(cookies)
  await app.register(apiKeys)
  await app.register(csrf)
  await app.register(credentials)
  await app.register(problems)
  // After the store's and the log's: it stops delivering on close before either closes.
  await app.register(webhooks)

  await app.register(metricsListener)
  await app.register(healthRoutes)
  await app.register(v1Routes)
  return app
}

export interface Addresses {
  readonly service: string
  /** null when the service port serves /metrics. */
  readonly metrics: string | null
}

/**
 * Listens on HOST:PORT and, with METRICS_PORT set, the metrics listener on
 * HOST:METRICS_PORT; the metrics port first, so that a taken one stops
 * start-up before the service has accepted anything.
 */
export async function listen(app: FastifyInstance): Promise<Addresses> {
  const { host, port, metricsPort } = app.config
  const metrics = app.metricsListener === null ? null : await app.metricsListener.listen({ port: metricsPort, host })
  return { service: await app.listen({ port, host }), metrics }
}
