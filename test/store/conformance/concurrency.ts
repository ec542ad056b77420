/**
 * Concurrency: concurrent writes and increments lose no update, ifMatch with
 * retry makes read-modify-write safe, and a use racing destroy never revives
 * the session.
 */
import { codeOf, norm, notFound, type Cases } from './fixture.js'

const sleepTick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

/** The 'concurrency' cases. Concurrent uses of one session. */
export const concurrencyTests: Cases = (t, setup) => {
  const N = 20

  t.test('concurrent writes of different keys all land', async (t) => {
    const { store, create } = await setup()
    const { handle } = await create()
    const versions = await Promise.all(Array.from({ length: N }, (_, i) => store.setKey(handle, `k${i}`, i, { touch: true })))
    t.strictSame([...versions].sort((a, b) => a - b), Array.from({ length: N }, (_, i) => i + 2), 'each write got its own version')
    const rec = await store.get(handle, { touch: false })
    t.equal(rec.version, 1 + N, 'version = 1 + N')
    const expected: Record<string, number> = {}
    for (let i = 0; i < N; i++) expected[`k${i}`] = i
    t.strictSame(norm(rec.data), expected, 'every key is present')
  })

  t.test('read-modify-write with ifMatch and retry loses no update', async (t) => {
    const { store, create } = await setup()
    const { handle } = await create({ data: { counter: 0 } })
    const workers = 10
    let conflicts = 0
    const worker = async (): Promise<void> => {
      for (let attempt = 0; attempt < 1000; attempt++) {
        const read = await store.getKey(handle, 'counter', { touch: false })
        try {
          await store.setKey(handle, 'counter', (read.value as number) + 1, { touch: true, ifMatch: read.version })
          return
        } catch (err) {
          if (codeOf(err) !== 'precondition_failed') throw err
          conflicts++
          await sleepTick()
        }
      }
      throw new Error('no progress after 1000 attempts')
    }
    await Promise.all(Array.from({ length: workers }, worker))
    const rec = await store.get(handle, { touch: false })
    t.equal(rec.data['counter'], workers, `counter = ${workers} (after ${conflicts} retries)`)
    t.equal(rec.version, 1 + workers, 'one version per successful write')
  })

  t.test('concurrent increments lose no update', async (t) => {
    const { store, create } = await setup()
    const { handle } = await create()
    await Promise.all(Array.from({ length: N }, () => store.patch(handle, { incr: { n: 1 } }, { touch: true })))
    const rec = await store.get(handle, { touch: false })
    t.equal(rec.data['n'], N)
    t.equal(rec.version, 1 + N)
  })

  t.test('a use racing destroy never revives the session', async (t) => {
    const { store, create } = await setup({ indexedKeys: ['tenant'] })
    for (let round = 0; round < 10; round++) {
      const rec = await create({ userId: 'racer', data: { tenant: 'acme', a: 1 } })
      const ops: Promise<unknown>[] = [
        store.get(rec.handle, { touch: true }),
        store.getKey(rec.handle, 'a', { touch: true }),
        store.setKey(rec.handle, 'b', round, { touch: true }),
        store.patch(rec.handle, { set: { tenant: 'beta' }, incr: { n: 1 } }, { touch: true }),
        store.deleteKey(rec.handle, 'a', { touch: true })
      ]
      // destroy lands first, in the middle, or last
      ops.splice(round % (ops.length + 1), 0, store.destroy(rec.handle))
      const results = await Promise.allSettled(ops)
      for (const r of results) {
        if (r.status === 'rejected') t.equal(codeOf(r.reason), 'session_not_found', `round ${round}: a losing use fails with session_not_found`)
      }
      await notFound(t, store.get(rec.handle, { touch: false }), `round ${round}: gone after the race`)
    }
    t.strictSame(await store.listUserSessions('racer'), [], 'no half-revived session is listed for the user')
    t.strictSame(norm(await store.countSessions('tenant')), { total: 0, by: {}, without: 0 }, 'none is counted')
    for (const value of ['acme', 'beta']) {
      t.strictSame(norm(await store.listByIndex('tenant', value, { limit: 50, cursor: null })), { sessions: [], nextCursor: null }, `none is listed under ${value}`)
    }
  })
}
