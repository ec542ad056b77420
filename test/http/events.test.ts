/**
 * GET /v1/events on both backends: the actor and reason each route gives its
 * events, the JSON shape (ISO times, no token), paging, `now`, long polling,
 * bad input, an expired cursor, the admin scope, and 404 with EVENTS off.
 */
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import t from 'tap'
import { buildApp } from '../../src/app.js'
import { loadConfig } from '../../src/config.js'
import { BASE_ENV, admin, createSession, forEachBackend, service } from '../helpers/app.js'
import { fakeClock } from '../helpers/clock.js'
import { HEARTBEAT_MS } from '../../src/http/routes/events.js'

interface EventJson {
  id: string
  type: string
  time: string
  handle: string
  userId: string | null
  reason?: string
  newHandle?: string
  index: Record<string, string>
  actor: string
}
interface EventsJson {
  events: EventJson[]
  nextCursor: string
}

const EVENTS_ON = { EVENTS: 'true', INDEXED_KEYS: 'tenant' }
const cookieOf = (token: string) => ({ cookie: `sid=${token}` })
const codeOf = (res: LightMyRequestResponse): string => res.json<{ code: string }>().code

async function events(app: FastifyInstance, query = ''): Promise<EventsJson> {
  const res = await app.inject({ method: 'GET', url: `/v1/events${query}`, headers: admin })
  if (res.statusCode !== 200) throw new Error(`events: ${res.statusCode} ${res.body}`)
  return res.json<EventsJson>()
}

