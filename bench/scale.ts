/**
 * `npm run bench:scale`: the `read` scenario of `npm run bench` with
 * 1,000,000 sessions in Redis against the same read with 10,000.
 *
 * Sessions are created fast and directly through the built Redis store
 * (dist/store, the code the service runs: the same create script, keys and
 * indexes as POST /v1/sessions), up to 256 creates in flight on one
 * connection, so they are pipelined; each session's cookie is signed here
 * with the service's COOKIE_SECRET exactly as the service would sign it.
 *
 *   10k        read, a random one of 10,000 sessions, 10,000 in Redis
 *   1M         read, a random one of 1,000,000 sessions, 1,000,000 in Redis
 *   1M, hot 10k  read, a random one of the first 10,000, 1,000,000 in Redis
 *
 * Then, with the 1,000,000 in Redis, what one sweep.lua call costs Redis
 * (sweep-cost.ts): a shard with nothing expired, all 64 shards in one call,
 * and a shard with 100 and 1,000 expired sessions, events on and off.
 *
 * Options: --duration=10 --warmup=2 --connections=64 --sessions=1000000 --base=10000 --log-level=...
 * Writes bench/results/scale.json; exits 1 on any error or non-2xx answer.
 */
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { sign } from '@fastify/cookie'
import {
  RESULTS_DIR,
  fmt,
  freePort,
  load,
  log,
  markdownTable,
  newSecrets,
  numberArg,
  parseArgs,
  pick,
  pinSelf,
  serviceEnv,
  sessionData,
  startBench,
  startNode,
  startRedis,
  runMain,
  usedMemory,
  withCpu,
  type BuiltStore,
  type LoadRequest
} from './lib.js'
import { measureSweep } from './sweep-cost.js'

/** The parts of the built service this script drives (dist/config.js, dist/store/index.js, dist/tokens.js). */
interface ConfigModule {
  readonly loadConfig: (env: NodeJS.ProcessEnv) => { session: { idleTtlSec: number; absoluteTtlSec: number } }
}
interface StoreModule {
  readonly createStore: (config: unknown) => BuiltStore
}
interface TokensModule {
  readonly newToken: () => string
  readonly handleOf: (token: string) => string
}

