/**
 * The package as a consumer installs it: `npm run build`'s configuration
 * emits dist/client/, package.json `exports` maps `sessiond/client` and
 * `sessiond/fastify` to it, and the emitted client needs nothing at run time
 * but Node (no fastify, no service internals).
 */
import { execFile } from 'node:child_process'
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import t from 'tap'

const run = promisify(execFile)
const ROOT = fileURLToPath(new URL('../../', import.meta.url))

interface PackageJson {
  readonly name: string
  readonly exports: Record<string, string | { types: string; default: string }>
}

t.test('the client sources import nothing but each other (and fastify\'s types)', async (t) => {
  const dir = join(ROOT, 'src/client')
  for (const file of (await readdir(dir)).filter((f) => f.endsWith('.ts'))) {
    const source = await readFile(join(dir, file), 'utf8')
    for (const [statement, specifier] of source.matchAll(/^(?:import|export)\b[^;]*?from '([^']+)'/gms)) {
      const ok = /^\.\/[a-z-]+\.js$/.test(specifier ?? '') || (specifier === 'fastify' && /^import type /.test(statement))
      t.ok(ok, `${file}: ${statement.replace(/\s+/g, ' ')}`)
    }
  }
})

t.test('built, installed and imported by name', { timeout: 60_000 }, async (t) => {
  const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as PackageJson
  t.same(pkg.exports['./client'], { types: './dist/client/index.d.ts', default: './dist/client/index.js' })
  t.same(pkg.exports['./fastify'], { types: './dist/client/fastify.d.ts', default: './dist/client/fastify.js' })

  const tmp = await mkdtemp(join(tmpdir(), 'sessiond-package-'))
  t.teardown(() => rm(tmp, { recursive: true, force: true }))
  const installed = join(tmp, 'node_modules', pkg.name)
  await mkdir(installed, { recursive: true })
  await run(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', join(ROOT, 'tsconfig.build.json'), '--outDir', join(installed, 'dist')])
  await writeFile(join(installed, 'package.json'), JSON.stringify(pkg))
  for (const file of ['index.js', 'index.d.ts', 'errors.js', 'types.d.ts', 'fastify.js', 'fastify.d.ts']) {
    t.ok((await readdir(join(installed, 'dist/client'))).includes(file), `dist/client/${file}`)
  }
  const emitted = await readFile(join(installed, 'dist/client/fastify.js'), 'utf8')
  t.notMatch(emitted, /from ['"]fastify['"]/, 'the plugin needs no fastify import at run time')

  // A consumer with no node_modules of its own but the package: fastify is not needed to load either entry.
  const consumer = join(tmp, 'consumer.mjs')
  await writeFile(
    consumer,
    [
      "import { createSessionClient, SessiondError } from 'sessiond/client'",
      "import sessiond from 'sessiond/fastify'",
      "const client = createSessionClient({ baseUrl: 'http://127.0.0.1:1', apiKey: 'k' })",
      'console.log(JSON.stringify({ client: typeof client.create, error: typeof SessiondError, plugin: typeof sessiond, skip: sessiond[Symbol.for("skip-override")] }))'
    ].join('\n')
  )
  const { stdout } = await run(process.execPath, [consumer], { cwd: tmp })
  t.same(JSON.parse(stdout), { client: 'function', error: 'function', plugin: 'function', skip: true })
})