forEachBackend(t, async (t, h) => {
  t.test('each route\'s events name its actor and reason; times are ISO; no token or data', async (t) => {
    const app = await h.build(t, EVENTS_ON)
    const start = await events(app, '?after=now')
    const user = await Promise.all([1, 2, 3].map(() => createSession(app, { userId: 'alice', data: { tenant: 'acme', secret: 'hush' } })))
    const logout = await createSession(app)
    const rotated = await app.inject({ method: 'POST', url: '/v1/session/rotate', headers: { ...service, ...cookieOf(logout.token) }, payload: { userId: 'bob' } })
    const newToken = rotated.json<{ token: string; session: { handle: string } }>()
    t.equal((await app.inject({ method: 'DELETE', url: '/v1/session', headers: { 'x-session-token': newToken.token } })).statusCode, 204)
    const revoked = await app.inject({ method: 'DELETE', url: '/v1/users/alice/sessions', headers: admin })
    t.strictSame(revoked.json(), { revoked: 3 })

    const body = await events(app, `?after=${start.nextCursor}`)
    const shape = body.events.map((e) => JSON.stringify([e.type, e.reason ?? null, e.actor])).sort()
    t.strictSame(shape, [
      ['session.created', null, 'backend'], ['session.created', null, 'backend'], ['session.created', null, 'backend'], ['session.created', null, 'backend'],
      ['session.rotated', null, 'backend'],
      ['session.ended', 'logout', 'self'],
      ['session.ended', 'revoked', 'ops'], ['session.ended', 'revoked', 'ops'], ['session.ended', 'revoked', 'ops']
    ].map((e) => JSON.stringify(e)).sort(), 'created by the service key, rotated by it, logged out by the session, revoked by the admin key')
    t.equal(shape.length, 9)
    const ended = body.events.filter((e) => e.reason === 'revoked')
    t.strictSame(new Set(ended.map((e) => e.handle)), new Set(user.map((u) => u.handle)), 'exactly the three sessions of the logout-all')
    t.ok(ended.every((e) => e.userId === 'alice' && e.index['tenant'] === 'acme'), 'with their user and tenant')
    const rotation = body.events.find((e) => e.type === 'session.rotated')
    t.equal(rotation?.newHandle, newToken.session.handle, 'the rotation names the new handle')
    t.equal(rotation?.userId, 'bob', 'and the user it bound')
    t.ok(body.events.every((e) => !Number.isNaN(Date.parse(e.time)) && e.time.endsWith('Z')), 'ISO-8601 UTC times')
    const text = JSON.stringify(body)
    for (const secret of [newToken.token, logout.token, ...user.map((u) => u.token), 'hush']) t.notOk(text.includes(secret), 'no token or data')
  })

  t.test('paging with limit: each event once; a long poll returns the event that arrives while it waits', async (t) => {
    const app = await h.build(t, EVENTS_ON)
    await Promise.all([1, 2, 3, 4, 5].map(() => createSession(app)))
    const seen: string[] = []
    let cursor = ''
    for (let page = 0; page < 4; page++) {
      const body = await events(app, `?limit=2${cursor === '' ? '' : `&after=${cursor}`}`)
      seen.push(...body.events.map((e) => e.id))
      cursor = body.nextCursor
    }
    t.equal(seen.length, 5, 'five events in pages of two')
    t.equal(new Set(seen).size, 5, 'none repeated')
    const polling = events(app, `?after=${cursor}&wait=10`)
    await new Promise((resolve) => setTimeout(resolve, 300))
    const late = await createSession(app)
    const woken = await polling
    t.strictSame(woken.events.map((e) => e.handle), [late.handle], 'the long poll answers with the new event')
    const idle = await events(app, `?after=${woken.nextCursor}&wait=0.3`)
    t.strictSame(idle.events, [], 'a long poll with nothing new answers empty when the wait is over')
  })

  t.test('bad input is 400; a cursor older than the retention is 410; the admin scope is required', async (t) => {
    const clock = fakeClock()
    const app = await h.build(t, { ...EVENTS_ON, EVENTS_RETENTION: '60' }, { clock: clock.now })
    const { nextCursor } = await events(app)
    for (const query of ['?limit=0', '?limit=1001', '?limit=x', '?wait=31', '?wait=-1', '?after=not-a-cursor', `?after=${nextCursor}x`]) {
      const res = await app.inject({ method: 'GET', url: `/v1/events${query}`, headers: admin })
      t.equal(res.statusCode, 400, query)
      t.equal(codeOf(res), 'validation_failed', query)
    }
    t.equal((await app.inject({ method: 'GET', url: '/v1/events', headers: service })).statusCode, 403, 'a service key is not enough')
    t.equal((await app.inject({ method: 'GET', url: '/v1/events' })).statusCode, 401, 'no key')
    clock.advance(61_000)
    const expired = await app.inject({ method: 'GET', url: `/v1/events?after=${nextCursor}`, headers: admin })
    t.equal(expired.statusCode, 410)
    t.equal(codeOf(expired), 'events_expired')
    t.match(expired.headers['content-type'], /application\/problem\+json/)
  })

  t.test('EVENTS off: /v1/events is 404 and nothing is recorded', async (t) => {
    const app = await h.build(t)
    await createSession(app)
    const res = await app.inject({ method: 'GET', url: '/v1/events', headers: admin })
    t.equal(res.statusCode, 404)
    t.equal(codeOf(res), 'not_found')
    t.strictSame((await app.store.readEvents(null, 10)).events, [], 'the store holds no event')
  })
})

/** Opens GET /v1/events as Server-Sent Events on a listening app at `address`; `frames` collects the parsed frames as they come. */
async function openStream(address: string, query: string, headers: Record<string, string> = {}) {
  const controller = new AbortController()
  const res = await fetch(`${address}/v1/events${query}`, { headers: { ...admin, accept: 'text/event-stream', ...headers }, signal: controller.signal })
  const frames: Record<string, string>[] = []
  const reading = (async () => {
    if (res.body === null) return
    let buffer = ''
    const decoder = new TextDecoder()
    try {
      for await (const chunk of res.body) {
        buffer += decoder.decode(chunk as Uint8Array, { stream: true })
        let end: number
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const frame: Record<string, string> = {}
          for (const line of buffer.slice(0, end).split('\n')) {
            const colon = line.indexOf(':')
            frame[line.slice(0, colon)] = line.slice(colon + 1).trimStart()
          }
          frames.push(frame)
          buffer = buffer.slice(end + 2)
        }
      }
    } catch {
      // Aborted by the test.
    }
  })()
  const waitFor = async (n: number): Promise<void> => {
    for (let tries = 0; tries < 200 && frames.filter((f) => f['event'] !== undefined).length < n; tries++) {
      await new Promise((resolve) => setTimeout(resolve, 25))
    }
  }
  const close = async (): Promise<void> => {
    controller.abort()
    await reading
  }
  return { res, frames, waitFor, close }
}

