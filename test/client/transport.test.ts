/**
 * What the client does when no proper answer comes: timeouts, aborts, no
 * connection, and responses that are not sessiond's (a proxy in between).
 * These need a misbehaving server, so they use small stand-ins, not the service.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import t, { type Test } from 'tap'
import { createSessionClient, DEFAULT_TIMEOUT_MS, SessiondError } from '../../packages/client/src/index.js'
import { freePort } from '../helpers/redis-server.js'

type Handler = (req: IncomingMessage, res: ServerResponse) => void

async function standIn(t: Test, handler: Handler): Promise<{ url: string; requests: { method: string; url: string; headers: IncomingMessage['headers'] }[] }> {
  const requests: { method: string; url: string; headers: IncomingMessage['headers'] }[] = []
  const server = createServer((req, res) => {
    requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers })
    handler(req, res)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => {
    server.closeAllConnections()
    server.close(() => resolve())
  }))
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, requests }
}

async function failure(call: Promise<unknown>): Promise<SessiondError> {
  try {
    await call
  } catch (err) {
    if (err instanceof SessiondError) return err
    throw err
  }
  throw new Error('expected a SessiondError')
}

const SESSION = { handle: 'h'.repeat(43), userId: null, version: 1, data: {} }

t.test('timeouts: the client default and a per-call override', async (t) => {
  const { url } = await standIn(t, () => undefined)
  t.equal(DEFAULT_TIMEOUT_MS, 5000)
  const client = createSessionClient({ baseUrl: url, apiKey: 'k'.repeat(16), timeoutMs: 100 })
  const started = Date.now()
  const err = await failure(client.stats())
  t.match(err, { status: 0, code: 'timeout', detail: 'no answer within 100 ms' })
  t.ok(Date.now() - started < 2000)
  t.match(await failure(client.stats({}, { timeoutMs: 30 })), { code: 'timeout', detail: /30 ms/ })
})

t.test('a timeout while the body streams in', async (t) => {
  const { url } = await standIn(t, (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' })
    res.write('{"total":')
  })
  const client = createSessionClient({ baseUrl: url, apiKey: 'k'.repeat(16), timeoutMs: 100 })
  t.match(await failure(client.stats()), { code: 'timeout' })
})

t.test('the caller\'s AbortSignal', async (t) => {
  const { url } = await standIn(t, () => undefined)
  const client = createSessionClient({ baseUrl: url, apiKey: 'k'.repeat(16) })
  const controller = new AbortController()
  setTimeout(() => controller.abort(), 20)
  t.match(await failure(client.stats({}, { signal: controller.signal })), { status: 0, code: 'aborted' })
})

t.test('no connection', async (t) => {
  const client = createSessionClient({ baseUrl: `http://127.0.0.1:${await freePort()}`, apiKey: 'k'.repeat(16) })
  const err = await failure(client.create())
  t.match(err, { status: 0, code: 'network_error', detail: /^could not reach sessiond: / })
  t.ok(err.cause)
})

t.test('responses that are not sessiond\'s', async (t) => {
  const { url } = await standIn(t, (req, res) => {
    if (req.url === '/v1/stats/sessions') {
      res.writeHead(502, { 'content-type': 'text/html' }).end(`<html>${'bad gateway '.repeat(30)}</html>`)
    } else if (req.url === '/v1/sessions') {
      res.writeHead(201, { 'content-type': 'application/json', 'set-cookie': 'sid=x; Path=/' }).end('not json')
    } else if (req.url === '/v1/session') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(SESSION))
    } else if (req.url?.startsWith('/v1/users/')) {
      res.writeHead(418, { 'content-type': 'application/problem+json' }).end(JSON.stringify({ code: 'teapot', detail: 'no' }))
    } else {
      res.writeHead(500).end()
    }
  })
  const client = createSessionClient({ baseUrl: url, apiKey: 'k'.repeat(16) })
  const gateway = await failure(client.stats())
  t.match(gateway, { status: 502, code: 'unexpected_response', detail: /^HTTP 502 without a problem document: <html>bad gateway/ })
  t.ok(gateway.detail.length < 260, 'the body is cut short')
  const notJson = await failure(client.create())
  t.match(notJson, { status: 201, code: 'unexpected_response', detail: 'the response is not JSON' })
  t.same(notJson.setCookie, ['sid=x; Path=/'])
  t.match(await failure(client.session({ token: 't' })), { code: 'unexpected_response', detail: /no ETag/ })
  t.match(await failure(client.userSessions('u')), { status: 418, code: 'unexpected_response' }, 'an unknown code is not trusted')
  t.match(await failure(client.destroy('h')), { status: 500, code: 'unexpected_response', detail: 'HTTP 500 without a problem document' })
})

t.test('problem fields, Retry-After, and what is sent', async (t) => {
  const { url, requests } = await standIn(t, (_req, res) => {
    res.writeHead(503, { 'content-type': 'application/problem+json', 'retry-after': '3' }).end(JSON.stringify({ type: 'urn:sessiond:problem:store_unavailable', status: 503, code: 'store_unavailable' }))
  })
  const client = createSessionClient({ baseUrl: new URL('/prefix/', url), apiKey: 'secret-key-0123456789' })
  const err = await failure(client.set({ cookie: 'sid=abc; theme=dark' }, 'a:b', 1, { ifMatch: 4 }))
  t.match(err, { status: 503, code: 'store_unavailable', detail: '', title: 'store_unavailable', retryAfterSec: 3 })
  t.equal(err.name, 'SessiondError')
  t.equal(err.message, 'sessiond: store_unavailable (503): ')
  const [put] = requests
  t.match(put, { method: 'PUT', url: '/prefix/v1/session/data/a%3Ab', headers: { authorization: 'Bearer secret-key-0123456789', cookie: 'sid=abc; theme=dark', 'if-match': '"4"', 'content-type': 'application/json' } })
  await failure(client.del({ token: 'tok' }, 'k', { ifMatch: '*' }))
  t.match(requests[1], { method: 'DELETE', url: '/prefix/v1/session/data/k', headers: { 'x-session-token': 'tok', 'if-match': '*' } })
  t.notOk('content-type' in (requests[1]?.headers ?? {}), 'no body, no content type')
  await failure(client.logoutOtherDevices({ token: 'tok' }, { all: false }))
  t.equal(requests[2]?.url, '/prefix/v1/session/devices')
})

t.test('baseUrl must be http(s)', async (t) => {
  t.throws(() => createSessionClient({ baseUrl: 'ftp://x', apiKey: 'k' }), TypeError)
  t.throws(() => createSessionClient({ baseUrl: 'not a url', apiKey: 'k' }), TypeError)
})
