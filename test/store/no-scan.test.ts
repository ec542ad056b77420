/**
 * The request path never scans keys: a workload covering every Store method
 * (and expiry pruning, and MAX_SESSIONS_PER_USER eviction) runs through the
 * Redis backend after CONFIG RESETSTAT, then INFO commandstats must show no
 * KEYS / SCAN / HSCAN / SSCAN / ZSCAN. Commands run inside Lua scripts are
 * counted there too, so this covers the scripts as well as the client.
 * Also from commandstats: a touching read is one EVALSHA from the client.
 */
import t from 'tap'
import { Redis } from 'ioredis'
import { createRedisStore } from '../../src/store/index.js'
import type { CreateSessionInput, SessionRecord, Store } from '../../src/store/types.js'
import { handleOf, newToken, newTokenInShard, shardOf } from '../../src/tokens.js'
import { startRedisServer } from '../helpers/redis-server.js'
import { fakeClock } from '../helpers/clock.js'
import { DEFAULT_LIMITS } from '../helpers/store.js'

const server = await startRedisServer()
const admin = new Redis(server.url)
const clock = fakeClock()
const store: Store = createRedisStore({
  limits: { ...DEFAULT_LIMITS, maxSessionsPerUser: 3 },
  indexedKeys: ['tenant', 'plan'],
  touchIntervalMs: 0,
  clock: clock.now,
  connection: { mode: 'single', url: server.url },
  keyPrefix: 'noscan:',
  commandTimeoutMs: 5_000,
  waitReplicas: 0
})
t.teardown(async () => {
  await store.close()
  admin.disconnect()
  await server.stop()
})

const SCANS = ['keys', 'scan', 'hscan', 'sscan', 'zscan']
const MINUTE = 60_000

/** Calls per command since the last CONFIG RESETSTAT (subcommands as `config|resetstat`). */
async function commandStats(): Promise<Map<string, number>> {
  const stats = new Map<string, number>()
  for (const line of (await admin.info('commandstats')).split(/\r?\n/)) {
    const match = /^cmdstat_([^:]+):calls=(\d+)/.exec(line)
    if (match !== null) stats.set((match[1] as string).toLowerCase(), Number(match[2]))
  }
  return stats
}

/** Per-command call deltas between two snapshots, leaving out the INFO calls that took them. */
function delta(before: Map<string, number>, after: Map<string, number>): Record<string, number> {
  const out: Record<string, number> = {}
  for (const [command, calls] of after) {
    const n = calls - (before.get(command) ?? 0)
    if (n !== 0 && command !== 'info') out[command] = n
  }
  return out
}

const create = (input: Partial<CreateSessionInput> = {}): Promise<SessionRecord> =>
  store.create({ handle: handleOf(newToken()), userId: null, data: {}, idleTtlMs: 30 * MINUTE, absoluteTtlMs: 120 * MINUTE, userAgent: 'ua', ip: '192.0.2.1', ...input })

