/**
 * `npm run bench`: sessiond against its baselines, in one run, on this machine.
 *
 * Starts a throwaway redis-server, the built service in production mode on the
 * Redis store (signed cookie, `tenant` indexed) and on the memory store, the
 * same Redis service with EVENTS=true on a second redis-server of the same
 * binary and configuration (so that its event streams cannot change what the
 * service without events is measured on), the same again on a third with
 * WEBHOOK_URL at a receiver that never answers, and the `hello` and `thin`
 * baselines (bench/baseline.ts); measures Redis bytes per session over
 * 100,000 sessions created through the API; creates 10,000 sessions per
 * store; then runs each scenario with autocannon (64 connections, a warm-up,
 * then a fixed duration, a random session per request; destroys a fixed
 * number of sessions created for them, see scenarios.ts). Prints one markdown
 * table, one of each events-on scenario against the same without events and
 * each hook- scenario against the events-on one, and
 * writes bench/results/latest.json. Exits 1 when any row saw an error or a
 * non-2xx answer.
 *
 * Options: --duration=10 --warmup=2 --connections=64 --sessions=10000
 * --memory-sessions=100000 --destroys=50000 (per destroy scenario, after a
 * sixth as many for warm-up) --only=read,write (an events-on or hook-
 * scenario runs with the one it is measured against) --rounds=1 (runs every scenario that many times in
 * turn; a row is the round with the median req/s, an events ratio the median
 * of the rounds' ratios) --log-level=<LOG_LEVEL for the service>
 * --strict (also exit 1 when a target is missed); --profile[=read,write,auth,...] and
 * --summarize=<file.cpuprofile> [--requests=n] (see profile.ts).
 *
 * Columns: req/s over the timed run; p50/p99 latency; errors + non-2xx (any
 * makes the row invalid); × thin / × hello, req/s ratios to the baselines;
 * server CPU µs/req, CPU time of the answering process per request (and how
 * busy it was); × thin by CPU, thin's µs/req over this row's (steadier than
 * req/s when the machine is shared); Redis cmds/req, every command INFO
 * commandstats counted (inside Lua included) per request, and in brackets
 * the ones a client connection sent (MONITOR over a 200-request pass);
 * other load, CPU the rest of the machine used meanwhile (% of one core).
 */
import { randomBytes } from 'node:crypto'
import { mkdir, writeFile } from 'node:fs/promises'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { cpus, loadavg } from 'node:os'
import { join } from 'node:path'
import type { Redis } from 'ioredis'
import {
  INDEXED_KEY,
  RESULTS_DIR,
  commandStats,
  createHandles,
  createSessions,
  fmt,
  freePort,
  load,
  log,
  markdownTable,
  monitorCommands,
  newSecrets,
  numberArg,
  parseArgs,
  sessionBody,
  sessionData,
  sessionKeyOf,
  serviceEnv,
  startBench,
  startNode,
  startRedis,
  runMain,
  usedMemory,
  withCpu,
  type HttpProcess,
  type LoadResult,
  type RedisProcess,
  type Secrets
} from './lib.js'
import { profileMain } from './profile.js'
import { SCENARIOS, trafficFor, type ScenarioInfo, type ScenarioInputs, type ScenarioName } from './scenarios.js'

const MONITOR_REQUESTS = 200
/** Sessions each rotation chain queue starts with (scenarios.ts): more than the connections, so answers lost to errors do not starve it. */
const ROTATE_SESSIONS = 1_000

