/**
 * Hostile values at the HTTP edge, on both backends: nesting past the limit,
 * numbers JSON cannot carry exactly, indexed values past what a query URL
 * can carry, and text that is not valid Unicode. Each is a 4xx problem that
 * writes nothing; what is accepted reads back exactly.
 */
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import t, { type Test } from 'tap'
import { MAX_INDEX_VALUE_BYTES, MAX_VALUE_DEPTH } from '../../src/limits.js'
import { admin, createSession, forEachBackend, service } from '../helpers/app.js'

const problemOf = (res: LightMyRequestResponse) => res.json<{ status: number; code: string; detail: string }>()
const json = { ...service, 'content-type': 'application/json' }

/** An array nested `depth` deep around 1: `[[1]]` is 2 deep. */
const nestedText = (depth: number): string => `${'['.repeat(depth)}1${']'.repeat(depth)}`

/** The three ways a value enters: a create's data, a PUT, a PATCH set. Each returns the response. */
function writers(app: FastifyInstance, handle: string, key = 'k') {
  return {
    create: (text: string) => app.inject({ method: 'POST', url: '/v1/sessions', headers: json, payload: `{"data":{"${key}":${text}}}` }),
    put: (text: string) => app.inject({ method: 'PUT', url: `/v1/sessions/${handle}/data/${key}`, headers: json, payload: `{"value":${text}}` }),
    patch: (text: string) => app.inject({ method: 'PATCH', url: `/v1/sessions/${handle}/data`, headers: json, payload: `{"set":{"${key}":${text}}}` })
  }
}

const totalOf = async (app: FastifyInstance): Promise<number> =>
  (await app.inject({ method: 'GET', url: '/v1/stats/sessions', headers: admin })).json<{ total: number }>().total

