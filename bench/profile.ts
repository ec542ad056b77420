/**
 * `npm run bench -- --profile[=read,write,auth,create,memory-read,thin-read,thin-write,hello]`:
 * the service (or a baseline) under load with `node --cpu-prof`, one profile
 * per scenario, summarised. `npm run bench -- --summarize=<file.cpuprofile>
 * --requests=<n>` summarises a profile taken earlier.
 *
 * The sessions are created by a first, unprofiled service process; each
 * scenario then gets a fresh service process started with --cpu-prof on the
 * same Redis, is loaded (warm-up + duration, 64 connections), and is stopped
 * with SIGTERM (graceful shutdown writes the profile). The raw profiles are
 * kept in bench/results/profile/<scenario>.cpuprofile (open them in Chrome
 * DevTools or speedscope); the summary (self time by package and by function,
 * inclusive time of sessiond's own functions, mapped to src/ through the
 * source maps) is printed and written next to them as <scenario>.json.
 *
 * `memory-read` is also accepted: its sessions are created inside the
 * profiled process, so its profile includes those creates.
 */
import { readdir, readFile, rm, writeFile, mkdir, rename } from 'node:fs/promises'
import { SourceMap, type SourceMapPayload } from 'node:module'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import {
  RESULTS_DIR,
  ROOT,
  createSessions,
  fmt,
  freePort,
  load,
  log,
  markdownTable,
  newSecrets,
  numberArg,
  serviceEnv,
  startBench,
  startNode,
  startRedis,
  type Fixture
} from './lib.js'
import { trafficFor, type ScenarioName } from './scenarios.js'

const PROFILABLE: readonly ScenarioName[] = ['read', 'write', 'auth', 'create', 'memory-read', 'thin-read', 'thin-write', 'hello']

interface CallFrame {
  readonly functionName: string
  readonly url: string
  readonly lineNumber: number
  readonly columnNumber: number
}
interface ProfileNode {
  readonly id: number
  readonly callFrame: CallFrame
  readonly children?: number[]
}
interface CpuProfile {
  readonly nodes: ProfileNode[]
  readonly samples: number[]
  readonly timeDeltas: number[]
}

/**
 * What a request spends its time on: a sample counts for an activity when
 * any frame on its stack matches (so activities can nest and overlap).
 */
interface Activity {
  readonly label: string
  readonly match: (fn: string, where: string, pkg: string) => boolean
  /** Count only the matching frames' own time, not their callees'. */
  readonly selfOnly?: true
  /** Callees from this frame on are not part of the activity (e.g. the parser's callback runs the handler). */
  readonly stopAt?: (fn: string, where: string) => boolean
}

const ACTIVITIES: readonly Activity[] = [
  { label: 'request logging (pino)', match: (fn, where) => fn === 'LOG' && where.startsWith('pino/') },
  { label: 'per-request child logger', match: (fn, where) => fn === 'createChildLogger' && where.startsWith('fastify/') },
  { label: 'API key check (SHA-256 + compare)', match: (_fn, where) => where.startsWith('src/http/plugins/api-keys.ts') },
  { label: 'cookie header parsing', match: (fn, where) => fn === 'parseCookies' && where.startsWith('@fastify/cookie/') },
  { label: 'cookie signature check (HMAC)', match: (fn) => fn === 'unsignCookie' },
  { label: 'token to handle (SHA-256)', match: (fn, where) => fn === 'handleOf' && where.startsWith('src/') },
  { label: 'new token (randomBytes)', match: (fn, where) => fn === 'newToken' && where.startsWith('src/') },
  { label: 'Set-Cookie (serialize + HMAC sign)', match: (fn, where) => fn === 'setCookie' && where.startsWith('@fastify/cookie/') },
  {
    label: 'JSON body parsing',
    match: (fn, where) => fn === 'defaultJsonParser' && where.startsWith('fastify/'),
    stopAt: (fn, where) => fn === 'done' && where.startsWith('fastify/lib/content-type-parser')
  },
  { label: 'input validation (zod, src/http/schemas.ts)', match: (_fn, where) => where.startsWith('src/http/schemas.ts') },
  { label: 'data encoding + limits (src/store/rules.ts)', match: (_fn, where) => where.startsWith('src/store/rules.ts') },
  { label: 'Redis: sending the command (ioredis)', match: (fn, where) => fn === 'sendCommand' && where.startsWith('ioredis/') },
  { label: 'Redis: reading the reply (ioredis)', match: (fn, where) => fn === 'returnReply' && where.startsWith('ioredis/') },
  { label: 'decoding the session record', match: (fn, where) => where.startsWith('src/store/redis/replies.ts') || (fn === 'snapshotRecord' && where.startsWith('src/')) },
  { label: 'building the response object', match: (fn, where) => where.startsWith('src/http/session-json.ts') && fn !== 'setEtag' },
  { label: 'serializing the response (JSON.stringify)', match: (fn, where) => fn === 'serialize' && where.startsWith('fastify/lib/reply') },
  { label: 'writing the response (socket)', match: (fn, where) => fn === 'writePayload' && where.startsWith('fastify/') },
  { label: 'metrics (prom-client + store timing)', match: (_fn, where, pkg) => pkg === 'prom-client' || where.startsWith('src/http/plugins/metrics.ts') },
  { label: 'node http server and sockets (own code only)', match: (_fn, _where, pkg) => /^node: (_http|net|stream|internal\/stream|streams)/.test(pkg) || pkg === 'node: stream_base_commons', selfOnly: true },
  { label: 'garbage collection', match: (fn) => fn === '(garbage collector)' },
  { label: 'module loading at start-up', match: (fn) => fn === 'wrapSafe' || fn === 'compileSourceTextModule' }
]

