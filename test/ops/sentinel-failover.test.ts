/**
 * Sentinel failover under traffic (spec §7), from redis-server alone: a
 * primary, a replica and three sentinels (quorum 2, down-after 1 s). The
 * real app, configured with REDIS_SENTINELS and REDIS_WAIT_REPLICAS=1,
 * serves traffic while the primary is killed: it serves again after the
 * failover without a restart, sessions written (and replicated) before are
 * there, and logouts acknowledged before the failover stay logouts. The
 * requests lost during the failover are counted and printed, not asserted.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import t from 'tap'
import { Redis } from 'ioredis'
import { admin, service } from '../helpers/app.js'
import { freePort, startRedisServer } from '../helpers/redis-server.js'
import { codeOf, isUnavailable, listening, summary, traffic, until, type Client } from './http.js'

const MASTER_NAME = 'failover'
const REPLICATION = ['--repl-diskless-sync-delay', '0']

const primary = await startRedisServer({ args: REPLICATION })
const replica = await startRedisServer({ args: [...REPLICATION, '--replicaof', '127.0.0.1', String(primary.port)] })
const sentinelDir = await mkdtemp(join(tmpdir(), 'sessiond-sentinel-'))
const sentinels: { port: number; child: ChildProcess }[] = []
const probes: Redis[] = []
t.teardown(async () => {
  for (const probe of probes) probe.disconnect()
  for (const { child } of sentinels) child.kill('SIGKILL')
  await Promise.allSettled([primary.stop(), replica.stop()])
  await rm(sentinelDir, { recursive: true, force: true })
})

function probe(port: number): Redis {
  const client = new Redis({ host: '127.0.0.1', port, maxRetriesPerRequest: 0, retryStrategy: () => 200, lazyConnect: false })
  client.on('error', () => undefined)
  probes.push(client)
  return client
}

for (let i = 0; i < 3; i++) {
  const port = await freePort()
  const conf = join(sentinelDir, `sentinel-${i}.conf`)
  await writeFile(
    conf,
    [
      `port ${port}`,
      'bind 127.0.0.1',
      `dir ${sentinelDir}`,
      `sentinel monitor ${MASTER_NAME} 127.0.0.1 ${primary.port} 2`,
      `sentinel down-after-milliseconds ${MASTER_NAME} 1000`,
      `sentinel failover-timeout ${MASTER_NAME} 5000`,
      `sentinel parallel-syncs ${MASTER_NAME} 1`,
      ''
    ].join('\n')
  )
  sentinels.push({ port, child: spawn('redis-server', [conf, '--sentinel'], { stdio: 'ignore' }) })
}
const sentinelProbes = sentinels.map(({ port }) => probe(port))
const primaryProbe = probe(primary.port)
const replicaProbe = probe(replica.port)

const info = async (client: Redis, section: string): Promise<string> => client.info(section).catch(() => '')
const sentinelList = async (client: Redis, what: 'REPLICAS' | 'SENTINELS'): Promise<unknown[]> =>
  (client.call('SENTINEL', what, MASTER_NAME) as Promise<unknown[]>).catch(() => [])

// The topology is ready when the replica is in sync and every sentinel knows the replica and both other sentinels.
const topologyReady = await until(async () => {
  if (!(await info(replicaProbe, 'replication')).includes('master_link_status:up')) return false
  for (const s of sentinelProbes) {
    if ((await sentinelList(s, 'REPLICAS')).length !== 1 || (await sentinelList(s, 'SENTINELS')).length !== 2) return false
  }
  return true
}, 90_000, 200)

/** Polls until the replica has everything the primary has. */
async function replicated(): Promise<boolean> {
  return until(async () => {
    const offset = /master_repl_offset:(\d+)/.exec(await info(primaryProbe, 'replication'))?.[1]
    const acked = /slave0:.*offset=(\d+)/.exec(await info(primaryProbe, 'replication'))?.[1]
    return offset !== undefined && offset === acked
  }, 30_000)
}

async function create(http: Client, body: Record<string, unknown>): Promise<{ token: string; handle: string; status: number }> {
  const reply = await http('/v1/sessions', { method: 'POST', headers: service, body })
  if (reply.status !== 201) return { token: '', handle: '', status: reply.status }
  const created = JSON.parse(reply.body) as { token: string; session: { handle: string } }
  return { token: created.token, handle: created.session.handle, status: 201 }
}

