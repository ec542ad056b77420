/**
 * A known path asked with a method it does not serve is 405
 * method_not_allowed with `Allow`; an unknown path is 404 not_found. The
 * allowed methods come from the registered routes, so a route added to the
 * app shows up in `Allow` with nothing else to change. HEAD is served
 * wherever GET is; OPTIONS is served only by /v1/auth (forward-auth answers
 * every method) and is 405 elsewhere.
 */
import t from 'tap'
import { buildApp } from '../../src/app.js'
import { loadConfig } from '../../src/config.js'
import { routeTable } from '../../src/http/allowed-methods.js'
import { BASE_ENV, createSession, forEachBackend, service } from '../helpers/app.js'

const HANDLE = 'A'.repeat(43)

/** [method, path, the Allow it answers] */
const NOT_ALLOWED: readonly [string, string, string][] = [
  ['PATCH', '/v1/sessions', 'GET, HEAD, POST, DELETE'],
  ['PUT', `/v1/sessions/${HANDLE}`, 'GET, HEAD, DELETE'],
  ['POST', `/v1/sessions/${HANDLE}`, 'GET, HEAD, DELETE'],
  ['PUT', '/v1/sessions/short', 'GET, HEAD, DELETE'],
  ['POST', `/v1/sessions/${HANDLE}/data/cart`, 'GET, HEAD, PUT, DELETE'],
  ['GET', `/v1/sessions/${HANDLE}/data`, 'PATCH'],
  ['PUT', '/v1/session', 'GET, HEAD, DELETE'],
  ['PATCH', '/v1/session/data/cart', 'GET, HEAD, PUT, DELETE'],
  ['GET', '/v1/session/rotate', 'POST'],
  ['HEAD', '/v1/session/rotate', 'POST'],
  ['POST', '/v1/session/devices', 'GET, HEAD, DELETE'],
  ['GET', `/v1/session/devices/${HANDLE}`, 'DELETE'],
  ['GET', '/v1/session/anonymous', 'POST'],
  ['POST', '/v1/users/alice/sessions', 'GET, HEAD, DELETE'],
  ['DELETE', '/v1/stats/sessions', 'GET, HEAD'],
  ['POST', '/healthz', 'GET, HEAD'],
  ['DELETE', '/readyz', 'GET, HEAD'],
  ['PUT', '/metrics', 'GET, HEAD'],
  ['POST', '/openapi.yaml', 'GET, HEAD'],
  ['OPTIONS', '/v1/sessions', 'GET, HEAD, POST, DELETE'],
  ['OPTIONS', `/v1/sessions/${HANDLE}/data/cart`, 'GET, HEAD, PUT, DELETE'],
  ['PROPFIND', '/v1/session', 'GET, HEAD, DELETE'],
  ['PATCH', '/v1/sessions?key=tenant&value=acme', 'GET, HEAD, POST, DELETE'],
  ['GET', '/v1/%73ession/rotate', 'POST'],
  ['GET', '/v1/session/devices/', 'DELETE']
]

const UNKNOWN: readonly [string, string][] = [
  ['GET', '/v1/nothing'],
  ['PATCH', '/v1/nothing'],
  ['GET', '/v1/session/'],
  ['GET', '/V1/session'],
  ['GET', `/v1/sessions/${HANDLE}/more`],
  ['GET', '/'],
  ['OPTIONS', '/']
]

