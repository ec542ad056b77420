/**
 * Shared machinery of the benchmarks: CPU pinning, throwaway redis-server and
 * service processes, Redis INFO parsing, autocannon runs, session fixtures.
 * Compiled by `tsc -p bench` into dist/bench (see package.json "bench").
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { createServer } from 'node:net'
import { availableParallelism, tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import autocannon from 'autocannon'
import { Redis } from 'ioredis'

/** The repository root (this file runs from dist/bench). */
export const ROOT = fileURLToPath(new URL('../..', import.meta.url))
export const RESULTS_DIR = join(ROOT, 'bench', 'results')

// ---- command line -------------------------------------------------------------

/** `--name=value` and `--flag` arguments. */
export function parseArgs(argv: readonly string[]): Map<string, string> {
  const args = new Map<string, string>()
  for (const arg of argv) {
    const m = /^--([a-z-]+)(?:=(.*))?$/.exec(arg)
    if (m === null) throw new Error(`unknown argument ${arg} (expected --name=value)`)
    args.set(m[1] as string, m[2] ?? 'true')
  }
  return args
}

export function numberArg(args: Map<string, string>, name: string, fallback: number): number {
  const raw = args.get(name)
  if (raw === undefined) return fallback
  const n = Number(raw)
  if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} must be a positive number`)
  return n
}

export const log = (line: string): void => {
  process.stderr.write(`${line}\n`)
}

// ---- CPU pinning ---------------------------------------------------------------

export interface Pinning {
  /** CPU list for `taskset -c`, or null when not pinned. */
  readonly server: string | null
  readonly redis: string | null
  readonly client: string | null
  readonly description: string
}

function allowedCpus(): number[] | null {
  if (process.platform !== 'linux') return null
  const probe = spawnSync('taskset', ['-pc', String(process.pid)], { encoding: 'utf8' })
  if (probe.status !== 0) return null
  const list = /:\s*([\d,-]+)\s*$/.exec(probe.stdout.trim())?.[1]
  if (list === undefined) return null
  const cpus: number[] = []
  for (const part of list.split(',')) {
    const [from, to] = part.split('-').map(Number)
    if (from === undefined || Number.isNaN(from)) continue
    for (let c = from; c <= (to ?? from); c++) cpus.push(c)
  }
  return cpus
}

/**
 * The server under test gets a core of its own; Redis gets another. With only
 * two cores the load generator (this process) shares Redis's core: Redis is
 * the lighter of the two at these rates, and the Node server is what we measure.
 */
export function planPinning(): Pinning {
  const cpus = allowedCpus()
  if (cpus === null || cpus.length < 2) {
    return { server: null, redis: null, client: null, description: `not pinned (${cpus === null ? 'no taskset' : 'one CPU'}; ${availableParallelism()} CPU(s))` }
  }
  const [server, redis, ...rest] = cpus.map(String) as [string, string, ...string[]]
  const client = rest.length > 0 ? rest.join(',') : redis
  const shared = rest.length === 0 ? ' (2 cores: autocannon shares the Redis core)' : ''
  return { server, redis, client, description: `taskset: server on CPU ${server}, redis-server on CPU ${redis}, autocannon on CPU ${client}${shared}` }
}

/** Pins every thread of this process (autocannon runs here). */
export function pinSelf(cpus: string | null): void {
  if (cpus === null) return
  const r = spawnSync('taskset', ['-a', '-cp', cpus, String(process.pid)], { encoding: 'utf8' })
  if (r.status !== 0) throw new Error(`taskset failed: ${r.stderr}`)
}

// ---- processes -------------------------------------------------------------------

const children = new Set<Managed>()

export interface Managed {
  readonly name: string
  readonly child: ChildProcess
  /** The last few KiB of stderr (and stdout when captured), for error messages. */
  output(): string
  stop(signal?: NodeJS.Signals): Promise<void>
}

export function spawnPinned(name: string, cpus: string | null, command: string, args: readonly string[], env: NodeJS.ProcessEnv, captureStdout = false): Managed {
  const [cmd, argv] = cpus === null ? [command, [...args]] : ['taskset', ['-c', cpus, command, ...args]]
  const child = spawn(cmd, argv, { cwd: ROOT, env, stdio: ['ignore', captureStdout ? 'pipe' : 'ignore', 'pipe'] })
  let tail = ''
  const keep = (chunk: Buffer): void => {
    tail = (tail + chunk.toString()).slice(-8192)
  }
  child.stderr?.on('data', keep)
  child.stdout?.on('data', keep)
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => resolve())
    child.once('error', () => resolve())
  })
  const managed: Managed = {
    name,
    child,
    output: () => tail,
    async stop(signal = 'SIGTERM') {
      children.delete(managed)
      if (child.exitCode === null && child.signalCode === null) {
        child.kill(signal)
        const timer = setTimeout(() => child.kill('SIGKILL'), 15_000)
        await exited
        clearTimeout(timer)
      }
    }
  }
  children.add(managed)
  return managed
}

export async function stopAll(): Promise<void> {
  await Promise.all([...children].map((c) => c.stop()))
}

/**
 * What every bench command starts with: this process pinned, a temp dir, and
 * a cleanup that stops every child, run on Ctrl-C and by the caller at the end.
 */
export async function startBench(name: string): Promise<{ pinning: Pinning; tmp: { path: string; remove: () => Promise<void> }; cleanup: () => Promise<void> }> {
  const pinning = planPinning()
  pinSelf(pinning.client)
  log(`${name}: ${pinning.description}`)
  const tmp = await tempDir()
  const cleanup = async (): Promise<void> => {
    await stopAll()
    await tmp.remove()
  }
  stopChildrenOnSignal(cleanup)
  return { pinning, tmp, cleanup }
}

/** Stops every child on Ctrl-C, so no redis-server or service outlives the run. */
export function stopChildrenOnSignal(cleanup: () => Promise<void>): void {
  const onSignal = (signal: NodeJS.Signals): void => {
    log(`\n${signal}: stopping`)
    void cleanup().finally(() => process.exit(130))
  }
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)
}

/** Runs a bench command's main and exits with its code; a failure is logged, and every child stopped, before exiting 1. */
export function runMain(name: string, main: () => Promise<number>): void {
  main().then(
    (code) => process.exit(code),
    (err: unknown) => {
      log(`${name} failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`)
      void stopAll().finally(() => process.exit(1))
    }
  )
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer()
    srv.unref()
    srv.on('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address()
      srv.close(() => {
        if (address !== null && typeof address === 'object') resolve(address.port)
        else reject(new Error('no port'))
      })
    })
  })
}

const CLOCK_TICKS = ((): number => {
  const r = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' })
  const n = Number(r.stdout)
  return r.status === 0 && n > 0 ? n : 100
})()

/** CPU time (user + system) a process has used so far, in ms; null where /proc is not available. */
export function processCpuMs(pid: number | undefined): number | null {
  if (pid === undefined) return null
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS
  } catch {
    return null
  }
}

/** Busy CPU time of the whole machine so far (all cores, /proc/stat), in ms; null where unavailable. */
export function machineBusyMs(): number | null {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? ''
    const [, user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).map(Number)
    return (((user ?? 0) + (nice ?? 0) + (system ?? 0) + (irq ?? 0) + (softirq ?? 0) + (steal ?? 0)) * 1000) / CLOCK_TICKS
  } catch {
    return null
  }
}

/**
 * Samples the CPU time of processes around a piece of work. `cpuMs.other` is
 * what the rest of the machine used meanwhile (other people's builds and
 * tests): when it is more than a sliver, req/s is not to be trusted.
 */
export async function withCpu<T>(pids: Record<string, number | undefined>, work: () => Promise<T>): Promise<{ result: T; cpuMs: Record<string, number | null>; wallMs: number }> {
  const before = Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, processCpuMs(pid)]))
  const machineBefore = machineBusyMs()
  const selfBefore = process.cpuUsage()
  const t = performance.now()
  const result = await work()
  const wallMs = performance.now() - t
  const self = process.cpuUsage(selfBefore)
  const machineAfter = machineBusyMs()
  const cpuMs: Record<string, number | null> = { bench: (self.user + self.system) / 1000 }
  let ours = cpuMs.bench ?? 0
  for (const [k, pid] of Object.entries(pids)) {
    const a = before[k] ?? null
    const b = processCpuMs(pid)
    cpuMs[k] = a === null || b === null ? null : b - a
    ours += cpuMs[k] ?? 0
  }
  cpuMs.other = machineBefore === null || machineAfter === null ? null : Math.max(0, machineAfter - machineBefore - ours)
  return { result, cpuMs, wallMs }
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

export async function tempDir(): Promise<{ path: string; remove: () => Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), 'sessiond-bench-'))
  return { path, remove: () => rm(path, { recursive: true, force: true }) }
}

// ---- redis-server ----------------------------------------------------------------------

export interface RedisProcess {
  readonly pid: number | undefined
  readonly port: number
  readonly url: string
  readonly admin: Redis
  readonly version: string
  stop(): Promise<void>
}

/** A throwaway redis-server: free port (never 6379), its own dir, no persistence. */
export async function startRedis(cpus: string | null, dir: string): Promise<RedisProcess> {
  for (let attempt = 0; ; attempt++) {
    const port = await freePort()
    if (port === 6379) continue
    const proc = spawnPinned(
      'redis-server',
      cpus,
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no', '--protected-mode', 'no'],
      { PATH: process.env.PATH ?? '' },
      true
    )
    const ready = await waitFor(() => proc.output().includes('Ready to accept connections'), proc, 10_000).then(
      () => true,
      (err: unknown) => {
        if (attempt >= 4) throw err
        return false
      }
    )
    if (!ready) {
      await proc.stop('SIGKILL')
      continue
    }
    const admin = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 1 })
    // stopAll stops the server directly: the admin connection must not try to reconnect to it.
    proc.child.once('exit', () => admin.disconnect())
    await admin.connect()
    const version = parseInfo(await admin.info('server')).get('redis_version') ?? '?'
    return {
      pid: proc.child.pid,
      port,
      url: `redis://127.0.0.1:${port}`,
      admin,
      version,
      async stop() {
        admin.disconnect()
        await proc.stop()
      }
    }
  }
}