t.test('the primary dies mid-traffic: the service fails over by itself and keeps what it acknowledged', async (t) => {
  t.ok(topologyReady, 'primary, replica and three sentinels that know each other')
  const { http } = await listening(t, {
    STORE: 'redis',
    REDIS_SENTINELS: sentinels.map(({ port }) => `127.0.0.1:${port}`).join(','),
    REDIS_SENTINEL_NAME: MASTER_NAME,
    REDIS_WAIT_REPLICAS: '1',
    STORE_TIMEOUT_MS: '1000'
  })
  const read = (token: string) => http('/v1/session', { headers: { 'x-session-token': token } })

  // Before: sessions, and revocations acknowledged only once the replica has them.
  const ann = await create(http, { userId: 'ann', data: { cart: ['book'] } })
  t.equal(ann.status, 201)
  const earlier = await Promise.all(Array.from({ length: 20 }, (_, i) => create(http, { userId: `early${i}` })))
  t.equal(earlier.filter((s) => s.status === 201).length, 20, 'sessions created before the failover')
  const bob = await create(http, { userId: 'bob' })
  const logout = await http('/v1/session', { method: 'DELETE', headers: { 'x-session-token': bob.token } })
  t.equal(logout.status, 204, 'a logout is acknowledged once a replica has it (WAIT 1)')
  const carl = await Promise.all([create(http, { userId: 'carl' }), create(http, { userId: 'carl' })])
  const everywhere = await http('/v1/users/carl/sessions', { method: 'DELETE', headers: admin })
  t.same(JSON.parse(everywhere.body), { revoked: 2 }, 'a logout-everywhere is acknowledged the same way')
  t.ok(await replicated(), 'the replica has caught up with the primary')

  // Traffic: reads of a live session, and creates each followed by a read through the credential.
  const reads = traffic(() => read(ann.token), 3, 20)
  const acknowledgedCreates: { token: string; at: number }[] = []
  const writes = traffic(async () => {
    const reply = await http('/v1/sessions', { method: 'POST', headers: service, body: { data: { during: 'failover' } } })
    if (reply.status === 201) acknowledgedCreates.push({ token: (JSON.parse(reply.body) as { token: string }).token, at: reply.at })
    return reply
  }, 1, 20)
  t.ok(await until(() => reads.replies.some((r) => r.status === 200) && writes.replies.some((r) => r.status === 201)), 'traffic flows')

  const killedAt = performance.now()
  await primary.kill()
  const failures = () => [...reads.replies, ...writes.replies].filter((r) => r.at > killedAt && r.status !== 200 && r.status !== 201)
  t.ok(await until(() => failures().length > 0, 30_000), 'the loss of the primary is noticed')
  const firstFailure = Math.min(...failures().map((r) => r.at))
  const servedAgain = () => reads.replies.some((r) => r.at > firstFailure && r.status === 200) && writes.replies.some((r) => r.at > firstFailure && r.status === 201)
  t.ok(await until(servedAgain, 90_000, 100), 'reads and writes are served again after the failover, by the same app')
  const firstOk = Math.min(...reads.replies.filter((r) => r.at > firstFailure && r.status === 200).map((r) => r.at))
  // A little more traffic on the new primary.
  const count = reads.replies.length
  await until(() => reads.replies.length > count + 20, 30_000)
  await Promise.all([reads.stop(), writes.stop()])

  const after = [...reads.replies, ...writes.replies].filter((r) => r.at > killedAt)
  const failed = after.filter((r) => r.status !== 200 && r.status !== 201)
  t.same(failed.filter((r) => !isUnavailable(r)).map((r) => `${r.status} ${codeOf(r)}`), [], 'every failed request was a 503 store_unavailable; none hung')
  const newPrimary = await sentinelProbes[0]?.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', MASTER_NAME)
  t.same(newPrimary, ['127.0.0.1', String(replica.port)], 'the sentinels promoted the replica')

  // What was acknowledged before the failover is still true after it.
  const annNow = await http('/v1/session', { headers: { 'x-session-token': ann.token, ...service } })
  t.equal(annNow.status, 200, 'a session written before the failover is there')
  t.same((JSON.parse(annNow.body) as { data: unknown }).data, { cart: ['book'] }, 'with its data')
  const early = await Promise.all(earlier.map((s) => read(s.token)))
  t.equal(early.filter((r) => r.status === 200).length, 20, 'every session created (and replicated) before the failover is there')
  const bobNow = await read(bob.token)
  t.equal(bobNow.status, 401, 'a logout acknowledged before the failover stays a logout')
  t.equal(codeOf(bobNow), 'session_not_found')
  for (const c of carl) t.equal((await read(c.token)).status, 401, 'so does a logout-everywhere')
  const lostCreates = (await Promise.all(acknowledgedCreates.map((c) => read(c.token)))).filter((r) => r.status !== 200).length

  // The new primary has no replica yet: revocations cannot be acknowledged, and say so.
  const lonely = await http('/v1/session', { method: 'DELETE', headers: { 'x-session-token': earlier[0]?.token ?? '' } })
  t.ok(isUnavailable(lonely), 'with no replica left, a logout is 503 rather than acknowledged unreplicated')
  // The old primary comes back empty; the sentinels make it a replica of the new one.
  await primary.start()
  t.ok(await until(async () => /connected_slaves:1\b[\s\S]*state=online/.test(await info(replicaProbe, 'replication')), 90_000, 200), 'the old primary rejoins as a replica')
  const logoutAfter = await http('/v1/session', { method: 'DELETE', headers: { 'x-session-token': earlier[1]?.token ?? '' } })
  t.equal(logoutAfter.status, 204, 'with a replica again, logouts are acknowledged again')

  const readsAfter = reads.replies.filter((r) => r.at > killedAt)
  const writesAfter = writes.replies.filter((r) => r.at > killedAt)
  t.comment(
    `failover: service back ${(firstOk - killedAt).toFixed(0)} ms after the primary was killed; ` +
      `requests lost (503) during the failover: ${readsAfter.filter((r) => r.status !== 200).length} of ${readsAfter.length} reads, ` +
      `${writesAfter.filter((r) => r.status !== 201).length} of ${writesAfter.length} creates; 503 latency ${summary(failed.map((r) => r.ms))}; ` +
      `acknowledged creates missing after the failover (asynchronous replication): ${lostCreates} of ${acknowledgedCreates.length}`
  )
})
