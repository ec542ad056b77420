import t from 'tap'
import { compileGlobs } from '../src/globs.js'

t.test('a star matches any run of characters, dots included', async (t) => {
  const isPublic = compileGlobs(['cart', 'prefs.*'])
  t.ok(isPublic('cart'))
  t.ok(isPublic('prefs.theme'))
  t.ok(isPublic('prefs.a.b'))
  t.ok(isPublic('prefs.'))
  t.notOk(isPublic('prefs'))
  t.notOk(isPublic('cart2'))
  t.notOk(isPublic('xcart'))
})

t.test('every other character matches itself, never as a regex', async (t) => {
  const isPublic = compileGlobs(['a.b'])
  t.ok(isPublic('a.b'))
  t.notOk(isPublic('axb'))
})

t.test('no globs match nothing', async (t) => {
  t.notOk(compileGlobs([])('cart'))
})
