/**
 * buildApp(config): the whole service as one fastify instance, for
 * server.ts to listen with and for tests to drive with app.inject.
 */
import fastifyCookie from '@fastify/cookie'
import Fastify, { type FastifyInstance } from 'fastify'
import type { DestinationStream } from 'pino'
import { Registry } from 'prom-client'
import type { Config } from './config.js'
import { compileGlobs } from './globs.js'
import { createApiKeyVerifier } from './http/api-keys.js'
import type { HttpContext } from './http/context.js'
import { syncHook } from './http/hooks.js'
import { createSessionCookies } from './http/cookies.js'
import { createCredentialReader } from './http/credential.js'
import { metricsRoutes } from './http/metrics.js'
import { errorHandler, notFoundHandler, sendProblem, toAppError } from './http/problem.js'
import { healthRoutes } from './http/routes/health.js'
import { adminRoutes } from './http/routes/admin.js'
import { anonymousRoutes } from './http/routes/anonymous.js'
import { authRoutes } from './http/routes/auth.js'
import { selfRoutes } from './http/routes/session.js'
import { sessionRoutes } from './http/routes/sessions.js'
import { createStore } from './store/index.js'
import { instrumentStore } from './store/instrumented.js'
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

export const BODY_LIMIT_BYTES = 1024 * 1024

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
    // Router errors (a bad percent-encoding, an over-long segment) are problem+json too.
    frameworkErrors: (error, _request, reply) => {
      void sendProblem(reply, toAppError(error))
    }
  })

  const ownsStore = options.store === undefined
  // One metrics registry per app; the store is wrapped once so every backend is measured alike.
  const registry = new Registry()
  const store = instrumentStore(options.store ?? createStore(config, options.clock), registry)
  if (ownsStore) app.addHook('onClose', async () => store.close())
  if (log.close !== undefined) app.addHook('onClose', log.close)
  if (store.kind === 'memory') app.log.warn('STORE=memory: sessions live in this process only; they are not shared and do not survive a restart')

  const cookies = createSessionCookies(config.cookie)
  const ctx: HttpContext = {
    config,
    store,
    apiKeys: createApiKeyVerifier(config.apiKeys),
    cookies,
    readCredential: createCredentialReader(cookies),
    clock: options.clock ?? Date.now,
    isPublicKey: compileGlobs(config.publicKeys)
  }

  await app.register(fastifyCookie, config.cookie.secrets.length > 0 ? { secret: [...config.cookie.secrets] } : {})
  // Only JSON bodies are accepted: anything else is 415.
  app.removeContentTypeParser('text/plain')
  app.setErrorHandler(errorHandler)
  app.setNotFoundHandler(notFoundHandler)

  await app.register(metricsRoutes, { registry, token: config.metricsToken })
  await app.register(healthRoutes(ctx))
  await app.register(async (v1) => {
    v1.addHook('onRequest', syncHook((_request, reply) => {
      reply.header('cache-control', 'no-store')
    }))
    await v1.register(sessionRoutes(ctx))
    await v1.register(selfRoutes(ctx))
    await v1.register(authRoutes(ctx))
    await v1.register(anonymousRoutes(ctx))
    await v1.register(adminRoutes(ctx))
  })
  return app
}
