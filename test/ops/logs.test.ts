/**
 * Logs (spec §9): pino JSON with a request id (an incoming x-request-id is
 * kept), and no secret in them. The whole log stream of a real flow on the
 * Redis backend is captured at debug level: API keys, session creation,
 * signed cookies (current and older secret), X-Session-Token, rotation,
 * forward-auth, metrics with METRICS_TOKEN, client errors (a token in a query
 * string among them) and a Redis outage. No token, cookie value, API key, cookie secret or metrics token may appear
 * anywhere in it.
 */
import { Writable } from 'node:stream'
import { sign } from '@fastify/cookie'
import type { InjectOptions, LightMyRequestResponse } from 'fastify'
import t from 'tap'
import { buildApp } from '../../src/app.js'
import { loadConfig } from '../../src/config.js'
import { ADMIN_KEY, BASE_ENV, SERVICE_KEY, admin, service } from '../helpers/app.js'
import { startRedisServer } from '../helpers/redis-server.js'

const server = await startRedisServer()
t.teardown(() => server.stop())

const COOKIE_SECRET = 'current-cookie-secret-0123456789abcdef'
const OLD_COOKIE_SECRET = 'older-cookie-secret-0123456789abcdefgh'
const METRICS_TOKEN = 'metrics-token-0123456789abcdef'
const UNKNOWN_KEY = 'not-a-configured-key-0123456789'
const REQUEST_ID = 'trace-7f3a-incoming'

