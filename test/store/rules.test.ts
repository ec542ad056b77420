/** The pure rules on their own; the stores' use of them is in conformance.ts. */
import t from 'tap'
import { parseStoredValue } from '../../src/store/rules.js'
import type { JsonValue } from '../../src/store/types.js'

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
