/**
 * The webhook deliverer of one instance (docs/webhooks.md): it leases shards
 * from the store's delivery state (src/store/deliveries.ts), keeps a bounded
 * window of each held shard's events in id order, and POSTs them, at most
 * MAX_IN_FLIGHT at a time over all shards, beside the request path. A 2xx
 * acknowledges an event; anything else is retried with backoff until
 * WEBHOOK_MAX_AGE, then the event is dropped with one error line. An event
 * waits while an earlier one of its session is unacknowledged in the window
 * (rules.ts unblocked); types outside WEBHOOK_EVENTS are passed over in the
 * same order, so that a rotation still links a session's events before it is
 * acknowledged.
 */
import { randomBytes } from 'node:crypto'
import { hostname } from 'node:os'
import type { FastifyBaseLogger } from 'fastify'
import type { WebhookConfig } from '../config.js'
import { eventJson } from '../http/routes/events.js'
import type { Deliveries } from '../store/deliveries.js'
import { publicEvent, type EventId, type StoredEvent } from '../store/events.js'
import type { WebhookMetrics } from './metrics.js'
import { post, signer } from './post.js'
import { retryAt, unblocked } from './rules.js'

/** A lease lasts this long unless renewed: a dead instance's shards pass to another within it. */
export const LEASE_MS = 5_000
/** How often the leases are renewed and free ones taken. */
export const RENEW_MS = 1_000
/** How often each held shard with room is asked for new events, retries that are due are sent, and done ones acknowledged. */
export const POLL_MS = 250
/** The most events of one shard held at once: with 64 shards, what bounds the deliverer's memory. */
export const WINDOW = 32
/** The most POSTs open at once, over all shards. */
export const MAX_IN_FLIGHT = 16
/** On shutdown, how long POSTs in flight may still finish; the rest are aborted and left to the next holder. */
export const STOP_WAIT_MS = 3_000

export interface DelivererOptions {
  readonly deliveries: Deliveries
  readonly webhook: WebhookConfig
  /** The store's clock: event ids, and so their ages, are counted on it. */
  readonly clock: () => number
  readonly log: FastifyBaseLogger
  readonly metrics: WebhookMetrics
  /** A store call failed: the app logs an outage once. */
  readonly storeFailed: (err: unknown) => void
}

export interface Deliverer {
  /** The name this instance leases shards under. */
  readonly consumer: string
  /** Prepares the delivery state and takes the first leases; then runs on its timers. */
  start(): Promise<void>
  /** Stops taking work, lets POSTs in flight finish for up to STOP_WAIT_MS, gives up the leases. */
  stop(): Promise<void>
}

/** One event of a held shard's window. */
interface Entry {
  readonly event: StoredEvent
  /** The event's public id: the webhook-id. */
  readonly id: string
  readonly body: string
  /** Its type is one WEBHOOK_EVENTS names; else it is passed over once its turn comes. */
  readonly wanted: boolean
  /** Not yet delivered, dropped or passed over. */
  pending: boolean
  sending: boolean
  acknowledging: boolean
  failures: number
  /** When it may be tried (store clock). */
  nextAt: number
  /** The last failure, for the drop line: a status or why there was none. */
  last: string | null
}

interface HeldShard {
  readonly shard: number
  window: Entry[]
  /** Taking over what a previous holder left unacknowledged, before any new event. */
  reclaiming: boolean
  reclaimedTo: EventId | null
  reading: boolean
  /** When to ask for more events after a read that found fewer than it had room for. */
  readAt: number
}