forEachBackend(t, async (t, h) => {
  /** Every writer refuses `text` with `status`/`code`, and the session is as it was. */
  async function refusedEverywhere(t: Test, app: FastifyInstance, text: string, status: number, code: string, detail: RegExp, key = 'k'): Promise<void> {
    const { handle } = await createSession(app, { data: { kept: 1 } })
    const total = await totalOf(app)
    for (const [how, write] of Object.entries(writers(app, handle, key))) {
      const res = await write(text)
      t.equal(res.statusCode, status, `${how}: ${status}`)
      t.match(res.headers['content-type'], /^application\/problem\+json/, `${how}: problem+json`)
      t.match(problemOf(res), { code, detail }, `${how}: ${code} says why`)
    }
    const after = await app.inject({ method: 'GET', url: `/v1/sessions/${handle}`, headers: service })
    const { version, data } = after.json<{ version: number; data: unknown }>()
    t.same({ version, data }, { version: 1, data: { kept: 1 } }, 'nothing was written')
    t.equal(await totalOf(app), total, 'no create made a session')
  }

  t.test(`a value nested deeper than ${MAX_VALUE_DEPTH} levels is 400 naming the limit, however deep`, async (t) => {
    const app = await h.build(t)
    for (const depth of [MAX_VALUE_DEPTH + 1, 3000, 4500, 20_000]) {
      await t.test(`${depth} deep`, (t) => refusedEverywhere(t, app, nestedText(depth), 400, 'validation_failed', new RegExp(`${MAX_VALUE_DEPTH} levels`)))
    }
    const objects = `${'{"a":'.repeat(MAX_VALUE_DEPTH)}[]${'}'.repeat(MAX_VALUE_DEPTH)}`
    await t.test('objects and arrays count alike', (t) => refusedEverywhere(t, app, objects, 400, 'validation_failed', /levels/))
  })

  t.test(`a value exactly ${MAX_VALUE_DEPTH} deep is stored and served by every read`, async (t) => {
    const app = await h.build(t, { PUBLIC_KEYS: 'k' })
    const { token, handle } = await createSession(app)
    const text = nestedText(MAX_VALUE_DEPTH)
    const put = await writers(app, handle).put(text)
    t.equal(put.statusCode, 204)
    const cookie = { cookie: `sid=${token}` }
    for (const [url, headers] of [[`/v1/sessions/${handle}/data/k`, service], ['/v1/session/data/k', cookie]] as const) {
      t.equal((await app.inject({ method: 'GET', url, headers })).body, `{"key":"k","value":${text}}`, `${url} reads it back exactly`)
    }
    for (const [url, headers] of [[`/v1/sessions/${handle}`, service], ['/v1/session', cookie]] as const) {
      const res = await app.inject({ method: 'GET', url, headers })
      t.equal(res.statusCode, 200, `${url} serves the session`)
      t.equal(JSON.stringify(res.json<{ data: unknown }>().data), `{"k":${text}}`, `${url} holds it`)
    }
  })

  t.test('a browser cannot leave a value its session cannot serve (public key, deep array)', async (t) => {
    const app = await h.build(t, { PUBLIC_KEYS: 'cart' })
    const { token } = await createSession(app)
    const headers = { cookie: `sid=${token}`, 'content-type': 'application/json' }
    const put = await app.inject({ method: 'PUT', url: '/v1/session/data/cart', headers, payload: `{"value":${nestedText(3000)}}` })
    t.equal(put.statusCode, 400)
    t.equal(problemOf(put).code, 'validation_failed')
    for (const url of ['/v1/session', '/v1/session/data/cart']) {
      const res = await app.inject({ method: 'GET', url, headers })
      t.equal(res.statusCode, url.endsWith('cart') ? 404 : 200, `${url} still serves`)
    }
  })

  t.test('numbers JSON cannot carry exactly are 400; the safe integer range is kept to the digit', async (t) => {
    const app = await h.build(t)
    for (const text of ['1e400', '-1e400', '[1, {"x": 1e999}]', '9007199254740992', '-9007199254740992', '123456789012345678901234567890', '1e300']) {
      await t.test(text, (t) => refusedEverywhere(t, app, text, 400, 'validation_failed', /number/))
    }
    const { handle } = await createSession(app)
    const kept = '[9007199254740991,-9007199254740991,0.1,1.5e-300,-2.5]'
    t.equal((await writers(app, handle).put(kept)).statusCode, 204)
    const read = await app.inject({ method: 'GET', url: `/v1/sessions/${handle}/data/k`, headers: service })
    t.equal(read.body, `{"key":"k","value":${kept}}`, 'read back exactly')
  })

  t.test('text that is not valid UTF-16 (a lone surrogate) is 400 wherever it is put', async (t) => {
    const app = await h.build(t, { INDEXED_KEYS: 'k' })
    for (const text of ['"lone-\\ud800-x"', '"\\udc00"', '["ok", "tail\\ud83d"]', '{"\\ud800": 1}']) {
      await t.test(text, (t) => refusedEverywhere(t, app, text, 400, 'validation_failed', /surrogate/))
    }
    const userAgent = await app.inject({ method: 'POST', url: '/v1/sessions', headers: json, payload: '{"userAgent":"bad \\udfff agent"}' })
    t.equal(userAgent.statusCode, 400)
    t.match(problemOf(userAgent), { code: 'validation_failed', detail: /userAgent.*surrogate/ })
    const { handle } = await createSession(app)
    t.equal((await writers(app, handle).put('"pair \\ud83d\\ude00 ok"')).statusCode, 204, 'an escaped pair is text like any other')
    const read = await app.inject({ method: 'GET', url: `/v1/sessions/${handle}/data/k`, headers: service })
    t.equal(read.json<{ value: string }>().value, 'pair 😀 ok')
  })

  t.test('a userAgent is cut to 256 UTF-16 units, never inside a surrogate pair', async (t) => {
    const app = await h.build(t, { ALLOW_ANONYMOUS: 'true' })
    const userAgentOf = async (userAgent: string): Promise<string> =>
      (await createSession(app, { userAgent })).res.json<{ session: { userAgent: string } }>().session.userAgent
    t.equal(await userAgentOf(`${'a'.repeat(255)}😀tail`), 'a'.repeat(255), 'a pair that does not fit is dropped whole')
    t.equal(await userAgentOf(`${'a'.repeat(254)}😀tail`), `${'a'.repeat(254)}😀`, 'a pair that fits is kept whole')
    const anonymous = await app.inject({ method: 'POST', url: '/v1/session/anonymous', headers: { 'user-agent': 'b'.repeat(300) } })
    t.equal(anonymous.json<{ session: { userAgent: string } }>().session.userAgent, 'b'.repeat(256), 'the anonymous route cuts the header the same way')
  })

  t.test(`an indexed value is at most ${MAX_INDEX_VALUE_BYTES} bytes: listed, counted and revoked at the bound, 413 past it`, async (t) => {
    const app = await h.build(t, { INDEXED_KEYS: 'tenant' })
    const atBound = 'é'.repeat(MAX_INDEX_VALUE_BYTES / 2)
    const { handle } = await createSession(app, { data: { tenant: atBound } })
    const query = `key=tenant&value=${encodeURIComponent(atBound)}`
    t.ok(query.length >= 3 * MAX_INDEX_VALUE_BYTES, `the worst-case query is ${query.length} characters`)
    const listed = await app.inject({ method: 'GET', url: `/v1/sessions?${query}&limit=1000`, headers: admin })
    t.equal(listed.statusCode, 200)
    t.same(listed.json<{ sessions: { handle: string }[] }>().sessions.map((s) => s.handle), [handle])
    const counted = await app.inject({ method: 'GET', url: '/v1/stats/sessions?by=tenant', headers: admin })
    t.same(counted.json<{ by: unknown }>().by, { [atBound]: 1 })

    for (const value of [`${atBound}x`, 'é'.repeat(3000)]) {
      await t.test(`${Buffer.byteLength(value)} bytes`, (t) => refusedEverywhere(t, app, JSON.stringify(value), 413, 'payload_too_large', new RegExp(`${MAX_INDEX_VALUE_BYTES} bytes`), 'tenant'))
      for (const method of ['GET', 'DELETE'] as const) {
        const res = await app.inject({ method, url: `/v1/sessions?key=tenant&value=${encodeURIComponent(value)}`, headers: admin })
        t.equal(res.statusCode, 400, `${method} with a value no session can hold is 400`)
        t.match(problemOf(res), { code: 'validation_failed', detail: new RegExp(`${MAX_INDEX_VALUE_BYTES} bytes`) })
      }
    }
    const other = await createSession(app, { data: { note: 'é'.repeat(3000) } })
    t.ok(other.handle, 'a long value under a key that is not indexed is fine')

    const revoked = await app.inject({ method: 'DELETE', url: `/v1/sessions?${query}`, headers: admin })
    t.same(revoked.json(), { revoked: 1 }, 'the tenant at the bound can be revoked')
  })
})
