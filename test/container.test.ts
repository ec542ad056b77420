/**
 * No container engine runs here, so the Dockerfile, docker-compose.yml and
 * .env.example are checked by parsing them, and compose's variable
 * substitution and env_file are applied the way compose applies them.
 */
import { spawn } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import t from 'tap'
import { parse } from 'yaml'
import { ENV_NAMES, loadConfig } from '../src/config.js'

const ROOT = new URL('../', import.meta.url)
const read = (name: string): string => readFileSync(new URL(name, ROOT), 'utf8')
const exists = (name: string): boolean => existsSync(new URL(name, ROOT))

// ---- Dockerfile ---------------------------------------------------------------

interface Instruction {
  readonly keyword: string
  readonly args: string
}

interface Stage {
  readonly from: string
  readonly name: string | undefined
  readonly instructions: readonly Instruction[]
}

/** Joins continuation lines, drops comments and blank lines, splits keyword from arguments. */
function parseDockerfile(text: string): Instruction[] {
  const instructions: Instruction[] = []
  let pending = ''
  for (const raw of text.split('\n')) {
    const line = raw.trim()
    if (pending === '' && (line === '' || line.startsWith('#'))) continue
    if (pending !== '' && line.startsWith('#')) continue
    if (line.endsWith('\\')) {
      pending += line.slice(0, -1) + ' '
      continue
    }
    const full = (pending + line).trim()
    pending = ''
    if (full === '') continue
    const m = /^(\S+)\s*(.*)$/.exec(full)
    if (m === null) continue
    instructions.push({ keyword: (m[1] ?? '').toUpperCase(), args: (m[2] ?? '').trim() })
  }
  if (pending.trim() !== '') throw new Error('Dockerfile ends inside a continued line')
  return instructions
}

function stagesOf(instructions: readonly Instruction[]): Stage[] {
  const stages: { from: string; name: string | undefined; instructions: Instruction[] }[] = []
  for (const ins of instructions) {
    if (ins.keyword === 'FROM') {
      const m = /^(?:--\S+\s+)*(\S+)(?:\s+AS\s+(\S+))?$/i.exec(ins.args)
      if (m === null) throw new Error(`cannot parse FROM ${ins.args}`)
      stages.push({ from: m[1] ?? '', name: m[2], instructions: [] })
    } else {
      const current = stages.at(-1)
      if (current !== undefined) current.instructions.push(ins)
    }
  }
  return stages
}

/** Splits shell-ish words, honouring double and single quotes. */
function words(s: string): string[] {
  const out: string[] = []
  const re = /"((?:[^"\\]|\\.)*)"|'([^']*)'|(\S+)/g
  let m: RegExpExecArray | null
  while ((m = re.exec(s)) !== null) out.push(m[1] ?? m[2] ?? m[3] ?? '')
  return out
}

