/**
 * The two baselines `npm run bench` measures sessiond against, in the same run:
 *
 *   node dist/bench/baseline.js hello <payload.json>
 *     bare fastify: GET /hello answers a fixed JSON body the size of a session read.
 *
 *   node dist/bench/baseline.js thin   (REDIS_URL)
 *     bare fastify + ioredis, no auth, no validation, the least Redis work a
 *     sliding session can do, one EVALSHA per request on the service's own hashes:
 *     GET /thin/:handle          HGETALL + PEXPIRE   -> the hash as a JSON object
 *     PUT /thin/:handle/:key     HSET + PEXPIRE      -> 204
 *
 * Listens on PORT (127.0.0.1); GET /healthz for readiness.
 */
import { readFileSync } from 'node:fs'
import Fastify from 'fastify'
import { Redis } from 'ioredis'
import { sessionKeyOf } from './lib.js'

const IDLE_TTL_MS = 1_800_000

const READ = `local v = redis.call('HGETALL', KEYS[1])
if #v > 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return v`
const WRITE = `redis.call('HSET', KEYS[1], ARGV[2], ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 1`

interface ThinCommands {
  thinRead(key: string, ttl: number): Promise<string[]>
  thinWrite(key: string, ttl: number, field: string, value: string): Promise<number>
}

async function main(): Promise<void> {
  const [mode, payloadFile] = process.argv.slice(2)
  const app = Fastify()
  app.get('/healthz', async () => ({ status: 'ok' }))

  if (mode === 'hello') {
    if (payloadFile === undefined) throw new Error('hello needs a payload file')
    const payload = JSON.parse(readFileSync(payloadFile, 'utf8')) as unknown
    app.get('/hello', async () => payload)
  } else if (mode === 'thin') {
    const redis = new Redis(process.env.REDIS_URL ?? '')
    redis.defineCommand('thinRead', { numberOfKeys: 1, lua: READ })
    redis.defineCommand('thinWrite', { numberOfKeys: 1, lua: WRITE })
    const thin = redis as unknown as ThinCommands
    app.addHook('onClose', async () => {
      await redis.quit()
    })

    app.get<{ Params: { handle: string } }>('/thin/:handle', async (request, reply) => {
      const flat = await thin.thinRead(sessionKeyOf(request.params.handle), IDLE_TTL_MS)
      if (flat.length === 0) return reply.code(404).send({ error: 'not found' })
      const hash: Record<string, string> = {}
      for (let i = 0; i < flat.length; i += 2) hash[flat[i] as string] = flat[i + 1] as string
      return hash
    })

    app.put<{ Params: { handle: string; key: string }; Body: { value?: unknown } }>('/thin/:handle/:key', async (request, reply) => {
      await thin.thinWrite(sessionKeyOf(request.params.handle), IDLE_TTL_MS, request.params.key, JSON.stringify(request.body.value ?? null))
      return reply.code(204).send()
    })
  } else {
    throw new Error(`unknown baseline ${mode ?? ''}: hello or thin`)
  }

  process.once('SIGTERM', () => {
    void app.close().then(() => process.exit(0))
  })
  await app.listen({ port: Number(process.env.PORT ?? 0), host: '127.0.0.1' })
}

main().catch((err: unknown) => {
  process.stderr.write(`baseline: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`)
  process.exit(1)
})
