/**
 * `npm run bench:events`: how late an expiry is announced, and that it is
 * announced once however many instances sweep (SPEC §2 "events").
 *
 * Starts a throwaway redis-server and the built service with EVENTS=true
 * (EVENTS_EXPIRY_LAG at its default), creates sessions through the API with a
 * short idle TTL, sends nothing more but `GET /v1/events` long polls (admin
 * key; reads record nothing) until every one of them has its `session.ended`
 * with reason `expired`, then reads for one more EVENTS_EXPIRY_LAG to catch a
 * second announcement. Lag is the event's `time` minus the session's
 * `expiresAt` as its create answered (both the service's clock); received is
 * when this process had it. Then the same with two instances on the same
 * Redis, the sessions created half through each. Last, Redis bytes per
 * event: MEMORY USAGE of every shard's stream over their length, as the two
 * runs left them (each session's created and ended events).
 *
 * Options: --sessions=1000 --ttl=3 (idle TTL, s) --log-level=...
 * Writes bench/results/events.json; exits 1 when an expiry was missed or announced twice.
 */
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { Redis } from 'ioredis'
import {
  RESULTS_DIR,
  createSessions,
  fmt,
  freePort,
  log,
  markdownTable,
  newSecrets,
  numberArg,
  parseArgs,
  serviceEnv,
  startBench,
  startNode,
  startRedis,
  runMain,
  type Fixture,
  type HttpProcess,
  type Secrets
} from './lib.js'

/** EVENTS_EXPIRY_LAG's default (src/config.ts), which the services run with. */
const EXPIRY_LAG_MS = 5_000
const PAGE = 1_000
const WAIT_SEC = 30

interface WireEvent {
  readonly type: string
  readonly time: string
  readonly handle: string
  readonly reason?: string
}

interface LagResult {
  readonly instances: number
  readonly sessions: number
  readonly announced: number
  readonly duplicates: number
  readonly otherEnds: number
  readonly lagMs: { p50: number; p99: number; max: number; min: number }
  readonly receivedMs: { p50: number; p99: number; max: number }
}