interface Row {
  readonly name: ScenarioName
  readonly what: string
  readonly rps: number
  readonly p50Ms: number
  readonly p99Ms: number
  readonly requests: number
  readonly errors: number
  readonly non2xx: number
  readonly statusCodes: Record<string, number>
  readonly ratioThin: number | null
  readonly ratioHello: number | null
  /**
   * CPU time per request of the process that answered, of Redis and of this
   * process (autocannon), in µs, and how busy each was (% of one core). On a
   * machine shared with other work, µs/req is steadier than req/s.
   */
  readonly cpu: {
    readonly serverUsPerRequest: number | null
    readonly redisUsPerRequest: number | null
    readonly serverPct: number | null
    readonly redisPct: number | null
    readonly benchPct: number | null
    /** Everything else on the machine meanwhile, % of one core: other people's work. */
    readonly otherPct: number | null
  }
  /** The ×thin ratio by server CPU per request: thin's µs/req over this one's. */
  readonly ratioThinCpu: number | null
  /** The same against hello. */
  readonly ratioHelloCpu: number | null
  readonly redis: {
    /** Commands a client connection sent, per request (MONITOR over a short pass). */
    readonly clientPerRequest: number
    /** Commands run inside Lua scripts, per request (same pass). */
    readonly luaPerRequest: number
    /** Every command INFO commandstats counted during the timed run (client + inside Lua), per request. */
    readonly commandstatsPerRequest: number
    readonly commandstats: Record<string, number>
    /** Redis's own time per EVALSHA over the timed run (INFO commandstats usec / calls; a script's includes the commands it ran), µs. */
    readonly scriptUsPerCall: number | null
    /** MONITOR pass: commands per request by name, `lua:` for those run inside scripts. */
    readonly monitored: Record<string, number>
  } | null
  readonly target: string | null
  readonly targetMet: boolean | null
  /** The target's ratio taken by server CPU per request instead of req/s. */
  readonly targetByCpu: number | null
  readonly valid: boolean
}

interface BytesResult {
  readonly sessions: number
  readonly usedMemoryBefore: number
  readonly usedMemoryAfter: number
  readonly bytesPerSession: number
  /** MEMORY USAGE summed per kind of key, divided by the session count. */
  readonly breakdownPerSession: Record<string, number>
  readonly keys: number
  readonly valid: boolean
  readonly budget: number
}

const BYTES_BUDGET = 1300
/** % of a core used by other processes above which req/s is flagged as unreliable. */
const OTHER_LOAD_WARNING = 15

/** The items of the cart in the bytes variant with a `cart[].sku` entry (issue: collection indexes). */
const CART_ITEMS = 5

/** The benchmark session with a cart of CART_ITEMS distinct SKUs out of 500. */
function cartSessionBody(userId: string, i: number): string {
  const cart = Array.from({ length: CART_ITEMS }, (_, j) => ({ sku: `SKU-${(i * CART_ITEMS + j) % 500}`, qty: 1 }))
  return JSON.stringify({ userId, data: { ...sessionData(i), cart } })
}

async function measureBytes(redis: RedisProcess, service: HttpProcess, secrets: Secrets, count: number, connections: number, body = sessionBody): Promise<BytesResult> {
  // One create first so that the script cache and the service's connection are in place.
  await createSessions(service.url, secrets.serviceKey, 1, 'bytes-warm', 1)
  const before = await usedMemory(redis.admin)
  let i = 0
  const result = await load({
    url: service.url,
    connections,
    amount: count,
    next: () => {
      const n = i++
      return { method: 'POST', path: '/v1/sessions', headers: { authorization: `Bearer ${secrets.serviceKey}`, 'content-type': 'application/json' }, body: body(`bytes-${n}`, n) }
    }
  })
  const after = await usedMemory(redis.admin)
  const breakdown = await memoryBreakdown(redis.admin)
  const perSession: Record<string, number> = {}
  for (const [kind, bytes] of Object.entries(breakdown.bytes)) perSession[kind] = Math.round(bytes / count)
  await redis.admin.flushall('SYNC')
  return {
    sessions: count,
    usedMemoryBefore: before,
    usedMemoryAfter: after,
    bytesPerSession: Math.round((after - before) / count),
    breakdownPerSession: perSession,
    keys: breakdown.keys,
    valid: result.errors === 0 && result.non2xx === 0 && result.requests === count,
    budget: BYTES_BUDGET
  }
}