export interface ProfileSummary {
  readonly scenario: string
  readonly sampledMs: number
  readonly busyMs: number
  /** Requests answered while profiled (warm-up included) and busy µs per request. */
  readonly requests: number
  readonly busyUsPerRequest: number
  readonly byPackage: { where: string; ms: number; pct: number }[]
  /** The same with native code (no script URL) charged to the JS package that called it. */
  readonly byPackageCaller: { where: string; ms: number; pct: number }[]
  readonly activities: { where: string; ms: number; pct: number; usPerRequest: number }[]
  readonly topSelf: { fn: string; where: string; ms: number; pct: number }[]
  readonly sessiondInclusive: { fn: string; where: string; ms: number; pct: number }[]
  readonly frameworkInclusive: { fn: string; where: string; ms: number; pct: number }[]
}

const DIST = join(ROOT, 'dist') + '/'

/** Loads every source map under dist/ first, so that mapping is synchronous. */
export async function preloadMaps(): Promise<Map<string, SourceMap>> {
  const maps = new Map<string, SourceMap>()
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name)
      if (entry.isDirectory()) {
        if (entry.name !== 'bench') await walk(path)
      } else if (entry.name.endsWith('.js.map')) {
        maps.set(path.slice(0, -'.map'.length), new SourceMap(JSON.parse(await readFile(path, 'utf8')) as SourceMapPayload))
      }
    }
  }
  await walk(DIST)
  return maps
}

