/**
 * Helpers for the operations tests: real HTTP requests against a listening
 * app, each bounded by a generous outer timeout so that a hang shows up as
 * status 0 (asserted on) rather than as a stuck test; polling instead of
 * fixed sleeps; and summaries of measured latencies (reported, never asserted).
 */
import { performance } from 'node:perf_hooks'
import type { FastifyInstance } from 'fastify'
import type { Test } from 'tap'
import { buildApp, type AppOptions } from '../../src/app.js'
import { loadConfig } from '../../src/config.js'
import { BASE_ENV } from '../helpers/app.js'

/** Far above any STORE_TIMEOUT_MS used here: a request that takes this long has hung. */
export const HANG_MS = 30_000

export interface Reply {
  /** 0 when the request hung (outer timeout) or the connection failed. */
  readonly status: number
  readonly headers: Headers
  readonly body: string
  /** How long it took, start to end of body. */
  readonly ms: number
  /** When it ended (performance.now()). */
  readonly at: number
  readonly error?: string
}

export interface RequestInit {
  readonly method?: string
  readonly headers?: Record<string, string>
  readonly body?: unknown
}

export type Client = (path: string, init?: RequestInit) => Promise<Reply>

export function client(base: string): Client {
  return async (path, init = {}) => {
    const start = performance.now()
    const headers: Record<string, string> = { ...init.headers }
    if (init.body !== undefined) headers['content-type'] = 'application/json'
    try {
      const res = await fetch(`${base}${path}`, {
        method: init.method ?? 'GET',
        headers,
        body: init.body === undefined ? undefined : JSON.stringify(init.body),
        signal: AbortSignal.timeout(HANG_MS)
      })
      const body = await res.text()
      const at = performance.now()
      return { status: res.status, headers: res.headers, body, ms: at - start, at }
    } catch (err) {
      const at = performance.now()
      return { status: 0, headers: new Headers(), body: '', ms: at - start, at, error: err instanceof Error ? `${err.name}: ${err.message}` : String(err) }
    }
  }
}

/** Builds the real app from BASE_ENV plus `env`, listens on a free port, closes when `t` ends. */
export async function listening(t: Test, env: Record<string, string>, options: AppOptions = {}): Promise<{ app: FastifyInstance; http: Client }> {
  const app = await buildApp(loadConfig({ ...BASE_ENV, ...env }), options)
  t.teardown(() => app.close())
  const address = await app.listen({ port: 0, host: '127.0.0.1' })
  return { app, http: client(address) }
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/** Polls `probe` every `everyMs` until it is true or `withinMs` passes; resolves to whether it became true. */
export async function until(probe: () => Promise<boolean> | boolean, withinMs = 60_000, everyMs = 50): Promise<boolean> {
  const deadline = performance.now() + withinMs
  for (;;) {
    if (await probe()) return true
    if (performance.now() > deadline) return false
    await sleep(everyMs)
  }
}

/** The problem code of a problem+json reply, or a description of what came instead. */
export function codeOf(reply: Reply): string {
  try {
    return String((JSON.parse(reply.body) as { code?: unknown }).code)
  } catch {
    return `not problem+json: ${reply.status} ${reply.error ?? reply.body.slice(0, 100)}`
  }
}

/** Whether a reply is the documented outage answer: 503 store_unavailable with Retry-After. */
export function isUnavailable(reply: Reply, method = 'GET'): boolean {
  const code = method === 'HEAD' ? 'store_unavailable' : codeOf(reply)
  return reply.status === 503 && code === 'store_unavailable' && reply.headers.get('retry-after') !== null
}

export function summary(values: readonly number[]): string {
  if (values.length === 0) return 'n/a'
  const sorted = [...values].sort((a, b) => a - b)
  const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN
  return `n=${sorted.length} p50=${at(0.5).toFixed(0)} ms p95=${at(0.95).toFixed(0)} ms max=${(sorted[sorted.length - 1] ?? NaN).toFixed(0)} ms`
}

export interface Traffic {
  /** Every reply so far, in the order they ended. */
  readonly replies: readonly Reply[]
  stop(): Promise<void>
}

/** Runs `send` in `workers` loops until stopped: steady traffic for outage and failover tests. */
export function traffic(send: () => Promise<Reply>, workers = 4, pauseMs = 10): Traffic {
  const replies: Reply[] = []
  let running = true
  const loops = Array.from({ length: workers }, async () => {
    while (running) {
      replies.push(await send())
      await sleep(pauseMs)
    }
  })
  return {
    replies,
    async stop() {
      running = false
      await Promise.all(loops)
    }
  }
}