export function createDeliverer(options: DelivererOptions): Deliverer {
  const { deliveries, webhook, clock, log, metrics, storeFailed } = options
  const consumer = `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`
  const sign = signer(webhook.secret)
  const wanted = new Set<string>(webhook.events)
  const maxAgeMs = webhook.maxAgeSec * 1000
  const held = new Map<number, HeldShard>()
  /** Store calls and POSTs under way, which stop() waits for. */
  const tasks = new Set<Promise<unknown>>()
  const stopSignal = new AbortController()
  let prepared = false
  let renewing = false
  let stopping = false
  /** Until when the last successful lease call keeps the held shards ours, less a margin for the clocks. */
  let leasedUntil = 0
  let sending = 0
  let turn = 0
  let timers: NodeJS.Timeout[] = []

  const track = <T>(task: Promise<T>): Promise<T> => {
    tasks.add(task)
    void task.finally(() => tasks.delete(task)).catch(() => undefined)
    return task
  }
  const isHeld = (shard: HeldShard): boolean => held.get(shard.shard) === shard
  /**
   * A shard with a POST not heard back from, or an event done and not yet
   * acknowledged in the store: given up now, its next holder would send that
   * event again, so a lease call never gives it up (Deliveries.lease busy).
   */
  const isBusy = (shard: HeldShard): boolean => shard.window.some((entry) => entry.sending || !entry.pending)
  /** While a lease call is under way, the held shards it may give up: no POST starts on them meanwhile. */
  let releasable: ReadonlySet<number> = new Set()

  const entryOf = (shard: number, event: StoredEvent): Entry => {
    const json = eventJson(publicEvent(shard, event))
    return {
      event,
      id: String(json.id),
      body: JSON.stringify(json),
      wanted: wanted.has(event.type),
      pending: true,
      sending: false,
      acknowledging: false,
      failures: 0,
      nextAt: 0,
      last: null
    }
  }

  async function renew(): Promise<void> {
    if (renewing || stopping) return
    renewing = true
    try {
      if (!prepared) {
        await deliveries.prepare()
        prepared = true
      }
      const started = clock()
      const busy = [...held.values()].filter(isBusy).map((shard) => shard.shard)
      releasable = new Set([...held.keys()].filter((shard) => !busy.includes(shard)))
      const shards = await deliveries.lease(consumer, LEASE_MS, busy)
      if (stopping) return
      leasedUntil = started + LEASE_MS - RENEW_MS
      const now = new Set(shards)
      for (const shard of held.keys()) if (!now.has(shard)) held.delete(shard)
      for (const shard of shards) {
        if (!held.has(shard)) held.set(shard, { shard, window: [], reclaiming: true, reclaimedTo: null, reading: false, readAt: 0 })
      }
    } catch (err) {
      storeFailed(err)
    } finally {
      releasable = new Set()
      renewing = false
    }
  }

  async function read(shard: HeldShard): Promise<void> {
    shard.reading = true
    const room = WINDOW - shard.window.length
    try {
      const events = shard.reclaiming
        ? await deliveries.unacknowledged(shard.shard, consumer, shard.reclaimedTo, room)
        : await deliveries.handOut(shard.shard, consumer, room)
      // A shard lost meanwhile keeps what was read pending in the store, for its next holder.
      if (!isHeld(shard)) return
      if (shard.reclaiming) {
        shard.reclaimedTo = events.at(-1)?.id ?? shard.reclaimedTo
        if (events.length < room) shard.reclaiming = false
      } else if (events.length < room) {
        shard.readAt = clock() + POLL_MS
      }
      shard.window.push(...events.map((event) => entryOf(shard.shard, event)))
      if (events.length > 0) dispatch()
    } catch (err) {
      storeFailed(err)
      shard.readAt = clock() + POLL_MS
    } finally {
      shard.reading = false
    }
  }

  /** Acknowledges the window's done events in one call, and frees their room once the store has them. */
  function acknowledgeDone(shard: HeldShard): void {
    const done = shard.window.filter((entry) => !entry.pending && !entry.acknowledging)
    if (done.length === 0) return
    for (const entry of done) entry.acknowledging = true
    void track(deliveries.acknowledge(shard.shard, done.map((entry) => entry.event.id))).then(
      () => {
        const acknowledged = new Set(done)
        shard.window = shard.window.filter((entry) => !acknowledged.has(entry))
      },
      (err: unknown) => {
        for (const entry of done) entry.acknowledging = false
        storeFailed(err)
      }
    )
  }

  async function send(shard: HeldShard, entry: Entry): Promise<void> {
    entry.sending = true
    sending++
    const outcome = await post(webhook.url, sign(entry.id, entry.body), stopSignal.signal)
    sending--
    entry.sending = false
    // Aborted by shutdown: neither a failure of the receiver nor done; the next holder sends it.
    if (stopSignal.signal.aborted && !outcome.ok) return
    const now = clock()
    if (outcome.ok) {
      entry.pending = false
      metrics.count('delivered', Math.max(0, now - entry.event.id.ms) / 1000)
    } else {
      entry.failures++
      entry.last = outcome.status === null ? outcome.error : `status ${outcome.status}`
      const next = retryAt(entry.event.id.ms, entry.failures, now, maxAgeMs)
      if (next !== null) {
        entry.nextAt = next
        metrics.count('retried')
      } else {
        entry.pending = false
        metrics.count('dropped')
        log.error({ eventId: entry.id, eventType: entry.event.type, attempts: entry.failures, last: entry.last }, 'webhook event dropped: not delivered within WEBHOOK_MAX_AGE')
      }
    }
    if (isHeld(shard)) {
      acknowledgeDone(shard)
      dispatch()
    } else if (!entry.pending) {
      // The lease was lost meanwhile: what is done is still acknowledged, so that the next holder need not send it again.
      void track(deliveries.acknowledge(shard.shard, [entry.event.id])).catch(storeFailed)
    }
  }

  /** Starts what may start: due, unblocked events, shard after shard from a rotating first, up to MAX_IN_FLIGHT. */
  function dispatch(): void {
    if (stopping) return
    const now = clock()
    const shards = [...held.values()]
    turn = (turn + 1) % Math.max(1, shards.length)
    for (let i = 0; i < shards.length; i++) {
      const shard = shards[(turn + i) % shards.length] as HeldShard
      if (releasable.has(shard.shard)) continue
      for (const entry of unblocked(shard.window)) {
        if (!entry.pending || entry.sending || entry.nextAt > now) continue
        if (!entry.wanted) entry.pending = false
        else if (sending < MAX_IN_FLIGHT) void track(send(shard, entry))
      }
      acknowledgeDone(shard)
    }
  }

  function tick(): void {
    if (stopping) return
    const now = clock()
    if (now >= leasedUntil) held.clear()
    for (const shard of held.values()) {
      if (!shard.reading && shard.window.length < WINDOW && now >= shard.readAt) void track(read(shard))
    }
    dispatch()
  }

  return {
    consumer,
    async start() {
      await track(renew())
      timers = [setInterval(() => void track(renew()), RENEW_MS), setInterval(tick, POLL_MS)]
      // Delivery never keeps the process alive: the server does, and closing it stops delivery.
      for (const timer of timers) timer.unref()
      tick()
    },
    async stop() {
      stopping = true
      for (const timer of timers) clearInterval(timer)
      held.clear()
      let waited: NodeJS.Timeout | undefined
      const deadline = new Promise<void>((resolve) => {
        waited = setTimeout(resolve, STOP_WAIT_MS)
      })
      await Promise.race([Promise.allSettled([...tasks]), deadline])
      clearTimeout(waited)
      stopSignal.abort()
      // Aborted POSTs settle at once; the acknowledgements of those that finished are awaited too.
      while (tasks.size > 0) await Promise.allSettled([...tasks])
      await deliveries.release(consumer).catch(storeFailed)
    }
  }
}