forEachBackend(t, async (t, h) => {
  t.test('Accept: text/event-stream: id is the cursor after the event, event its type; Last-Event-ID wins over after', async (t) => {
    const app = await h.build(t, EVENTS_ON)
    const start = await events(app, '?after=now')
    const first = await createSession(app)
    const second = await createSession(app)
    const address = await app.listen({ port: 0, host: '127.0.0.1' })
    const stream = await openStream(address, `?after=${start.nextCursor}`)
    t.equal(stream.res.status, 200)
    t.match(stream.res.headers.get('content-type'), /^text\/event-stream/)
    t.equal(stream.res.headers.get('cache-control'), 'no-store')
    await stream.waitFor(2)
    const third = await createSession(app)
    await stream.waitFor(3)
    await stream.close()
    const frames = stream.frames.filter((f) => f['event'] !== undefined)
    t.strictSame(frames.map((f) => f['event']), ['session.created', 'session.created', 'session.created'], 'each event as it comes')
    const handles = new Set(frames.map((f) => (JSON.parse(f['data'] ?? '{}') as EventJson).handle))
    t.strictSame(handles, new Set([first.handle, second.handle, third.handle]), 'the three sessions')
    const afterFirst = frames[0]?.['id'] ?? ''
    const resumed = await events(app, `?after=${afterFirst}`)
    t.strictSame(resumed.events.map((e) => e.handle), frames.slice(1).map((f) => (JSON.parse(f['data'] ?? '{}') as EventJson).handle), 'an id resumes after its event')
    const again = await openStream(address, `?after=${start.nextCursor}`, { 'last-event-id': afterFirst })
    await again.waitFor(2)
    await again.close()
    const eventIds = (list: Record<string, string>[]): string[] => list.filter((f) => f['event'] !== undefined).map((f) => (JSON.parse(f['data'] ?? '{}') as EventJson).id)
    t.strictSame(eventIds(again.frames), eventIds(frames.slice(1)), 'Last-Event-ID wins over after')
    const bad = await app.inject({ method: 'GET', url: '/v1/events', headers: { ...admin, accept: 'text/event-stream', 'last-event-id': 'nope' } })
    t.equal(bad.statusCode, 400, 'a bad Last-Event-ID is a problem before any stream')
  })
})

// The route writes the heartbeat whatever the store, so one backend is enough for its 15 s.
t.test('a silent stream gets a comment line after HEARTBEAT_MS (15 s), so proxies keep it open', async (t) => {
  const app = await buildApp(loadConfig({ ...BASE_ENV, STORE: 'memory', ...EVENTS_ON }))
  t.teardown(() => app.close())
  const address = await app.listen({ port: 0, host: '127.0.0.1' })
  const stream = await openStream(address, '?after=now')
  const comments = (): Record<string, string>[] => stream.frames.filter((f) => f[''] !== undefined)
  // Waited for with a deadline well past the interval; the assertion is on what came, not on when.
  for (let tries = 0; tries < 100 && comments().length === 0; tries++) await new Promise((resolve) => setTimeout(resolve, HEARTBEAT_MS / 50))
  await stream.close()
  t.strictSame(comments(), [{ '': 'keep-alive' }], 'one comment line: `: keep-alive`')
  t.strictSame(stream.frames.filter((f) => f['event'] !== undefined), [], 'and no event')
})

forEachBackend(t, async (t, h) => {
  t.test('a store failure mid-stream ends it with an error event naming only the code', async (t) => {
    const app = await h.build(t, EVENTS_ON)
    const address = await app.listen({ port: 0, host: '127.0.0.1' })
    const stream = await openStream(address, '?after=now')
    t.equal(stream.res.status, 200)
    await app.store.close()
    await stream.waitFor(1)
    await stream.close()
    const errors = stream.frames.filter((f) => f['event'] === 'error')
    t.strictSame(errors.map((f) => JSON.parse(f['data'] ?? '{}') as unknown), [{ code: 'store_unavailable' }], 'one error event, the code only')
  })
})
