/**
 * A write answered 503 is never applied (SPEC §7). A command written to a
 * Redis that then stalls (SIGSTOP, a VM pause, a long fork) waits in its
 * socket and runs whenever the server wakes, long after the service answered
 * 503. So every writing script receives a deadline on Redis's own clock and
 * refuses to run past it (lib.lua `late`), and the service answers 503 for a
 * write whose outcome it does not know only once that deadline has surely
 * passed. The offset between this process's monotonic clock and each
 * primary's clock is measured with TIME: at every (re)connection, before any
 * write, and every few seconds, as a lower bound.
 */
import { performance } from 'node:perf_hooks'
import { Cluster, type Redis } from 'ioredis'
import { unavailable, type RedisClient } from './client.js'
import { hasDeadline, type Arg, type ScriptName } from './scripts.js'

export interface Deadline {
  /** On Redis's clock, in ms: a script that starts later refuses to run. */
  readonly redisMs: number
  /** On this process's monotonic clock: by then the deadline has passed on every primary's clock. */
  readonly passedAt: number
}

export interface Deadlines {
  /**
   * Sends a script with the arguments that lead its ARGV: a writing script's
   * deadline, none for a reading one. When a write fails with its outcome
   * unknown, rejects only once the deadline has passed.
   */
  guard<T>(name: ScriptName, send: (leading: readonly Arg[]) => Promise<T>): Promise<T>
  close(): void
}

/** How often the clock offsets are measured again, between reconnections. */
const RESAMPLE_MS = 10_000

/**
 * The lowest offset from this process's monotonic clock to a primary's clock
 * that the measurement allows, over all primaries: a deadline on that basis
 * has passed on every one of them once it has passed here.
 */
async function lowestOffset(nodes: readonly Redis[]): Promise<number> {
  if (nodes.length === 0) throw unavailable('redis: no primary to measure the clock of')
  const offsets = await Promise.all(
    nodes.map(async (node) => {
      const [seconds, micros] = await node.time()
      const answeredAt = performance.now()
      const redisMs = Number(seconds) * 1000 + Number(micros) / 1000
      // Redis read its clock before it answered, so the offset is at least this (less a millisecond of rounding).
      return redisMs - answeredAt - 1
    })
  )
  return Math.min(...offsets)
}

/** Whether a failed command may still have reached Redis: anything but a reply. */
const outcomeUnknown = (err: unknown): boolean => !(err instanceof Error && err.name === 'ReplyError')

/**
 * Deadlines for writes sent through `client`, which times commands out after
 * `timeoutMs`: a script must start a tenth of that before the timeout, so a
 * write that ran has that long for its reply to come back; one whose reply
 * takes longer is answered 503 though it ran (docs/operations.md).
 */
export function writeDeadlines(client: RedisClient, timeoutMs: number): Deadlines {
  const replyMargin = Math.max(1, Math.floor(timeoutMs / 10))
  const primaries = (): Redis[] => (client instanceof Cluster ? client.nodes('master') : [client])
  let offset: number | undefined
  let measuring: Promise<number> | undefined

  const measure = (): Promise<number> => {
    measuring ??= lowestOffset(primaries()).then(
      (lowest) => {
        measuring = undefined
        offset = lowest
        return lowest
      },
      (err: unknown) => {
        measuring = undefined
        throw err
      }
    )
    return measuring
  }
  // Another server may answer after a reconnection (a Sentinel failover): no write before it is measured.
  client.on('ready', () => {
    offset = undefined
    measure().catch(() => undefined)
  })
  const timer = setInterval(() => {
    measure().catch(() => undefined)
  }, RESAMPLE_MS)
  timer.unref()

  return {
    async guard(name, send) {
      if (!hasDeadline(name)) return send([])
      const lowest = offset ?? (await measure())
      const passedAt = performance.now() + timeoutMs
      const deadline: Deadline = { redisMs: Math.floor(passedAt - replyMargin + lowest), passedAt }
      try {
        return await send([deadline.redisMs])
      } catch (err) {
        if (outcomeUnknown(err)) await passed(deadline)
        throw err
      }
    },
    close: () => clearInterval(timer)
  }
}

/** Resolves once the deadline has passed on every primary's clock. */
function passed(deadline: Deadline): Promise<void> {
  const wait = deadline.passedAt - performance.now()
  return wait > 0 ? new Promise((resolve) => setTimeout(resolve, Math.ceil(wait))) : Promise.resolve()
}