async function waitFor(check: () => boolean | Promise<boolean>, proc: Managed, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (proc.child.exitCode !== null || proc.child.signalCode !== null) throw new Error(`${proc.name} exited:\n${proc.output()}`)
    if (await check()) return
    if (Date.now() > deadline) throw new Error(`${proc.name} did not become ready in ${timeoutMs} ms:\n${proc.output()}`)
    await sleep(50)
  }
}

/** `INFO` text as a map of field to value. */
export function parseInfo(text: string): Map<string, string> {
  const fields = new Map<string, string>()
  for (const line of text.split(/\r?\n/)) {
    const at = line.indexOf(':')
    if (at > 0 && !line.startsWith('#')) fields.set(line.slice(0, at), line.slice(at + 1))
  }
  return fields
}

/** `INFO commandstats` as command name to calls and the µs Redis spent in them (its own clock; a script's include the commands it ran). */
export async function commandStats(admin: Redis): Promise<Record<string, { calls: number; usec: number }>> {
  const stats: Record<string, { calls: number; usec: number }> = {}
  for (const [field, value] of parseInfo(await admin.info('commandstats'))) {
    const name = field.replace(/^cmdstat_/, '')
    const calls = /(?:^|,)calls=(\d+)/.exec(value)?.[1]
    const usec = /(?:^|,)usec=(\d+)/.exec(value)?.[1]
    if (calls !== undefined && !ADMIN_COMMANDS.has(name)) stats[name] = { calls: Number(calls), usec: Number(usec ?? 0) }
  }
  return stats
}

