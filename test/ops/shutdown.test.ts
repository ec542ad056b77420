/**
 * The real server process: SIGTERM while requests are in flight lets them
 * finish, stops accepting, closes Redis and exits 0; SIGINT likewise; a bad
 * environment exits 1 with one line per problem; development mode prints
 * its generated admin key once on stderr and never in the log; with
 * METRICS_PORT, /metrics is on that port only and SIGTERM closes both.
 *
 * It runs as production runs it, `node dist/server.js`, built once for this
 * file into its own temp dir (never the repo's dist/, which others may be
 * building), with the Lua scripts and openapi.yaml where the build puts and
 * reads them, and node_modules linked.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { cp, mkdtemp, rm, symlink } from 'node:fs/promises'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import t from 'tap'
import { Redis } from 'ioredis'
import { ENV_NAMES } from '../../src/config.js'
import { ADMIN_KEY, SERVICE_KEY, admin, service } from '../helpers/app.js'
import { freePort, startRedisServer } from '../helpers/redis-server.js'
import { client, sleep, until, type Reply } from './http.js'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
/** A generous bound on start-up and on exit, for a loaded machine. */
const PROCESS_MS = 60_000

const build = await mkdtemp(join(tmpdir(), 'sessiond-build-'))
t.teardown(() => rm(build, { recursive: true, force: true }))
// The same compilation as `npm run build` (tsconfig.build.json), minus the type check `npm run check` does.
await promisify(execFile)(
  process.execPath,
  [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json', '--outDir', join(build, 'dist'), '--noCheck', '--declaration', 'false', '--sourceMap', 'false'],
  { cwd: ROOT }
)
for (const lua of ['store/redis/scripts', 'store/expiry.lua']) await cp(join(ROOT, 'src', lua), join(build, 'dist', lua), { recursive: true })
await cp(join(ROOT, 'openapi.yaml'), join(build, 'openapi.yaml'))
await symlink(join(ROOT, 'node_modules'), join(build, 'node_modules'), 'dir')
const SERVER = join(build, 'dist/server.js')

interface Server {
  readonly child: ChildProcess
  /** Parsed JSON log lines from stdout, as they arrive. */
  readonly logs: Record<string, unknown>[]
  readonly stdout: () => string
  readonly stderr: () => string
  /** Resolves with the exit code and signal. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
}

function startServer(env: Record<string, string>): Server {
  const base: Record<string, string | undefined> = { ...process.env }
  for (const name of ENV_NAMES) delete base[name]
  const child = spawn(process.execPath, [SERVER], {
    cwd: build,
    env: { ...base, ...env },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let out = ''
  let err = ''
  const logs: Record<string, unknown>[] = []
  let partial = ''
  child.stdout?.on('data', (chunk: Buffer) => {
    out += chunk.toString()
    partial += chunk.toString()
    const lines = partial.split('\n')
    partial = lines.pop() ?? ''
    for (const line of lines) {
      try {
        logs.push(JSON.parse(line) as Record<string, unknown>)
      } catch {
        logs.push({ unparsed: line })
      }
    }
  })
  child.stderr?.on('data', (chunk: Buffer) => {
    err += chunk.toString()
  })
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }))
  })
  return { child, logs, stdout: () => out, stderr: () => err, exited }
}

/** The exit, or null when it does not come within `ms` (then the child is killed). */
async function exitWithin(server: Server, ms: number): Promise<{ code: number | null; signal: NodeJS.Signals | null } | null> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<null>((resolve) => {
    timer = setTimeout(() => resolve(null), ms)
  })
  const result = await Promise.race([server.exited, timeout])
  clearTimeout(timer)
  if (result === null) server.child.kill('SIGKILL')
  return result
}

/** Resolves whether a new TCP connection to `port` is refused. */
function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: '127.0.0.1' })
    socket.once('connect', () => {
      socket.destroy()
      resolve(false)
    })
    socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED'))
  })
}