function whereOf(frame: CallFrame, maps: Map<string, SourceMap>): { pkg: string; where: string; ours: boolean } {
  const { url, functionName } = frame
  if (url === '') {
    if (functionName.startsWith('(')) return { pkg: functionName, where: '', ours: false }
    return { pkg: 'V8 builtins / native', where: '', ours: false }
  }
  if (url.startsWith('node:')) {
    const module = url.slice('node:'.length).replace(/^internal\//, '').split('/').slice(0, 2).join('/')
    return { pkg: `node: ${module}`, where: `${url}:${frame.lineNumber + 1}`, ours: false }
  }
  const file = url.startsWith('file://') ? fileURLToPath(url) : url
  const nm = file.lastIndexOf('/node_modules/')
  if (nm >= 0) {
    const rest = file.slice(nm + '/node_modules/'.length).split('/')
    const pkg = rest[0]?.startsWith('@') ? `${rest[0]}/${rest[1] ?? ''}` : (rest[0] ?? '?')
    return { pkg, where: `${rest.join('/')}:${frame.lineNumber + 1}`, ours: false }
  }
  const map = maps.get(file)
  if (map !== undefined) {
    const entry = map.findEntry(frame.lineNumber, frame.columnNumber)
    if ('originalSource' in entry) {
      const source = entry.originalSource.startsWith('file://') ? fileURLToPath(entry.originalSource) : join(file, '..', entry.originalSource)
      const rel = relative(ROOT, source)
      return { pkg: `sessiond ${rel}`, where: `${rel}:${entry.originalLine + 1}`, ours: true }
    }
  }
  const rel = relative(ROOT, file)
  return { pkg: rel, where: `${rel}:${frame.lineNumber + 1}`, ours: file.startsWith(DIST) }
}

export function summarize(scenario: string, requests: number, profile: CpuProfile, maps: Map<string, SourceMap>, top = 25): ProfileSummary {
  const byId = new Map<number, ProfileNode>()
  const parent = new Map<number, number>()
  for (const node of profile.nodes) {
    byId.set(node.id, node)
    for (const child of node.children ?? []) parent.set(child, node.id)
  }
  const self = new Map<number, number>()
  profile.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0) / 1000))

  const info = new Map<number, { key: string; fn: string; where: string; pkg: string; ours: boolean }>()
  const infoOf = (id: number): { key: string; fn: string; where: string; pkg: string; ours: boolean } => {
    let i = info.get(id)
    if (i === undefined) {
      const frame = (byId.get(id) as ProfileNode).callFrame
      const w = whereOf(frame, maps)
      const fn = frame.functionName === '' ? '(anonymous)' : frame.functionName
      i = { key: `${fn} ${w.where}`, fn, ...w }
      info.set(id, i)
    }
    return i
  }

  // Native frames (JSON.stringify, socket and fs writes, hashing) charged to their nearest JS caller.
  const callerPkg = new Map<number, string>()
  const callerPkgOf = (id: number): string => {
    let pkg = callerPkg.get(id)
    if (pkg === undefined) {
      const i = infoOf(id)
      const up = parent.get(id)
      pkg = i.pkg === 'V8 builtins / native' && up !== undefined ? callerPkgOf(up) : i.pkg
      if (pkg === '(root)') pkg = 'V8 builtins / native'
      callerPkg.set(id, pkg)
    }
    return pkg
  }
  const pkgCaller = new Map<string, number>()

  let sampledMs = 0
  let idleMs = 0
  const pkgSelf = new Map<string, number>()
  const fnSelf = new Map<string, { fn: string; where: string; ms: number }>()
  for (const [id, ms] of self) {
    const i = infoOf(id)
    sampledMs += ms
    if (i.fn === '(idle)') idleMs += ms
    pkgSelf.set(i.pkg, (pkgSelf.get(i.pkg) ?? 0) + ms)
    const cp = callerPkgOf(id)
    pkgCaller.set(cp, (pkgCaller.get(cp) ?? 0) + ms)
    const f = fnSelf.get(i.key) ?? { fn: i.fn, where: i.where, ms: 0 }
    f.ms += ms
    fnSelf.set(i.key, f)
  }
  const busyMs = sampledMs - idleMs

  // Inclusive time: each sample counts once for every distinct function on its stack.
  const stackKeys = new Map<number, Set<string>>()
  const keysOf = (id: number): Set<string> => {
    let keys = stackKeys.get(id)
    if (keys === undefined) {
      const up = parent.get(id)
      keys = new Set(up === undefined ? [] : keysOf(up))
      keys.add(infoOf(id).key)
      stackKeys.set(id, keys)
    }
    return keys
  }
  // Activities: a bit per activity per node, inherited from the callers.
  const activityBits = new Map<number, number>()
  const inheritable = ACTIVITIES.reduce((mask, a, n) => (a.selfOnly === true ? mask : mask | (1 << n)), 0)
  const bitsOf = (id: number): number => {
    let bits = activityBits.get(id)
    if (bits === undefined) {
      const up = parent.get(id)
      bits = (up === undefined ? 0 : bitsOf(up)) & inheritable
      const i = infoOf(id)
      ACTIVITIES.forEach((a, n) => {
        if (a.stopAt?.(i.fn, i.where) === true) bits = (bits as number) & ~(1 << n)
        if (a.match(i.fn, i.where, i.pkg)) bits = (bits as number) | (1 << n)
      })
      activityBits.set(id, bits)
    }
    return bits
  }
  const activityMs = ACTIVITIES.map(() => 0)
  for (const [id, ms] of self) {
    const bits = bitsOf(id)
    ACTIVITIES.forEach((_a, n) => {
      if (bits & (1 << n)) activityMs[n] = (activityMs[n] ?? 0) + ms
    })
  }

  const inclusive = new Map<string, number>()
  for (const [id, ms] of self) for (const key of keysOf(id)) inclusive.set(key, (inclusive.get(key) ?? 0) + ms)
  const keyInfo = new Map([...info.values()].map((i) => [i.key, i]))

  const pct = (ms: number): number => Math.round((ms / busyMs) * 1000) / 10
  const rounded = (ms: number): number => Math.round(ms)
  const inclusiveWhere = (predicate: (i: { pkg: string; ours: boolean; fn: string }) => boolean, n: number) =>
    [...inclusive]
      .map(([key, ms]) => ({ i: keyInfo.get(key), ms }))
      .filter((x): x is { i: NonNullable<typeof x.i>; ms: number } => x.i !== undefined && predicate(x.i) && !x.i.fn.startsWith('('))
      .sort((a, b) => b.ms - a.ms)
      .slice(0, n)
      .map(({ i, ms }) => ({ fn: i.fn, where: i.where, ms: rounded(ms), pct: pct(ms) }))

  return {
    scenario,
    requests,
    busyUsPerRequest: Math.round((busyMs * 1000) / Math.max(1, requests)),
    sampledMs: rounded(sampledMs),
    busyMs: rounded(busyMs),
    byPackage: [...pkgSelf]
      .filter(([pkg]) => pkg !== '(idle)')
      .sort((a, b) => b[1] - a[1])
      .map(([where, ms]) => ({ where, ms: rounded(ms), pct: pct(ms) })),
    byPackageCaller: [...pkgCaller]
      .filter(([pkg]) => pkg !== '(idle)')
      .sort((a, b) => b[1] - a[1])
      .map(([where, ms]) => ({ where, ms: rounded(ms), pct: pct(ms) })),
    activities: ACTIVITIES.map((a, n) => ({
      where: a.label,
      ms: rounded(activityMs[n] ?? 0),
      pct: pct(activityMs[n] ?? 0),
      usPerRequest: Math.round(((activityMs[n] ?? 0) * 10000) / Math.max(1, requests)) / 10
    })).filter((a) => a.ms > 0),
    topSelf: [...fnSelf.values()]
      .filter((f) => f.fn !== '(idle)')
      .sort((a, b) => b.ms - a.ms)
      .slice(0, top)
      .map((f) => ({ fn: f.fn, where: f.where, ms: rounded(f.ms), pct: pct(f.ms) })),
    sessiondInclusive: inclusiveWhere((i) => i.ours, top),
    frameworkInclusive: inclusiveWhere((i) => ['fastify', '@fastify/cookie', 'pino', 'ioredis', 'find-my-way', 'avvio', 'light-my-request', 'zod'].includes(i.pkg), top)
  }
}

