/**
 * The demo shop's backend over HTTP, without a browser: device names from
 * bowser, and the answers the page relies on when something is wrong (an
 * unknown product, a session ended elsewhere, a device that is not there, a
 * cross-site write). The browser story is test/browser/shop.test.ts.
 */
import t from 'tap'
import { startDemo } from '../../examples/shop/demo.js'
import { deviceName } from '../../examples/shop/shop.js'

t.test('deviceName: browser on system, from the user agent', async (t) => {
  t.equal(deviceName('Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36'), 'Chrome on macOS')
  t.equal(deviceName('Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1'), 'Safari on iOS')
  t.equal(deviceName('Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0'), 'Firefox on Windows')
  t.equal(deviceName('curl/8.5.0'), 'Unknown browser')
  t.equal(deviceName(''), 'Unknown device')
  t.equal(deviceName(null), 'Unknown device')
})

t.test('the shop API: what the page is told when something is wrong', async (t) => {
  const demo = await startDemo({ logLevel: 'silent' })
  t.teardown(() => demo.close())
  const call = async (method: string, path: string, options: { cookie?: string; body?: unknown; headers?: Record<string, string> } = {}) => {
    const res = await fetch(`${demo.shopUrl}${path}`, {
      method,
      headers: {
        ...(options.body === undefined ? {} : { 'content-type': 'application/json' }),
        ...(options.cookie === undefined ? {} : { cookie: options.cookie }),
        ...options.headers
      },
      ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) })
    })
    const text = await res.text()
    return { status: res.status, body: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>), setCookie: res.headers.getSetCookie() }
  }
  const sidOf = (setCookie: string[]): string => (setCookie.find((c) => c.startsWith('sid=')) ?? '').split(';')[0] ?? ''

  const unknown = await call('POST', '/api/cart', { body: { productId: 'boat' } })
  t.same([unknown.status, unknown.body], [400, { error: 'no product "boat"' }])
  t.same(unknown.setCookie, [], 'a refused add creates no session')
  t.same((await call('POST', '/api/cart', { body: {} })).status, 400)
  const crossSite = await call('POST', '/api/cart', { body: { productId: 'tea' }, headers: { 'sec-fetch-site': 'cross-site' } })
  t.equal(crossSite.status, 403)
  t.same((await call('DELETE', '/api/devices/whatever')).body, { error: 'log in first' })

  const laptop = sidOf((await call('POST', '/api/login', { body: { name: 'dora' }, headers: { 'user-agent': 'Laptop' } })).setCookie)
  const phone = sidOf((await call('POST', '/api/login', { body: { name: 'dora' }, headers: { 'user-agent': 'Phone' } })).setCookie)
  const listed = (await call('GET', '/api/devices', { cookie: laptop })).body.devices as { handle: string; current: boolean }[]
  const phoneHandle = listed.find((d) => !d.current)?.handle ?? ''
  const ownHandle = listed.find((d) => d.current)?.handle ?? ''
  t.equal((await call('DELETE', `/api/devices/${ownHandle}`, { cookie: laptop })).status, 404, 'this device is logged out with /api/logout, not from the list')
  t.equal((await call('DELETE', '/api/devices/not-a-handle', { cookie: laptop })).status, 400)
  t.equal((await call('DELETE', `/api/devices/${phoneHandle}`, { cookie: laptop })).status, 204)
  t.equal((await call('DELETE', `/api/devices/${phoneHandle}`, { cookie: laptop })).status, 404, 'already logged out')

  // The phone's session has ended: every action says so, and nothing starts a new session unasked.
  for (const [method, path, body] of [['POST', '/api/cart', { productId: 'tea' }], ['DELETE', '/api/cart', undefined], ['GET', '/api/devices', undefined], ['POST', '/api/logout-others', undefined]] as const) {
    const ended = await call(method, path, { cookie: phone, body })
    t.same([ended.status, ended.body.code], [401, 'session_ended'], `${method} ${path}`)
    t.match(ended.setCookie, [/^sid=; Max-Age=0/], 'and the dead cookie cleared')
  }
  t.match((await call('GET', '/api/state', { cookie: phone })).body, { user: null, cart: [], handle: null, ended: true })
  t.match((await call('GET', '/api/state', { cookie: laptop })).body, { user: 'dora', ended: false })
  t.same((await call('GET', '/api/devices')).body, { devices: [] }, 'no session: no devices')
})