t.test('a full flow leaves no secret in the logs, and a request id on every request line', async (t) => {
  const lines: string[] = []
  const logStream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(...chunk.toString().split('\n').filter((l) => l !== ''))
      done()
    }
  })
  const config = loadConfig({
    ...BASE_ENV,
    LOG_LEVEL: 'debug',
    STORE: 'redis',
    REDIS_URL: server.url,
    STORE_TIMEOUT_MS: '500',
    COOKIE_SECRET: `${COOKIE_SECRET},${OLD_COOKIE_SECRET}`,
    METRICS_TOKEN
  })
  const app = await buildApp(config, { logStream })
  t.teardown(() => app.close())
  // A careless route that logs whole header objects: redaction must catch them.
  app.get('/test/log-headers', async (request, reply) => {
    reply.header('set-cookie', request.headers.cookie ?? '')
    request.log.info({ headers: request.headers, req: { headers: request.headers } }, 'request headers')
    request.log.info({ res: { headers: reply.getHeaders() }, reply: { headers: reply.getHeaders() } }, 'response headers')
    return { ok: true }
  })

  const secrets = new Set<string>([SERVICE_KEY, ADMIN_KEY, COOKIE_SECRET, OLD_COOKIE_SECRET, METRICS_TOKEN, UNKNOWN_KEY])
  const cookieOf = (res: { headers: Record<string, unknown> }): string => {
    const value = /^sid=([^;]+);/.exec(String(res.headers['set-cookie']))?.[1] ?? ''
    if (value !== '') secrets.add(value)
    return value
  }

  const created = await app.inject({
    method: 'POST',
    url: '/v1/sessions',
    headers: { ...service, 'x-request-id': REQUEST_ID },
    payload: { userId: 'alice', data: { cart: ['book'], role: 'admin' } }
  })
  t.equal(created.statusCode, 201)
  const token = created.json<{ token: string }>().token
  secrets.add(token)
  const cookie = cookieOf(created)
  t.match(cookie, /^[A-Za-z0-9_-]{43}\./, 'the cookie is signed')
  secrets.add(cookie.slice(cookie.indexOf('.') + 1))

  const steps: [string, Promise<LightMyRequestResponse>, number][] = []
  const step = (name: string, status: number, request: InjectOptions): void => {
    steps.push([name, app.inject(request), status])
  }
  step('read with the signed cookie', 200, { method: 'GET', url: '/v1/session', headers: { cookie: `sid=${cookie}` } })
  step('read with X-Session-Token', 200, { method: 'GET', url: '/v1/session', headers: { 'x-session-token': token } })
  step('forward-auth', 204, { method: 'GET', url: '/v1/auth', headers: { cookie: `sid=${cookie}` } })
  step('write a private key', 204, { method: 'PUT', url: '/v1/session/data/role', headers: { cookie: `sid=${cookie}`, ...service }, payload: { value: 'user' } })
  step('a private key without an API key', 403, { method: 'GET', url: '/v1/session/data/role', headers: { cookie: `sid=${cookie}` } })
  step('a token in the query string', 401, { method: 'GET', url: `/v1/session?token=${token}&x=1`, headers: { 'x-request-id': 'trace-token-in-query' } })
  step('a forged cookie', 401, { method: 'GET', url: '/v1/session', headers: { cookie: `sid=${token}.forged-signature` } })
  step('an unknown API key', 401, { method: 'GET', url: '/v1/users/alice/sessions', headers: { authorization: `Bearer ${UNKNOWN_KEY}` } })
  step('a bad body', 400, { method: 'POST', url: '/v1/sessions', headers: service, payload: { userId: 'has a space' } })
  step('admin listing', 200, { method: 'GET', url: '/v1/users/alice/sessions', headers: admin })
  step('metrics with the token', 200, { method: 'GET', url: '/metrics', headers: { authorization: `Bearer ${METRICS_TOKEN}` } })
  step('metrics without it', 401, { method: 'GET', url: '/metrics' })
  step('headers logged by a careless route', 200, { method: 'GET', url: '/test/log-headers', headers: { cookie: `sid=${cookie}`, authorization: `Bearer ${SERVICE_KEY}`, 'x-session-token': token } })
  for (const [name, reply, status] of steps) t.equal((await reply).statusCode, status, name)

  const older = sign(token, OLD_COOKIE_SECRET)
  secrets.add(older)
  const renewed = await app.inject({ method: 'GET', url: '/v1/session', headers: { cookie: `sid=${older}` } })
  t.equal(renewed.statusCode, 200, 'a cookie signed with the older secret is accepted')
  t.not(cookieOf(renewed), '', 'and re-issued')

  const rotated = await app.inject({ method: 'POST', url: '/v1/session/rotate', headers: { cookie: `sid=${cookie}`, ...service }, payload: { userId: 'alice' } })
  t.equal(rotated.statusCode, 201)
  const next = rotated.json<{ token: string }>().token
  secrets.add(next)
  const nextCookie = cookieOf(rotated)
  t.equal((await app.inject({ method: 'GET', url: '/v1/session', headers: { cookie: `sid=${cookie}` } })).statusCode, 401, 'the rotated-away cookie')
  t.equal((await app.inject({ method: 'DELETE', url: '/v1/session', headers: { cookie: `sid=${nextCookie}` } })).statusCode, 204, 'logout')

  // An outage: logged once as an error, with its cause, and still no secret.
  await server.kill()
  const down = await app.inject({ method: 'GET', url: '/v1/session', headers: { 'x-session-token': next, 'x-request-id': 'trace-during-outage' } })
  t.equal(down.statusCode, 503)
  const create = await app.inject({ method: 'POST', url: '/v1/sessions', headers: service, payload: { data: { k: 1 } } })
  t.equal(create.statusCode, 503)
  await app.close()

  const parsed = lines.map((line) => {
    try {
      return JSON.parse(line) as Record<string, unknown>
    } catch {
      t.fail(`not a JSON log line: ${line}`)
      return {}
    }
  })
  t.ok(parsed.length > 30, `captured ${parsed.length} log lines`)
  const everything = lines.join('\n')
  t.same([...secrets].filter((secret) => everything.includes(secret)).map((s) => `${s.slice(0, 6)}…`), [], 'no token, cookie, key or secret anywhere in the logs')

  const requestLines = parsed.filter((l) => l.msg === 'incoming request' || l.msg === 'request completed')
  const incoming = requestLines.filter((l) => l.msg === 'incoming request').length
  t.ok(incoming >= 19 && requestLines.length === 2 * incoming, `fastify logged every request and its completion (${incoming} requests)`)
  t.ok(requestLines.every((l) => typeof l.reqId === 'string' && l.reqId !== ''), 'every request line has a request id')
  const traced = parsed.filter((l) => l.reqId === REQUEST_ID).map((l) => l.msg)
  t.same(traced, ['incoming request', 'request completed'], 'the incoming x-request-id is the request id of its lines')
  const urlOf = (l: Record<string, unknown>): unknown => (l.req as Record<string, unknown> | undefined)?.url
  t.same(parsed.filter((l) => l.reqId === 'trace-token-in-query').map(urlOf), ['/v1/session', '/v1/session'], 'a logged URL is its path: the query string is left out')
  t.notOk(parsed.some((l) => typeof urlOf(l) === 'string' && (urlOf(l) as string).includes('?')), 'no logged URL has a query string')
  const outage = parsed.filter((l) => l.reqId === 'trace-during-outage')
  t.ok(outage.some((l) => l.level === 50 && l.msg === 'store unreachable' && /redis/i.test(JSON.stringify(l.err))), 'the outage is logged as an error, with its cause, under the id of the request that found it')
  t.equal(parsed.filter((l) => l.msg === 'store unreachable').length, 1, 'once: the next 503 of the same outage adds only its access line')

  const redacted = parsed.filter((l) => l.msg === 'request headers' || l.msg === 'response headers')
  t.equal(redacted.length, 2)
  t.same(
    [redacted[0]?.headers, (redacted[1]?.reply as Record<string, unknown> | undefined)?.headers].map((h) => {
      const headers = (h ?? {}) as Record<string, unknown>
      return ['authorization', 'cookie', 'x-session-token', 'set-cookie'].filter((name) => name in headers).map((name) => `${name}: ${String(headers[name])}`)
    }),
    [
      ['authorization: [redacted]', 'cookie: [redacted]', 'x-session-token: [redacted]'],
      ['set-cookie: [redacted]']
    ],
    'authorization, cookie, x-session-token and set-cookie are [redacted] wherever headers are logged'
  )
})