t.test('SIGTERM during in-flight requests: they complete, nothing new is accepted, Redis is closed, exit 0', async (t) => {
  const redis = await startRedisServer()
  t.teardown(() => redis.stop())
  const operator = new Redis(redis.url, { maxRetriesPerRequest: 0 })
  operator.on('error', () => undefined)
  t.teardown(() => {
    operator.disconnect()
  })
  const port = await freePort()
  const server = startServer({
    NODE_ENV: 'production',
    STORE: 'redis',
    REDIS_URL: redis.url,
    REDIS_KEY_PREFIX: 'shutdown:',
    // In-flight requests wait on a paused Redis: they must not time out meanwhile.
    STORE_TIMEOUT_MS: '30000',
    API_KEYS: `backend:service:${SERVICE_KEY},ops:admin:${ADMIN_KEY}`,
    COOKIE_SECRET: 'a-cookie-secret-of-at-least-32-characters',
    PORT: String(port),
    HOST: '127.0.0.1',
    // At debug every request is logged as it arrives: how this test knows the writes are in flight.
    LOG_LEVEL: 'debug'
  })
  t.teardown(() => {
    server.child.kill('SIGKILL')
  })
  const http = client(`http://127.0.0.1:${port}`)
  t.ok(await until(async () => (await http('/healthz')).status === 200, PROCESS_MS, 200), `the server starts${server.stderr() === '' ? '' : `: ${server.stderr()}`}`)
  const created = await http('/v1/sessions', { method: 'POST', headers: service, body: { userId: 'ann' } })
  t.equal(created.status, 201)
  const { handle } = (JSON.parse(created.body) as { session: { handle: string } }).session

  // Hold every write in Redis, then send writes: they are in flight until Redis lets go.
  await operator.call('CLIENT', 'PAUSE', '120000', 'WRITE')
  t.teardown(() => operator.call('CLIENT', 'UNPAUSE').catch(() => undefined))
  const ids = Array.from({ length: 6 }, (_, i) => `in-flight-${i}`)
  const inFlight: Promise<Reply>[] = ids.map((id, i) =>
    http(`/v1/sessions/${handle}/data/k${i}`, { method: 'PUT', headers: { ...service, 'x-request-id': id }, body: { value: i } })
  )
  t.ok(await until(() => ids.every((id) => server.logs.some((l) => l.reqId === id && l.msg === 'incoming request')), PROCESS_MS), 'the server is handling all of them')
  let settled = 0
  for (const p of inFlight) void p.then(() => settled++)
  await sleep(100)
  t.equal(settled, 0, 'none has completed: Redis holds them')

  const signalledAt = performance.now()
  server.child.kill('SIGTERM')
  t.ok(await until(() => server.logs.some((l) => l.msg === 'shutting down'), PROCESS_MS), 'the server logs that it is shutting down')
  t.ok(await until(() => refused(port), PROCESS_MS, 100), 'new connections are refused while the in-flight requests wait')
  t.equal(settled, 0, 'the in-flight requests are still waiting')

  await operator.call('CLIENT', 'UNPAUSE')
  const releasedAt = performance.now()
  const replies = await Promise.all(inFlight)
  t.same(replies.map((r) => r.status), ids.map(() => 204), 'every in-flight request completed normally')
  const exit = await exitWithin(server, PROCESS_MS)
  const exitedAt = performance.now()
  t.same(exit, { code: 0, signal: null }, 'the process exits 0')
  t.same(server.logs.filter((l) => typeof l.level === 'number' && l.level >= 50), [], 'no error logged')

  const data = await operator.hgetall(`shutdown:{${handle[0] ?? ''}}:s:${handle}`)
  t.same(ids.map((_, i) => data[`k${i}`]), ids.map((_, i) => String(i)), 'their writes are in Redis')
  const clients = (await operator.call('CLIENT', 'LIST')) as string
  t.notMatch(clients, /name=sessiond\b/, 'its Redis connection is closed')
  t.comment(`shutdown: exited ${(exitedAt - releasedAt).toFixed(0)} ms after the in-flight requests were released, ${(exitedAt - signalledAt).toFixed(0)} ms after SIGTERM`)
})

t.test('an invalid environment: exit 1 with one line per problem, no secret echoed', async (t) => {
  const bareSecret = 'a-bare-secret-without-name-or-scope'
  const server = startServer({ PORT: '99999', LOG_LEVEL: 'loud', REDIS_URL: 'http://127.0.0.1:6379', API_KEYS: bareSecret })
  const production = startServer({ NODE_ENV: 'production' })
  const exit = await exitWithin(server, PROCESS_MS)
  t.same(exit, { code: 1, signal: null }, 'exit code 1')
  const lines = server.stderr().trimEnd().split('\n')
  t.equal(lines[0], 'sessiond: invalid configuration', 'a headline')
  const problems = lines.slice(1)
  t.same(problems.map((l) => /^ {2}([A-Z_]+)(\.\d+)?: \S/.exec(l)?.[1] ?? `unexpected: ${l}`).sort(), ['API_KEYS', 'LOG_LEVEL', 'PORT', 'REDIS_URL'], 'one line per problem, naming its variable')
  t.notOk(server.stderr().includes(bareSecret), 'the value of API_KEYS is not echoed')
  t.equal(server.stdout(), '', 'nothing on stdout (no log, no stack)')

  t.same(await exitWithin(production, PROCESS_MS), { code: 1, signal: null }, 'production without its required settings: exit 1')
  t.same(
    production.stderr().trimEnd().split('\n').slice(1).map((l) => /^ {2}([A-Z_]+):/.exec(l)?.[1] ?? l).sort(),
    ['API_KEYS', 'COOKIE_SECRET', 'STORE'],
    'names each missing setting'
  )
})

