/**
 * `@sessiond/client` as another project gets it: `npm pack` in
 * packages/client (its prepack builds dist/), the tarball installed offline
 * into a fresh project with its own package.json, a consumer typechecked with
 * `tsc --strict` against the installed `.d.ts` files and run against a
 * sessiond process. The consumer app brings its own fastify (linked from this
 * repository's node_modules, as an app's own install would provide it).
 */
import { execFile } from 'node:child_process'
import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import t from 'tap'
import { startSessiond } from '../helpers/sessiond-process.js'

const run = promisify(execFile)
const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const PACKAGE = join(ROOT, 'packages/client')

interface PackageJson {
  readonly name: string
  readonly private?: boolean
  readonly workspaces?: readonly string[]
  readonly exports: Record<string, unknown>
  readonly dependencies?: Record<string, string>
  readonly peerDependencies?: Record<string, string>
  readonly peerDependenciesMeta?: Record<string, { optional?: boolean }>
}

const readJson = async (path: string): Promise<PackageJson> => JSON.parse(await readFile(path, 'utf8')) as PackageJson

t.test('the package imports nothing but its own files, fastify\'s types and fastify-plugin', async (t) => {
  const dir = join(PACKAGE, 'src')
  for (const file of (await readdir(dir)).filter((f) => f.endsWith('.ts'))) {
    const source = await readFile(join(dir, file), 'utf8')
    for (const [statement, specifier] of source.matchAll(/^(?:import|export)\b[^;]*?from '([^']+)'/gms)) {
      const ok =
        /^\.\/[a-z-]+\.js$/.test(specifier ?? '') ||
        (specifier === 'fastify' && /^import type /.test(statement)) ||
        (specifier === 'fastify-plugin' && file === 'fastify.ts')
      t.ok(ok, `${file}: ${statement.replace(/\s+/g, ' ')}`)
    }
  }
})

t.test('package.json: two entries, fastify and fastify-plugin optional peers, no dependencies', async (t) => {
  const pkg = await readJson(join(PACKAGE, 'package.json'))
  t.equal(pkg.name, '@sessiond/client')
  t.notOk(pkg.private, 'publishable')
  t.same(pkg.exports, {
    '.': { types: './dist/index.d.ts', default: './dist/index.js' },
    './fastify': { types: './dist/fastify.d.ts', default: './dist/fastify.js' },
    './package.json': './package.json'
  })
  t.equal(pkg.dependencies, undefined)
  t.same(Object.keys(pkg.peerDependencies ?? {}).sort(), ['fastify', 'fastify-plugin'])
  t.same(pkg.peerDependenciesMeta, { fastify: { optional: true }, 'fastify-plugin': { optional: true } })

  const service = await readJson(join(ROOT, 'package.json'))
  t.same(service.workspaces, ['packages/*'])
  t.same(Object.keys(service.exports), ['.', './package.json'], 'the service exports no client of its own')
})

/** The consumer: the client end to end, then the plugin in an app of its own. */
const CONSUMER = `
import Fastify from 'fastify'
import { createSessionClient, isSessiondError, type Credential, type SessionClient } from '@sessiond/client'
import sessiond from '@sessiond/client/fastify'

interface Shop {
  cart: string[]
}

const baseUrl = process.env['SESSIOND_URL'] ?? ''
const apiKey = process.env['SESSIOND_API_KEY'] ?? ''
const sessions: SessionClient = createSessionClient({ baseUrl, apiKey })

async function codeOf(call: Promise<unknown>): Promise<string> {
  try {
    await call
    return 'ok'
  } catch (err) {
    return isSessiondError(err) ? err.code : String(err)
  }
}

// @ts-expect-error a credential is a cookie header or a token: the installed types say so
const misuse = (): Promise<unknown> => sessions.devices({ handle: 'h' })
void misuse

const created = await sessions.create<Shop>({ userId: 'alice', data: { cart: [] } })
const first: Credential = { token: created.token }
const read = await sessions.get<string[]>(first, 'cart')
if (!read.found) throw new Error('no cart')
const cart: string[] = read.value
const written = await sessions.set(first, 'cart', [...cart, 'book'], { ifMatch: read.version })
const stale = await codeOf(sessions.set(first, 'cart', ['lost'], { ifMatch: read.version }))
const rotated = await sessions.rotate<Shop>(first)
const second: Credential = { token: rotated.token }
const oldToken = await codeOf(sessions.session(first))
const kept: string[] = (await sessions.session<Shop>(second)).session.data.cart
const out = await sessions.logout(second)
const afterLogout = await codeOf(sessions.session(second))

const app = Fastify()
await app.register(sessiond, { baseUrl, apiKey })
app.post('/cart', async (request) => ({ version: await request.session.set('cart', ['pen']) }))
const reply = await app.inject({ method: 'POST', url: '/cart' })
const plugin = app.hasPlugin('@sessiond/client')
await app.close()

console.log(JSON.stringify({
  created: created.version,
  read: read.version,
  written: written.version,
  stale,
  userId: rotated.session.userId,
  oldToken,
  kept,
  cleared: out.setCookie.some((c) => /^sid=;/.test(c)),
  afterLogout,
  plugin,
  pluginReply: reply.json(),
  pluginCookie: String(reply.headers['set-cookie']).startsWith('sid=')
}))
`