t.test('at info, one access line per request: the fields of fastify\'s two lines in one', async (t) => {
  const lines: Record<string, unknown>[] = []
  const logStream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n')) if (line !== '') lines.push(JSON.parse(line) as Record<string, unknown>)
      done()
    }
  })
  const app = await buildApp(loadConfig({ ...BASE_ENV, LOG_LEVEL: 'info' }), { logStream })
  t.teardown(() => app.close())
  const created = await app.inject({ method: 'POST', url: '/v1/sessions', headers: { ...service, 'x-request-id': REQUEST_ID }, payload: { userId: 'bob' } })
  t.equal(created.statusCode, 201)
  t.equal((await app.inject({ method: 'GET', url: '/v1/session', headers: { 'x-session-token': 'not-a-token' } })).statusCode, 401)
  t.equal((await app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200)

  const requestLines = lines.filter((l) => l.reqId !== undefined)
  t.same(
    requestLines.map((l) => [l.msg, l.level, l.reqId, (l.req as Record<string, unknown>).method, (l.req as Record<string, unknown>).url, (l.res as Record<string, unknown>).statusCode, typeof l.responseTime]),
    [
      ['request completed', 30, REQUEST_ID, 'POST', '/v1/sessions', 201, 'number'],
      ['request completed', 30, 'req-1', 'GET', '/v1/session', 401, 'number'],
      ['request completed', 30, 'req-2', 'GET', '/healthz', 200, 'number']
    ],
    'each request is one line at info, with its method, URL, status, time and request id'
  )
  t.ok(requestLines.every((l) => typeof (l.req as Record<string, unknown>).remoteAddress === 'string'), 'and the client address')
})
