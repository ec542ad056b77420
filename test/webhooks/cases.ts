/**
 * The webhook delivery cases, run by each backend's test file against one
 * app (app.inject for the API) and real HTTP receivers on 127.0.0.1: the
 * signature verifies with standardwebhooks, the body is the event as
 * GET /v1/events serves it, 500s and a receiver that is down are retried, a
 * session's events stay in order while an earlier one is retried, an event
 * still failing at WEBHOOK_MAX_AGE is dropped with the metric and one log
 * line, and a hanging receiver neither holds up the API nor gets more than
 * MAX_IN_FLIGHT requests at once.
 */
import { randomBytes } from 'node:crypto'
import { Writable } from 'node:stream'
import type { FastifyInstance } from 'fastify'
import { Webhook } from 'standardwebhooks'
import type { Test } from 'tap'
import { buildApp } from '../../src/app.js'
import { loadConfig } from '../../src/config.js'
import { MAX_IN_FLIGHT } from '../../src/webhooks/deliverer.js'
import { BASE_ENV, admin, createSession, service } from '../helpers/app.js'
import { startReceiver, until, type Received, type Receiver } from '../helpers/receiver.js'

export const SECRET = `whsec_${randomBytes(32).toString('base64')}`

/** The store part of the environment of a new app: STORE and what it needs. */
export type StoreEnv = () => Promise<Record<string, string>>

interface Delivering {
  readonly app: FastifyInstance
  /** Every log line, parsed. */
  readonly logs: Record<string, unknown>[]
  readonly logText: () => string
}

/** An app delivering to `receiver`, ready (so delivering), closed when the test ends. */
export async function deliveringApp(t: Test, storeEnv: StoreEnv, receiver: Receiver, env: Record<string, string> = {}): Promise<Delivering> {
  const lines: string[] = []
  const logStream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(...chunk.toString().split('\n').filter((l) => l !== ''))
      done()
    }
  })
  const config = loadConfig({ ...BASE_ENV, LOG_LEVEL: 'info', EVENTS: 'true', WEBHOOK_URL: receiver.url, WEBHOOK_SECRET: SECRET, ...(await storeEnv()), ...env })
  const app = await buildApp(config, { logStream })
  t.teardown(() => app.close())
  await app.ready()
  return {
    app,
    get logs() {
      return lines.map((l) => JSON.parse(l) as Record<string, unknown>)
    },
    logText: () => lines.join('\n')
  }
}

/** The value of a metric series in the app's /metrics; undefined when the series is absent. */
export async function metric(app: FastifyInstance, series: string): Promise<number | undefined> {
  const text = (await app.inject({ method: 'GET', url: '/metrics' })).body
  const line = text.split('\n').find((l) => l.startsWith(`${series} `))
  return line === undefined ? undefined : Number(line.slice(series.length + 1))
}

const delivered = (receiver: Receiver): Received[] => receiver.received.filter((r) => r.status !== null && r.status >= 200 && r.status < 300)
const tokenHeaders = (token: string) => ({ ...service, 'x-session-token': token })

/** Creates, rotates and logs out one session: its three events. */
async function lifeOfASession(app: FastifyInstance): Promise<{ handle: string; newHandle: string }> {
  const { token, handle } = await createSession(app, { userId: 'ann' })
  const rotated = await app.inject({ method: 'POST', url: '/v1/session/rotate', headers: tokenHeaders(token) })
  const next = rotated.json<{ token: string; session: { handle: string } }>()
  const logout = await app.inject({ method: 'DELETE', url: '/v1/session', headers: { 'x-session-token': next.token } })
  if (logout.statusCode !== 204) throw new Error(`logout: ${logout.statusCode}`)
  return { handle, newHandle: next.session.handle }
}