export function printSummary(s: ProfileSummary): string {
  const rows = (list: { fn?: string; where: string; ms: number; pct: number }[]): string[][] =>
    list.map((x) => [x.fn === undefined ? x.where : `\`${x.fn}\` ${x.where}`, fmt(x.ms), x.pct.toFixed(1)])
  return [
    `### ${s.scenario}: ${fmt(s.busyMs)} ms busy of ${fmt(s.sampledMs)} ms sampled, ${fmt(s.requests)} requests: ${fmt(s.busyUsPerRequest)} µs busy per request`,
    '',
    'Where a request\'s time goes (inclusive; activities may nest):',
    '',
    markdownTable(
      ['activity', 'ms', '% busy', 'µs/request'],
      s.activities.map((a) => [a.where, fmt(a.ms), a.pct.toFixed(1), a.usPerRequest.toFixed(1)])
    ),
    '',
    'Self time by package / file (native code charged to its JS caller):',
    '',
    markdownTable(['where', 'ms', '% busy'], rows(s.byPackageCaller.slice(0, 20))),
    '',
    'Top functions by self time:',
    '',
    markdownTable(['function', 'ms', '% busy'], rows(s.topSelf)),
    '',
    'sessiond functions by inclusive time:',
    '',
    markdownTable(['function', 'ms', '% busy'], rows(s.sessiondInclusive)),
    '',
    'Framework / library functions by inclusive time:',
    '',
    markdownTable(['function', 'ms', '% busy'], rows(s.frameworkInclusive)),
    ''
  ].join('\n')
}

/** `--summarize=<file.cpuprofile> [--requests=n]`: the summary of a profile taken earlier. */
export async function summarizeFile(file: string, requests: number): Promise<number> {
  const summary = summarize(file, requests, JSON.parse(await readFile(file, 'utf8')) as CpuProfile, await preloadMaps())
  process.stdout.write(`${printSummary(summary)}\n`)
  return 0
}

