/**
 * Audit lines (spec §9): each administrative change — destroy by handle,
 * logout-all (admin and a user's own devices), a device revoked, an index
 * revoked, a rotation — logs exactly one `audit` line under its request id
 * with the actor (the API key's name, `self` for a bare credential), the
 * action, the target and how many sessions it ended. Refused and 404
 * requests log none, and no token or key reaches any line.
 */
import { Writable } from 'node:stream'
import type { FastifyInstance, InjectOptions } from 'fastify'
import t, { type Test } from 'tap'
import { buildApp } from '../../src/app.js'
import { TARGET_CHARS } from '../../src/http/audit.js'
import { loadConfig } from '../../src/config.js'
import { MAX_INDEX_VALUE_BYTES } from '../../src/limits.js'
import { ADMIN_KEY, BASE_ENV, SERVICE_KEY, admin, createSession, service } from '../helpers/app.js'

type Line = Record<string, unknown>

const lines: Line[] = []
const logStream = new Writable({
  write(chunk: Buffer, _encoding, done) {
    for (const text of chunk.toString().split('\n')) if (text !== '') lines.push(JSON.parse(text) as Line)
    done()
  }
})
const app = await buildApp(loadConfig({ ...BASE_ENV, LOG_LEVEL: 'info', STORE: 'memory', INDEXED_KEYS: 'tenant' }), { logStream })
t.teardown(() => app.close())

const tokens: string[] = []
async function session(body: Record<string, unknown> = {}): Promise<{ token: string; handle: string }> {
  const created = await createSession(app, body)
  tokens.push(created.token)
  return created
}

/** The audit lines logged under `reqId`, as {actor, action, target, ended}. */
function auditLines(t: Test, reqId: string): Line[] {
  return lines
    .filter((l) => l.reqId === reqId && l.msg === 'audit')
    .map((l) => {
      t.equal(l.level, 30, 'at info')
      return { actor: l.actor, action: l.action, target: l.target, ended: l.ended }
    })
}

let requests = 0
/** Sends `request` under a request id of its own; returns the audit lines logged under it. */
async function auditOf(t: Test, target: FastifyInstance, request: InjectOptions & { url: string }, status: number): Promise<Line[]> {
  const reqId = `audit-${requests++}`
  const res = await target.inject({ ...request, headers: { ...request.headers, 'x-request-id': reqId } })
  t.equal(res.statusCode, status, `${request.method ?? 'GET'} ${request.url.slice(0, 80)} answers ${status}`)
  return auditLines(t, reqId)
}

t.test('destroy by handle: the key, the handle, one session; a second destroy logs nothing', async (t) => {
  const { handle } = await session()
  t.same(await auditOf(t, app, { method: 'DELETE', url: `/v1/sessions/${handle}`, headers: service }, 204), [
    { actor: 'backend', action: 'destroy', target: { handle }, ended: 1 }
  ])
  t.same(await auditOf(t, app, { method: 'DELETE', url: `/v1/sessions/${handle}`, headers: service }, 404), [], 'nothing ended, no line')
})

t.test('logout-all by an admin key: the user, what was kept, how many ended', async (t) => {
  const kept = await session({ userId: 'ann' })
  await session({ userId: 'ann' })
  await session({ userId: 'ann' })
  t.same(await auditOf(t, app, { method: 'DELETE', url: `/v1/users/ann/sessions?except=${kept.handle}`, headers: admin }, 200), [
    { actor: 'ops', action: 'logout_all', target: { userId: 'ann', except: kept.handle }, ended: 2 }
  ])
  t.same(await auditOf(t, app, { method: 'DELETE', url: '/v1/users/ann/sessions', headers: admin }, 200), [
    { actor: 'ops', action: 'logout_all', target: { userId: 'ann' }, ended: 1 }
  ])
  t.same(await auditOf(t, app, { method: 'DELETE', url: '/v1/users/ann/sessions', headers: admin }, 200), [
    { actor: 'ops', action: 'logout_all', target: { userId: 'ann' }, ended: 0 }
  ], 'a call that ends nothing is still an administrative action')
  t.same(await auditOf(t, app, { method: 'DELETE', url: '/v1/users/ann/sessions', headers: service }, 403), [], 'refused: no line')
})

