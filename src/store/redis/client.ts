/**
 * The ioredis client for a RedisConnection, how its failures reach callers,
 * and how it closes. Every mode is set up so that no request ever waits in an
 * ioredis queue: commands fail at once while the connection is down, time out
 * after `commandTimeoutMs`, and the client reconnects by itself forever; all
 * of that surfaces as store_unavailable.
 */
import { Cluster, Redis, type RedisOptions } from 'ioredis'
import type { RedisConnection } from '../types.js'
import { AppError } from '../../errors.js'

export type RedisClient = Redis | Cluster

/** Reconnect backoff: 50 ms doubling up to 2 s, never giving up. */
function reconnectDelay(attempt: number): number {
  return Math.min(50 * 2 ** Math.min(attempt, 6), 2_000)
}

function commonOptions(commandTimeoutMs: number): RedisOptions {
  return {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    // A command cut off by a disconnect may have run: never run it twice.
    autoResendUnfulfilledCommands: false,
    commandTimeout: commandTimeoutMs,
    connectTimeout: Math.max(commandTimeoutMs, 1_000),
    retryStrategy: reconnectDelay,
    // After a failover the old primary turns replica: reconnect to find the new one.
    reconnectOnError: (err) => err.message.startsWith('READONLY'),
    connectionName: 'sessiond'
  }
}

/** The message of ioredis's commandTimeout rejection. */
const COMMAND_TIMED_OUT = 'Command timed out'

/**
 * A command that times out leaves its connection suspect: a stopped or
 * partitioned server keeps the socket open, and every later command would be
 * written into it, answered 503 after the timeout, and still run whenever the
 * server wakes up. So the first timeout ends the connection's writing side at
 * once: requests wait, bounded, at the readiness gate and send nothing, while
 * the replies of commands already sent may still arrive (a server that wakes
 * before their deadlines answers them, deadlines.ts). Once every command sent
 * before has timed out the socket is dropped, and ioredis reconnects as after
 * any network error.
 */
function reconnectOnTimeout(client: Redis, timeoutMs: number): Redis {
  const send = client.sendCommand.bind(client)
  client.sendCommand = (command, stream) => {
    const reply = send(command, stream)
    command.promise.catch((err: unknown) => {
      if (!(err instanceof Error && err.message === COMMAND_TIMED_OUT && client.status === 'ready' && client.stream.writable)) return
      const socket = client.stream
      socket.end()
      const drop = setTimeout(() => socket.destroy(), timeoutMs)
      socket.once('close', () => clearTimeout(drop))
    })
    return reply
  }
  return client
}

export function createRedisClient(connection: RedisConnection, commandTimeoutMs: number): RedisClient {
  const common = commonOptions(commandTimeoutMs)
  switch (connection.mode) {
    case 'single':
      return reconnectOnTimeout(new Redis(connection.url, common), commandTimeoutMs)
    case 'sentinel':
      return reconnectOnTimeout(new Redis({
        ...common,
        sentinels: connection.sentinels.map(({ host, port }) => ({ host, port })),
        name: connection.name,
        username: connection.username,
        password: connection.password,
        sentinelRetryStrategy: reconnectDelay,
        ...(connection.tls ? { tls: {}, enableTLSForSentinelMode: true } : {})
      }), commandTimeoutMs)
    case 'cluster':
      return new Cluster(
        connection.nodes.map(({ host, port }) => ({ host, port })),
        {
          enableOfflineQueue: false,
          clusterRetryStrategy: reconnectDelay,
          scaleReads: 'master',
          slotsRefreshTimeout: Math.max(commandTimeoutMs, 1_000),
          redisOptions: {
            ...common,
            username: connection.username,
            password: connection.password,
            ...(connection.tls ? { tls: {} } : {})
          }
        }
      )
  }
}

/** Replies that mean Redis cannot serve right now (LATE: a write past its deadline, deadlines.ts), as opposed to a script bug. */
const UNAVAILABLE_REPLY = /^(LATE|LOADING|READONLY|MASTERDOWN|CLUSTERDOWN|TRYAGAIN|BUSY|OOM|NOREPLICAS|NOSCRIPT|MOVED|ASK)\b/

export function unavailable(detail: string, cause?: unknown): AppError {
  return new AppError('store_unavailable', detail, { cause })
}

/** Connection trouble of any kind is store_unavailable; a script bug stays an internal error. */
export function storeError(err: unknown): Error {
  if (err instanceof AppError) return err
  const error = err instanceof Error ? err : new Error(String(err))
  if (error.name === 'ReplyError' && !UNAVAILABLE_REPLY.test(error.message)) return error
  return unavailable(`redis: ${error.message}`, error)
}

/**
 * null while the client is connected; otherwise a promise that resolves once
 * it is, or rejects with store_unavailable after `timeoutMs`. Requests never
 * queue inside ioredis (its offline queue is off): at start-up and while
 * reconnecting they wait here, bounded.
 */
export function readinessGate(client: RedisClient, timeoutMs: number): () => Promise<void> | null {
  let lastError = 'not connected yet'
  let pending: { promise: Promise<void>; resolve: () => void; reject: (err: Error) => void } | undefined
  client.on('error', (err: Error) => {
    lastError = err.message
  })
  client.on('ready', () => {
    pending?.resolve()
    pending = undefined
  })
  client.on('end', () => {
    pending?.reject(unavailable('the store is closed'))
    pending = undefined
  })
  // A socket ended after a timeout is not ready, though ioredis says so until its close event.
  const isReady = (): boolean => client.status === 'ready' && (client instanceof Cluster || client.stream.writable)
  const waitUntilReady = async (): Promise<void> => {
    if (client.status === 'end') throw unavailable('the store is closed')
    if (pending === undefined) {
      let resolve = (): void => undefined
      let reject = (_err: Error): void => undefined
      const promise = new Promise<void>((res, rej) => {
        resolve = res
        reject = rej
      })
      pending = { promise, resolve, reject }
    }
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(unavailable(`redis is unreachable (${lastError})`)), timeoutMs)
    })
    try {
      await Promise.race([pending.promise, timeout])
    } finally {
      clearTimeout(timer)
    }
  }
  return () => (isReady() ? null : waitUntilReady())
}

/** QUIT, or after `timeoutMs` without an answer (Redis gone), a plain disconnect. */
export async function closeClient(client: RedisClient, timeoutMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined
  const timedOut = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), timeoutMs)
  })
  const quit = client.quit().then(
    () => true,
    () => false
  )
  const clean = await Promise.race([quit, timedOut])
  clearTimeout(timer)
  if (!clean) client.disconnect()
}
