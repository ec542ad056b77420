/**
 * REDIS_WAIT_REPLICAS (SPEC §7): a revocation (destroy, logout-all, revoking
 * by index, rotation) is acknowledged only once that many replicas have it,
 * so that a failover cannot bring an ended session back.
 */
import type { ChainableCommander } from 'ioredis'
import { storeError, unavailable, type RedisClient } from './client.js'
import type { Deadlines } from './deadlines.js'
import { num } from './replies.js'
import { scriptMethod, type Run } from './scripts.js'

export interface RevocationOptions {
  readonly client: RedisClient
  /** The client's readiness gate (client.ts readinessGate). */
  readonly ready: () => Promise<void> | null
  /** How any script runs: revocations too, when no replica need acknowledge them. */
  readonly run: Run
  /** The deadlines every revoking script carries (deadlines.ts). */
  readonly deadlines: Deadlines
  readonly waitReplicas: number
  readonly commandTimeoutMs: number
}

/**
 * How revoking scripts run: with waitReplicas, each is pipelined with WAIT on
 * the same connection (so on Cluster it reaches the primary that took the
 * write) and fails as store_unavailable when fewer replicas acknowledge it.
 */
export function revocationRunner({ client, ready, run, deadlines, waitReplicas, commandTimeoutMs }: RevocationOptions): Run {
  if (waitReplicas === 0) return run
  // Shorter than the command timeout, so that a shortfall comes back as a count.
  const waitMs = Math.max(1, Math.floor(commandTimeoutMs * 0.8))
  return async (name, keys, args) => {
    await ready()
    try {
      return await deadlines.guard(name, async (leading) => {
        const pipeline = client.pipeline()
        scriptMethod<ChainableCommander>(pipeline, name)(...keys, ...leading, ...args)
        pipeline.wait(waitReplicas, waitMs)
        const [script, wait] = (await pipeline.exec()) ?? []
        if (script === undefined || wait === undefined) throw unavailable('redis: no reply')
        // Thrown as they came, so that the guard can tell a reply from a lost command.
        if (script[0] !== null) throw script[0]
        if (wait[0] !== null) throw wait[0]
        const acks = num(wait[1])
        if (acks < waitReplicas) throw unavailable(`only ${acks} of ${waitReplicas} replicas acknowledged the revocation`)
        return script[1]
      })
    } catch (err) {
      throw storeError(err)
    }
  }
}