/** The nearest-rank percentile of sorted values. */
const percentile = (sorted: readonly number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? Number.NaN

async function events(service: HttpProcess, secrets: Secrets, after: string, waitSec: number): Promise<{ events: WireEvent[]; nextCursor: string }> {
  const res = await fetch(`${service.url}/v1/events?after=${encodeURIComponent(after)}&limit=${PAGE}&wait=${waitSec}`, { headers: { authorization: `Bearer ${secrets.adminKey}` } })
  const body = (await res.json()) as { events: WireEvent[]; nextCursor: string }
  if (res.status !== 200) throw new Error(`GET /v1/events: ${res.status} ${JSON.stringify(body)}`)
  return body
}

/** Creates the sessions (split over `creators`) and reads events until each has ended, and one lag longer. */
async function measureLag(creators: readonly HttpProcess[], reader: HttpProcess, secrets: Secrets, count: number, ttlSec: number, tag: string): Promise<LagResult> {
  let cursor = (await events(reader, secrets, 'now', 0)).nextCursor
  const fixtures: Fixture[] = []
  for (const [i, creator] of creators.entries()) {
    const share = Math.floor(count / creators.length) + (i < count % creators.length ? 1 : 0)
    fixtures.push(...(await createSessions(creator.url, secrets.serviceKey, share, `${tag}-${i}`, 16, ttlSec)))
  }
  const expiresAt = new Map(fixtures.map((f) => [f.handle, f.expiresAt]))
  const ends = new Map<string, number>()
  const lags: number[] = []
  const received: number[] = []
  let otherEnds = 0
  const lastExpiry = Math.max(...expiresAt.values())
  const giveUpAt = lastExpiry + 3 * EXPIRY_LAG_MS + 10_000
  let allAt: number | null = null
  while (allAt === null || Date.now() < allAt + EXPIRY_LAG_MS) {
    if (Date.now() > giveUpAt && allAt === null) break
    const waitSec = allAt === null ? WAIT_SEC : Math.max(0, Math.ceil((allAt + EXPIRY_LAG_MS - Date.now()) / 1000))
    const page = await events(reader, secrets, cursor, waitSec)
    const now = Date.now()
    cursor = page.nextCursor
    for (const event of page.events) {
      const expiry = expiresAt.get(event.handle)
      if (event.type !== 'session.ended' || expiry === undefined) continue
      if (event.reason !== 'expired') {
        otherEnds++
        continue
      }
      const seen = ends.get(event.handle) ?? 0
      ends.set(event.handle, seen + 1)
      if (seen > 0) continue
      lags.push(Date.parse(event.time) - expiry)
      received.push(now - expiry)
    }
    if (allAt === null && ends.size === count) allAt = now
  }
  const duplicates = [...ends.values()].reduce((n, k) => n + k - 1, 0)
  lags.sort((a, b) => a - b)
  received.sort((a, b) => a - b)
  return {
    instances: creators.length,
    sessions: count,
    announced: ends.size,
    duplicates,
    otherEnds,
    lagMs: { p50: percentile(lags, 50), p99: percentile(lags, 99), max: lags.at(-1) ?? Number.NaN, min: lags[0] ?? Number.NaN },
    receivedMs: { p50: percentile(received, 50), p99: percentile(received, 99), max: received.at(-1) ?? Number.NaN }
  }
}

/** Redis bytes per event over every shard's stream (this bench's own throwaway Redis, so SCAN is fine). */
async function bytesPerEvent(url: string): Promise<{ events: number; bytes: number }> {
  const redis = new Redis(url)
  try {
    let events = 0
    let bytes = 0
    for await (const keys of redis.scanStream({ match: '*:events', count: 1000 }) as AsyncIterable<string[]>) {
      for (const key of keys) {
        events += await redis.xlen(key)
        bytes += Number(await redis.memory('USAGE', key, 'SAMPLES', '0'))
      }
    }
    return { events, bytes }
  } finally {
    redis.disconnect()
  }
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2))
  const count = numberArg(args, 'sessions', 1_000)
  const ttlSec = numberArg(args, 'ttl', 3)
  const logLevel = args.get('log-level')
  const t0 = Date.now()
  const { pinning, tmp, cleanup } = await startBench('sessiond bench:events')
  try {
    const secrets = newSecrets()
    const redis = await startRedis(pinning.redis, tmp.path)
    const start = async (name: string): Promise<HttpProcess> =>
      startNode(name, pinning.server, ['dist/server.js'], { ...serviceEnv(await freePort(), secrets, { kind: 'redis', url: redis.url }, logLevel), EVENTS: 'true' }, '/readyz')
    const first = await start('sessiond A (EVENTS=true)')
    log(`one instance: ${fmt(count)} sessions with idleTtl ${ttlSec} s, then only GET /v1/events...`)
    const results = [await measureLag([first], first, secrets, count, ttlSec, 'one')]
    const second = await start('sessiond B (EVENTS=true)')
    log(`two instances on the same Redis: ${fmt(count)} sessions, half through each...`)
    results.push(await measureLag([first, second], first, secrets, count, ttlSec, 'two'))

    const stored = await bytesPerEvent(redis.url)
    const table = markdownTable(
      ['instances', 'sessions', 'expiries announced', 'duplicates', 'lag p50 ms', 'p99', 'max', 'min', 'received p50 ms', 'p99', 'max'],
      results.map((r) => [
        String(r.instances),
        fmt(r.sessions),
        fmt(r.announced),
        String(r.duplicates),
        fmt(r.lagMs.p50),
        fmt(r.lagMs.p99),
        fmt(r.lagMs.max),
        fmt(r.lagMs.min),
        fmt(r.receivedMs.p50),
        fmt(r.receivedMs.p99),
        fmt(r.receivedMs.max)
      ])
    )
    process.stdout.write(
      `\n${table}\n\nLag: event time − expiresAt; received: when GET /v1/events (long poll) returned it − expiresAt. ` +
        `EVENTS_EXPIRY_LAG ${EXPIRY_LAG_MS / 1000} s (a sweep every ${EXPIRY_LAG_MS / 2000} s per instance). ` +
        `Redis bytes per event: ${(stored.bytes / stored.events).toFixed(1)} (${fmt(stored.events)} events in the streams, MEMORY USAGE SAMPLES 0). ` +
        `${pinning.description}. Run took ${((Date.now() - t0) / 1000).toFixed(0)} s.\n`
    )
    await mkdir(RESULTS_DIR, { recursive: true })
    const file = join(RESULTS_DIR, 'events.json')
    await writeFile(file, `${JSON.stringify({ date: new Date().toISOString(), pinning: pinning.description, ttlSec, table, results, stored }, null, 2)}\n`)
    log(`wrote ${file}`)
    const failed = results.filter((r) => r.announced !== r.sessions || r.duplicates > 0 || r.otherEnds > 0)
    if (failed.length > 0) {
      log(`FAILED: missed, repeated or non-expiry ends with ${failed.map((r) => r.instances).join(' and ')} instance(s)`)
      return 1
    }
    return 0
  } finally {
    await cleanup()
  }
}

runMain('bench:events', main)