/** Which part of the layout (src/store/redis/keys.ts) the memory goes to. */
function keyKind(key: string): string {
  const m = /^[^{]*\{.\}:(s|all|u|i|v|r):?/.exec(key)
  const kinds: Record<string, string> = { s: 'session hash', all: 'expiry index (all)', u: 'user index', i: 'tenant index', v: 'index values', r: 'rotation tombstones' }
  return kinds[m?.[1] ?? ''] ?? 'other'
}

async function memoryBreakdown(admin: Redis): Promise<{ bytes: Record<string, number>; keys: number }> {
  const bytes: Record<string, number> = {}
  let cursor = '0'
  let keys = 0
  do {
    const [nextCursor, batch] = await admin.scan(cursor, 'COUNT', 1000)
    cursor = nextCursor
    const pipeline = admin.pipeline()
    for (const key of batch) pipeline.memory('USAGE', key, 'SAMPLES', 0)
    const replies = (await pipeline.exec()) ?? []
    batch.forEach((key, j) => {
      const usage = Number(replies[j]?.[1] ?? 0)
      const kind = keyKind(key)
      bytes[kind] = (bytes[kind] ?? 0) + usage
      keys++
    })
  } while (cursor !== '0')
  return { bytes, keys }
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2))
  if (args.has('profile') || args.has('summarize')) return profileMain(args)
  const duration = numberArg(args, 'duration', 10)
  const warmup = numberArg(args, 'warmup', 2)
  const connections = numberArg(args, 'connections', 64)
  const sessionCount = numberArg(args, 'sessions', 10_000)
  const bytesSessions = numberArg(args, 'memory-sessions', 100_000)
  const destroyCount = numberArg(args, 'destroys', 50_000)
  const destroyWarmup = Math.round(destroyCount / 6)
  const roundCount = Math.round(numberArg(args, 'rounds', 1))
  const only = args.get('only')?.split(',')
  const logLevel = args.get('log-level')
  const strict = args.has('strict')
  const scenarioNamed = (name: ScenarioName): ScenarioInfo | undefined => SCENARIOS.find((info) => info.name === name)
  // A scenario measured against another runs whenever that one does (hook-read with events-read with read).
  const wanted = (info: ScenarioInfo): boolean => {
    const base = info.against === undefined ? undefined : scenarioNamed(info.against)
    return only === undefined || only.includes(info.name) || (base !== undefined && wanted(base)) || info.name === 'hello' || info.name.startsWith('thin')
  }
  const wantedName = (name: ScenarioName): boolean => SCENARIOS.some((info) => info.name === name && wanted(info))
  const t0 = Date.now()
  const loadAtStart = loadavg().map((n) => Math.round(n * 100) / 100)

  const { pinning, tmp, cleanup } = await startBench('sessiond bench')

  try {
    const secrets = newSecrets()
    const redis = await startRedis(pinning.redis, tmp.path)
    log(`redis-server ${redis.version} on port ${redis.port}`)
    const port = await freePort()
    const service = await startNode('sessiond (redis)', pinning.server, ['dist/server.js'], serviceEnv(port, secrets, { kind: 'redis', url: redis.url }, logLevel), '/readyz')

    log(`bytes per session: creating ${fmt(bytesSessions)} sessions through the API...`)
    const bytes = await measureBytes(redis, service, secrets, bytesSessions, connections)
    log(`  ${fmt(bytes.bytesPerSession)} bytes/session`)
    // The same sessions with a cart, through a service without and one with a cart[].sku entry.
    const cartSessions = Math.max(1_000, Math.floor(bytesSessions / 5))
    const cartService = await startNode('sessiond (cart[].sku)', pinning.server, ['dist/server.js'], { ...serviceEnv(await freePort(), secrets, { kind: 'redis', url: redis.url }, logLevel), INDEXED_KEYS: 'tenant,cart[].sku' }, '/readyz')
    const cartBytes = {
      sessions: cartSessions,
      withoutEntry: (await measureBytes(redis, service, secrets, cartSessions, connections, cartSessionBody)).bytesPerSession,
      withEntry: (await measureBytes(redis, cartService, secrets, cartSessions, connections, cartSessionBody)).bytesPerSession
    }
    log(`  with a cart of ${CART_ITEMS} items: ${fmt(cartBytes.withoutEntry)} bytes/session, ${fmt(cartBytes.withEntry)} with a cart[].sku entry`)

    log(`creating ${fmt(sessionCount)} sessions on each store...`)
    const redisFixtures = await createSessions(service.url, secrets.serviceKey, sessionCount, 'user')
    const sample = await fetch(`${service.url}/v1/session`, { headers: { cookie: redisFixtures[0]?.cookie ?? '', authorization: `Bearer ${secrets.serviceKey}` } })
    const sampleBody = await sample.text()
    if (sample.status !== 200) throw new Error(`reading a session: ${sample.status} ${sampleBody}`)
    const payloadFile = join(tmp.path, 'hello.json')
    await writeFile(payloadFile, sampleBody)
    if ((await redis.admin.exists(sessionKeyOf(redisFixtures[0]?.handle ?? ''))) !== 1) {
      throw new Error('the session hash is not where bench/lib.ts sessionKeyOf expects it: update it to src/store/redis/keys.ts')
    }

    const memoryPort = await freePort()
    const memory = await startNode('sessiond (memory)', pinning.server, ['dist/server.js'], serviceEnv(memoryPort, secrets, { kind: 'memory' }, logLevel), '/readyz')
    const memoryFixtures = await createSessions(memory.url, secrets.serviceKey, sessionCount, 'user')

    const helloPort = await freePort()
    const hello = await startNode('hello', pinning.server, ['dist/bench/baseline.js', 'hello', payloadFile], { PATH: process.env.PATH ?? '', PORT: String(helloPort) }, '/healthz')
    const thinPort = await freePort()
    const thin = await startNode('thin', pinning.server, ['dist/bench/baseline.js', 'thin'], { PATH: process.env.PATH ?? '', PORT: String(thinPort), REDIS_URL: redis.url }, '/healthz')

    const eventsDir = join(tmp.path, 'events-redis')
    await mkdir(eventsDir)
    const eventsRedis = await startRedis(pinning.redis, eventsDir)
    const eventsService = await startNode('sessiond (redis, EVENTS=true)', pinning.server, ['dist/server.js'], { ...serviceEnv(await freePort(), secrets, { kind: 'redis', url: eventsRedis.url }, logLevel), EVENTS: 'true' }, '/readyz')
    const eventsFixtures = await createSessions(eventsService.url, secrets.serviceKey, sessionCount, 'user')
    // The same with a webhook receiver that accepts connections and never answers: the deliverer keeps its 16 POSTs open, each for 10 s, then retries.
    const hangingReceiver = createServer(() => undefined)
    await new Promise<void>((resolve) => hangingReceiver.listen(0, '127.0.0.1', resolve))
    hangingReceiver.unref()
    const hooksDir = join(tmp.path, 'hooks-redis')
    await mkdir(hooksDir)
    const hooksRedis = await startRedis(pinning.redis, hooksDir)
    const hookService = await startNode('sessiond (redis, EVENTS=true, webhook receiver hanging)', pinning.server, ['dist/server.js'], {
      ...serviceEnv(await freePort(), secrets, { kind: 'redis', url: hooksRedis.url }, logLevel),
      EVENTS: 'true',
      WEBHOOK_URL: `http://127.0.0.1:${(hangingReceiver.address() as AddressInfo).port}/hooks`,
      WEBHOOK_SECRET: `whsec_${randomBytes(32).toString('base64')}`
    }, '/readyz')
    const hookFixtures = await createSessions(hookService.url, secrets.serviceKey, sessionCount, 'user')

    const cartFixtures = await createSessions(cartService.url, secrets.serviceKey, sessionCount, 'cart-user')
    const rotating = wantedName('rotate') || wantedName('events-rotate')
    const rotateFixtures = {
      redis: rotating ? await createSessions(service.url, secrets.serviceKey, ROTATE_SESSIONS, 'rotate-user') : [],
      events: rotating ? await createSessions(eventsService.url, secrets.serviceKey, ROTATE_SESSIONS, 'rotate-user') : []
    }
    // autocannon builds a request it never sends per connection at the end of each run, and load() one more as its template.
    const poolSize = roundCount * (destroyWarmup + destroyCount + MONITOR_REQUESTS + 3 * (connections + 1))
    const pool = async (name: ScenarioName, url: string): Promise<string[]> => {
      if (!wantedName(name)) return []
      log(`creating ${fmt(poolSize)} sessions for ${name}...`)
      return createHandles(url, secrets.serviceKey, poolSize, `${name}-user`, connections)
    }
    const pools = { redis: await pool('destroy', service.url), events: await pool('events-destroy', eventsService.url) }
    const inputs: ScenarioInputs = { serviceKey: secrets.serviceKey, redisFixtures, memoryFixtures, cartFixtures, eventsFixtures, hookFixtures, rotateFixtures, pools }
    const urls: Record<ScenarioInfo['target'], string> = { hello: hello.url, thin: thin.url, redis: service.url, memory: memory.url, cart: cartService.url, events: eventsService.url, hooked: hookService.url }
    /** The Redis each target's requests reach, if any. */
    const redisOf: Record<ScenarioInfo['target'], RedisProcess | null> = { hello: null, thin: redis, redis, memory: null, cart: redis, events: eventsRedis, hooked: hooksRedis }
    const byRound = new Map<ScenarioName, Measured[]>()
    const pids: Record<ScenarioInfo['target'], number | undefined> = {
      hello: hello.proc.child.pid,
      thin: thin.proc.child.pid,
      redis: service.proc.child.pid,
      memory: memory.proc.child.pid,
      cart: cartService.proc.child.pid,
      events: eventsService.proc.child.pid,
      hooked: hookService.proc.child.pid
    }

    // One traffic per scenario for every round: a rotation chain or a destroy pool goes on where the last round left it.
    const traffics = new Map(SCENARIOS.map((info) => [info.name, trafficFor(info.name, inputs)]))
    for (let pass = 1; pass <= roundCount; pass++) for (const info of SCENARIOS) {
      if (!wanted(info)) continue
      const url = urls[info.target]
      const traffic = traffics.get(info.name) ?? trafficFor(info.name, inputs)
      const scenarioRedis = redisOf[info.target]
      const usesRedis = scenarioRedis !== null
      const length = (seconds: number, amount: number): { duration: number } | { amount: number } => (info.pool === true ? { amount } : { duration: seconds })
      log(
        `${roundCount > 1 ? `round ${pass}/${roundCount}, ` : ''}${info.name}: ${info.what} — warm-up ${info.pool === true ? `${fmt(destroyWarmup)} requests` : `${warmup}s`}, ` +
          `then ${info.pool === true ? `${fmt(destroyCount)} requests` : `${duration}s`} at ${connections} connections`
      )
      const fixed = info.name === 'hello'
      const warm = await load({ url, connections, ...length(warmup, destroyWarmup), ...traffic, fixed })
      if (scenarioRedis !== null) await scenarioRedis.admin.config('RESETSTAT')
      const measured = await withCpu({ server: pids[info.target], redis: scenarioRedis?.pid }, () => load({ url, connections, ...length(duration, destroyCount), ...traffic, fixed }))
      const main = measured.result
      const perRequest = (ms: number | null | undefined): number | null => (ms === null || ms === undefined ? null : round((ms * 1000) / main.requests, 1))
      const pct = (ms: number | null | undefined): number | null => (ms === null || ms === undefined ? null : Math.round((ms / measured.wallMs) * 100))
      const cpu: Row['cpu'] = {
        serverUsPerRequest: perRequest(measured.cpuMs.server),
        redisUsPerRequest: usesRedis ? perRequest(measured.cpuMs.redis) : null,
        serverPct: pct(measured.cpuMs.server),
        redisPct: usesRedis ? pct(measured.cpuMs.redis) : null,
        benchPct: pct(measured.cpuMs.bench),
        otherPct: pct(measured.cpuMs.other)
      }
      let redisStats: Row['redis'] = null
      let extraFailures = 0
      if (scenarioRedis !== null) {
        const stats = await commandStats(scenarioRedis.admin)
        const calls = Object.fromEntries(Object.entries(stats).map(([name, s]) => [name, s.calls]))
        const evalsha = stats.evalsha
        const perCommand: Record<string, number> = {}
        let total = 0
        for (const [name, n] of Object.entries(calls)) {
          perCommand[name] = round(n / main.requests, 3)
          total += n
        }
        let pass: LoadResult | undefined
        const monitored = await monitorCommands(scenarioRedis.port, async () => {
          pass = await load({ url, connections: 4, amount: MONITOR_REQUESTS, ...traffic })
        })
        const counted = pass?.requests ?? MONITOR_REQUESTS
        extraFailures = (pass?.errors ?? 0) + (pass?.non2xx ?? 0)
        redisStats = {
          clientPerRequest: round(monitored.client / counted, 2),
          luaPerRequest: round(monitored.lua / counted, 2),
          commandstatsPerRequest: round(total / main.requests, 2),
          commandstats: perCommand,
          scriptUsPerCall: evalsha === undefined || evalsha.calls === 0 ? null : round(evalsha.usec / evalsha.calls, 1),
          monitored: Object.fromEntries(Object.entries(monitored.byCommand).map(([name, n]) => [name, round(n / counted, 3)]))
        }
      }
      const valid = warm.errors + warm.non2xx + main.errors + main.non2xx + extraFailures === 0
      const runs = byRound.get(info.name) ?? []
      runs.push({ ...main, errors: main.errors + warm.errors, non2xx: main.non2xx + warm.non2xx + extraFailures, redis: redisStats, cpu, valid })
      byRound.set(info.name, runs)
      log(
        `  ${fmt(main.rps)} req/s, p50 ${main.p50} ms, p99 ${main.p99} ms; CPU: server ${cpu.serverPct ?? '?'}% (${cpu.serverUsPerRequest ?? '?'} µs/req), ` +
          `redis ${cpu.redisPct ?? '-'}%, autocannon ${cpu.benchPct ?? '?'}%, rest of the machine ${cpu.otherPct ?? '?'}%${valid ? '' : `; INVALID: ${JSON.stringify(main.statusCodes)} errors ${main.errors}`}`
      )
    }

    const results = new Map([...byRound].map(([name, runs]) => [name, medianRound(runs)]))
    const rows: Row[] = []
    const helloRps = results.get('hello')?.rps
    for (const info of SCENARIOS) {
      const r = results.get(info.name)
      if (r === undefined) continue
      const thinRps = info.thin === null ? undefined : results.get(info.thin)?.rps
      const ratioThin = thinRps === undefined ? null : r.rps / thinRps
      const ratioHello = helloRps === undefined ? null : r.rps / helloRps
      const thinUs = info.thin === null ? undefined : results.get(info.thin)?.cpu.serverUsPerRequest
      const ownUs = r.cpu.serverUsPerRequest
      const ratioThinCpu = thinUs === undefined || thinUs === null || ownUs === null ? null : round(thinUs / ownUs, 2)
      const helloUs = results.get('hello')?.cpu.serverUsPerRequest
      const ratioHelloCpu = helloUs === undefined || helloUs === null || ownUs === null ? null : round(helloUs / ownUs, 2)
      let target: string | null = null
      let targetMet: boolean | null = null
      let targetByCpu: number | null = null
      if (info.thinTarget !== null && ratioThin !== null) {
        target = `≥ ${info.thinTarget.toFixed(1)}× ${info.thin ?? ''}`
        targetMet = ratioThin >= info.thinTarget
        targetByCpu = ratioThinCpu
      } else if (info.helloTarget !== null && ratioHello !== null) {
        target = `≥ ${info.helloTarget.toFixed(1)}× hello`
        targetMet = ratioHello >= info.helloTarget
        targetByCpu = ratioHelloCpu
      }
      rows.push({
        name: info.name,
        what: info.what,
        rps: Math.round(r.rps),
        p50Ms: r.p50,
        p99Ms: r.p99,
        requests: r.requests,
        errors: r.errors,
        non2xx: r.non2xx,
        statusCodes: r.statusCodes,
        ratioThin: ratioThin === null ? null : round(ratioThin, 2),
        ratioHello: ratioHello === null ? null : round(ratioHello, 2),
        cpu: r.cpu,
        ratioThinCpu,
        ratioHelloCpu,
        redis: r.redis,
        target,
        targetMet,
        targetByCpu,
        valid: r.valid
      })
    }

    const table = markdownTable(
      ['scenario', 'req/s', 'p50 ms', 'p99 ms', 'errors + non-2xx', '× thin', '× hello', 'server CPU µs/req (busy)', '× thin by CPU', 'Redis cmds/req: all (client-sent)', 'other load', 'target'],
      rows.map((row) => [
        row.valid ? row.name : `${row.name} **INVALID**`,
        fmt(row.rps),
        fmt(row.p50Ms),
        fmt(row.p99Ms),
        `${row.errors} + ${row.non2xx}`,
        row.ratioThin === null ? '—' : row.ratioThin.toFixed(2),
        row.ratioHello === null ? '—' : row.ratioHello.toFixed(2),
        row.cpu.serverUsPerRequest === null ? '—' : `${fmt(row.cpu.serverUsPerRequest)} (${row.cpu.serverPct ?? '?'}%)`,
        row.ratioThinCpu === null ? '—' : row.ratioThinCpu.toFixed(2),
        row.redis === null ? '—' : `${row.redis.commandstatsPerRequest} (${row.redis.clientPerRequest})`,
        row.cpu.otherPct === null ? '—' : `${row.cpu.otherPct}%`,
        row.target === null ? '—' : `${row.target}: ${row.targetMet === true ? 'met' : 'missed'}${row.targetByCpu === null ? '' : ` (by CPU ${row.targetByCpu.toFixed(2)})`}`
      ])
    )
    const rowNamed = (name: ScenarioName): Row | undefined => rows.find((row) => row.name === name)
    const eventsRows = SCENARIOS.flatMap(({ name, against }) => {
      const on = rowNamed(name)
      const off = against === undefined ? undefined : rowNamed(against)
      const onRuns = byRound.get(name) ?? []
      const offRuns = against === undefined ? [] : (byRound.get(against) ?? [])
      if (on === undefined || off === undefined) return []
      // Each round's on / off, taken from runs back to back, so that a change of the machine's load between rounds cancels out.
      const ratios = offRuns.map((o, i) => (onRuns[i]?.rps ?? Number.NaN) / o.rps)
      const cpuRatios = offRuns.flatMap((o, i) => {
        const onUs = onRuns[i]?.cpu.serverUsPerRequest
        return o.cpu.serverUsPerRequest === null || onUs === null || onUs === undefined ? [] : [o.cpu.serverUsPerRequest / onUs]
      })
      return [{
        scenario: on.name,
        against: off.name,
        rpsOff: off.rps,
        rpsOn: on.rps,
        ratio: round(median(ratios), 2),
        serverUsOff: off.cpu.serverUsPerRequest,
        serverUsOn: on.cpu.serverUsPerRequest,
        ratioByCpu: cpuRatios.length === 0 ? null : round(median(cpuRatios), 2),
        ratiosByRound: ratios.map((r) => round(r, 2)),
        redisCmdsOff: off.redis?.commandstatsPerRequest ?? null,
        redisCmdsOn: on.redis?.commandstatsPerRequest ?? null,
        scriptUsOff: off.redis?.scriptUsPerCall ?? null,
        scriptUsOn: on.redis?.scriptUsPerCall ?? null,
        valid: on.valid && off.valid
      }]
    })
    const eventsTable = markdownTable(
      ['scenario', 'against', 'req/s, against', 'req/s', 'ratio', 'server CPU µs/req, against', 'this', 'ratio by CPU', 'Redis cmds/req, against', 'this', 'Redis µs per script call, against', 'this'],
      eventsRows.map((r) => [
        r.valid ? r.scenario : `${r.scenario} **INVALID**`,
        r.against,
        fmt(r.rpsOff),
        fmt(r.rpsOn),
        r.ratio.toFixed(2),
        r.serverUsOff === null ? '—' : fmt(r.serverUsOff, 1),
        r.serverUsOn === null ? '—' : fmt(r.serverUsOn, 1),
        r.ratioByCpu === null ? '—' : r.ratioByCpu.toFixed(2),
        r.redisCmdsOff === null ? '—' : String(r.redisCmdsOff),
        r.redisCmdsOn === null ? '—' : String(r.redisCmdsOn),
        r.scriptUsOff === null ? '—' : fmt(r.scriptUsOff, 1),
        r.scriptUsOn === null ? '—' : fmt(r.scriptUsOn, 1)
      ])
    )
    const breakdown = Object.entries(bytes.breakdownPerSession)
      .sort(([, a], [, b]) => b - a)
      .map(([kind, n]) => `${kind} ${fmt(n)}`)
      .join(', ')
    const elapsed = (Date.now() - t0) / 1000
    const environment = {
      node: process.version,
      redis: redis.version,
      cpu: cpus()[0]?.model ?? '?',
      cpus: cpus().length,
      loadAverageAtStart: loadAtStart,
      pinning: pinning.description,
      connections,
      warmupSeconds: warmup,
      durationSeconds: duration,
      sessions: sessionCount,
      service: `NODE_ENV=production, signed cookie (COOKIE_SECRET), INDEXED_KEYS=${INDEXED_KEY}, LOG_LEVEL=${logLevel ?? 'default (info)'}, TOUCH_INTERVAL default (0)`
    }

    const out = process.stdout
    out.write(`\n${table}\n\n`)
    if (eventsRows.length > 0) {
      out.write(
        `Settings against their baselines: each events- scenario on the service with EVENTS=true (its own redis-server) against the same without; ` +
          `each hook- scenario on one with EVENTS=true and a webhook receiver that never answers (its own redis-server) against the events- one; ` +
          `ratio by CPU is the baseline's server µs/req over this row's (1.00: no cost; below: dearer with the setting); ` +
          `Redis µs per script call is Redis's own time per EVALSHA over the timed run (commandstats usec / calls).\n\n${eventsTable}\n\n`
      )
    }
    out.write(
      `Redis bytes per session: ${fmt(bytes.bytesPerSession)} (budget ${fmt(BYTES_BUDGET)}: ${bytes.bytesPerSession <= BYTES_BUDGET ? 'met' : 'missed'}; ` +
        `used_memory over ${fmt(bytes.sessions)} sessions created through the API${bytes.valid ? '' : ', INVALID: some creates failed'}). MEMORY USAGE per session: ${breakdown}.\n` +
        `With a cart of ${CART_ITEMS} items (${fmt(cartBytes.sessions)} sessions): ${fmt(cartBytes.withoutEntry)} bytes per session, ${fmt(cartBytes.withEntry)} with a \`cart[].sku\` entry (+${fmt(cartBytes.withEntry - cartBytes.withoutEntry)}).\n`
    )
    const busiest = Math.max(0, ...rows.map((r) => r.cpu.otherPct ?? 0))
    if (busiest > OTHER_LOAD_WARNING) {
      out.write(
        `WARNING: other processes used up to ${busiest}% of a core during the runs (column "other load"): req/s and its ratios are unreliable; ` +
          `server CPU µs/req and "× thin by CPU" are the steadier comparison. Run again on a quiet machine.\n`
      )
    }
    out.write(`${environment.pinning}; node ${environment.node}, redis ${environment.redis}, ${environment.cpus} × ${environment.cpu}; ${environment.service}.\n`)
    out.write(`Run took ${elapsed.toFixed(0)} s.\n`)

    await mkdir(RESULTS_DIR, { recursive: true })
    const file = join(RESULTS_DIR, 'latest.json')
    await writeFile(file, `${JSON.stringify({ date: new Date().toISOString(), environment, table, rows, eventsTable, eventsRows, bytes, cartBytes, elapsedSeconds: elapsed }, null, 2)}\n`)
    log(`wrote ${file}`)

    const invalid: string[] = rows.filter((r) => !r.valid).map((r) => r.name)
    if (!bytes.valid) invalid.push('bytes-per-session')
    if (invalid.length > 0) {
      log(`FAILED: invalid rows (errors or non-2xx answers): ${invalid.join(', ')}`)
      return 1
    }
    const missed: string[] = rows.filter((r) => r.targetMet === false).map((r) => r.name)
    if (bytes.bytesPerSession > BYTES_BUDGET) missed.push('bytes-per-session')
    if (missed.length > 0) log(`targets missed: ${missed.join(', ')}${strict ? '' : ' (reported; --strict makes this fail)'}`)
    return strict && missed.length > 0 ? 1 : 0
  } finally {
    await cleanup()
  }
}

const round = (n: number, digits: number): number => Math.round(n * 10 ** digits) / 10 ** digits

const median = (xs: readonly number[]): number => {
  const sorted = [...xs].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? (sorted[mid] ?? Number.NaN) : ((sorted[mid - 1] ?? Number.NaN) + (sorted[mid] ?? Number.NaN)) / 2
}

/** One scenario's measurement in one round. */
type Measured = LoadResult & { redis: Row['redis']; cpu: Row['cpu']; valid: boolean }

/** The round with the median req/s (the lower middle of an even count); invalid when any round was, with every round's failures. */
function medianRound(runs: readonly Measured[]): Measured {
  const sorted = [...runs].sort((a, b) => a.rps - b.rps)
  const chosen = sorted[Math.floor((sorted.length - 1) / 2)] as Measured
  return {
    ...chosen,
    errors: runs.reduce((n, r) => n + r.errors, 0),
    non2xx: runs.reduce((n, r) => n + r.non2xx, 0),
    valid: runs.every((r) => r.valid)
  }
}

runMain('bench', main)