t.test('a workload of every store operation issues no KEYS or SCAN of any kind', async (t) => {
  await store.ping()
  await admin.config('RESETSTAT')

  // Logins, anonymous sessions, indexed and unindexed data, short-lived ones.
  const alice = await Promise.all([1, 2, 3].map((i) => create({ userId: 'alice', data: { tenant: 'acme', plan: i, cart: [] } })))
  const bob = await Promise.all([1, 2].map(() => create({ userId: 'bob', data: { tenant: 'globex' } })))
  const anonymous = await create({ data: { tenant: 'acme', cart: ['book'] } })
  const brief = await Promise.all([1, 2, 3, 4].map((i) => create({ userId: i % 2 === 0 ? 'carol' : null, data: { tenant: 'initech' }, idleTtlMs: MINUTE })))
  const [a1, a2, a3] = alice as [SessionRecord, SessionRecord, SessionRecord]
  const [b1, b2] = bob as [SessionRecord, SessionRecord]

  // Reads, touching and not, whole and one key.
  await store.get(a1.handle, { touch: true })
  await store.get(a1.handle, { touch: false })
  await store.getKey(a2.handle, 'cart', { touch: true })
  await store.getKey(anonymous.handle, 'cart', { touch: false })
  await t.rejects(store.get(handleOf(newToken()), { touch: true }), { code: 'session_not_found' }, 'an unknown handle')

  // Writes: set, delete, batches that move index entries, ifMatch, incr of an indexed key.
  const version = await store.setKey(a1.handle, 'cart', ['pen'], { touch: true })
  await store.setKey(a1.handle, 'tenant', 'globex', { touch: true, ifMatch: version })
  await store.deleteKey(a2.handle, 'tenant', { touch: true })
  await store.patch(a3.handle, { set: { tenant: 'initech', note: 'x' }, incr: { plan: 1 }, del: ['cart'] }, { touch: true })
  await store.patch(anonymous.handle, { set: { tenant: 'globex' } }, { touch: false })

  // Rotation: plain, binding a user (a 4th session for alice evicts her least recently used).
  const rotated = newTokenInShard(shardOf(b1.handle)).handle
  await store.rotate(b1.handle, rotated, {})
  await t.rejects(store.get(b1.handle, { touch: true }), { code: 'session_rotated' }, 'the rotated-away handle')
  const bound = newTokenInShard(shardOf(anonymous.handle)).handle
  clock.advance(1_000)
  await store.rotate(anonymous.handle, bound, { userId: 'alice' })
  t.equal((await store.listUserSessions('alice')).length, 3, 'binding a 4th session to alice evicted one')
  clock.advance(1_000)
  await create({ userId: 'alice', data: { tenant: 'acme' } })
  t.equal((await store.listUserSessions('alice')).length, 3, 'a 4th login of alice evicted one')

  // Destroy, user listings and logout-all.
  t.equal(await store.destroy(b2.handle), true, 'destroy')
  t.equal(await store.destroy(b2.handle), false, 'destroy again')
  t.equal((await store.listUserSessions('bob')).length, 1, 'bob has his rotated session')
  const others = (await store.listUserSessions('alice')).filter((s) => s.handle !== bound).length
  t.equal(await store.revokeUserSessions('alice', { exceptHandle: bound }), others, 'logout-all except one')
  t.equal(await store.revokeUserSessions('nobody', {}), 0, 'logout-all of an unknown user')

  // Secondary indexes: paging with a cursor, counts, revocation.
  const many = await Promise.all(Array.from({ length: 7 }, () => create({ data: { tenant: 'umbrella' } })))
  let cursor: string | null = null
  const paged: string[] = []
  do {
    const page = await store.listByIndex('tenant', 'umbrella', { limit: 3, cursor })
    paged.push(...page.sessions.map((s) => s.handle))
    cursor = page.nextCursor
  } while (cursor !== null)
  t.equal(paged.length, many.length, 'paged through every umbrella session')
  await store.countSessions('tenant')
  await store.countSessions('plan')
  await store.countSessions()
  t.equal(await store.revokeByIndex('tenant', 'umbrella'), many.length, 'revoke by index')

  // Expiry: no sweep job; listings, counts, creates and reads prune what expired.
  clock.advance(MINUTE)
  t.strictSame((await store.listUserSessions('carol')).length, 0, 'expired sessions are not listed')
  const initech = (await store.listByIndex('tenant', 'initech', { limit: 10, cursor: null })).sessions.map((s) => s.handle)
  t.notOk(brief.some((s) => initech.includes(s.handle)), 'expired sessions are not listed by index')
  await t.rejects(store.get((brief[0] as SessionRecord).handle, { touch: true }), { code: 'session_not_found' }, 'an expired session')
  await create({ userId: 'carol', data: { tenant: 'initech' }, idleTtlMs: MINUTE })
  const counts = await store.countSessions('tenant')
  t.equal(counts.by.initech, 1, 'the expired initech sessions are not counted, the new one is')
  await store.ping()

  const stats = await commandStats()
  const scans = SCANS.filter((command) => (stats.get(command) ?? 0) > 0)
  t.strictSame(scans, [], 'no KEYS, SCAN, HSCAN, SSCAN or ZSCAN was called, by the client or inside a script')
  t.ok((stats.get('evalsha') ?? 0) > 20, 'the workload ran through the scripts (the stats are live)')
  t.ok((stats.get('zrangebyscore') ?? 0) > 0 && (stats.get('zrangebylex') ?? 0) > 0, 'calls made inside scripts are counted too')
  t.comment(`commands called: ${[...stats].map(([command, calls]) => `${command}=${calls}`).join(' ')}`)
})

t.test('a touching read, a touching key read and a write are each one EVALSHA from the client', async (t) => {
  const session = await create({ userId: 'dave', data: { tenant: 'acme', a: 1 } })
  // Every script was loaded by the workload above: no EVAL is expected.
  const cost = async (what: string, op: () => Promise<unknown>): Promise<void> => {
    const before = await commandStats()
    await op()
    const used = delta(before, await commandStats())
    t.equal(used.evalsha, 1, `${what}: one EVALSHA`)
    t.equal(used.eval, undefined, `${what}: no EVAL (the script was loaded)`)
    t.equal(used['evalsha_ro'], undefined, `${what}: nothing else scripted`)
    t.comment(`${what}: ${JSON.stringify(used)} (every call but EVALSHA ran inside the script)`)
  }
  clock.advance(1_000)
  await cost('get(touch: true)', () => store.get(session.handle, { touch: true }))
  clock.advance(1_000)
  await cost('getKey(touch: true)', () => store.getKey(session.handle, 'a', { touch: true }))
  await cost('setKey', () => store.setKey(session.handle, 'a', 2, { touch: true }))
  const read = await store.get(session.handle, { touch: false })
  t.equal(read.lastSeenAt, clock.now(), 'the touching reads did refresh the session')
})
