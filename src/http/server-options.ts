/**
 * The options every fastify instance of the service is built with: the
 * service's own and the metrics listener (METRICS_PORT), so that both log
 * one access line per request under the same request ids, read client
 * addresses through the same proxies and answer router errors and what the
 * HTTP parser refuses as problem+json.
 */
import type { Server } from 'node:http'
import type { FastifyBaseLogger, FastifyHttpOptions } from 'fastify'
import type { Config } from '../config.js'
import { AccessLog } from '../log/access-log.js'
import { clientErrorHandler, frameworkErrors } from './plugins/problems.js'

const BODY_LIMIT_BYTES = 1024 * 1024

/** TRUST_PROXY as fastify takes it: a hop count becomes "trust the nearest n hops". */
function fastifyTrustProxy(trust: Config['trustProxy']): boolean | string[] | ((address: string, hop: number) => boolean) {
  if (typeof trust === 'number') return (_address, hop) => hop < trust
  return typeof trust === 'boolean' ? trust : [...trust]
}

export function serverOptions(config: Config, logger: FastifyBaseLogger): FastifyHttpOptions<Server> & { loggerInstance: FastifyBaseLogger } {
  return {
    loggerInstance: logger,
    logController: new AccessLog(),
    requestIdHeader: 'x-request-id',
    trustProxy: fastifyTrustProxy(config.trustProxy),
    routerOptions: { maxParamLength: 512 },
    bodyLimit: BODY_LIMIT_BYTES,
    // `__proto__` and `constructor` are ordinary data keys; bodies are copied into null-prototype maps.
    onProtoPoisoning: 'ignore',
    onConstructorPoisoning: 'ignore',
    frameworkErrors,
    clientErrorHandler: clientErrorHandler(logger),
    // An HTTP/1.1 request without Host is refused as problem+json by the problems plugin, not by Node.
    http: { requireHostHeader: false }
  }
}
