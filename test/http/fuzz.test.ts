/**
 * Hostile input at every edge (issue "hostile input", "keep them fixed"):
 * random methods, paths (known routes with odd parameters, and unknown
 * ones), query strings, cookies, credentials, API keys, content types,
 * conditional and cross-site headers and bodies, sent to the real app on
 * the memory store. Never a 5xx; every error is a well-formed problem+json
 * whose status is the response's; the app serves a normal request afterwards.
 * Then raw bytes over a real socket, for what only the HTTP parser sees.
 *
 * JSON values stay within fast-check's default depth: values nested
 * thousands deep are the subject of their own regression tests.
 */
import fc from 'fast-check'
import type { FastifyInstance, InjectOptions } from 'fastify'
import t from 'tap'
import { buildApp } from '../../src/app.js'
import { loadConfig } from '../../src/config.js'
import { ADMIN_KEY, BASE_ENV, SERVICE_KEY, admin, createSession, service } from '../helpers/app.js'
import { rawRequest } from '../helpers/raw-http.js'

const ENV = {
  ...BASE_ENV,
  STORE: 'memory',
  PUBLIC_KEYS: 'cart,prefs.*',
  INDEXED_KEYS: 'tenant',
  ALLOW_ANONYMOUS: 'true',
  ANONYMOUS_RATE_LIMIT: '100000',
  COOKIE_SECRET: 'fuzz-cookie-secret-0123456789abcdef',
  MAX_VALUE_BYTES: '2048'
}
const PROBLEM_KEYS = ['code', 'detail', 'status', 'title', 'type']
const INJECT_RUNS = 1500
const RAW_RUNS = 150

interface Known {
  readonly tokens: string[]
  readonly cookies: string[]
  readonly handles: string[]
}

async function seed(app: FastifyInstance): Promise<Known> {
  const known: Known = { tokens: [], cookies: [], handles: [] }
  for (const body of [{ userId: 'alice', data: { cart: [1], tenant: 'acme', n: 1 } }, { data: { 'prefs.theme': 'dark' } }, { userId: 'bob' }]) {
    const { token, handle, res } = await createSession(app, body)
    known.tokens.push(token)
    known.handles.push(handle)
    known.cookies.push(/^sid=([^;]+);/.exec(String(res.headers['set-cookie']))?.[1] ?? token)
  }
  return known
}

/** Visible ASCII and space: what a header value can hold on the wire. */
const headerText = fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: 80 })
const oddText = fc.oneof(fc.string({ maxLength: 40 }), fc.string({ unit: 'grapheme', maxLength: 20 }), headerText)