/** Names and values an ENV instruction sets (`ENV A=1 B=2` or legacy `ENV A 1`). */
function envOf(args: string): Map<string, string> {
  const env = new Map<string, string>()
  if (!/^[A-Za-z_][A-Za-z0-9_]*=/.test(args)) {
    const m = /^(\S+)\s+(.*)$/.exec(args)
    if (m !== null) env.set(m[1] ?? '', m[2] ?? '')
    return env
  }
  for (const w of words(args.replace(/=("|')/g, '$1'))) {
    const at = w.indexOf('=')
    env.set(w.slice(0, at), w.slice(at + 1))
  }
  return env
}

/** Parses an exec-form array, or returns undefined for shell form. */
function execForm(args: string): string[] | undefined {
  if (!args.startsWith('[')) return undefined
  const parsed: unknown = JSON.parse(args)
  if (!Array.isArray(parsed) || !parsed.every((p): p is string => typeof p === 'string')) return undefined
  return parsed
}

const dockerfile = parseDockerfile(read('Dockerfile'))
const stages = stagesOf(dockerfile)
const runtime = stages.at(-1)
const build = stages[0]
if (runtime === undefined || build === undefined) throw new Error('Dockerfile has no FROM')
const runtimeOf = (keyword: string): Instruction[] => runtime.instructions.filter((i) => i.keyword === keyword)
const runtimeRuns = runtimeOf('RUN').map((i) => i.args)

t.test('Dockerfile: multi-stage build', async (t) => {
  t.ok(stages.length >= 2, 'at least two stages')
  for (const s of stages) t.type(s.name, 'string', `FROM ${s.from} is named with AS`)
  const buildRuns = build.instructions.filter((i) => i.keyword === 'RUN').map((i) => i.args)
  t.ok(buildRuns.some((r) => /\bnpm ci\b/.test(r) && !/--omit=dev/.test(r)), 'build stage installs all dependencies with npm ci')
  t.ok(buildRuns.some((r) => /\bnpm run build\b/.test(r)), 'build stage runs npm run build')
  t.match(runtime.from, /^node:(22|24|26)-slim(@sha256:[0-9a-f]+)?$/, 'runtime stage is a maintained Node.js LTS, slim')
  t.equal(build.from, runtime.from, 'both stages on the same Node.js')
  t.notOk(runtimeRuns.some((r) => /\bnpm run build\b/.test(r)), 'no compiling in the runtime stage')
})

t.test('Dockerfile: the runtime stage installs production dependencies only', async (t) => {
  t.ok(runtimeRuns.some((r) => /\bnpm ci\b[^&;|]*--omit=dev/.test(r)), 'npm ci --omit=dev')
  t.notOk(runtimeRuns.some((r) => /\bnpm (ci|install)\b(?![^&;|]*--omit=dev)/.test(r)), 'no install that keeps dev dependencies')
  const copies = runtimeOf('COPY').map((i) => i.args)
  t.ok(
    copies.some((c) => new RegExp(`^--from=${build.name ?? '\\S+'}\\s+\\S*dist/?\\s+\\S*dist/?$`).test(c)),
    'dist/ comes from the build stage',
    { copies }
  )
  const localSources = copies.filter((c) => !c.startsWith('--from=')).flatMap((c) => words(c.replace(/^(--\S+\s+)+/, '')).slice(0, -1))
  t.ok(localSources.includes('package-lock.json'), 'the lockfile is copied for npm ci')
  for (const src of localSources) {
    t.notMatch(src, /^(\.|\.\/|src\/?|test\/?|node_modules\/?)$/, `${src}: no sources, tests, node_modules or whole context in the image`)
  }
})

t.test('Dockerfile: runtime environment', async (t) => {
  const env = new Map<string, string>()
  for (const i of runtimeOf('ENV')) for (const [k, v] of envOf(i.args)) env.set(k, v)
  t.equal(env.get('NODE_ENV'), 'production')
  t.equal(env.get('HOST'), '0.0.0.0')
  t.equal(env.get('PORT'), '3000')
  const everyEnv = stages.flatMap((s) => s.instructions.filter((i) => i.keyword === 'ENV').flatMap((i) => [...envOf(i.args).keys()]))
  t.ok(everyEnv.length >= 3)
  for (const name of everyEnv) t.ok(ENV_NAMES.includes(name), `ENV ${name} is a variable the service reads`)
})

t.test('Dockerfile: runs as a non-root user', async (t) => {
  const users = runtimeOf('USER')
  const last = users.at(-1)
  t.ok(last !== undefined, 'the runtime stage sets USER')
  const user = (last?.args ?? '').split(':')[0] ?? ''
  t.not(user, '')
  t.not(user, 'root')
  t.not(user, '0')
  const idx = runtime.instructions.findIndex((i) => i === last)
  const cmdIdx = runtime.instructions.findIndex((i) => i.keyword === 'CMD')
  t.ok(idx < cmdIdx, 'USER comes before CMD')
})

t.test('Dockerfile: EXPOSE 3000 and exec-form CMD', async (t) => {
  t.ok(runtimeOf('EXPOSE').some((i) => i.args.split(/\s+/).some((p) => p === '3000' || p === '3000/tcp')), 'EXPOSE 3000')
  const cmds = runtimeOf('CMD')
  t.equal(cmds.length, 1, 'one CMD')
  const cmd = execForm(cmds[0]?.args ?? '')
  t.same(cmd, ['node', 'dist/server.js'], 'exec form: node is PID 1 and gets SIGTERM')
  t.equal(runtimeOf('ENTRYPOINT').length, 0, 'no ENTRYPOINT wrapping the CMD')
  const pkg: unknown = JSON.parse(read('package.json'))
  t.match(pkg, { main: 'dist/server.js' }, 'package.json main is the same entry point')
  t.ok(exists('src/server.ts'), 'dist/server.js is compiled from src/server.ts')
})

t.test('Dockerfile: HEALTHCHECK hits /healthz with node itself', async (t) => {
  const checks = runtimeOf('HEALTHCHECK')
  t.equal(checks.length, 1, 'one HEALTHCHECK')
  const args = checks[0]?.args ?? ''
  const m = /^((?:--[a-z-]+=\S+\s+)*)CMD\s+(.*)$/.exec(args)
  if (m === null) throw new Error(`cannot parse HEALTHCHECK ${args}`)
  const cmd = execForm(m[2] ?? '')
  if (cmd === undefined) throw new Error('HEALTHCHECK CMD should be exec form')
  t.equal(cmd[0], 'node', 'runs node (no curl or wget in slim images)')
  t.ok(cmd.some((a) => a.includes('/healthz')), 'references /healthz')
  t.notOk(cmd.some((a) => /\b(curl|wget)\b/.test(a)))
  t.match(m[1] ?? '', /--timeout=\d+s/, 'has a timeout')

  // Run the very command against stand-in servers.
  const script = cmd.slice(1)
  const probe = (port: number) =>
    new Promise<number | null>((resolve) => {
      const child = spawn(process.execPath, script, { env: { ...process.env, PORT: String(port) }, stdio: 'ignore' })
      child.on('exit', (code) => resolve(code))
    })
  const serve = (status: number) =>
    new Promise<{ port: number; close: () => Promise<void>; paths: string[] }>((resolve) => {
      const paths: string[] = []
      const server = createServer((req, res) => {
        paths.push(req.url ?? '')
        res.statusCode = req.url === '/healthz' ? status : 404
        res.end()
      })
      server.listen(0, '127.0.0.1', () => {
        resolve({
          port: (server.address() as AddressInfo).port,
          paths,
          close: () => new Promise((done) => server.close(() => done()))
        })
      })
    })
  const healthy = await serve(200)
  t.equal(await probe(healthy.port), 0, 'exit 0 when /healthz answers 200')
  t.same(healthy.paths, ['/healthz'])
  await healthy.close()
  const sick = await serve(503)
  t.equal(await probe(sick.port), 1, 'exit 1 when /healthz answers 503')
  await sick.close()
  t.equal(await probe(healthy.port), 1, 'exit 1 when nothing listens')
})

t.test('Dockerfile: every COPY source exists and is not excluded by .dockerignore', async (t) => {
  const ignored = read('.dockerignore')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#') && !l.startsWith('!'))
    .map((p) => new RegExp(`^${p.replace(/\/$/, '').replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*')}(/|$)`))
  for (const must of ['node_modules', 'dist', '.git', '.env', '.env.local']) {
    t.ok(ignored.some((re) => re.test(must)), `.dockerignore excludes ${must}`)
  }
  const sources = stages
    .flatMap((s) => s.instructions)
    .filter((i) => i.keyword === 'COPY' && !/--from=/.test(i.args))
    .flatMap((i) => words(i.args.replace(/^(--\S+\s+)+/, '')).slice(0, -1))
  t.ok(sources.length >= 3)
  for (const src of sources) {
    const path = src.replace(/^\.\//, '').replace(/\/$/, '')
    t.ok(exists(path), `${src} exists`)
    t.notOk(ignored.some((re) => re.test(path)), `${src} is in the build context`)
  }
})

// ---- .env.example, parsed here: the compose checks read it as the template of .env

const VAR_LINE = /^(#\s*)?([A-Z][A-Z0-9_]*)=(.*)$/
const exampleLines = read('.env.example').split('\n')
const exampleVars = exampleLines.flatMap((line, index) => {
  const m = VAR_LINE.exec(line)
  return m === null ? [] : [{ index, name: m[2] ?? '', value: m[3] ?? '', commented: m[1] !== undefined }]
})
/** The variables .env.example sets (its uncommented lines), as a .env copied from it would. */
const exampleDefaults = (): Record<string, string> => Object.fromEntries(exampleVars.filter((v) => !v.commented).map((v) => [v.name, v.value]))

// ---- docker-compose.yml ---------------------------------------------------------

type Json = Record<string, unknown>
/** A YAML scalar as text (null as empty); anything else as JSON, so it never matches by accident. */
const scalar = (v: unknown): string =>
  typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' ? String(v) : v === null || v === undefined ? '' : JSON.stringify(v)
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v)
function obj(v: unknown, what: string): Json {
  if (!isObject(v)) throw new Error(`${what} should be a mapping`)
  return v
}

/** The environment of a compose service, from either the mapping or the list form. */
function composeEnv(service: Json): Map<string, string> {
  const env = new Map<string, string>()
  const raw = service.environment
  if (Array.isArray(raw)) {
    for (const item of raw) {
      const s = scalar(item)
      const at = s.indexOf('=')
      env.set(at === -1 ? s : s.slice(0, at), at === -1 ? '' : s.slice(at + 1))
    }
  } else if (isObject(raw)) {
    for (const [k, v] of Object.entries(raw)) env.set(k, scalar(v))
  }
  return env
}

const compose = obj(parse(read('docker-compose.yml')) as unknown, 'docker-compose.yml')
const services = obj(compose.services, 'services')
const sessiond = obj(services.sessiond, 'services.sessiond')
const redis = obj(services.redis, 'services.redis')
const sessiondEnv = composeEnv(sessiond)

const composeText = read('docker-compose.yml')
const REQUIRED = ['API_KEYS', 'COOKIE_SECRET']

/** env_file in any of its forms, as {path, required} (compose's default for required is true). */
const envFiles = (Array.isArray(sessiond.env_file) ? sessiond.env_file : sessiond.env_file === undefined ? [] : [sessiond.env_file]).map((f: unknown) =>
  isObject(f) ? { path: scalar(f.path), required: f.required !== false } : { path: scalar(f), required: true }
)

/** The environment after compose's ${VAR}, ${VAR:-default} and ${VAR:?message} substitution from `source`. */
function resolveCompose(env: ReadonlyMap<string, string>, source: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [k, v] of env) {
    out[k] = v.replace(/\$\{(\w+)(?::([?-])([^}]*))?\}/g, (_m, name: string, op: string | undefined, arg: string | undefined) => {
      const given = source[name]
      if (given !== undefined && given !== '') return given
      if (op === '?') throw new Error(`required variable ${name} is missing a value: ${arg ?? ''}`)
      return op === '-' ? (arg ?? '') : ''
    })
  }
  return out
}

/** host IP, published port and target of a compose port mapping, short or long syntax. */
function portMapping(p: unknown): { hostIp: string; target: string } {
  if (isObject(p)) return { hostIp: scalar(p.host_ip), target: scalar(p.target) }
  const parts = scalar(p).split(':')
  return { hostIp: parts.length === 3 ? (parts[0] ?? '') : '', target: (parts.at(-1) ?? '').replace(/\/tcp$/, '') }
}

/** A compose duration (`15s`, `1m30s`, `500ms`) in milliseconds. */
function durationMs(text: string): number {
  const units: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1_000, ms: 1, us: 0.001 }
  const parts = [...text.matchAll(/(\d+(?:\.\d+)?)(h|ms|m|s|us)/g)]
  if (parts.length === 0 || parts.map((m) => m[0]).join('') !== text) throw new Error(`not a duration: ${text}`)
  return parts.reduce((sum, m) => sum + Number(m[1]) * (units[m[2] ?? ''] ?? NaN), 0)
}

t.test('compose: sessiond is built from the Dockerfile, its options from .env', async (t) => {
  const b = sessiond.build
  const buildSpec = typeof b === 'string' ? { context: b } : obj(b, 'sessiond.build')
  t.equal(buildSpec.context, '.')
  t.ok(buildSpec.dockerfile === undefined || buildSpec.dockerfile === 'Dockerfile')
  t.same(envFiles, [{ path: '.env', required: true }], 'env_file: .env, required')
  t.ok(exists('.env.example'), '.env.example is the template of .env')
  t.match(composeText, /cp \.env\.example \.env/, 'the usage line starts from the template')
  t.notMatch(composeText, /\$\(|openssl rand[^\n]*docker compose/, 'no secret generated inline on the command line')
  for (const ignore of ['.gitignore', '.dockerignore']) {
    t.ok(read(ignore).split('\n').some((l) => l.trim() === '.env'), `${ignore} keeps .env out`)
  }
})

t.test('compose: sessiond environment', async (t) => {
  t.equal(sessiondEnv.get('NODE_ENV'), 'production')
  t.equal(sessiondEnv.get('STORE'), 'redis')
  t.equal(sessiondEnv.get('REDIS_URL'), 'redis://redis:6379')
  t.equal(sessiondEnv.get('HOST'), '0.0.0.0', 'set here: .env (HOST=127.0.0.1 in the template) would otherwise win over the image')
  t.equal(sessiondEnv.get('PORT'), '3000')
  for (const name of REQUIRED) {
    t.match(sessiondEnv.get(name) ?? '', new RegExp(`^\\$\\{${name}:\\?[^}]*\\.env[^}]*\\}$`), `${name} is required through \${${name}:?...}, naming .env`)
  }
  for (const name of sessiondEnv.keys()) t.ok(ENV_NAMES.includes(name), `${name} is a variable the service reads`)
})

t.test('compose: .env from the template plus the compose environment is a valid production config', async (t) => {
  const supplied: Record<string, string> = { API_KEYS: 'backend:service:' + 'k'.repeat(24), COOKIE_SECRET: 's'.repeat(32) }
  const dotEnv: Record<string, string> = { ...exampleDefaults(), ...supplied }
  const config = loadConfig({ ...dotEnv, ...resolveCompose(sessiondEnv, dotEnv) })
  t.equal(config.env, 'production')
  t.equal(config.host, '0.0.0.0')
  t.equal(config.port, 3000)
  t.match(config.store, { kind: 'redis', connection: { mode: 'single', url: 'redis://redis:6379' } })
  t.equal(config.cookie.secure, true, 'secure cookies, from the template')

  for (const name of REQUIRED) {
    const without = { ...dotEnv, [name]: '' }
    t.throws(() => resolveCompose(sessiondEnv, without), new RegExp(`${name}.*\\.env`), `without ${name} compose stops, naming it and .env`)
  }
})

t.test('compose: the service is published on the loopback interface only', async (t) => {
  const ports = sessiond.ports
  if (!Array.isArray(ports)) throw new Error('sessiond.ports should be a list')
  t.ok(ports.length >= 1)
  for (const p of ports) {
    const { hostIp, target } = portMapping(p)
    t.equal(hostIp, '127.0.0.1', `${JSON.stringify(p)} binds the loopback interface`)
    t.equal(target, '3000')
  }
  t.equal(redis.ports, undefined, 'redis is not published')
  t.equal(redis.network_mode, undefined)
  t.equal(sessiond.network_mode, undefined)
})

t.test("compose: stop_grace_period is above the service's own shutdown limit", async (t) => {
  const limit = /const SHUTDOWN_GRACE_MS = ([\d_]+)/.exec(read('src/server.ts'))?.[1]
  if (limit === undefined) throw new Error('src/server.ts no longer names SHUTDOWN_GRACE_MS')
  const grace = durationMs(scalar(sessiond.stop_grace_period))
  t.ok(grace > Number(limit.replace(/_/g, '')), `${scalar(sessiond.stop_grace_period)} > ${limit} ms`)
})

t.test('compose: sessiond waits for a healthy redis', async (t) => {
  const dependsOn = obj(sessiond.depends_on, 'sessiond.depends_on')
  t.match(dependsOn.redis, { condition: 'service_healthy' })
})

t.test('compose: redis is durable', async (t) => {
  t.match(scalar(redis.image), /^redis:7-alpine/)
  const command = Array.isArray(redis.command) ? redis.command.map(scalar).join(' ') : scalar(redis.command)
  t.match(command, /^redis-server\b/)
  t.match(command, /--appendonly\s+yes\b/, 'AOF on')
  t.match(command, /--appendfsync\s+everysec\b/, 'fsync every second')
  t.match(command, /--maxmemory-policy\s+noeviction\b/, 'never evicts sessions')
  const maxmemory = /--maxmemory\s+(\d+)(gb|mb|kb|b)?\b/i.exec(command)
  t.ok(maxmemory !== null && Number(maxmemory[1]) > 0, 'a maxmemory, so Redis refuses writes rather than growing until it is killed', { command })
  const redisComments = composeText.slice(composeText.indexOf('\n  redis:')).split('\n').filter((l) => l.trim().startsWith('#')).join(' ')
  t.match(redisComments, /maxmemory/, 'a comment on sizing maxmemory')
  t.match(redisComments, /1,3\d\d bytes/, 'from the measured bytes per session')
  t.match(redisComments, /docs\/performance\.md/, 'naming where they were measured')

  const volumes = redis.volumes
  if (!Array.isArray(volumes)) throw new Error('redis.volumes should be a list')
  const dataVolume = volumes
    .map((v) => (isObject(v) ? `${scalar(v.source)}:${scalar(v.target)}` : scalar(v)))
    .map((v) => v.split(':'))
    .find((parts) => parts[1] === '/data')
  if (dataVolume === undefined) throw new Error('no volume mounted at /data')
  const volumeName = dataVolume[0] ?? ''
  t.match(volumeName, /^[A-Za-z0-9][A-Za-z0-9_.-]*$/, 'a named volume, not a bind mount')
  t.ok(Object.hasOwn(obj(compose.volumes, 'volumes'), volumeName), `volume ${volumeName} is declared`)

  const healthcheck = obj(redis.healthcheck, 'redis.healthcheck')
  const test = Array.isArray(healthcheck.test) ? healthcheck.test.map(scalar).join(' ') : scalar(healthcheck.test)
  t.match(test, /redis-cli\s+ping/, 'healthcheck pings')
})

// ---- .env.example ----------------------------------------------------------------


t.test('.env.example lists exactly the names in ENV_NAMES', async (t) => {
  const names = exampleVars.map((v) => v.name)
  t.equal(new Set(names).size, names.length, 'each name once', { duplicates: names.filter((n, i) => names.indexOf(n) !== i) })
  t.same([...names].sort(), [...ENV_NAMES].sort())
})

t.test('.env.example: each variable has a one-line explanation above it', async (t) => {
  for (const v of exampleVars) {
    const above = exampleLines[v.index - 1] ?? ''
    t.ok(above.startsWith('# ') && !VAR_LINE.test(above) && above.length > 10, `${v.name} is explained`, { above })
  }
})

t.test('.env.example: the uncommented values are exactly the defaults', async (t) => {
  const active = exampleDefaults()
  t.ok(Object.keys(active).length >= 20)
  const withoutKeys = (c: object) => Object.entries(c).filter(([k]) => k !== 'apiKeys' && k !== 'generatedAdminKey')
  t.same(withoutKeys(loadConfig(active)), withoutKeys(loadConfig({})))
  for (const required of ['STORE', 'API_KEYS', 'COOKIE_SECRET']) {
    t.ok(exampleVars.some((v) => v.name === required && v.commented), `${required} has no default and is commented out`)
  }
})

t.test('.env.example: the commented-out examples are valid values', async (t) => {
  const commented = Object.fromEntries(exampleVars.filter((v) => v.commented).map((v) => [v.name, v.value]))
  const sources = ['REDIS_URL', 'REDIS_SENTINELS', 'REDIS_CLUSTER_NODES']
  for (const source of sources) {
    t.ok(commented[source] !== undefined, `${source} has an example`)
    // EVENTS=true, which the commented-out WEBHOOK_URL needs, is not the default.
    const env: Record<string, string> = { NODE_ENV: 'production', EVENTS: 'true' }
    for (const [k, v] of Object.entries(commented)) if (!sources.includes(k) || k === source) env[k] = v
    const config = loadConfig(env)
    t.equal(config.store.kind, 'redis', `with ${source}`)
  }
})
