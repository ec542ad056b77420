/**
 * What checkedStore adds above any backend, seen through the memory backend:
 * a refused input never reaches the backend, and a rotation out of its shard
 * is a caller bug that changes nothing.
 */
import t from 'tap'
import { AppError } from '../../src/errors.js'
import type { Backend } from '../../src/store/backend.js'
import { checkedStore } from '../../src/store/checked.js'
import { createMemoryBackend } from '../../src/store/memory/index.js'
import type { StoreOptions } from '../../src/store/types.js'
import { handleOf, newToken, shardOf } from '../../src/tokens.js'

const options: StoreOptions = {
  limits: { maxValueBytes: 64, maxKeys: 4, maxSessionBytes: 256, maxSessionsPerUser: null, maxIndexValues: 64 },
  indexedKeys: ['tenant'],
  touchIntervalMs: 0
}

/** A memory backend that records the name of every call that reaches it. */
function recordingBackend(): { backend: Backend; calls: string[] } {
  const inner = createMemoryBackend(options)
  const calls: string[] = []
  const backend = Object.fromEntries(
    Object.entries(inner).map(([name, member]) => [
      name,
      typeof member === 'function' ? (...args: unknown[]) => { calls.push(name); return (member as (...a: unknown[]) => unknown)(...args) } : member
    ])
  ) as unknown as Backend
  return { backend, calls }
}

/** A handle whose shard is not `handle`'s. */
function inAnotherShard(handle: string): string {
  for (;;) {
    const other = handleOf(newToken())
    if (shardOf(other) !== shardOf(handle)) return other
  }
}

const codeOf = async (promise: Promise<unknown>): Promise<string> =>
  promise.then(() => 'resolved', (err: unknown) => (err instanceof AppError ? err.code : 'not an AppError'))

t.test('refused inputs are rejections and never reach the backend', async (t) => {
  const { backend, calls } = recordingBackend()
  const store = checkedStore(backend, options)
  t.teardown(() => store.close())
  const handle = handleOf(newToken())
  const write = { touch: false }
  t.equal(await codeOf(store.getKey(handle, 'bad key', write)), 'validation_failed', 'a malformed key')
  t.equal(await codeOf(store.setKey(handle, 'k', 'x'.repeat(100), write)), 'payload_too_large', 'a value over maxValueBytes')
  t.equal(await codeOf(store.deleteKey(handle, '', write)), 'validation_failed', 'an empty key')
  t.equal(await codeOf(store.patch(handle, {}, write)), 'validation_failed', 'an empty batch')
  t.equal(await codeOf(store.listByIndex('plan', 'x', { limit: 10, cursor: null })), 'validation_failed', 'a key that is not indexed')
  t.equal(await codeOf(store.listByIndex('tenant', 'x', { limit: 0, cursor: null })), 'validation_failed', 'a page of no sessions')
  t.equal(await codeOf(store.listByIndex('tenant', 'x', { limit: 10, cursor: 'nope' })), 'validation_failed', 'a cursor this service never issued')
  t.equal(await codeOf(store.revokeByIndex('plan', 'x')), 'validation_failed', 'revoking by a key that is not indexed')
  t.equal(await codeOf(store.countSessions('plan')), 'validation_failed', 'counting by a key that is not indexed')
  t.equal(await codeOf(store.create({ handle, userId: null, data: { a: 1, b: 2, c: 3, d: 4, e: 5 }, idleTtlMs: 1000, absoluteTtlMs: 1000, userAgent: null, ip: null })), 'payload_too_large', 'more than maxKeys keys at creation')
  t.strictSame(calls, [], 'the backend saw none of them')
})

t.test('a rotation out of its shard changes nothing; a gone session still answers as gone', async (t) => {
  const { backend, calls } = recordingBackend()
  const store = checkedStore(backend, options)
  t.teardown(() => store.close())
  const session = await store.create({ handle: handleOf(newToken()), userId: null, data: { tenant: 'acme' }, idleTtlMs: 60_000, absoluteTtlMs: 60_000, userAgent: null, ip: null })
  const elsewhere = inAnotherShard(session.handle)
  await t.rejects(store.rotate(session.handle, elsewhere, {}), { message: /must stay in its shard/ }, 'a plain error: an internal bug, not a client mistake')
  t.notOk(calls.includes('rotate'), 'the backend was never asked to rotate')
  t.equal((await store.get(session.handle, { touch: false })).handle, session.handle, 'the session is where it was')
  t.equal(await codeOf(store.get(elsewhere, { touch: false })), 'session_not_found', 'and nothing was made under the other handle')
  const gone = handleOf(newToken())
  t.equal(await codeOf(store.rotate(gone, inAnotherShard(gone), {})), 'session_not_found', 'an unknown session is session_not_found, out of its shard or not')
})
