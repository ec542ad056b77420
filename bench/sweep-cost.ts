/**
 * What one call of sweep.lua costs Redis, for `npm run bench:scale` once its
 * sessions are in: the script the service runs every EVENTS_EXPIRY_LAG / 2
 * (src/store/sweeper.ts), called here on one shard (`{P}{t}:`, keys.ts) as a
 * Cluster node gets it, with nothing expired (the steady state) and with N of
 * the shard's sessions expired, events on and off; and the single-node call
 * over all 64 shards. Times are Redis's own: INFO commandstats `usec` of the
 * EVALSHA (which includes the commands the script ran) after CONFIG
 * RESETSTAT, each call alone. The expiring sessions are made through the
 * built store with a short idle TTL, in shards of their own, and left to
 * expire; the service sweeps nothing meanwhile (it runs without EVENTS).
 */
import { Redis } from 'ioredis'
import { KEY_PREFIX, commandStats, fmt, log, markdownTable, sessionData, sleep, type BuiltStore } from './lib.js'

/** The parts of the built service this file drives (dist/store/redis/scripts.js, keys.js, dist/tokens.js). */
interface ScriptsModule {
  readonly defineScripts: (client: Redis) => Readonly<Record<'sweep', (...args: (string | number)[]) => Promise<unknown>>>
  readonly opt: (value: number) => string
}
interface KeysModule {
  readonly shardPrefix: (prefix: string, shard: string) => string
  readonly SHARDS: readonly string[]
}
interface TokensModule {
  readonly newTokenInShard: (shard: string) => { token: string; handle: string }
}

/** The service's chunk (CHUNK in src/store/redis/index.ts): a sweep call ends at most this many sessions before it yields. */
const SWEEP_BUDGET = 500
/** The retention the service passes with EVENTS=true by default (EVENTS_RETENTION, 86400 s). */
const RETENTION_MS = 86_400_000
/**
 * Idle TTL of the expiring sessions: making them all must end before the
 * first expires, since a create prunes what has expired in its shard.
 */
const EXPIRING_TTL_MS = 10_000
const EXPIRED_COUNTS = [100, 1_000] as const
/** Shards measured per (count, events) case; the median is reported. */
const REPEATS = 3

export interface SweepRow {
  readonly what: string
  readonly events: boolean
  readonly shards: number
  readonly expiredPerShard: number
  /** Script calls per shard (more than one when more expired than SWEEP_BUDGET). */
  readonly calls: number
  readonly medianUs: number
  readonly maxUs: number
  /** (median − the steady state's median) / expired, µs; null for the steady state. */
  readonly perExpiredUs: number | null
  /** How many sessions the script went through (its reply), summed: it must equal the expired count. */
  readonly swept: number
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b)
  const mid = Math.floor(s.length / 2)
  return s.length % 2 === 1 ? (s[mid] ?? 0) : ((s[mid - 1] ?? 0) + (s[mid] ?? 0)) / 2
}

