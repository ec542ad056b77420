/**
 * `GET /v1/events` (admin key): the lifecycle events after a cursor, oldest
 * first, as JSON, long-polling up to `wait` seconds while there are none, or
 * with `Accept: text/event-stream` as Server-Sent Events (`id:` the cursor
 * after the event, `event:` its type, `data:` its JSON; `Last-Event-ID` wins
 * over `after`; a comment line every 15 s). 404 without EVENTS=true. Events
 * carry no token and no session data (see src/store/events.ts).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { z } from 'zod'
import { AppError } from '../../errors.js'
import { MAX_EVENTS_PAGE, type EventPage, type LifecycleEvent } from '../../store/events.js'
import { isoTime } from '../iso-time.js'
import { toAppError } from '../problem.js'
import { parse } from '../schemas.js'

const DEFAULT_LIMIT = 100
export const MAX_WAIT_SEC = 30
/** How often a long poll or a stream reads again: other instances' events arrive only through the store. */
const POLL_MS = 250
/** A stream writes a comment line when it has been silent this long, so that proxies keep it open. */
export const HEARTBEAT_MS = 15_000

const cursorText = z.string().min(1).max(2048)
const eventsQuery = z.object({
  after: cursorText.optional(),
  limit: z.coerce.number().int().min(1).max(MAX_EVENTS_PAGE).default(DEFAULT_LIMIT),
  wait: z.coerce.number().min(0).max(MAX_WAIT_SEC).default(0)
})
const streamHeaders = z.object({ 'last-event-id': cursorText.optional() })

/** An event on the wire: its time as ISO-8601. */
export const eventJson = (event: LifecycleEvent): Record<string, unknown> => ({ ...event, time: isoTime(event.time) })

/** Resolves after `ms`, or as soon as the response's connection closes (the response's, since a request's closes once it is read). */
function pause(reply: FastifyReply, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer)
      reply.raw.off('close', done)
      resolve()
    }
    const timer = setTimeout(done, ms)
    reply.raw.once('close', done)
  })
}

/** Whether the client has gone away. */
const gone = (reply: FastifyReply): boolean => reply.raw.destroyed || reply.raw.socket?.destroyed === true

const wantsStream = (request: FastifyRequest): boolean => (request.headers.accept ?? '').includes('text/event-stream')

/** One Server-Sent Event per lifecycle event; a cursor never holds a newline. */
const sseFrame = (event: LifecycleEvent, cursor: string): string => `id: ${cursor}\nevent: ${event.type}\ndata: ${JSON.stringify(eventJson(event))}\n\n`

export default async function eventsRoutes(app: FastifyInstance): Promise<void> {
  const { store, config } = app
  app.addHook('onRequest', app.requireApiKey('admin'))

  /** Reads after `after` until there are events, `waitMs` has passed or the client left. */
  async function poll(reply: FastifyReply, after: string | null, limit: number, waitMs: number): Promise<EventPage> {
    const until = Date.now() + waitMs
    let page = await store.readEvents(after, limit)
    while (page.events.length === 0 && Date.now() < until && !gone(reply)) {
      await pause(reply, Math.min(POLL_MS, until - Date.now()))
      page = await store.readEvents(page.nextCursor, limit)
    }
    return page
  }

  /**
   * Streams from `first` (already read, so that a bad or expired cursor was
   * a problem+json answer) until the client leaves; a store failure ends the
   * stream with an `error` event carrying the problem, and the client
   * resumes from its last id.
   */
  async function stream(request: FastifyRequest, reply: FastifyReply, first: EventPage, limit: number): Promise<void> {
    reply.hijack()
    const out = reply.raw
    out.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive', 'x-accel-buffering': 'no' })
    let page = first
    let lastWrite = Date.now()
    try {
      while (!gone(reply)) {
        if (page.events.length > 0) {
          out.write(page.events.map((event, i) => sseFrame(event, page.cursors[i] ?? page.nextCursor)).join(''))
          lastWrite = Date.now()
        } else {
          if (Date.now() - lastWrite >= HEARTBEAT_MS) {
            out.write(': keep-alive\n\n')
            lastWrite = Date.now()
          }
          await pause(reply, POLL_MS)
        }
        if (!gone(reply)) page = await store.readEvents(page.nextCursor, limit)
      }
    } catch (err) {
      const problem = toAppError(err)
      request.log.warn({ code: problem.code }, 'event stream ended by a store failure')
      // The code only: a backend's own message never reaches a client.
      out.write(`event: error\ndata: ${JSON.stringify({ code: problem.code })}\n\n`)
    }
    out.end()
  }

  app.get('/v1/events', async (request, reply) => {
    if (!config.events.enabled) throw new AppError('not_found', 'events are off (EVENTS=false)')
    const query = parse(eventsQuery, request.query, 'query')
    if (wantsStream(request)) {
      const lastEventId = parse(streamHeaders, request.headers, 'headers')['last-event-id']
      const first = await store.readEvents(lastEventId ?? query.after ?? null, query.limit)
      return stream(request, reply, first, query.limit)
    }
    const page = await poll(reply, query.after ?? null, query.limit, query.wait * 1000)
    return { events: page.events.map(eventJson), nextCursor: page.nextCursor }
  })
}
