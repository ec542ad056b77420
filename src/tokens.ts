import { hash, randomBytes } from 'node:crypto'

/** A token is 32 CSPRNG bytes, base64url: 43 characters. */
export const TOKEN_PATTERN = /^[A-Za-z0-9_-]{43}$/
/** A handle is base64url(SHA-256(token)): also 43 characters. */
export const HANDLE_PATTERN = TOKEN_PATTERN

export function newToken(): string {
  return randomBytes(32).toString('base64url')
}

/** The public, non-secret id of the session that `token` opens (one-shot hash(): a third of createHash's cost for 43 bytes). */
export function handleOf(token: string): string {
  return hash('sha256', token, 'base64url')
}

/**
 * The shard a handle lives in: its first character (64 possible values).
 * Every Redis key of a session carries it as a Cluster hash tag, so that a
 * session, its rotated successor and its index entries share one slot.
 */
export function shardOf(handle: string): string {
  return handle.charAt(0)
}

/** The 64 shards in handle (byte) order, so that walking them in order walks handles in order. */
export const SHARDS: readonly string[] = [...'-0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz']

/**
 * Draws tokens until the new handle lands in the given shard, so that a
 * rotation stays within one Cluster slot (about 64 draws on average).
 */
export function newTokenInShard(shard: string): { token: string; handle: string } {
  for (;;) {
    const token = newToken()
    const handle = handleOf(token)
    if (shardOf(handle) === shard) return { token, handle }
  }
}
