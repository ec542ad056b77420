/**
 * A real webhook receiver for the tests: node:http on 127.0.0.1, a free port,
 * recording every request it gets and answering what the test says (a
 * status, or never). It can go down (the port refuses connections) and come
 * back on the same port.
 */
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Test } from 'tap'

export interface Received {
  readonly headers: IncomingHttpHeaders
  /** The raw body, as signed. */
  readonly body: string
  /** The body parsed. */
  readonly event: { readonly id: string; readonly type: string; readonly handle: string; readonly userId: string | null; readonly newHandle?: string }
  /** The status it was answered with; null while it hangs, or when it never was. */
  status: number | null
}

/** What to answer a request with: a status, or 'hang' to never answer. */
export type Answer = (request: Received, attempt: number) => number | 'hang'

export interface Receiver {
  readonly url: string
  /** Every request, in arrival order. */
  readonly received: readonly Received[]
  answer: Answer
  /** Requests open now, and the most that were open at once. */
  open(): number
  maxOpen(): number
  /** Answers every hanging request with `status` now. */
  release(status: number): void
  /** The port refuses connections until up(). */
  down(): Promise<void>
  up(): Promise<void>
}

/** Resolves once `done()` holds, polling; fails the wait with `what` after `ms`. */
export async function until(done: () => boolean | Promise<boolean>, what: string, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

export async function startReceiver(t: Test, answer: Answer = () => 204): Promise<Receiver> {
  const received: Received[] = []
  const attempts = new Map<string, number>()
  const hanging = new Map<ServerResponse, Received>()
  let open = 0
  let maxOpen = 0
  const server = createServer((req, res) => {
    open++
    maxOpen = Math.max(maxOpen, open)
    res.once('close', () => {
      open--
      hanging.delete(res)
    })
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString()
      const request: Received = { headers: req.headers, body, event: JSON.parse(body) as Received['event'], status: null }
      received.push(request)
      const attempt = (attempts.get(request.event.id) ?? 0) + 1
      attempts.set(request.event.id, attempt)
      const status = receiver.answer(request, attempt)
      if (status === 'hang') {
        hanging.set(res, request)
        return
      }
      request.status = status
      res.writeHead(status).end()
    })
  })
  const listen = (port: number): Promise<number> =>
    new Promise((resolve, reject) => {
      server.once('error', reject)
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject)
        resolve((server.address() as AddressInfo).port)
      })
    })
  const close = (): Promise<void> =>
    new Promise((resolve) => {
      for (const res of hanging.keys()) res.destroy()
      server.closeAllConnections()
      server.close(() => resolve())
    })
  const port = await listen(0)
  const receiver: Receiver = {
    url: `http://127.0.0.1:${port}/hooks/sessiond`,
    received,
    answer,
    open: () => open,
    maxOpen: () => maxOpen,
    release(status) {
      for (const [res, request] of hanging) {
        request.status = status
        res.writeHead(status).end()
      }
    },
    down: close,
    async up() {
      await listen(port)
    }
  }
  t.teardown(() => (server.listening ? close() : undefined))
  return receiver
}
