/**
 * Secondary indexes (INDEXED_KEYS): listByIndex with paging, what values are
 * indexed, how writes move a session between values, revokeByIndex and
 * countSessions.
 */
import type { Test } from 'tap'
import type { SessionMeta, Store } from '../../../src/store/types.js'
import { metaOf, norm, notFound, rejectsCode, type Cases } from './fixture.js'

/** The 'secondary indexes' cases. listByIndex, revokeByIndex and countSessions. */
export const secondaryIndexTests: Cases = (t, setup) => {
  const indexed = { indexedKeys: ['tenant'] } as const

  /** Pages through a listing to the end; fails the test rather than looping forever. */
  const listAll = async (t: Test, store: Store, value: string, limit: number, between?: () => Promise<void>): Promise<SessionMeta[]> => {
    const all: SessionMeta[] = []
    let cursor: string | null = null
    for (let pages = 0; pages < 500; pages++) {
      const page = await store.listByIndex('tenant', value, { limit, cursor })
      t.ok(page.sessions.length <= limit, `a page holds at most ${limit}`)
      all.push(...page.sessions)
      if (page.nextCursor === null) return all
      cursor = page.nextCursor
      if (between !== undefined) await between()
    }
    t.fail('paging did not end')
    return all
  }

  t.test('listByIndex returns exactly the matching live sessions, ordered by handle', async (t) => {
    const { store, create } = await setup(indexed)
    const acme = await Promise.all(Array.from({ length: 5 }, (_, i) => create({ data: { tenant: 'acme', i } })))
    await create({ data: { tenant: 'Acme' } })
    await create({ data: { tenant: 'acme2' } })
    await create({ data: { tenant: 'acm' } })
    await create({ data: { other: 'acme' } })
    const odd = 'acme corp/東京 {x}=y:*'
    const special = await create({ data: { tenant: odd } })
    const empty = await create({ data: { tenant: '' } })
    const page = await store.listByIndex('tenant', 'acme', { limit: 100, cursor: null })
    t.equal(page.nextCursor, null, 'one page holds them all')
    t.strictSame(page.sessions.map((s) => s.handle), acme.map((s) => s.handle).sort(), 'exactly the acme sessions, by handle')
    t.strictSame(norm(page.sessions[0]), metaOf(await store.get(page.sessions[0]?.handle ?? '', { touch: false })), 'entries carry the session metadata')
    t.strictSame((await store.listByIndex('tenant', odd, { limit: 10, cursor: null })).sessions.map((s) => s.handle), [special.handle], 'a value with spaces, braces, = and non-ASCII matches itself')
    t.strictSame((await store.listByIndex('tenant', '', { limit: 10, cursor: null })).sessions.map((s) => s.handle), [empty.handle], 'the empty string matches itself')
    t.strictSame(norm(await store.listByIndex('tenant', 'nobody', { limit: 10, cursor: null })), { sessions: [], nextCursor: null }, 'an unknown value lists nothing')
  })

  t.test('paging returns every session exactly once and ends with a null cursor', async (t) => {
    const { store, create } = await setup(indexed)
    const made = await Promise.all(Array.from({ length: 50 }, () => create({ data: { tenant: 'acme' } })))
    await Promise.all(Array.from({ length: 10 }, () => create({ data: { tenant: 'beta' } })))
    const listed = await listAll(t, store, 'acme', 7)
    const handles = listed.map((s) => s.handle)
    t.strictSame(handles, made.map((s) => s.handle).sort(), 'every session once, in handle order')
  })

  t.test('paging stays stable while sessions are created and destroyed between pages', async (t) => {
    const { store, create } = await setup(indexed)
    const stable = await Promise.all(Array.from({ length: 50 }, () => create({ data: { tenant: 'acme' } })))
    const churn = await Promise.all(Array.from({ length: 20 }, () => create({ data: { tenant: 'acme' } })))
    const live = new Set(churn.map((s) => s.handle))
    const ended = new Set<string>()
    const seen = new Map<string, number>()
    let cursor: string | null = null
    let pages = 0
    do {
      const page = await store.listByIndex('tenant', 'acme', { limit: 6, cursor })
      for (const s of page.sessions) {
        seen.set(s.handle, (seen.get(s.handle) ?? 0) + 1)
        t.notOk(ended.has(s.handle), 'a session ended before the page was read is not on it')
      }
      cursor = page.nextCursor
      // churn: end two sessions, start three
      for (const handle of [...live].slice(0, 2)) {
        live.delete(handle)
        ended.add(handle)
        await store.destroy(handle)
      }
      for (const s of await Promise.all(Array.from({ length: 3 }, () => create({ data: { tenant: 'acme' } })))) live.add(s.handle)
      await store.setKey(stable[pages % stable.length]?.handle ?? '', 'touched', pages, { touch: true })
    } while (cursor !== null && ++pages < 500)
    t.equal(cursor, null, 'paging ended')
    const missing = stable.filter((s) => seen.get(s.handle) !== 1)
    t.strictSame(missing.map((s) => `${s.handle} seen ${seen.get(s.handle) ?? 0}×`), [], 'every session live throughout appears exactly once')
    const duplicates = [...seen].filter(([, n]) => n > 1)
    t.strictSame(duplicates, [], 'no session appears twice')
  })

  t.test('setKey, patch and deleteKey move a session between values', async (t) => {
    const { store, create } = await setup(indexed)
    const rec = await create({ data: { tenant: 'a' } })
    const where = async (): Promise<Record<string, number>> => (await store.countSessions('tenant')).by
    const listed = async (value: string): Promise<string[]> => (await store.listByIndex('tenant', value, { limit: 10, cursor: null })).sessions.map((s) => s.handle)
    t.strictSame(await listed('a'), [rec.handle], 'created under a')
    await store.setKey(rec.handle, 'tenant', 'b', { touch: false })
    t.strictSame(await listed('a'), [], 'setKey: gone from a')
    t.strictSame(await listed('b'), [rec.handle], 'setKey: listed under b')
    t.strictSame(norm(await where()), { b: 1 })
    await store.patch(rec.handle, { set: { tenant: 'c' } }, { touch: false })
    t.strictSame(await listed('b'), [], 'patch set: gone from b')
    t.strictSame(await listed('c'), [rec.handle], 'patch set: listed under c')
    await store.patch(rec.handle, { del: ['tenant'] }, { touch: false })
    t.strictSame(await listed('c'), [], 'patch del: gone from c')
    t.strictSame(norm(await where()), {}, 'patch del: counted under no value')
    await store.patch(rec.handle, { incr: { tenant: 7 } }, { touch: false })
    t.strictSame(await listed('7'), [rec.handle], 'patch incr: listed under 7')
    await store.patch(rec.handle, { incr: { tenant: 1 } }, { touch: false })
    t.strictSame(await listed('7'), [], 'patch incr again: gone from 7')
    t.strictSame(await listed('8'), [rec.handle], 'patch incr again: listed under 8')
    await store.deleteKey(rec.handle, 'tenant', { touch: false })
    t.strictSame(await listed('8'), [], 'deleteKey: gone from 8')
    t.strictSame(norm(await where()), {}, 'deleteKey: counted under no value')
    await store.setKey(rec.handle, 'tenant', 'd', { touch: false })
    t.strictSame(await listed('d'), [rec.handle], 'setKey after delete: listed under d')
    await store.destroy(rec.handle)
    t.strictSame(await listed('d'), [], 'destroy: gone from d')
  })

  t.test('numbers and booleans are indexed by their JSON text; null, arrays and objects are not', async (t) => {
    const { store, create } = await setup(indexed)
    const n42 = await create({ data: { tenant: 42 } })
    const s42 = await create({ data: { tenant: '42' } })
    const f = await create({ data: { tenant: 1.5 } })
    const yes = await create({ data: { tenant: true } })
    const no = await create({ data: { tenant: false } })
    await create({ data: { tenant: null } })
    await create({ data: { tenant: { id: 1 } } })
    await create({ data: { tenant: [1] } })
    await create({ data: { tenant: [] } })
    const listed = async (value: string): Promise<string[]> => (await store.listByIndex('tenant', value, { limit: 10, cursor: null })).sessions.map((s) => s.handle)
    t.strictSame(await listed('42'), [n42.handle, s42.handle].sort(), 'the number 42 and the string "42" both under 42')
    t.strictSame(await listed('1.5'), [f.handle])
    t.strictSame(await listed('true'), [yes.handle])
    t.strictSame(await listed('false'), [no.handle])
    for (const text of ['null', '{"id":1}', '[1]', '[]', '[object Object]', '1', '']) {
      t.strictSame(await listed(text), [], `nothing under ${JSON.stringify(text)}`)
    }
    t.strictSame(norm(await store.countSessions('tenant')), { total: 9, by: { '42': 2, '1.5': 1, true: 1, false: 1 }, without: 4 }, 'counts: every session in total, only indexable values by value')
  })

  t.test('a key that is not indexed is validation_failed', async (t) => {
    const { store, create } = await setup(indexed)
    await create({ data: { tenant: 'acme', plan: 'pro' } })
    await rejectsCode(t, store.listByIndex('plan', 'pro', { limit: 10, cursor: null }), 'validation_failed', 'listByIndex')
    await rejectsCode(t, store.revokeByIndex('plan', 'pro'), 'validation_failed', 'revokeByIndex')
    await rejectsCode(t, store.countSessions('plan'), 'validation_failed', 'countSessions')
    t.equal((await store.countSessions()).total, 1, 'nothing was revoked')
  })

  t.test('revokeByIndex ends exactly the matching live sessions', async (t) => {
    const { store, create, clock } = await setup(indexed)
    const acme = await Promise.all([create({ data: { tenant: 'acme' }, userId: 'u1' }), create({ data: { tenant: 'acme' } }), create({ data: { tenant: 'acme' } })])
    const expired = await create({ data: { tenant: 'acme' }, idleTtlMs: 60_000 })
    const beta = await Promise.all([create({ data: { tenant: 'beta' }, userId: 'u1' }), create({ data: { tenant: 'beta' } })])
    const none = await create({ data: { other: 'acme' } })
    clock.advance(60_000)
    t.equal(await store.revokeByIndex('tenant', 'acme'), 3, 'three live acme sessions ended (not the expired one)')
    for (const s of acme) await notFound(t, store.get(s.handle, { touch: false }), 'an acme session is gone')
    await notFound(t, store.get(expired.handle, { touch: false }), 'the expired one stays gone')
    for (const s of [...beta, none]) t.equal((await store.get(s.handle, { touch: false })).handle, s.handle, 'a non-acme session is live')
    t.strictSame((await store.listUserSessions('u1')).map((s) => s.handle), [beta[0].handle], 'the user listing lost the acme session only')
    t.strictSame(norm(await store.countSessions('tenant')), { total: 3, by: { beta: 2 }, without: 1 })
    t.equal(await store.revokeByIndex('tenant', 'acme'), 0, 'again: nothing left')
    t.equal(await store.revokeByIndex('tenant', 'nobody'), 0, 'an unknown value: nothing')
  })

  t.test('countSessions counts live sessions in total and by value', async (t) => {
    const { store, create, clock } = await setup(indexed)
    t.strictSame(norm(await store.countSessions('tenant')), { total: 0, by: {}, without: 0 }, 'an empty store')
    await Promise.all([create({ data: { tenant: 'acme' } }), create({ data: { tenant: 'acme' } }), create({ data: { tenant: 'acme' } })])
    const betas = await Promise.all([create({ data: { tenant: 'beta' } }), create({ data: { tenant: 'beta' } })])
    await create({ data: { tenant: 'gamma' }, idleTtlMs: 60_000 })
    await create({ idleTtlMs: 60_000 })
    await create({ userId: 'u1' })
    t.strictSame(norm(await store.countSessions('tenant')), { total: 8, by: { acme: 3, beta: 2, gamma: 1 }, without: 2 })
    const total = await store.countSessions()
    t.equal(total.total, 8, 'without byKey: the total')
    t.strictSame(norm(total.by), {}, 'without byKey: no values')
    await store.destroy(betas[0].handle)
    t.strictSame(norm(await store.countSessions('tenant')), { total: 7, by: { acme: 3, beta: 1, gamma: 1 }, without: 2 }, 'a destroyed session is not counted')
    await store.destroy(betas[1].handle)
    clock.advance(60_000)
    t.strictSame(norm(await store.countSessions('tenant')), { total: 4, by: { acme: 3 }, without: 1 }, 'expired sessions are not counted; values with none are left out')
  })
}
