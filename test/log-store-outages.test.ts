import { Writable } from 'node:stream'
import pino from 'pino'
import t from 'tap'
import { AppError } from '../src/errors.js'
import { storeOutages } from '../src/log/store-outages.js'
import { until } from './ops/http.js'

function capture(): { log: pino.Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = []
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>)
      done()
    }
  })
  return { log: pino(stream), lines }
}

/** A ping whose answers the test gives, one per call. */
function scriptedPing(): { ping: () => Promise<void>; calls: () => number; answer: (ok: boolean) => void } {
  const pending: { resolve: () => void; reject: (err: Error) => void }[] = []
  let calls = 0
  return {
    ping: () => {
      calls++
      return new Promise<void>((resolve, reject) => pending.push({ resolve, reject }))
    },
    calls: () => calls,
    answer: (ok) => {
      const next = pending.shift()
      if (ok) next?.resolve()
      else next?.reject(new AppError('store_unavailable', 'still down'))
    }
  }
}

const down = new AppError('store_unavailable', 'redis is unreachable (connect ECONNREFUSED 127.0.0.1:6399)')

t.test('an outage is one error line, with its cause, and one line when a probe is answered', async (t) => {
  const { log, lines } = capture()
  const ping = scriptedPing()
  const outages = storeOutages(ping.ping, log, 1)
  t.teardown(() => outages.close())
  outages.failed(down, log.child({ reqId: 'req-1' }))
  outages.failed(down, log.child({ reqId: 'req-2' }))
  t.same(lines.map((l) => [l.msg, l.reqId]), [['store unreachable', 'req-1']], 'the first failure only, under its request')
  t.match(lines[0], { level: 50, err: { message: /127\.0\.0\.1:6399/ } })

  t.ok(await until(() => ping.calls() === 1, 5_000, 1), 'a probe pings the store')
  ping.answer(false)
  t.ok(await until(() => ping.calls() === 2, 5_000, 1), 'and again while it does not answer')
  t.equal(lines.length, 1, 'an unanswered probe logs nothing')
  ping.answer(true)
  t.ok(await until(() => lines.length === 2, 5_000, 1))
  t.match(lines[1], { level: 30, msg: 'store reachable again', outageMs: Number })

  outages.failed(down, log)
  t.equal(lines.filter((l) => l.msg === 'store unreachable').length, 2, 'the next outage is logged again')
})

t.test('once closed, nothing more is logged or probed', async (t) => {
  for (const answered of [true, false]) {
    const { log, lines } = capture()
    const ping = scriptedPing()
    const outages = storeOutages(ping.ping, log, 1)
    outages.failed(down, log)
    t.ok(await until(() => ping.calls() === 1, 5_000, 1))
    outages.close()
    ping.answer(answered)
    outages.failed(down, log)
    await new Promise((resolve) => setTimeout(resolve, 20))
    const probe = answered ? 'answered' : 'failing'
    t.same(lines.map((l) => l.msg), ['store unreachable'], `a probe ${probe} after close logs no end, and a new failure no outage`)
    t.equal(ping.calls(), 1, `a probe ${probe} after close is not followed by another`)
  }
})