function arbitraries(known: Known) {
  const from = <T>(values: readonly T[]) => fc.constantFrom(...values)
  const param = fc.oneof(
    from(known.handles),
    from(known.tokens),
    from(['cart', 'tenant', 'n', 'prefs.theme', '__proto__', 'constructor', '.', '..', '%', '%zz', '%C3', '%00', '%2F', 'a%20b', '']),
    fc.string({ unit: fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'), minLength: 43, maxLength: 43 }),
    oddText.map(encodeURIComponent),
    fc.integer({ min: 100, max: 700 }).map((n) => 'k'.repeat(n))
  )
  // Each route with the methods it serves, so that most requests get past the method to the checks behind it.
  const route = from<[string, readonly string[]]>([
    ['/v1/sessions', ['GET', 'POST', 'DELETE']], ['/v1/sessions/:', ['GET', 'DELETE']], ['/v1/sessions/:/data', ['PATCH']],
    ['/v1/sessions/:/data/:', ['GET', 'HEAD', 'PUT', 'DELETE']], ['/v1/session', ['GET', 'DELETE']], ['/v1/session/data', ['PATCH']],
    ['/v1/session/data/:', ['GET', 'HEAD', 'PUT', 'DELETE']], ['/v1/session/rotate', ['POST']], ['/v1/session/devices', ['GET', 'DELETE']],
    ['/v1/session/devices/:', ['DELETE']], ['/v1/session/anonymous', ['POST']], ['/v1/auth', ['GET', 'POST']],
    ['/v1/users/:/sessions', ['GET', 'DELETE']], ['/v1/stats/sessions', ['GET']], ['/healthz', ['GET']], ['/readyz', ['GET']],
    ['/metrics', ['GET']], ['/openapi.yaml', ['GET']]
  ])
  const anyMethod = from(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'TRACE', 'PROPFIND'])
  const knownPath = fc
    .tuple(route, fc.array(param, { minLength: 2, maxLength: 2 }))
    .chain(([[path, methods], [a = '', b = '']]) =>
      fc.record({ path: fc.constant(path.replace(':', a).replace(':', b)), method: fc.oneof({ weight: 4, arbitrary: from(methods) }, { weight: 1, arbitrary: anyMethod }) })
    )
  const unknownPath = fc.record({ path: fc.array(oddText.map(encodeURIComponent), { minLength: 1, maxLength: 4 }).map((segments) => `/${segments.join('/')}`), method: anyMethod })
  const queryValue = fc.oneof(from(['tenant', 'acme', 'true', 'false', 'maybe', '0', '-1', '1001', 'now', '']), from(known.handles), from(known.tokens), oddText)
  const query = fc.array(fc.tuple(fc.oneof(from(['key', 'value', 'by', 'limit', 'cursor', 'except', 'all', 'token', '__proto__']), oddText), queryValue), { maxLength: 4 })
    .map((pairs) => (pairs.length === 0 ? '' : `?${pairs.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&')}`))

  const cookie = fc.oneof(
    { weight: 3, arbitrary: from(known.cookies).map((c) => `sid=${c}`) },
    from(known.tokens).map((c) => `sid=${c}`),
    fc.tuple(from(known.cookies), from(known.cookies)).map(([a, b]) => `sid=${a}; sid=${b}`),
    from(known.cookies).map((c) => `sid=${c.slice(0, -3)}abc`),
    headerText.map((v) => `sid=${v}`),
    headerText
  )
  // Valid credentials and media types are the likelier picks, so that requests get past the edge to the routes.
  const likely = <T>(valid: fc.Arbitrary<T>, other: fc.Arbitrary<T>) => fc.oneof({ weight: 3, arbitrary: valid }, { weight: 1, arbitrary: other })
  const authorization = likely(
    from([`Bearer ${SERVICE_KEY}`, `Bearer ${ADMIN_KEY}`]),
    fc.oneof(from(['Bearer not-a-key-0123456789abcdef', `Basic ${Buffer.from('a:b').toString('base64')}`, 'Bearer', 'bearer x']), headerText)
  )
  const contentType = likely(
    from(['application/json', 'application/json; charset=utf-8']),
    fc.oneof(from(['application/json; charset=utf-16', 'APPLICATION/JSON', 'application/problem+json', 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/json;;', '']), headerText)
  )
  const headers = fc.record(
    {
      cookie,
      'x-session-token': likely(from(known.tokens), headerText),
      authorization,
      'content-type': contentType,
      'if-match': fc.oneof(from(['"1"', '"2"', '*', 'W/"1"', '"x"', '']), headerText),
      origin: fc.oneof(from(['https://evil.example', 'null', 'http://localhost:80']), headerText),
      'sec-fetch-site': from(['cross-site', 'same-origin', 'same-site', 'none', 'x']),
      'x-request-id': headerText,
      accept: fc.oneof(from(['text/event-stream', 'application/json', '*/*']), headerText),
      'content-encoding': from(['gzip', 'br', 'identity']),
      'x-forwarded-for': fc.oneof(from(['203.0.113.9', '::1, 10.0.0.1', 'garbage']), headerText)
    },
    { requiredKeys: [] }
  )
  const jsonValue = fc.jsonValue({ maxDepth: 6 })
  const body = fc.oneof(
    jsonValue.map((v) => JSON.stringify(v)),
    jsonValue.map((value) => JSON.stringify({ value })),
    fc.record({ set: fc.dictionary(oddText, jsonValue), del: fc.array(oddText), incr: fc.dictionary(oddText, fc.oneof(fc.integer(), fc.double(), jsonValue)) }, { requiredKeys: [] }).map((v) => JSON.stringify(v)),
    fc.record({ userId: fc.oneof(oddText, jsonValue), data: fc.oneof(fc.dictionary(oddText, jsonValue), jsonValue), idleTtl: fc.oneof(fc.integer(), jsonValue), absoluteTtl: fc.integer(), userAgent: oddText, ip: oddText }, { requiredKeys: [] }).map((v) => JSON.stringify(v)),
    oddText,
    from(['{', '{"value":', '[]', 'null', '"', '{"value":1e400}', '{"__proto__":{"x":1}}', '{"value":1}{"value":2}', '\u0000']),
    fc.integer({ min: 1, max: 4 }).map((n) => JSON.stringify({ value: 'x'.repeat(n * 1024) }))
  )
  return fc.record(
    {
      target: fc.oneof({ weight: 4, arbitrary: knownPath }, { weight: 1, arbitrary: unknownPath }),
      query,
      headers,
      body: fc.option(body, { nil: undefined })
    },
    { requiredKeys: ['target', 'query', 'headers'] }
  )
}

/** What is wrong with an answer, if anything. */
function faults(method: string, status: number, contentType: string | undefined, raw: string): string[] {
  if (status >= 500) return [`a ${status}: ${raw.slice(0, 300)}`]
  if (status < 400) return []
  if (!/^application\/problem\+json/.test(contentType ?? '')) return [`a ${status} as ${contentType ?? 'no content type'}: ${raw.slice(0, 300)}`]
  if (method === 'HEAD') return []
  try {
    const problem = JSON.parse(raw) as Record<string, unknown>
    const found: string[] = []
    if (Object.keys(problem).sort().join() !== PROBLEM_KEYS.join()) found.push(`problem keys ${Object.keys(problem).join()}`)
    if (problem.status !== status) found.push(`problem status ${String(problem.status)} in a ${status}`)
    if (typeof problem.code !== 'string' || problem.type !== `urn:sessiond:problem:${problem.code}`) found.push(`problem code/type ${String(problem.code)} ${String(problem.type)}`)
    return found
  } catch {
    return [`a ${status} whose body is not JSON: ${raw.slice(0, 300)}`]
  }
}

const app = await buildApp(loadConfig(ENV))
t.teardown(() => app.close())
const known = await seed(app)

t.test('random requests at every edge: never a 5xx, every error a problem+json', async (t) => {
  const seen = new Map<number, number>()
  await fc.assert(
    fc.asyncProperty(arbitraries(known), async ({ target: { method, path }, query, headers, body }) => {
      const request: InjectOptions = { method, url: `${path}${query}`, headers, ...(body === undefined ? {} : { payload: body }) }
      const res = await app.inject(request)
      seen.set(res.statusCode, (seen.get(res.statusCode) ?? 0) + 1)
      const found = faults(method, res.statusCode, res.headers['content-type'] as string | undefined, res.body)
      if (found.length > 0) throw new Error(`${method} ${path}${query}: ${found.join('; ')}`)
    }),
    { numRuns: INJECT_RUNS }
  )
  const statuses = [...seen].sort(([a], [b]) => a - b).map(([status, n]) => `${status}×${n}`).join(' ')
  t.comment(`statuses: ${statuses}`)
  t.ok([200, 400, 401, 403, 404, 405].every((status) => seen.has(status)), 'the requests reached the routes, not only the edges')
})

t.test('raw bytes: what the HTTP parser refuses is a problem+json too, and a connection never hangs', async (t) => {
  const address = await app.listen({ port: 0, host: '127.0.0.1' })
  const port = Number(new URL(address).port)
  const token = fc.oneof(fc.constantFrom('GET', 'POST', 'HEAD', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'FOO', 'G ET', 'GE@T', ''), fc.string({ maxLength: 8 }))
  const target = fc.oneof(fc.constantFrom('/healthz', '/v1/session', '/v1/sessions', '*', '', 'http://x/healthz', '/%zz', '/\u00e9'), fc.string({ maxLength: 30 }))
  const version = fc.oneof(fc.constantFrom('HTTP/1.1', 'HTTP/1.0', 'HTTP/9.9', 'HTTP/1.1 extra', 'HTTP/2', 'HTTP/', ''), fc.string({ maxLength: 10 }))
  const headerLine = fc.oneof(
    fc.constantFrom('Host: sessiond', 'no colon here', ' folded continuation', 'X-A: a\u0001b', ': empty name', 'Content-Length: 5', 'Content-Length: -1', 'Content-Length: 1, 2', 'Transfer-Encoding: chunked', 'Transfer-Encoding: gzip', `Cookie: sid=${'a'.repeat(17_000)}`, 'Content-Type: application/json'),
    fc.string({ maxLength: 40 })
  )
  await fc.assert(
    fc.asyncProperty(token, target, version, fc.array(headerLine, { maxLength: 5 }), fc.string({ maxLength: 20 }), async (method, path, httpVersion, lines, body) => {
      const request = `${[`${method} ${path} ${httpVersion}`, ...lines, 'Connection: close'].join('\r\n')}\r\n\r\n${body}`
      const reply = await rawRequest(port, Buffer.from(request, 'latin1'))
      if (reply.status === 0) throw new Error(`no answer to ${JSON.stringify(request.slice(0, 200))}: ${JSON.stringify(reply.raw.slice(0, 200))}`)
      const found = faults(method, reply.status, reply.headers['content-type'], reply.body)
      if (found.length > 0) throw new Error(`${JSON.stringify(request.slice(0, 200))}: ${found.join('; ')}`)
    }),
    { numRuns: RAW_RUNS }
  )
  t.pass(`${RAW_RUNS} raw requests answered`)
})

t.test('the app still serves afterwards', async (t) => {
  const created = await app.inject({ method: 'POST', url: '/v1/sessions', headers: service, payload: { userId: 'carol', data: { cart: ['book'] } } })
  t.equal(created.statusCode, 201)
  const { token } = created.json<{ token: string }>()
  const read = await app.inject({ method: 'GET', url: '/v1/session', headers: { 'x-session-token': token } })
  t.equal(read.statusCode, 200)
  t.same(read.json<{ data: unknown }>().data, { cart: ['book'] })
  t.equal((await app.inject({ method: 'GET', url: '/v1/users/alice/sessions', headers: admin })).statusCode, 200)
  t.equal((await app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200)
})
