/**
 * Webhook delivery state (SPEC §2 "webhooks"), kept by the backend beside the
 * events it delivers, so that any number of instances share it: per shard, a
 * lease naming the one consumer (instance) that delivers that shard's events
 * now, which events were handed out, and which of those are not acknowledged
 * yet. On Redis this is a consumer group on each shard's stream (XREADGROUP,
 * XAUTOCLAIM, XACK) and a lease key in the shard's slot; on memory the same,
 * in the process.
 *
 * One consumer at a time per shard is what keeps a session's events in order:
 * every event of a session (rotations included) is in its shard's log, and
 * the lease holder delivers them in id order. A consumer that takes over a
 * shard first re-takes what its previous holder left unacknowledged, older
 * than anything not handed out yet. Shards are SHARDS positions (0-63).
 *
 * The shards are shared fairly among the live consumers: each holds at most
 * ceil(64 / live) of them (fairShare), so that delivery is spread over the
 * instances rather than done by the first to start.
 */
import { SHARDS } from '../tokens.js'
import type { EventId, StoredEvent } from './events.js'

export interface Deliveries {
  /**
   * Starts delivery state at each shard's newest event, where there is none
   * yet (idempotent): events recorded before webhooks were first configured
   * are not delivered.
   */
  prepare(): Promise<void>
  /**
   * Registers this consumer as live for `leaseMs` and renews its leases for
   * as long; past its fair share (ceil(64 / live consumers)) it gives up the
   * excess, which is free at once, but never a shard in `busy` (one with a
   * POST the consumer has not heard back from: given up, the next holder
   * would send that event a second time), and under it takes free or expired
   * shards up to it, tried in random order so that consumers taking together
   * spread (planLease). Resolves to the shards it holds afterwards, in order.
   */
  lease(consumer: string, leaseMs: number, busy?: readonly number[]): Promise<number[]>
  /**
   * Up to `count` of the shard's events that were handed out (to any
   * consumer) and not acknowledged, after `after` (exclusive; null: from the
   * first), in id order, now this consumer's. Fewer than `count`: no more.
   * Events trimmed by the retention meanwhile are left out, and forgotten.
   */
  unacknowledged(shard: number, consumer: string, after: EventId | null, count: number): Promise<StoredEvent[]>
  /** Up to `count` of the shard's events never handed out, in id order, now handed to this consumer. */
  handOut(shard: number, consumer: string, count: number): Promise<StoredEvent[]>
  /** The events are done with: delivered, dropped, or not for the webhook. */
  acknowledge(shard: number, ids: readonly EventId[]): Promise<void>
  /** When the oldest event not handed out or not acknowledged was recorded (ms), or null when none waits. */
  oldestUndelivered(): Promise<number | null>
  /** Gives up this consumer's leases and its registration, so that the others take its shards over at once. */
  release(consumer: string): Promise<void>
}

/** The most shards one of `live` consumers holds (live counts the one asking, so at least 1). */
export const fairShare = (live: number): number => Math.ceil(SHARDS.length / Math.max(1, live))

/** What a lease call changes besides renewing: the held shards to give up, or the free ones to try to take. */
export interface LeasePlan {
  readonly release: number[]
  readonly take: number[]
}

/**
 * Given the shards a consumer holds and those free, under a fair share:
 * the excess to give up (the last held that are not busy: a busy one is
 * given up at a later call, once idle), or up to the share's room of the
 * free ones, in random order so that two consumers taking at once mostly try
 * different shards (a shard both try goes to one: the backend settles it).
 */
export function planLease(
  held: readonly number[],
  free: readonly number[],
  share: number,
  busy: readonly number[] = [],
  random: () => number = Math.random
): LeasePlan {
  if (held.length > share) return { release: held.filter((shard) => !busy.includes(shard)).slice(share - held.length), take: [] }
  const shuffled = [...free]
  for (let i = shuffled.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1))
    const swapped = shuffled[i] as number
    shuffled[i] = shuffled[j] as number
    shuffled[j] = swapped
  }
  return { release: [], take: shuffled.slice(0, share - held.length) }
}
