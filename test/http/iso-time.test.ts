/** isoTime on its own: the same text as Date#toISOString, whatever its cache holds. */
import fc from 'fast-check'
import t from 'tap'
import { isoTime } from '../../src/http/iso-time.js'

const MAX_DATE_MS = 8.64e15

t.test('isoTime writes what toISOString writes, across the whole date range', async (t) => {
  fc.assert(
    fc.property(fc.integer({ min: -MAX_DATE_MS, max: MAX_DATE_MS }), (ms) => isoTime(ms) === new Date(ms).toISOString()),
    { numRuns: 20_000 }
  )
  t.pass('20,000 random instants agree')
})

t.test('isoTime agrees within a second, across seconds that share a slot, and at the edges of a second', async (t) => {
  const now = Date.UTC(2026, 11, 1, 19, 43, 16, 593)
  const second = now - (now % 1000)
  const instants = [
    now,
    second,
    second + 999,
    second + 7,
    second + 42,
    now + 1024 * 1000, // the same slot as `now`, another second
    now,
    second - 1, // the previous second's last millisecond
    0,
    1,
    -1,
    -1000, // before 1970, a whole second
    1.5, // not a whole millisecond: left to toISOString
    MAX_DATE_MS,
    -MAX_DATE_MS
  ]
  for (const ms of instants) t.equal(isoTime(ms), new Date(ms).toISOString(), String(ms))
  t.throws(() => isoTime(Number.NaN), RangeError, 'an invalid time throws as toISOString does')
  t.throws(() => isoTime(MAX_DATE_MS + 1), RangeError, 'beyond the Date range too')
})
