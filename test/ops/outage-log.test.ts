/**
 * What an outage tells callers and what it tells the log, against a real
 * redis-server that is down (spec §5, §9). Callers: every 503 and /readyz say
 * the same thing, naming no host, address, port or backend message. The log:
 * the cause (the address and ioredis's message) once per outage, not once
 * per request; at start-up when Redis cannot be reached; and the outage's end.
 */
import { Writable } from 'node:stream'
import t from 'tap'
import { admin, service } from '../helpers/app.js'
import { startRedisServer } from '../helpers/redis-server.js'
import { listening, until, type Client, type Reply } from './http.js'

const server = await startRedisServer()
t.teardown(() => server.stop())

type Line = Record<string, unknown>
const lines: Line[] = []
const logStream = new Writable({
  write(chunk: Buffer, _encoding, done) {
    for (const line of chunk.toString().split('\n')) if (line !== '') lines.push(JSON.parse(line) as Line)
    done()
  }
})
const outageStarts = (): Line[] => lines.filter((l) => l.msg === 'store unreachable')
const outageEnds = (): Line[] => lines.filter((l) => l.msg === 'store reachable again')

/** Everything a caller sees of a reply, for the leak checks. */
const seen = (reply: Reply): string => `${[...reply.headers].map(([k, v]) => `${k}: ${v}`).join('\n')}\n${reply.body}`
const LEAKS = [/127\.0\.0\.1/, new RegExp(`\\b${server.port}\\b`), /ECONNREFUSED/i, /redis/i, /timed out/i, /\bconnect\b/i]

/** One request of several kinds, all needing the store. */
function duringOutage(http: Client, token: string): Promise<Reply>[] {
  return [
    http('/readyz'),
    http('/v1/sessions', { method: 'POST', headers: service, body: { userId: 'alice' } }),
    http('/v1/session', { headers: { 'x-session-token': token } }),
    http(`/v1/sessions/${'A'.repeat(43)}`, { headers: service }),
    http('/v1/stats/sessions', { headers: admin }),
    http('/readyz')
  ]
}

await server.kill()
const { http } = await listening(t, { STORE: 'redis', REDIS_URL: server.url, STORE_TIMEOUT_MS: '500', LOG_LEVEL: 'info' }, { logStream })
let token = ''

t.test('a Redis unreachable at start-up is logged once, with its cause, before any request', async (t) => {
  t.ok(await until(() => outageStarts().length === 1), 'the outage is logged after the app starts listening')
  const [start] = outageStarts()
  t.equal(start?.level, 50, 'at error')
  t.equal(start?.reqId, undefined, 'by the app, not by a request')
  t.match(JSON.stringify(start?.err), new RegExp(`127\\.0\\.0\\.1:${server.port}`), 'naming the address Redis was sought at')
})

t.test('callers get the same 503, with nothing of the backend in it; the log gets no more lines', async (t) => {
  const replies = await Promise.all(duringOutage(http, 'B'.repeat(43)))
  for (const reply of replies) {
    t.equal(reply.status, 503)
    const body = JSON.parse(reply.body) as Record<string, unknown>
    t.match(body, { code: 'store_unavailable', status: 503, detail: 'the session store cannot be reached; retry shortly' })
    t.same(LEAKS.filter((leak) => leak.test(seen(reply))).map(String), [], 'no host, address, port or backend message')
  }
  t.equal(outageStarts().length, 1, `${replies.length} requests in the same outage log it no further`)
  const accessLines = lines.filter((l) => l.msg === 'request completed' && (l.res as Line | undefined)?.statusCode === 503)
  t.equal(accessLines.length, replies.length, 'each 503 has its access line')
  t.notOk(lines.some((l) => l.level === 50 && l.msg !== 'store unreachable'), 'and no other error line')
})

t.test('the outage\'s end is logged, and the service serves', async (t) => {
  await server.start()
  t.ok(await until(async () => (await http('/readyz')).status === 200), '/readyz is 200 again')
  t.ok(await until(() => outageEnds().length === 1), 'the end of the outage is logged')
  t.match(outageEnds()[0], { level: 30, outageMs: Number })
  const created = await http('/v1/sessions', { method: 'POST', headers: service, body: { userId: 'alice' } })
  t.equal(created.status, 201)
  token = (JSON.parse(created.body) as { token: string }).token
})

t.test('a second outage, found by requests, is logged once again, under the first failing request', async (t) => {
  await server.kill()
  const replies = await Promise.all(duringOutage(http, token))
  t.same(replies.map((r) => r.status), replies.map(() => 503), 'every request answers 503')
  t.ok(replies.every((reply) => LEAKS.every((leak) => !leak.test(seen(reply)))), 'naming nothing of the backend')
  t.equal(outageStarts().length, 2, 'one more line for the whole second outage')
  const second = outageStarts()[1]
  t.type(second?.reqId, 'string', 'logged with the request that found it')
  t.match(JSON.stringify(second?.err), /redis|connection|ECONNREFUSED/i, 'with the backend\'s message')
  await server.start()
  t.ok(await until(() => outageEnds().length === 2), 'and its end')
})
