/** The pure rules on their own; the stores' use of them is in conformance.ts. */
import t from 'tap'
import { byLeastRecentUse, byMostRecentUse, parseStoredValue, userLimitVictims } from '../../src/store/rules.js'
import type { JsonValue, SessionMeta } from '../../src/store/types.js'

t.test('parseStoredValue reads back exactly what JSON.stringify stored', async (t) => {
  const values: JsonValue[] = [
    '',
    'plain',
    'a "quoted" word',
    'back\\slash',
    '\\',
    '"',
    'line\nbreak\ttab\u0000nul\u001f',
    'lone \ud800 surrogate and \udfff',
    'pair \ud83d\ude00',
    'ünïcødé ✓',
    '\u2028\u2029',
    '[1]',
    '{"a":1}',
    0,
    -1.5e300,
    true,
    false,
    null,
    [],
    ['"', '\\'],
    { '': '"', nested: { list: [1, 'x'] } }
  ]
  for (const [i, value] of values.entries()) {
    const text = JSON.stringify(value)
    // The message names the value by its place: some texts would break a TAP line.
    t.strictSame(parseStoredValue(text), JSON.parse(text) as JsonValue, `value ${i}`)
  }
})

const meta = (handle: string, lastSeenAt: number, createdAt: number, authenticatedAt: number | null): SessionMeta => ({
  handle,
  userId: 'u',
  version: 1,
  authenticatedAt,
  createdAt,
  lastSeenAt,
  expiresAt: lastSeenAt + 1000,
  absoluteExpiresAt: createdAt + 10_000,
  userAgent: null,
  ip: null
})

t.test('byLeastRecentUse orders by lastSeenAt, then createdAt, then handle; byMostRecentUse is its reverse', async (t) => {
  const sessions = [meta('b', 5, 1, 1), meta('a', 5, 1, 1), meta('c', 5, 0, 0), meta('d', 3, 2, 2)]
  t.strictSame([...sessions].sort(byLeastRecentUse).map((s) => s.handle), ['d', 'c', 'a', 'b'])
  t.strictSame([...sessions].sort(byMostRecentUse).map((s) => s.handle), ['b', 'a', 'c', 'd'])
})

t.test('userLimitVictims ends the least recently used sessions bound before the kept one', async (t) => {
  const older = [meta('old1', 10, 1, 1), meta('old2', 20, 2, 2), meta('old3', 5, 3, 3)]
  const kept = meta('new', 30, 4, 4)
  t.strictSame(userLimitVictims([...older, kept], 'new', 2), ['old3', 'old1'], 'two of four go, least recently used first')
  t.strictSame(userLimitVictims([...older, kept], 'new', 4), [], 'at the limit nothing goes')
  t.strictSame(userLimitVictims([...older, kept], 'new', null), [], 'null is unlimited')
  t.strictSame(userLimitVictims(older, 'new', 1), [], 'a kept session already ended leaves the enforcing to whoever ended it')
  const later = meta('later', 1, 5, 5)
  t.strictSame(userLimitVictims([...older, kept, later], 'new', 1), ['old3', 'old1', 'old2'], 'a session bound after the kept one is never a victim of its limit')
  const sameMs = [meta('x2', 7, 7, 7), meta('x1', 7, 7, 7), meta('x3', 7, 7, 7)]
  t.strictSame(userLimitVictims(sameMs, 'x3', 1), ['x1', 'x2'], 'bindings in one millisecond are ordered by handle')
  t.strictSame(userLimitVictims(sameMs, 'x1', 1), [], 'so the first of them ends none of the others')
})