/** What the bench itself sends between resets; never counted. */
const ADMIN_COMMANDS = new Set(['config|resetstat', 'info', 'monitor', 'ping', 'client|setname', 'client|setinfo'])

export async function usedMemory(admin: Redis): Promise<number> {
  return Number(parseInfo(await admin.info('memory')).get('used_memory'))
}

/**
 * Counts the commands Redis receives while `work` runs, through MONITOR:
 * those sent by a client connection and those run inside Lua scripts.
 */
export async function monitorCommands(redisPort: number, work: () => Promise<void>): Promise<{ client: number; lua: number; byCommand: Record<string, number> }> {
  const conn = new Redis({ port: redisPort, host: '127.0.0.1', lazyConnect: true })
  await conn.connect()
  // autocannon leaves requests in flight when a run ends; a command Redis runs while MONITOR is
  // being answered reaches ioredis before it switches the connection over, and breaks it.
  await new Promise((resolve) => setTimeout(resolve, 500))
  const monitor = await conn.monitor()
  let client = 0
  let lua = 0
  const byCommand: Record<string, number> = {}
  monitor.on('monitor', (_time: string, args: string[], source: string) => {
    const name = `${source === 'lua' ? 'lua:' : ''}${(args[0] ?? '?').toLowerCase()}`
    byCommand[name] = (byCommand[name] ?? 0) + 1
    if (source === 'lua') lua++
    else client++
  })
  try {
    await work()
    await sleep(200)
  } finally {
    monitor.disconnect()
    conn.disconnect()
  }
  return { client, lua, byCommand }
}

// ---- services ------------------------------------------------------------------------------

export interface Secrets {
  readonly serviceKey: string
  readonly adminKey: string
  readonly cookieSecret: string
}

export function newSecrets(): Secrets {
  return {
    serviceKey: randomBytes(24).toString('base64url'),
    adminKey: randomBytes(24).toString('base64url'),
    cookieSecret: randomBytes(32).toString('base64url')
  }
}

