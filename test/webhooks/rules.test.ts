/** The pure rules of webhook delivery (src/webhooks/rules.ts): backoff, the drop age, per-session order in a window. */
import t from 'tap'
import type { StoredEvent } from '../../src/store/events.js'
import { BACKOFF_BASE_MS, BACKOFF_CAP_MS, backoffMs, retryAt, unblocked } from '../../src/webhooks/rules.js'

t.test('backoff: full jitter below a doubling ceiling, capped', async (t) => {
  const almostOne = () => 0.999999
  t.equal(backoffMs(1, () => 0), 0, 'the draw may be nothing')
  t.equal(backoffMs(1, almostOne), BACKOFF_BASE_MS - 1, 'first retry: below the base')
  t.equal(backoffMs(2, almostOne), 2 * BACKOFF_BASE_MS - 1)
  t.equal(backoffMs(4, almostOne), 8 * BACKOFF_BASE_MS - 1)
  t.equal(backoffMs(30, almostOne), BACKOFF_CAP_MS - 1, 'never above the cap')
  t.equal(backoffMs(2000, almostOne), BACKOFF_CAP_MS - 1, 'however many failures')
  t.equal(backoffMs(3, () => 0.5), 2 * BACKOFF_BASE_MS, 'uniform: half the ceiling at 0.5')
})

t.test('retry until WEBHOOK_MAX_AGE, the last attempt at that age; then drop', async (t) => {
  const recordedAt = 1_000_000
  const maxAge = 60_000
  t.equal(retryAt(recordedAt, 1, recordedAt + 10, maxAge, () => 0.5), recordedAt + 10 + 500)
  t.equal(retryAt(recordedAt, 20, recordedAt + 50_000, maxAge, () => 0.9), recordedAt + maxAge, 'a wait past the age ends at it')
  t.equal(retryAt(recordedAt, 21, recordedAt + maxAge, maxAge, () => 0), null, 'failing at the age: dropped')
  t.equal(retryAt(recordedAt, 1, recordedAt + maxAge + 1, maxAge, () => 0), null, 'older: dropped')
})

let seq = 0
const event = (type: StoredEvent['type'], handle: string, newHandle: string | null = null): StoredEvent =>
  ({ id: { ms: 1, seq: seq++ }, type, handle, userId: null, reason: null, newHandle, index: {}, actor: 'system' })
const entry = (e: StoredEvent, pending = true) => ({ event: e, pending })
const types = (entries: readonly { event: StoredEvent }[]) => entries.map((x) => `${x.event.type} ${x.event.handle}`)

t.test('in a window, an event waits while an earlier event of its session is pending; other sessions pass', async (t) => {
  const window = [
    entry(event('session.created', 'A')),
    entry(event('session.created', 'B')),
    entry(event('session.rotated', 'A', 'A2')),
    entry(event('session.ended', 'B')),
    entry(event('session.ended', 'A2')),
    entry(event('session.created', 'C'))
  ]
  t.strictSame(types(unblocked(window)), ['session.created A', 'session.created B', 'session.created C'], 'the first of each session')
  ;(window[0] as { pending: boolean }).pending = false
  t.strictSame(types(unblocked(window)), ['session.created A', 'session.created B', 'session.rotated A', 'session.created C'], 'A done: its rotation may go, its end not yet')
  ;(window[2] as { pending: boolean }).pending = false
  t.strictSame(types(unblocked(window)).includes('session.ended A2'), true, 'the end under the new handle follows the rotation')
  t.strictSame(types(unblocked([entry(event('session.ended', 'A2')), entry(event('session.rotated', 'A', 'A2'))])), ['session.ended A2'], 'a later rotation never holds up an earlier event')
})