t.test('packed, installed into a fresh project, typechecked with tsc --strict, run against sessiond', { timeout: 180_000 }, async (t) => {
  const tmp = await mkdtemp(join(tmpdir(), 'sessiond-client-'))
  t.teardown(() => rm(tmp, { recursive: true, force: true }))

  const { stdout: packJson } = await run('npm', ['pack', '--json', '--pack-destination', tmp], { cwd: PACKAGE })
  const [packed] = JSON.parse(packJson) as { filename: string; files: { path: string }[] }[]
  if (packed === undefined) throw new Error('npm pack reported no tarball')
  const files = packed.files.map((f) => f.path).sort()
  t.same(files, [
    'README.md',
    ...['errors', 'fastify', 'index', 'transport', 'types'].flatMap((name) => [`dist/${name}.d.ts`, `dist/${name}.js`]),
    'package.json'
  ], 'the tarball holds the built JavaScript, its declarations, the README and package.json')

  const project = join(tmp, 'consumer')
  await mkdir(project)
  await writeFile(
    join(project, 'package.json'),
    JSON.stringify({ name: 'consumer', private: true, type: 'module', dependencies: { '@sessiond/client': `file:../${packed.filename}` } }, null, 2)
  )
  // Offline: the tarball has no dependencies, and optional peers are not installed.
  await run('npm', ['install', '--offline', '--no-audit', '--no-fund'], { cwd: project })
  t.same((await readdir(join(project, 'node_modules'))).sort(), ['.package-lock.json', '@sessiond'], 'npm installed the package and nothing else')

  const clientOnly = await run(process.execPath, ['--input-type=module', '-e', "const c = await import('@sessiond/client'); console.log(typeof c.createSessionClient)"], { cwd: project })
  t.equal(clientOnly.stdout.trim(), 'function', 'the client loads with nothing but Node')

  for (const dep of ['fastify', 'fastify-plugin', '@types/node']) {
    await mkdir(join(project, 'node_modules', dep, '..'), { recursive: true })
    await symlink(join(ROOT, 'node_modules', dep), join(project, 'node_modules', dep), 'dir')
  }
  await writeFile(join(project, 'consumer.ts'), CONSUMER)
  const tsc = join(ROOT, 'node_modules/typescript/bin/tsc')
  const flags = ['--strict', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022', '--types', 'node', '--outDir', 'out']
  await run(process.execPath, [tsc, ...flags, 'consumer.ts'], { cwd: project }).catch((err: Error & { stdout?: string }) => {
    throw new Error(`tsc --strict failed on the consumer:\n${err.stdout ?? err.message}`)
  })

  const sessiond = await startSessiond(t)
  const { stdout } = await run(process.execPath, ['out/consumer.js'], { cwd: project, env: { ...process.env, SESSIOND_URL: sessiond.url, SESSIOND_API_KEY: sessiond.adminKey } })
  t.same(JSON.parse(stdout), {
    created: 1,
    read: 1,
    written: 2,
    stale: 'precondition_failed',
    userId: 'alice',
    oldToken: 'session_rotated',
    kept: ['book'],
    cleared: true,
    afterLogout: 'session_not_found',
    plugin: true,
    pluginReply: { version: 1 },
    pluginCookie: true
  })
})
