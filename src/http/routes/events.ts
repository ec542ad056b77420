/**
 * `GET /v1/events` (admin key): the lifecycle events after a cursor, oldest
 * first, as JSON, long-polling up to `wait` seconds while there are none.
 * 404 without EVENTS=true. Events carry no token and no session data (see
 * src/store/events.ts).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { z } from 'zod'
import { AppError } from '../../errors.js'
import { MAX_EVENTS_PAGE, type EventPage, type LifecycleEvent } from '../../store/events.js'
import { isoTime } from '../iso-time.js'
import { parse } from '../schemas.js'

const DEFAULT_LIMIT = 100
export const MAX_WAIT_SEC = 30
/** How often a long poll reads again: other instances' events arrive only through the store. */
const POLL_MS = 250

const eventsQuery = z.object({
  after: z.string().min(1).max(2048).optional(),
  limit: z.coerce.number().int().min(1).max(MAX_EVENTS_PAGE).default(DEFAULT_LIMIT),
  wait: z.coerce.number().min(0).max(MAX_WAIT_SEC).default(0)
})

/** An event on the wire: its time as ISO-8601. */
export const eventJson = (event: LifecycleEvent): Record<string, unknown> => ({ ...event, time: isoTime(event.time) })

/** Resolves after `ms`, or as soon as the request's connection closes. */
function pause(request: FastifyRequest, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer)
      request.raw.off('close', done)
      resolve()
    }
    const timer = setTimeout(done, ms)
    request.raw.once('close', done)
  })
}

/** Whether the client has gone away. */
const gone = (request: FastifyRequest): boolean => request.raw.destroyed || request.raw.socket.destroyed

export default async function eventsRoutes(app: FastifyInstance): Promise<void> {
  const { store, config } = app
  app.addHook('onRequest', app.requireApiKey('admin'))

  /** Reads after `after` until there are events, `waitMs` has passed or the client left. */
  async function poll(request: FastifyRequest, after: string | null, limit: number, waitMs: number): Promise<EventPage> {
    const until = Date.now() + waitMs
    let page = await store.readEvents(after, limit)
    while (page.events.length === 0 && Date.now() < until && !gone(request)) {
      await pause(request, Math.min(POLL_MS, until - Date.now()))
      page = await store.readEvents(page.nextCursor, limit)
    }
    return page
  }

  app.get('/v1/events', async (request) => {
    if (!config.events.enabled) throw new AppError('not_found', 'events are off (EVENTS=false)')
    const query = parse(eventsQuery, request.query, 'query')
    const page = await poll(request, query.after ?? null, query.limit, query.wait * 1000)
    return { events: page.events.map(eventJson), nextCursor: page.nextCursor }
  })
}