t.test('development mode: the generated admin key is printed once on stderr, never logged; SIGINT exits 0', async (t) => {
  const port = await freePort()
  const server = startServer({ NODE_ENV: 'development', STORE: 'memory', PORT: String(port), LOG_LEVEL: 'debug' })
  t.teardown(() => {
    server.child.kill('SIGKILL')
  })
  const http = client(`http://127.0.0.1:${port}`)
  t.ok(await until(async () => (await http('/healthz')).status === 200, PROCESS_MS, 200), 'the server starts')
  const key = /generated a development admin key: (\S+)/.exec(server.stderr())?.[1] ?? ''
  t.match(key, /^[A-Za-z0-9_-]{16,}$/, 'a key is printed on stderr')
  t.equal(server.stderr().split(key).length - 1, 1, 'exactly once')
  const listed = await http('/v1/users/ann/sessions', { headers: { authorization: `Bearer ${key}` } })
  t.equal(listed.status, 200, 'it is a working admin key')
  t.equal((await http('/v1/users/ann/sessions', { headers: admin })).status, 401, 'and the only one')
  // Log lines leave stdout in batches: an idle server still writes them out, and exiting writes the rest.
  const completed = (id: string) => server.logs.some((l) => l.reqId === id && l.msg === 'request completed')
  t.equal((await http('/healthz', { headers: { 'x-request-id': 'while-idle' } })).status, 200)
  t.ok(await until(() => completed('while-idle'), PROCESS_MS), 'an idle server writes its buffered lines out')
  t.equal((await http('/healthz', { headers: { 'x-request-id': 'just-before-exit' } })).status, 200)
  server.child.kill('SIGINT')
  t.same(await exitWithin(server, PROCESS_MS), { code: 0, signal: null }, 'SIGINT: exit 0')
  t.ok(server.logs.some((l) => l.msg === 'shutting down' && l.signal === 'SIGINT'), 'logged as a shutdown')
  t.ok(completed('just-before-exit'), 'the last request\'s line was written out before the exit')
  t.ok(server.logs.length > 0 && server.logs.every((l) => !('unparsed' in l)), 'stdout is JSON log lines only')
  t.notOk(server.stdout().includes(key), 'the key is not in the log, even after it was used')
  t.equal(server.stderr().split(key).length - 1, 1, 'nor printed again')
})

t.test('METRICS_PORT: /metrics only on its own port; SIGTERM closes both listeners and exits 0', async (t) => {
  const port = await freePort()
  let metricsPort = await freePort()
  while (metricsPort === port) metricsPort = await freePort()
  const server = startServer({ NODE_ENV: 'test', STORE: 'memory', API_KEYS: `backend:service:${SERVICE_KEY}`, PORT: String(port), METRICS_PORT: String(metricsPort), HOST: '127.0.0.1' })
  t.teardown(() => {
    server.child.kill('SIGKILL')
  })
  const http = client(`http://127.0.0.1:${port}`)
  const metrics = client(`http://127.0.0.1:${metricsPort}`)
  t.ok(await until(async () => (await http('/healthz')).status === 200, PROCESS_MS, 200), `the server starts${server.stderr() === '' ? '' : `: ${server.stderr()}`}`)
  t.equal((await http('/v1/sessions', { method: 'POST', headers: service, body: {} })).status, 201)
  t.equal((await http('/metrics')).status, 404, 'the service port has no /metrics')
  const scraped = await metrics('/metrics')
  t.equal(scraped.status, 200, 'the metrics port serves it')
  t.match(scraped.body, /^sessiond_sessions_created_total 1$/m, 'with the service\'s counts')
  t.equal((await metrics('/healthz')).status, 404, 'and nothing else')

  server.child.kill('SIGTERM')
  t.same(await exitWithin(server, PROCESS_MS), { code: 0, signal: null }, 'exit 0')
  t.ok(await refused(port), 'the service port is closed')
  t.ok(await refused(metricsPort), 'the metrics port is closed')
  const listening = server.logs.filter((l) => typeof l.msg === 'string' && l.msg.startsWith('Server listening at')).map((l) => String(l.msg))
  t.same(listening.sort(), [`Server listening at http://127.0.0.1:${metricsPort}`, `Server listening at http://127.0.0.1:${port}`].sort(), 'each listener logged its address')
  t.same(server.logs.filter((l) => typeof l.level === 'number' && l.level >= 50), [], 'no error logged')
})