forEachBackend(t, async (t, h) => {
  const app = await h.build(t)

  t.test('a wrong method on a known path is 405 with Allow, whatever its parameters hold', async (t) => {
    for (const [method, url, allow] of NOT_ALLOWED) {
      const res = await app.inject({ method: method as 'GET', url, headers: service })
      const where = `${method} ${url}`
      t.equal(res.statusCode, 405, `${where}: 405`)
      t.equal(res.headers.allow, allow, `${where}: Allow: ${allow}`)
      t.match(res.headers['content-type'], /^application\/problem\+json/, `${where}: problem+json`)
      if (method === 'HEAD') {
        t.equal(res.body, '', `${where}: no body`)
        continue
      }
      t.match(res.json(), { code: 'method_not_allowed', status: 405, type: 'urn:sessiond:problem:method_not_allowed', detail: `${method} is not served at ${url.split('?')[0] ?? ''}; it serves ${allow}` }, `${where}: method_not_allowed, query left out of the detail`)
    }
  })

  t.test('an unknown path stays 404 not_found, with no Allow', async (t) => {
    for (const [method, url] of UNKNOWN) {
      const res = await app.inject({ method: method as 'GET', url })
      t.equal(res.statusCode, 404, `${method} ${url}: 404`)
      t.equal(res.headers.allow, undefined, `${method} ${url}: no Allow`)
      t.match(res.json(), { code: 'not_found' }, `${method} ${url}: not_found`)
    }
  })

  t.test('HEAD answers wherever GET does; OPTIONS is forward-auth on /v1/auth', async (t) => {
    const { handle, token } = await createSession(app, { data: { cart: [1] } })
    const head = await app.inject({ method: 'HEAD', url: `/v1/sessions/${handle}`, headers: service })
    t.equal(head.statusCode, 200, 'HEAD of a GET route is served')
    t.equal(head.body, '')
    const options = await app.inject({ method: 'OPTIONS', url: '/v1/auth', headers: { 'x-session-token': token } })
    t.equal(options.statusCode, 204, 'OPTIONS /v1/auth is the forward-auth check')
    t.equal((await app.inject({ method: 'OPTIONS', url: '/v1/auth' })).statusCode, 401, 'and refuses without a credential')
    t.equal((await app.inject({ method: 'GET', url: `/v1/sessions/${handle}/data/cart`, headers: service })).statusCode, 200, 'the session was left alone by the 405s')
  })
})

t.test('a route added to the app is in Allow with nothing else to change', async (t) => {
  const app = await buildApp(loadConfig({ ...BASE_ENV, STORE: 'memory' }))
  t.teardown(() => app.close())
  app.get('/extra/:id', async () => ({ ok: true }))
  app.post('/extra/:id', async () => ({ ok: true }))
  const res = await app.inject({ method: 'DELETE', url: '/extra/7' })
  t.equal(res.statusCode, 405)
  t.equal(res.headers.allow, 'GET, HEAD, POST')
})

t.test('with METRICS_PORT, each listener answers from its own routes', async (t) => {
  const app = await buildApp(loadConfig({ ...BASE_ENV, STORE: 'memory', METRICS_PORT: '0' }))
  t.teardown(() => app.close())
  const listener = app.metricsListener
  if (listener === null) throw new Error('no metrics listener')
  const metrics = await listener.inject({ method: 'POST', url: '/metrics' })
  t.equal(metrics.statusCode, 405, 'POST /metrics on the metrics port')
  t.equal(metrics.headers.allow, 'GET, HEAD')
  t.equal((await listener.inject({ method: 'PATCH', url: '/v1/sessions' })).statusCode, 404, 'the API is not known there')
  t.equal((await app.inject({ method: 'POST', url: '/metrics' })).statusCode, 404, 'nor /metrics on the service port')
  t.equal((await app.inject({ method: 'PATCH', url: '/v1/sessions' })).statusCode, 405, 'which knows its own paths')
})

t.test('the route table', async (t) => {
  const routes = routeTable()
  routes.add('/a/:id', ['GET', 'HEAD'])
  routes.add('/a/:id', ['delete'])
  routes.add('/a/b', ['PROPFIND', 'POST', 'MKCOL'])
  routes.add('/x.y', ['GET'])
  t.same(routes.allowedAt('/a/b'), ['GET', 'HEAD', 'POST', 'DELETE', 'MKCOL', 'PROPFIND'], 'every pattern the path matches, in Allow order, the rest alphabetical')
  t.same(routes.allowedAt('/a/%2F'), ['GET', 'HEAD', 'DELETE'], 'an encoded slash stays inside its segment')
  t.same(routes.allowedAt('/a/%E0%A4%A'), ['GET', 'HEAD', 'DELETE'], 'a malformed encoding is matched as it is')
  t.same(routes.allowedAt('/xzy'), [], 'a dot in a pattern is a dot')
  t.same(routes.allowedAt('/a/'), ['GET', 'HEAD', 'DELETE'], 'a parameter may be empty, as the router has it')
  t.same(routes.allowedAt('/a/1/2'), [])
})
