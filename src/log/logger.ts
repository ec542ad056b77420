/** The service's pino logger: LOG_LEVEL, secret headers censored, URLs without their query, to the caller's stream or to buffered stdout. */
import type { FastifyBaseLogger } from 'fastify'
import pino, { type DestinationStream } from 'pino'
import { bufferedStdout } from './destination.js'
import { redactHeaders, serializeRequest } from './redaction.js'

export interface ServiceLogger {
  readonly logger: FastifyBaseLogger
  /** Writes out what stdout still buffers; undefined when the caller owns the stream. */
  readonly close: (() => void) | undefined
}

export function createLogger(level: string, stream?: DestinationStream): ServiceLogger {
  const stdout = stream === undefined ? bufferedStdout() : undefined
  const logger = pino({ level, formatters: { log: redactHeaders }, serializers: { req: serializeRequest } }, stream ?? stdout?.stream)
  return { logger, close: stdout === undefined ? undefined : () => stdout.close() }
}