export function deliveryCases(t: Test, storeEnv: StoreEnv): void {
  t.test('each event once, in a POST of its own, signed as Standard Webhooks specifies, its body as GET /v1/events serves it', async (t) => {
    const receiver = await startReceiver(t)
    const { app } = await deliveringApp(t, storeEnv, receiver)
    const { handle, newHandle } = await lifeOfASession(app)
    await until(() => delivered(receiver).length >= 3, 'three deliveries')

    const served = (await app.inject({ method: 'GET', url: '/v1/events', headers: admin })).json<{ events: unknown[] }>().events
    t.strictSame(receiver.received.map((r) => r.event), served, 'the events as the API serves them, in order, each once')
    t.strictSame(receiver.received.map((r) => [r.event.type, r.event.handle]), [['session.created', handle], ['session.rotated', handle], ['session.ended', newHandle]])
    const verifier = new Webhook(SECRET)
    for (const r of receiver.received) {
      t.strictSame(verifier.verify(r.body, r.headers as Record<string, string>), r.event, `${r.event.type}: the signature verifies`)
      t.equal(r.headers['webhook-id'], r.event.id, 'webhook-id is the event id')
      t.match(r.headers['webhook-timestamp'], /^\d+$/, 'webhook-timestamp is in seconds')
      t.match(r.headers['webhook-signature'], /^v1,[A-Za-z0-9+/]+=*$/, 'one v1 signature')
      t.equal(r.headers['content-type'], 'application/json')
      t.throws(() => verifier.verify(r.body.replace('"ann"', '"bob"'), r.headers as Record<string, string>), 'a changed body does not verify')
    }
    t.throws(() => new Webhook(`whsec_${randomBytes(32).toString('base64')}`).verify(receiver.received[0]?.body ?? '', receiver.received[0]?.headers as Record<string, string>), 'nor another secret')
    // The receiver has answered; the deliverer counts once it has read the answer.
    await until(async () => (await metric(app, 'sessiond_webhook_deliveries_total{outcome="delivered"}')) === 3, 'three counted deliveries')
    t.equal(await metric(app, 'sessiond_webhook_deliveries_total{outcome="retried"}'), 0)
    t.equal(await metric(app, 'sessiond_webhook_delivery_latency_seconds_count'), 3)
    await until(async () => (await metric(app, 'sessiond_webhook_oldest_undelivered_seconds')) === undefined, 'nothing left undelivered')
  })

  t.test('WEBHOOK_EVENTS: only the named types are POSTed; the others are passed over', async (t) => {
    const receiver = await startReceiver(t)
    const { app } = await deliveringApp(t, storeEnv, receiver, { WEBHOOK_EVENTS: 'session.ended' })
    const { newHandle } = await lifeOfASession(app)
    await until(() => receiver.received.length >= 1, 'the end')
    await until(async () => (await metric(app, 'sessiond_webhook_oldest_undelivered_seconds')) === undefined, 'the passed-over events acknowledged')
    t.strictSame(receiver.received.map((r) => [r.event.type, r.event.handle]), [['session.ended', newHandle]])
  })

  t.test('an event answered 500 is retried, with a fresh signature, until a 2xx', async (t) => {
    const receiver = await startReceiver(t, (_request, attempt) => (attempt <= 2 ? 500 : 204))
    const { app } = await deliveringApp(t, storeEnv, receiver)
    await createSession(app)
    await until(() => receiver.received.length >= 2, 'a retry')
    t.ok((await metric(app, 'sessiond_webhook_oldest_undelivered_seconds')) !== undefined, 'while it is retried, the oldest undelivered event has an age')
    await until(() => delivered(receiver).length === 1, 'the delivery')
    t.strictSame(receiver.received.map((r) => r.status), [500, 500, 204])
    t.equal(new Set(receiver.received.map((r) => r.headers['webhook-id'])).size, 1, 'the same event each time')
    const verifier = new Webhook(SECRET)
    for (const r of receiver.received) verifier.verify(r.body, r.headers as Record<string, string>)
    t.pass('every attempt verifies')
    await until(async () => (await metric(app, 'sessiond_webhook_deliveries_total{outcome="delivered"}')) === 1, 'the counted delivery')
    t.equal(await metric(app, 'sessiond_webhook_deliveries_total{outcome="retried"}'), 2)
    await until(async () => (await metric(app, 'sessiond_webhook_oldest_undelivered_seconds')) === undefined, 'the gauge gone once delivered')
  })

  t.test('a receiver down for several seconds gets the events once it is back', async (t) => {
    const receiver = await startReceiver(t)
    const { app } = await deliveringApp(t, storeEnv, receiver)
    await receiver.down()
    const { handle } = await createSession(app)
    await until(async () => ((await metric(app, 'sessiond_webhook_deliveries_total{outcome="retried"}')) ?? 0) >= 2, 'two refused attempts')
    await new Promise((resolve) => setTimeout(resolve, 2_000))
    await receiver.up()
    await until(() => delivered(receiver).length === 1, 'the delivery after the receiver came back')
    t.equal(receiver.received[0]?.event.handle, handle)
    t.equal(receiver.received[0]?.event.type, 'session.created')
  })

  t.test('a session\'s events wait while an earlier one is retried; other sessions\' pass it', async (t) => {
    let refused = 0
    const receiver = await startReceiver(t, (request) => {
      if (request.event.userId === 'slow' && request.event.type === 'session.created' && refused < 3) {
        refused++
        return 503
      }
      return 204
    })
    const { app } = await deliveringApp(t, storeEnv, receiver)
    const first = await createSession(app, { userId: 'slow' })
    const slow = first.handle
    const rotated = await app.inject({ method: 'POST', url: '/v1/session/rotate', headers: tokenHeaders(first.token) })
    const next = rotated.json<{ token: string; session: { handle: string } }>()
    await app.inject({ method: 'DELETE', url: '/v1/session', headers: { 'x-session-token': next.token } })
    const others = await Promise.all([1, 2, 3, 4].map(() => lifeOfASession(app)))
    await until(() => delivered(receiver).length === 15, 'every event of the five sessions')

    const order = delivered(receiver).map((r) => `${r.event.type} ${r.event.handle}`)
    t.strictSame(
      delivered(receiver).filter((r) => r.event.handle === slow || r.event.handle === next.session.handle).map((r) => r.event.type),
      ['session.created', 'session.rotated', 'session.ended'],
      'the slow session\'s events in order'
    )
    const slowCreated = receiver.received.findIndex((r) => r.event.handle === slow && r.status === 204)
    t.ok(receiver.received.slice(0, slowCreated).every((r) => r.event.handle !== slow || r.event.type === 'session.created'), 'nothing of it was sent before its creation was delivered')
    t.ok(receiver.received.slice(0, slowCreated).every((r) => r.event.handle !== next.session.handle), 'not even under the rotated handle')
    t.equal(refused, 3)
    for (const other of others) {
      const mine = order.filter((o) => o.endsWith(other.handle) || o.endsWith(other.newHandle))
      t.strictSame(mine.map((o) => o.split(' ')[0]), ['session.created', 'session.rotated', 'session.ended'], 'each other session in order')
    }
    t.ok(others.some((other) => order.indexOf(`session.ended ${other.newHandle}`) < order.indexOf(`session.created ${slow}`)), 'another session\'s end was delivered while the slow creation was retried')
  })

  t.test('an event still failing at WEBHOOK_MAX_AGE is dropped: the metric and one error line, no secret', async (t) => {
    const receiver = await startReceiver(t, () => 500)
    const delivering = await deliveringApp(t, storeEnv, receiver, { WEBHOOK_MAX_AGE: '2' })
    const { app } = delivering
    const { handle } = await createSession(app)
    await until(async () => (await metric(app, 'sessiond_webhook_deliveries_total{outcome="dropped"}')) === 1, 'the drop')
    const attempts = receiver.received.length
    t.ok(attempts >= 2, `retried before the drop (${attempts} attempts)`)
    t.equal(await metric(app, 'sessiond_webhook_deliveries_total{outcome="retried"}'), attempts - 1, 'each attempt but the last was a retry')
    const drops = delivering.logs.filter((l) => typeof l.msg === 'string' && l.msg.startsWith('webhook event dropped'))
    t.equal(drops.length, 1, 'one line')
    t.match(drops[0], { level: 50, eventId: receiver.received[0]?.event.id, eventType: 'session.created', attempts, last: 'status 500' })
    const logs = delivering.logText()
    t.notOk(logs.includes(SECRET.slice('whsec_'.length)), 'no secret in the logs')
    t.notOk(receiver.received.some((r) => logs.includes(String(r.headers['webhook-signature']).slice(3))), 'no signature')
    t.notOk(logs.includes(handle), 'nor the event\'s body')
    await until(async () => (await metric(app, 'sessiond_webhook_oldest_undelivered_seconds')) === undefined, 'nothing left undelivered')
    const after = receiver.received.length
    await new Promise((resolve) => setTimeout(resolve, 1_500))
    t.equal(receiver.received.length, after, 'never tried again')
  })

  t.test('a hanging receiver: the API answers meanwhile, and at most MAX_IN_FLIGHT requests are open', async (t) => {
    const receiver = await startReceiver(t, () => 'hang')
    const { app } = await deliveringApp(t, storeEnv, receiver)
    await Promise.all(Array.from({ length: MAX_IN_FLIGHT * 3 }, () => createSession(app)))
    await until(() => receiver.open() === MAX_IN_FLIGHT, `${MAX_IN_FLIGHT} open requests`)
    const { token, handle } = await createSession(app)
    t.equal((await app.inject({ method: 'PUT', url: '/v1/session/data/cart', headers: tokenHeaders(token), payload: { value: [1] } })).statusCode, 204, 'a write answers')
    t.equal((await app.inject({ method: 'GET', url: `/v1/sessions/${handle}`, headers: service })).statusCode, 200, 'a read answers')
    await new Promise((resolve) => setTimeout(resolve, 1_000))
    t.equal(receiver.maxOpen(), MAX_IN_FLIGHT, 'never more open at once')
    t.equal(receiver.received.length, MAX_IN_FLIGHT, 'and no other sent')
  })
}