t.test("a user's own devices: self without a key, the key's name with one", async (t) => {
  const current = await session({ userId: 'bob' })
  await session({ userId: 'bob' })
  await session({ userId: 'bob' })
  t.same(await auditOf(t, app, { method: 'DELETE', url: '/v1/session/devices', headers: { 'x-session-token': current.token } }, 200), [
    { actor: 'self', action: 'logout_all', target: { userId: 'bob', except: current.handle }, ended: 2 }
  ])
  await session({ userId: 'bob' })
  t.same(await auditOf(t, app, { method: 'DELETE', url: '/v1/session/devices?all=true', headers: { 'x-session-token': current.token, ...service } }, 200), [
    { actor: 'backend', action: 'logout_all', target: { userId: 'bob' }, ended: 2 }
  ])
  const anonymous = await session()
  t.same(await auditOf(t, app, { method: 'DELETE', url: '/v1/session/devices?all=true', headers: { 'x-session-token': anonymous.token } }, 200), [
    { actor: 'self', action: 'logout_all', target: { handle: anonymous.handle }, ended: 1 }
  ], 'an anonymous session is its only device')
})

t.test('one device revoked: the user and the device; not another device of the user logs nothing', async (t) => {
  const current = await session({ userId: 'cat' })
  const other = await session({ userId: 'cat' })
  const stranger = await session({ userId: 'dog' })
  t.same(await auditOf(t, app, { method: 'DELETE', url: `/v1/session/devices/${other.handle}`, headers: { 'x-session-token': current.token } }, 204), [
    { actor: 'self', action: 'device_revoke', target: { userId: 'cat', handle: other.handle }, ended: 1 }
  ])
  t.same(await auditOf(t, app, { method: 'DELETE', url: `/v1/session/devices/${stranger.handle}`, headers: { 'x-session-token': current.token } }, 404), [])
  t.same(await auditOf(t, app, { method: 'DELETE', url: `/v1/session/devices/${other.handle}`, headers: { 'x-session-token': current.token } }, 404), [], 'already ended')
})

t.test('an index value revoked: key and value, the value cut to a bounded length', async (t) => {
  await session({ data: { tenant: 'acme' } })
  await session({ data: { tenant: 'acme' } })
  await session({ data: { tenant: 'globex' } })
  t.same(await auditOf(t, app, { method: 'DELETE', url: '/v1/sessions?key=tenant&value=acme', headers: admin }, 200), [
    { actor: 'ops', action: 'index_revoke', target: { key: 'tenant', value: 'acme' }, ended: 2 }
  ])
  // The longest value a session can be filed under (MAX_INDEX_VALUE_BYTES), far over what a line keeps.
  const long = 'x'.repeat(MAX_INDEX_VALUE_BYTES)
  await session({ data: { tenant: long } })
  t.same(await auditOf(t, app, { method: 'DELETE', url: `/v1/sessions?key=tenant&value=${long}`, headers: admin }, 200), [
    { actor: 'ops', action: 'index_revoke', target: { key: 'tenant', value: `${'x'.repeat(TARGET_CHARS)}…` }, ended: 1 }
  ])
  t.same(await auditOf(t, app, { method: 'DELETE', url: '/v1/sessions?key=plan&value=gold', headers: admin }, 400), [], 'not an indexed key: no line')
})

t.test('a rotation: old and new handle, the user it binds, no session ended', async (t) => {
  const anonymous = await session()
  const rotate = (headers: Record<string, string>, payload: Record<string, unknown>) => ({ method: 'POST' as const, url: '/v1/session/rotate', headers, payload })
  const res = await app.inject(rotate({ 'x-session-token': anonymous.token, ...service, 'x-request-id': 'rotate-login' }, { userId: 'eve' }))
  t.equal(res.statusCode, 201)
  const next = res.json<{ token: string; session: { handle: string } }>()
  tokens.push(next.token)
  t.same(auditLines(t, 'rotate-login'), [
    { actor: 'backend', action: 'rotate', target: { handle: anonymous.handle, newHandle: next.session.handle, userId: 'eve' }, ended: 0 }
  ])
  const again = await auditOf(t, app, rotate({ 'x-session-token': next.token, ...service }, {}), 201)
  t.equal(again.length, 1)
  t.match(again[0], { actor: 'backend', action: 'rotate', target: { handle: next.session.handle }, ended: 0 }, 'without a user, the handles only')
  t.same(Object.keys(again[0]?.target ?? {}), ['handle', 'newHandle'])
  t.same(await auditOf(t, app, rotate({ 'x-session-token': next.token }, {}), 401), [], 'rotation needs a key: refused, no line')
})

t.test('no audit line carries a token or a key, and each names its action once', async (t) => {
  const audits = lines.filter((l) => l.msg === 'audit')
  t.equal(audits.length, 12, 'one line per change above')
  const text = JSON.stringify(audits)
  t.same([...tokens, SERVICE_KEY, ADMIN_KEY].filter((secret) => text.includes(secret)).map((s) => `${s.slice(0, 6)}…`), [])
  t.same([...new Set(audits.map((l) => l.action))].sort(), ['destroy', 'device_revoke', 'index_revoke', 'logout_all', 'rotate'])
})