export async function profileMain(args: Map<string, string>): Promise<number> {
  const file = args.get('summarize')
  if (file !== undefined) return summarizeFile(file, numberArg(args, 'requests', 1))
  const requested = args.get('profile')
  const scenarios = (requested === undefined || requested === 'true' ? ['read', 'write', 'auth', 'create'] : requested.split(',')) as ScenarioName[]
  for (const s of scenarios) if (!PROFILABLE.includes(s)) throw new Error(`--profile takes ${PROFILABLE.join(', ')}; not ${s}`)
  const duration = numberArg(args, 'duration', 10)
  const warmup = numberArg(args, 'warmup', 2)
  const connections = numberArg(args, 'connections', 64)
  const sessionCount = numberArg(args, 'sessions', 10_000)
  const logLevel = args.get('log-level')
  const interval = numberArg(args, 'interval', 500)

  const { pinning, tmp, cleanup } = await startBench('sessiond profile')
  const outDir = join(RESULTS_DIR, 'profile')
  await mkdir(outDir, { recursive: true })
  const maps = await preloadMaps()

  try {
    const secrets = newSecrets()
    const redis = await startRedis(pinning.redis, tmp.path)
    const port = await freePort()
    const env = serviceEnv(port, secrets, { kind: 'redis', url: redis.url }, logLevel)
    const setup = await startNode('sessiond (setup)', pinning.server, ['dist/server.js'], env, '/readyz')
    log(`creating ${fmt(sessionCount)} sessions (unprofiled process)...`)
    const redisFixtures = await createSessions(setup.url, secrets.serviceKey, sessionCount, 'user')
    const sample = await fetch(`${setup.url}/v1/session`, { headers: { cookie: redisFixtures[0]?.cookie ?? '', authorization: `Bearer ${secrets.serviceKey}` } })
    const payloadFile = join(tmp.path, 'hello.json')
    await writeFile(payloadFile, await sample.text())
    await setup.stop()

    for (const scenario of scenarios) {
      const dir = join(tmp.path, `prof-${scenario}`)
      const memory = scenario === 'memory-read'
      const scenarioPort = await freePort()
      const profArgs = ['--cpu-prof', `--cpu-prof-dir=${dir}`, `--cpu-prof-interval=${interval}`]
      const baseEnv = { PATH: process.env.PATH ?? '', PORT: String(scenarioPort) }
      const service =
        scenario === 'hello'
          ? await startNode('hello (--cpu-prof)', pinning.server, [...profArgs, 'dist/bench/baseline.js', 'hello', payloadFile], baseEnv, '/healthz')
          : scenario.startsWith('thin')
            ? await startNode('thin (--cpu-prof)', pinning.server, [...profArgs, 'dist/bench/baseline.js', 'thin'], { ...baseEnv, REDIS_URL: redis.url }, '/healthz')
            : await startNode(
                `sessiond (--cpu-prof ${scenario})`,
                pinning.server,
                [...profArgs, 'dist/server.js'],
                memory ? serviceEnv(scenarioPort, secrets, { kind: 'memory' }, logLevel) : { ...env, PORT: String(scenarioPort) },
                '/readyz'
              )
      let memoryFixtures: Fixture[] = []
      if (memory) memoryFixtures = await createSessions(service.url, secrets.serviceKey, sessionCount, 'user')
      // The cart, events, hook, rotate and destroy scenarios are not profilable (PROFILABLE), so no fixtures are made for them here.
      const { next } = trafficFor(scenario, {
        serviceKey: secrets.serviceKey,
        redisFixtures,
        memoryFixtures,
        cartFixtures: [],
        eventsFixtures: [],
        hookFixtures: [],
        rotateFixtures: { redis: [], events: [] },
        pools: { redis: [], events: [] }
      })
      log(`${scenario}: warm-up ${warmup}s, then ${duration}s under --cpu-prof`)
      const fixed = scenario === 'hello'
      const warm = await load({ url: service.url, connections, duration: warmup, next, fixed })
      const result = await load({ url: service.url, connections, duration, next, fixed })
      log(`  ${fmt(result.rps)} req/s while profiled (errors ${result.errors}, non-2xx ${result.non2xx})`)
      await service.stop()
      const written = (await readdir(dir)).filter((f) => f.endsWith('.cpuprofile'))
      if (written[0] === undefined) throw new Error(`no .cpuprofile written for ${scenario}: ${service.proc.output()}`)
      const target = join(outDir, `${scenario}.cpuprofile`)
      await rename(join(dir, written[0]), target).catch(async () => {
        await writeFile(target, await readFile(join(dir, written[0] as string)))
      })
      await rm(dir, { recursive: true, force: true })
      const summary = summarize(scenario, warm.requests + result.requests, JSON.parse(await readFile(target, 'utf8')) as CpuProfile, maps)
      await writeFile(join(outDir, `${scenario}.json`), `${JSON.stringify({ rps: result.rps, ...summary }, null, 2)}\n`)
      process.stdout.write(`\n${printSummary(summary)}\n`)
    }
    log(`profiles in ${outDir}`)
    return 0
  } finally {
    await cleanup()
  }
}
