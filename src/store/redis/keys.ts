/**
 * Redis key names. Every key of a session carries its shard (the handle's
 * first character) as a Cluster hash tag, so that all the keys one script
 * touches live in one slot:
 *
 *   {P}{t}:s:<handle>       hash: metadata fields (prefixed "@") + one field per data key
 *   {P}{t}:all              sorted set: member = the session's index entry, score = its expiresAt
 *                           when the member was last written (a touching use moves only the hash's;
 *                           pruning checks the hash)
 *   {P}{t}:u:<userId>       sorted set (score 0): handles of the user's sessions in shard t
 *   {P}{t}:i:<entry>=<value> sorted set (score 0): handles an INDEXED_KEYS entry (`tenant`,
 *                           `tags[]`, `cart[].sku`) files under value, in shard t
 *   {P}{t}:v:<entry>        set: values of the entry that have handles in shard t
 *   {P}{t}:r:<handle>       string, 60 s: the handle was rotated away
 *   {P}{t}:tmp              sorted set, only while count.lua runs: a union of index sets
 *   {P}{t}:events           stream, with EVENTS=true: the shard's lifecycle events; its consumer
 *                           group `webhooks` holds the webhook deliveries (deliveries.ts)
 *   {P}{t}:webhook          string, PX the lease: the consumer delivering the shard's webhooks
 *   {P}webhook:consumers    sorted set: member = a live webhook consumer, score = until when (Redis's
 *                           clock); no shard, so on Cluster a slot of its own
 *
 * "=" cannot appear in an entry, so `<entry>=<value>` is unambiguous.
 */
import { shardOf } from '../../tokens.js'

export { SHARDS } from '../../tokens.js'

export function shardPrefix(prefix: string, shard: string): string {
  return `${prefix}{${shard}}:`
}

export function sessionKey(prefix: string, handle: string): string {
  return `${shardPrefix(prefix, shardOf(handle))}s:${handle}`
}

/** A shard's lifecycle event stream, which also holds the webhook delivery group. */
export function eventStreamKey(prefix: string, shard: string): string {
  return `${shardPrefix(prefix, shard)}events`
}

/** The live webhook consumers, whose count sets each one's fair share of the shards (deliveries.ts lease). */
export function webhookConsumersKey(prefix: string): string {
  return `${prefix}webhook:consumers`
}
