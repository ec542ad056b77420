/**
 * INDEXED_KEYS entries alone (src/store/index-entries.ts): which names are
 * entries and of which form, and what a value files a session under.
 */
import t from 'tap'
import { indexPairs, indexPlan, isPlainEntry, parseIndexEntry } from '../../src/store/index-entries.js'

t.test('the three forms, and the malformed names start-up refuses', async (t) => {
  t.same(parseIndexEntry('tenant'), { name: 'tenant', dataKey: 'tenant', form: 'value', member: null })
  t.same(parseIndexEntry('org.id'), { name: 'org.id', dataKey: 'org.id', form: 'value', member: null }, 'a data key may hold dots')
  t.same(parseIndexEntry('tags[]'), { name: 'tags[]', dataKey: 'tags', form: 'elements', member: null })
  t.same(parseIndexEntry('cart[].sku'), { name: 'cart[].sku', dataKey: 'cart', form: 'members', member: 'sku' })
  t.same(parseIndexEntry('a.b[].c_d-1'), { name: 'a.b[].c_d-1', dataKey: 'a.b', form: 'members', member: 'c_d-1' })
  for (const name of ['cart[].', 'cart[]x', 'cart[].a.b', '[].sku', 'cart[][]', '', 'ca rt', 'cart[].a:b', `cart[].${'m'.repeat(65)}`, `${'k'.repeat(129)}[]`]) {
    t.equal(parseIndexEntry(name), null, `${JSON.stringify(name)} is malformed`)
  }
  t.throws(() => indexPlan(['cart[]x']), /INDEXED_KEYS: "cart\[\]x"/)
  t.ok(isPlainEntry('tenant'))
  t.notOk(isPlainEntry('tags[]'))
})

t.test('pairs: sorted by entry then value, each once, only for the written data key', async (t) => {
  const plan = indexPlan(['cart[].sku', 'cart[].brand', 'tags[]', 'tags', 'tenant'])
  t.same(indexPairs(plan, 'cart', [{ sku: 'b', brand: 'z' }, { sku: 'a' }, { sku: 'b' }], 64), [['cart[].brand', 'z'], ['cart[].sku', 'a'], ['cart[].sku', 'b']])
  t.same(indexPairs(plan, 'tags', ['x', 1, false], 64), [['tags[]', '1'], ['tags[]', 'false'], ['tags[]', 'x']], 'the plain entry files no array')
  t.same(indexPairs(plan, 'tags', 'x', 64), [['tags', 'x']], 'the collection entry files no scalar')
  t.same(indexPairs(plan, 'other', ['x'], 64), [], 'a data key without entries files nothing')
  t.same(indexPairs(plan, 'cart', [{ ['__proto__']: 'p', sku: { toString: 1 } }], 64), [], 'members are own scalar properties only')
  t.throws(() => indexPairs(plan, 'tags', ['a', 'b', 'c'], 2), { code: 'payload_too_large', message: /"tags\[\]".*3 values.*MAX_INDEX_VALUES/ })
  t.same(indexPairs(plan, 'tags', ['a', 'a', 'a'], 1), [['tags[]', 'a']], 'repeats do not count towards the limit')
})