export const INDEXED_KEY = 'tenant'
export const KEY_PREFIX = 'sessiond:'

/**
 * The service's environment for a benchmark: production mode, signed cookie,
 * `tenant` indexed, everything else at its default. Built from scratch so
 * that variables of the calling shell cannot change what is measured.
 */
export function serviceEnv(port: number, secrets: Secrets, store: { kind: 'redis'; url: string } | { kind: 'memory' }, logLevel: string | undefined): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH ?? '',
    NODE_ENV: 'production',
    HOST: '127.0.0.1',
    PORT: String(port),
    STORE: store.kind,
    ...(store.kind === 'redis' ? { REDIS_URL: store.url } : {}),
    REDIS_KEY_PREFIX: KEY_PREFIX,
    API_KEYS: `bench:service:${secrets.serviceKey},ops:admin:${secrets.adminKey}`,
    COOKIE_SECRET: secrets.cookieSecret,
    INDEXED_KEYS: INDEXED_KEY,
    ...(logLevel === undefined ? {} : { LOG_LEVEL: logLevel })
  }
}

export interface HttpProcess {
  readonly name: string
  readonly url: string
  readonly proc: Managed
  stop(): Promise<void>
}

/** Starts `node <nodeArgs> <script>` pinned, and waits until `readyPath` answers 200. */
export async function startNode(name: string, cpus: string | null, nodeArgs: readonly string[], env: NodeJS.ProcessEnv, readyPath: string): Promise<HttpProcess> {
  const url = `http://127.0.0.1:${env.PORT ?? ''}`
  const proc = spawnPinned(name, cpus, process.execPath, nodeArgs, env)
  await waitFor(
    async () => {
      try {
        const res = await fetch(url + readyPath)
        await res.arrayBuffer()
        return res.status === 200
      } catch {
        return false
      }
    },
    proc,
    20_000
  )
  return { name, url, proc, stop: () => proc.stop() }
}

// ---- session fixtures ------------------------------------------------------------------------

/** 40 characters, distinct per (session, key). */
const value40 = (tag: string, i: number): string => `${tag}-${i.toString(36)}-`.padEnd(40, 'x').slice(0, 40)
export const TENANTS = 100

/** 8 data keys of 40 characters; `tenant` (indexed) takes one of TENANTS values. */
export function sessionData(i: number): Record<string, string> {
  return {
    tenant: value40('tenant', i % TENANTS),
    locale: value40('locale', i),
    theme: value40('theme', i),
    cartId: value40('cart', i),
    csrf: value40('csrf', i),
    plan: value40('plan', i),
    region: value40('region', i),
    lastPage: value40('page', i)
  }
}

/** The benchmark session: userId + sessionData(i). */
export function sessionBody(userId: string, i: number): string {
  return JSON.stringify({ userId, data: sessionData(i) })
}

export interface Fixture {
  /** `sid=<signed token>`, exactly as the Set-Cookie header issued it. */
  readonly cookie: string
  readonly handle: string
  /** The session's expiresAt as the create answered it, in ms since the epoch. */
  readonly expiresAt: number
}

