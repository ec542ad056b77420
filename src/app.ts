/**
 * buildApp(config): the whole service as one fastify instance, for
 * server.ts to listen with and for tests to drive with app.inject. The
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
import metrics from './http/plugins/metrics.js'
import problems, { frameworkErrors } from './http/plugins/problems.js'
import store from './http/plugins/store.js'
import healthRoutes from './http/routes/health.js'
import metricsRoutes from './http/routes/metrics.js'
import v1Routes from './http/routes/v1.js'
import { AccessLog } from './log/access-log.js'
import { createLogger } from './log/logger.js'
import type { Store } from './store/types.js'

export interface AppOptions {
  /** A store the caller owns (and closes); by default the configured one, closed with the app. */
  readonly store?: Store
  readonly clock?: () => number
  /** Where logs go (tests capture them); stdout by default. */
  readonly logStream?: DestinationStream
}

const BODY_LIMIT_BYTES = 1024 * 1024

/** TRUST_PROXY as fastify takes it: a hop count becomes "trust the nearest n hops". */
function fastifyTrustProxy(trust: Config['trustProxy']): boolean | string[] | ((address: string, hop: number) => boolean) {
  if (typeof trust === 'number') return (_address, hop) => hop < trust
  return typeof trust === 'boolean' ? trust : [...trust]
}

export async function buildApp(config: Config, options: AppOptions = {}): Promise<FastifyInstance> {
  const log = createLogger(config.logLevel, options.logStream)
  const app = Fastify({
    loggerInstance: log.logger,
    logController: new AccessLog(),
    requestIdHeader: 'x-request-id',
    trustProxy: fastifyTrustProxy(config.trustProxy),
    routerOptions: { maxParamLength: 512 },
    bodyLimit: BODY_LIMIT_BYTES,
    // `__proto__` and `constructor` are ordinary data keys; bodies are copied into null-prototype maps.
    onProtoPoisoning: 'ignore',
    onConstructorPoisoning: 'ignore',
    frameworkErrors
  })
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

  await app.register(metricsRoutes)
  await app.register(healthRoutes)
  await app.register(v1Routes)
  return app
}