export async function measureSweep(port: number, admin: Redis, store: Pick<BuiltStore, 'create'>, absoluteTtlMs: number): Promise<{ rows: SweepRow[]; table: string }> {
  const dist = new URL('../', import.meta.url)
  const { defineScripts, opt } = (await import(new URL('store/redis/scripts.js', dist).href)) as ScriptsModule
  const { shardPrefix, SHARDS } = (await import(new URL('store/redis/keys.js', dist).href)) as KeysModule
  const { newTokenInShard } = (await import(new URL('tokens.js', dist).href)) as TokensModule
  const client = new Redis({ port, host: '127.0.0.1', lazyConnect: true })
  await client.connect()
  try {
    const { sweep } = defineScripts(client)
    const redisNow = async (): Promise<number> => {
      const [seconds, micros] = await admin.time()
      return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000)
    }
    /** sweep.lua over `shards` until it reports nothing more: Redis µs in all, calls, sessions gone through. */
    const sweepOnce = async (shards: readonly string[], events: boolean): Promise<{ usec: number; calls: number; swept: number }> => {
      let usec = 0
      let calls = 0
      let swept = 0
      for (let more = true; more; ) {
        const now = await redisNow()
        await admin.config('RESETSTAT')
        const reply = (await sweep(`${shardPrefix(KEY_PREFIX, shards[0] ?? '')}all`, now + 60_000, KEY_PREFIX, now, events ? opt(RETENTION_MS) : '', SWEEP_BUDGET, ...shards)) as [number, number]
        const stats = await commandStats(admin)
        usec += (stats.evalsha?.usec ?? 0) + (stats.eval?.usec ?? 0)
        calls++
        swept += Number(reply[0])
        more = Number(reply[1]) !== 0
      }
      return { usec, calls, swept }
    }

    // One warm call so the script is loaded: its first call is an EVAL.
    await sweepOnce(['-'], true)
    const rows: SweepRow[] = []
    const steady: number[] = []
    for (const shard of SHARDS) steady.push((await sweepOnce([shard], true)).usec)
    const steadyMedian = median(steady)
    rows.push({ what: 'one shard, nothing expired (every shard once)', events: true, shards: 1, expiredPerShard: 0, calls: 1, medianUs: steadyMedian, maxUs: Math.max(...steady), perExpiredUs: null, swept: 0 })
    const all: number[] = []
    for (let i = 0; i < 5; i++) all.push((await sweepOnce(SHARDS, true)).usec)
    rows.push({ what: 'all 64 shards in one call (a single node), nothing expired (5 calls)', events: true, shards: 64, expiredPerShard: 0, calls: 1, medianUs: median(all), maxUs: Math.max(...all), perExpiredUs: null, swept: 0 })

    // Shards of their own per case, taken from the end of SHARDS.
    const cases = EXPIRED_COUNTS.flatMap((count) => [true, false].map((events) => ({ count, events })))
    const plan = cases.map((c, i) => ({ ...c, shards: SHARDS.slice(SHARDS.length - (i + 1) * REPEATS, SHARDS.length - i * REPEATS) }))
    const expiring = plan.reduce((n, c) => n + c.count * c.shards.length, 0)
    log(`sweep cost: ${fmt(expiring)} sessions expiring in ${EXPIRING_TTL_MS / 1000} s, in ${plan.length * REPEATS} shards...`)
    const madeAt = Date.now()
    await Promise.all(
      plan.flatMap(({ count, shards }) =>
        shards.flatMap((shard) =>
          Array.from({ length: count }, (_, i) =>
            store.create({ handle: newTokenInShard(shard).handle, userId: `expiring-${shard}-${i}`, data: sessionData(i), idleTtlMs: EXPIRING_TTL_MS, absoluteTtlMs, userAgent: null, ip: null })
          )
        )
      )
    )
    if (Date.now() - madeAt > EXPIRING_TTL_MS - 1_000) throw new Error('making the expiring sessions took too long: some may have been pruned by later creates')
    // The last one made expires a TTL from now.
    await sleep(EXPIRING_TTL_MS + 1_000)
    for (const { count, events, shards } of plan) {
      const runs = []
      for (const shard of shards) runs.push(await sweepOnce([shard], events))
      const us = runs.map((r) => r.usec)
      const medianUs = median(us)
      rows.push({
        what: `one shard, ${fmt(count)} expired`,
        events,
        shards: 1,
        expiredPerShard: count,
        calls: Math.max(...runs.map((r) => r.calls)),
        medianUs,
        maxUs: Math.max(...us),
        perExpiredUs: Math.round(((medianUs - steadyMedian) / count) * 10) / 10,
        swept: runs.reduce((n, r) => n + r.swept, 0) / runs.length
      })
    }
    const table = markdownTable(
      ['sweep.lua call', 'EVENTS', 'Redis µs (median)', 'max', 'calls', 'µs per expired session', 'swept per shard'],
      rows.map((r) => [
        r.swept === r.expiredPerShard ? r.what : `${r.what} **INVALID** (not all expired were found)`,
        r.events ? 'on' : 'off',
        fmt(r.medianUs),
        fmt(r.maxUs),
        String(r.calls),
        r.perExpiredUs === null ? '—' : fmt(r.perExpiredUs, 1),
        fmt(r.swept)
      ])
    )
    return { rows, table }
  } finally {
    client.disconnect()
  }
}
