/**
 * `npm run bench:count`: the cost of GET /v1/stats/sessions?by=cart[].sku
 * (issue: collection indexes), as time per countSessions call of the built
 * store (dist/store) at 10,000 and at 100,000 sessions, each with a cart of 5
 * items out of 1,000 distinct SKUs, on Redis and on the memory store; the
 * plain `tenant` entry (100 values) beside it. Median of 15 calls each.
 *
 * Options: --sessions=100000 --base=10000. Writes bench/results/count.json.
 */
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { RESULTS_DIR, fmt, log, markdownTable, newSecrets, numberArg, parseArgs, serviceEnv, sessionData, startBench, startRedis, stopAll } from './lib.js'

interface CountingStore {
  create(input: Record<string, unknown>): Promise<unknown>
  countSessions(byKey?: string): Promise<unknown>
  close(): Promise<void>
}
interface Modules {
  readonly loadConfig: (env: NodeJS.ProcessEnv) => unknown
  readonly createStore: (config: unknown) => CountingStore
  readonly newToken: () => string
  readonly handleOf: (token: string) => string
}

const SKUS = 1000
const CART_ITEMS = 5
const ENTRIES = 'tenant,cart[].sku'
const CALLS = 15
const IN_FLIGHT = 256

async function builtModules(): Promise<Modules> {
  const dist = new URL('../', import.meta.url)
  const load = async <T>(path: string): Promise<T> => (await import(new URL(path, dist).href)) as T
  const [{ loadConfig }, { createStore }, { newToken, handleOf }] = await Promise.all([
    load<Pick<Modules, 'loadConfig'>>('config.js'),
    load<Pick<Modules, 'createStore'>>('store/index.js'),
    load<Pick<Modules, 'newToken' | 'handleOf'>>('tokens.js')
  ])
  return { loadConfig, createStore, newToken, handleOf }
}

async function medianMs(call: () => Promise<unknown>): Promise<number> {
  const times: number[] = []
  for (let i = 0; i < CALLS; i++) {
    const t = performance.now()
    await call()
    times.push(performance.now() - t)
  }
  return times.sort((a, b) => a - b)[Math.floor(CALLS / 2)] ?? NaN
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2))
  const total = numberArg(args, 'sessions', 100_000)
  const base = numberArg(args, 'base', 10_000)
  const { pinning, tmp, cleanup } = await startBench('sessiond bench:count')
  const modules = await builtModules()
  const rows: string[][] = []
  const results: Record<string, unknown>[] = []
  try {
    const redis = await startRedis(pinning.redis, tmp.path)
    const env = { ...serviceEnv(0, newSecrets(), { kind: 'redis', url: redis.url }, undefined), INDEXED_KEYS: ENTRIES, STORE_TIMEOUT_MS: '60000' }
    for (const kind of ['redis', 'memory'] as const) {
      const store = modules.createStore(modules.loadConfig(kind === 'redis' ? env : { ...env, STORE: 'memory', REDIS_URL: undefined }))
      let filled = 0
      const fill = async (to: number): Promise<void> => {
        const worker = async (): Promise<void> => {
          while (filled < to) {
            const i = filled++
            const cart = Array.from({ length: CART_ITEMS }, (_, j) => ({ sku: `SKU-${(i * CART_ITEMS + j) % SKUS}`, qty: 1 }))
            await store.create({ handle: modules.handleOf(modules.newToken()), userId: `count-${i}`, data: { ...sessionData(i), cart }, idleTtlMs: 1_800_000, absoluteTtlMs: 86_400_000, userAgent: null, ip: null })
          }
        }
        await Promise.all(Array.from({ length: IN_FLIGHT }, worker))
      }
      const at: Record<number, { sku: number; tenant: number }> = {}
      for (const sessions of [base, total]) {
        log(`${kind}: filling to ${fmt(sessions)} sessions...`)
        await fill(sessions)
        at[sessions] = { sku: await medianMs(() => store.countSessions('cart[].sku')), tenant: await medianMs(() => store.countSessions('tenant')) }
      }
      await store.close()
      const small = at[base] ?? { sku: NaN, tenant: NaN }
      const large = at[total] ?? { sku: NaN, tenant: NaN }
      rows.push([kind, 'cart[].sku', small.sku.toFixed(1), large.sku.toFixed(1), (large.sku / small.sku).toFixed(1)])
      rows.push([kind, 'tenant', small.tenant.toFixed(1), large.tenant.toFixed(1), (large.tenant / small.tenant).toFixed(1)])
      results.push({ kind, base, total, at })
      if (kind === 'redis') await redis.admin.flushall('SYNC')
    }
    const table = markdownTable(['store', 'by', `ms at ${fmt(base)}`, `ms at ${fmt(total)}`, 'growth ×'], rows)
    process.stdout.write(`\n${table}\nCarts of ${CART_ITEMS} items out of ${fmt(SKUS)} SKUs; tenant: 100 values; median of ${CALLS} countSessions calls.\n`)
    await mkdir(RESULTS_DIR, { recursive: true })
    await writeFile(join(RESULTS_DIR, 'count.json'), `${JSON.stringify({ date: new Date().toISOString(), results, table }, null, 2)}\n`)
    return 0
  } finally {
    await stopAll()
    await cleanup()
  }
}

process.exitCode = await main()