const IN_FLIGHT = 256
const PROGRESS_EVERY = 100_000

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2))
  const duration = numberArg(args, 'duration', 10)
  const warmup = numberArg(args, 'warmup', 2)
  const connections = numberArg(args, 'connections', 64)
  const total = numberArg(args, 'sessions', 1_000_000)
  const base = numberArg(args, 'base', 10_000)
  const logLevel = args.get('log-level')
  if (base > total) throw new Error('--base must not exceed --sessions')
  const t0 = Date.now()

  const { pinning, tmp, cleanup } = await startBench('sessiond bench:scale')

  let store: BuiltStore | undefined
  try {
    const secrets = newSecrets()
    const redis = await startRedis(pinning.redis, tmp.path)
    const port = await freePort()
    const env = serviceEnv(port, secrets, { kind: 'redis', url: redis.url }, logLevel)
    const service = await startNode('sessiond (redis)', pinning.server, ['dist/server.js'], env, '/readyz')

    const dist = new URL('../', import.meta.url)
    const { loadConfig } = (await import(new URL('config.js', dist).href)) as ConfigModule
    const { createStore } = (await import(new URL('store/index.js', dist).href)) as StoreModule
    const { newToken, handleOf } = (await import(new URL('tokens.js', dist).href)) as TokensModule
    // A generous timeout for the fill: a stall of the shared machine must not abort it.
    const config = loadConfig({ ...env, STORE_TIMEOUT_MS: '60000' })
    store = createStore(config)
    const built = store
    const cookies: string[] = []
    const fill = async (to: number): Promise<number> => {
      const from = cookies.length
      const t = performance.now()
      let next = from
      const worker = async (): Promise<void> => {
        while (next < to) {
          const i = next++
          if (i % PROGRESS_EVERY === 0 && i > from) log(`  ${fmt(i)} sessions...`)
          const token = newToken()
          cookies[i] = `sid=${encodeURIComponent(sign(token, secrets.cookieSecret))}`
          await built.create({
            handle: handleOf(token),
            userId: `scale-${i}`,
            data: sessionData(i),
            idleTtlMs: config.session.idleTtlSec * 1000,
            absoluteTtlMs: config.session.absoluteTtlSec * 1000,
            userAgent: null,
            ip: null
          })
        }
      }
      await Promise.all(Array.from({ length: IN_FLIGHT }, worker))
      return (to - from) / ((performance.now() - t) / 1000)
    }

    const phases: { label: string; inRedis: number; readFrom: number; result: Awaited<ReturnType<typeof measure>> }[] = []
    const measure = async (label: string, readFrom: number) => {
      const next = (): LoadRequest => ({
        method: 'GET',
        path: '/v1/session',
        headers: { cookie: cookies[Math.floor(Math.random() * readFrom)] ?? pick(cookies), authorization: `Bearer ${secrets.serviceKey}` }
      })
      log(`${label}: warm-up ${warmup}s, then ${duration}s at ${connections} connections`)
      const warm = await load({ url: service.url, connections, duration: warmup, next })
      const measured = await withCpu({ server: service.proc.child.pid, redis: redis.pid }, () => load({ url: service.url, connections, duration, next }))
      const r = measured.result
      const serverMs = measured.cpuMs.server ?? null
      const out = {
        ...r,
        errors: r.errors + warm.errors,
        non2xx: r.non2xx + warm.non2xx,
        serverUsPerRequest: serverMs === null ? null : Math.round((serverMs * 1000 * 10) / r.requests) / 10,
        serverPct: serverMs === null ? null : Math.round((serverMs / measured.wallMs) * 100),
        redisUsPerRequest: measured.cpuMs.redis == null ? null : Math.round((measured.cpuMs.redis * 1000 * 10) / r.requests) / 10,
        redisPct: measured.cpuMs.redis == null ? null : Math.round((measured.cpuMs.redis / measured.wallMs) * 100),
        otherPct: measured.cpuMs.other == null ? null : Math.round((measured.cpuMs.other / measured.wallMs) * 100)
      }
      log(`  ${fmt(r.rps)} req/s, p50 ${r.p50} ms, p99 ${r.p99} ms, server ${out.serverPct ?? '?'}% CPU (${out.serverUsPerRequest ?? '?'} µs/req), redis ${out.redisPct ?? '?'}% (${out.redisUsPerRequest ?? '?'} µs/req), rest of the machine ${out.otherPct ?? '?'}%`)
      return out
    }

    // The fill may use every core: the service is idle meanwhile.
    const allCpus = pinning.client === null ? null : [...new Set([pinning.server, pinning.redis, pinning.client].join(',').split(','))].join(',')
    pinSelf(allCpus)
    log(`creating ${fmt(base)} sessions through the store...`)
    await fill(base)
    pinSelf(pinning.client)
    phases.push({ label: `${fmt(base)}`, inRedis: base, readFrom: base, result: await measure(`read, ${fmt(base)} sessions`, base) })

    const memoryBefore = await usedMemory(redis.admin)
    pinSelf(allCpus)
    log(`creating ${fmt(total - base)} more sessions through the store (${IN_FLIGHT} in flight)...`)
    const rate = await fill(total)
    pinSelf(pinning.client)
    const memoryAfter = await usedMemory(redis.admin)
    const dbsize = await redis.admin.dbsize()
    log(`  ${fmt(rate)} sessions/s; ${fmt(dbsize)} keys; used_memory ${fmt(memoryAfter / 2 ** 20)} MiB`)
    phases.push({ label: `${fmt(total)}`, inRedis: total, readFrom: total, result: await measure(`read, ${fmt(total)} sessions`, total) })
    phases.push({ label: `${fmt(total)}, hot ${fmt(base)}`, inRedis: total, readFrom: base, result: await measure(`read, hot ${fmt(base)} of ${fmt(total)}`, base) })

    const sweepCost = await measureSweep(redis.port, redis.admin, built, config.session.absoluteTtlSec * 1000)

    const reference = phases[0]?.result
    const rows = phases.map((p) => ({
      sessionsInRedis: p.inRedis,
      readFrom: p.readFrom,
      rps: Math.round(p.result.rps),
      p50Ms: p.result.p50,
      p99Ms: p.result.p99,
      errors: p.result.errors,
      non2xx: p.result.non2xx,
      serverUsPerRequest: p.result.serverUsPerRequest,
      serverPct: p.result.serverPct,
      redisUsPerRequest: p.result.redisUsPerRequest,
      redisPct: p.result.redisPct,
      otherPct: p.result.otherPct,
      ratio: reference === undefined ? null : Math.round((p.result.rps / reference.rps) * 100) / 100,
      ratioByCpu:
        reference?.serverUsPerRequest == null || p.result.serverUsPerRequest === null
          ? null
          : Math.round((reference.serverUsPerRequest / p.result.serverUsPerRequest) * 100) / 100,
      valid: p.result.errors === 0 && p.result.non2xx === 0
    }))
    const table = markdownTable(
      ['sessions in Redis', 'read from', 'req/s', 'p50 ms', 'p99 ms', 'errors + non-2xx', 'server CPU µs/req (busy)', 'Redis CPU µs/req (busy)', `× ${fmt(base)}`, `× ${fmt(base)} by CPU`, 'other load'],
      rows.map((r) => [
        r.valid ? fmt(r.sessionsInRedis) : `${fmt(r.sessionsInRedis)} **INVALID**`,
        fmt(r.readFrom),
        fmt(r.rps),
        fmt(r.p50Ms),
        fmt(r.p99Ms),
        `${r.errors} + ${r.non2xx}`,
        r.serverUsPerRequest === null ? '—' : `${fmt(r.serverUsPerRequest)} (${r.serverPct ?? '?'}%)`,
        r.redisUsPerRequest === null ? '—' : `${fmt(r.redisUsPerRequest)} (${r.redisPct ?? '?'}%)`,
        r.ratio === null ? '—' : r.ratio.toFixed(2),
        r.ratioByCpu === null ? '—' : r.ratioByCpu.toFixed(2),
        r.otherPct === null ? '—' : `${r.otherPct}%`
      ])
    )
    const atScale = rows[1]
    const busiest = Math.max(0, ...rows.map((r) => r.otherPct ?? 0))
    const bytesPerSession = Math.round((memoryAfter - memoryBefore) / (total - base))
    const out = process.stdout
    out.write(`\n${table}\n\n`)
    out.write(
      `1M / 10k read throughput: ${atScale?.ratio?.toFixed(2) ?? '?'} (target ≥ 0.90: ${atScale?.ratio != null && atScale.ratio >= 0.9 ? 'met' : 'missed'}; ` +
        `by server CPU per request ${atScale?.ratioByCpu?.toFixed(2) ?? '?'}). ` +
        `Fill: ${fmt(rate)} sessions/s through the store. Redis bytes/session at scale: ${fmt(bytesPerSession)}.\n`
    )
    out.write(`sweep.lua at ${fmt(total)} sessions (Redis's own time: INFO commandstats usec of the EVALSHA, each call alone):\n\n${sweepCost.table}\n\n`)
    if (busiest > 15) out.write(`WARNING: other processes used up to ${busiest}% of a core during the runs: req/s ratios are unreliable; compare server CPU µs/req.\n`)
    out.write(`${pinning.description}. Run took ${((Date.now() - t0) / 1000).toFixed(0)} s.\n`)
    await mkdir(RESULTS_DIR, { recursive: true })
    const file = join(RESULTS_DIR, 'scale.json')
    await writeFile(file, `${JSON.stringify({ date: new Date().toISOString(), pinning: pinning.description, table, rows, sweep: sweepCost.rows, fillPerSecond: Math.round(rate), bytesPerSession, keys: dbsize }, null, 2)}\n`)
    log(`wrote ${file}`)
    const invalid = rows.filter((r) => !r.valid)
    if (sweepCost.rows.some((r) => r.swept !== r.expiredPerShard)) {
      log('FAILED: a sweep did not find every expired session of its shard')
      return 1
    }
    if (invalid.length > 0) {
      log(`FAILED: invalid rows (errors or non-2xx answers): ${invalid.map((r) => fmt(r.sessionsInRedis)).join(', ')}`)
      return 1
    }
    return 0
  } finally {
    await store?.close()
    await cleanup()
  }
}

runMain('bench:scale', main)