/** Creates `count` sessions through the API, `concurrency` at a time; with `idleTtlSec`, each gets that idle TTL (`idleTtl`). */
export async function createSessions(baseUrl: string, apiKey: string, count: number, userTag: string, concurrency = 64, idleTtlSec?: number): Promise<Fixture[]> {
  const fixtures: Fixture[] = new Array<Fixture>(count)
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < count) {
      const i = next++
      const res = await fetch(`${baseUrl}/v1/sessions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
        body: idleTtlSec === undefined ? sessionBody(`${userTag}-${i}`, i) : JSON.stringify({ userId: `${userTag}-${i}`, data: sessionData(i), idleTtl: idleTtlSec })
      })
      const body = (await res.json()) as { session?: { handle?: string; expiresAt?: string } }
      const setCookie = res.headers.getSetCookie()[0]
      const handle = body.session?.handle
      const expiresAt = Date.parse(body.session?.expiresAt ?? '')
      if (res.status !== 201 || setCookie === undefined || handle === undefined || Number.isNaN(expiresAt)) {
        throw new Error(`creating a session: ${res.status} ${JSON.stringify(body)}`)
      }
      fixtures[i] = { cookie: setCookie.split(';')[0] ?? '', handle, expiresAt }
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker))
  return fixtures
}

/**
 * Creates `count` sessions through the API with autocannon (faster than
 * createSessions' fetch), for scenarios that use each session once; resolves
 * to their handles. Throws when any create failed.
 */
export async function createHandles(baseUrl: string, apiKey: string, count: number, userTag: string, connections: number): Promise<string[]> {
  const handles: string[] = []
  let i = 0
  const result = await load({
    url: baseUrl,
    connections,
    amount: count,
    next: () => {
      const n = i++
      return { method: 'POST', path: '/v1/sessions', headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' }, body: sessionBody(`${userTag}-${n}`, n) }
    },
    onResponse: (status, body) => {
      if (status === 201) handles.push((JSON.parse(body) as { session: { handle: string } }).session.handle)
    }
  })
  if (result.errors + result.non2xx > 0 || handles.length !== count) throw new Error(`creating ${count} sessions: ${JSON.stringify(result.statusCodes)}, ${result.errors} errors`)
  return handles
}

/** The built Redis store (dist/store/index.js createStore), as the benches that fill Redis directly use it. */
export interface BuiltStore {
  create(input: {
    handle: string
    userId: string | null
    data: Record<string, string>
    idleTtlMs: number
    absoluteTtlMs: number
    userAgent: string | null
    ip: string | null
  }): Promise<unknown>
  close(): Promise<void>
}

/** The session hash's Redis key (src/store/redis/keys.ts), for the `thin` baseline. */
export const sessionKeyOf = (handle: string): string => `${KEY_PREFIX}{${handle.charAt(0)}}:s:${handle}`

// ---- load -----------------------------------------------------------------------------------------

export interface LoadRequest {
  readonly method: 'GET' | 'PUT' | 'POST' | 'DELETE'
  readonly path: string
  readonly headers: Record<string, string>
  readonly body?: string
}

export interface LoadOptions {
  readonly url: string
  readonly connections: number
  /** Seconds; ignored when `amount` is set. */
  readonly duration?: number
  readonly amount?: number
  /** Called once per request: a random session each time. */
  readonly next: () => LoadRequest
  /** The request never changes (hello): autocannon builds it once, which keeps the load generator cheap. */
  readonly fixed?: boolean
  /** Called with every answer (its headers by lowercase name); costs autocannon the body's collection, so only where needed. */
  readonly onResponse?: (status: number, body: string, headers: Record<string, string | string[]>) => void
}

export interface LoadResult {
  readonly requests: number
  readonly rps: number
  readonly p50: number
  readonly p99: number
  readonly errors: number
  readonly non2xx: number
  readonly statusCodes: Record<string, number>
  readonly seconds: number
}

/** autocannon's onResponse adapted to LoadOptions': header names as sent, values a string or (repeated) a list. */
function answered(onResponse: NonNullable<LoadOptions['onResponse']>): (status: number, body: string, context: object, headers: Record<string, unknown> | undefined) => void {
  return (status, body, _context, headers) => {
    const byName: Record<string, string | string[]> = {}
    for (const [name, value] of Object.entries(headers ?? {})) byName[name.toLowerCase()] = Array.isArray(value) ? value.map(String) : String(value)
    onResponse(status, body, byName)
  }
}

export async function load(options: LoadOptions): Promise<LoadResult> {
  const first = options.next()
  const result = await autocannon({
    url: options.url,
    connections: options.connections,
    ...(options.amount !== undefined ? { amount: options.amount } : { duration: options.duration ?? 10 }),
    timeout: 10,
    requests: [
      {
        method: first.method,
        path: first.path,
        headers: first.headers,
        ...(first.body === undefined ? {} : { body: first.body }),
        ...(options.onResponse === undefined ? {} : { onResponse: answered(options.onResponse) }),
        ...(options.fixed === true
          ? {}
          : {
              setupRequest: (request: autocannon.Request): autocannon.Request => {
                const r = options.next()
                return { ...request, method: r.method, path: r.path, headers: r.headers, ...(r.body === undefined ? {} : { body: r.body }) }
              }
            })
      }
    ]
  })
  const statusCodes: Record<string, number> = {}
  for (const [code, stat] of Object.entries(result.statusCodeStats ?? {})) statusCodes[code] = stat.count ?? 0
  const completed = Object.values(statusCodes).reduce((a, b) => a + b, 0)
  return {
    requests: completed,
    rps: completed / result.duration,
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx,
    statusCodes,
    seconds: result.duration
  }
}

export const pick = <T>(items: readonly T[]): T => items[Math.floor(Math.random() * items.length)] as T

// ---- output ---------------------------------------------------------------------------------------

export function markdownTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const line = (cells: readonly string[]): string => `| ${cells.join(' | ')} |`
  const align = header.map((_, i) => (i === 0 ? '---' : '---:'))
  return [line(header), line(align), ...rows.map(line)].join('\n')
}

export const fmt = (n: number, digits = 0): string => n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })
