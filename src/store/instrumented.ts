/**
 * Store metrics without touching the backends: instrumentStore wraps any
 * Store once and records, in the given prom-client registry, how long each
 * operation takes, which ones fail (store_unavailable or internal; a domain
 * outcome such as session_not_found is not a failure), the session lifecycle
 * counters, and a live-sessions gauge counted on scrape. No label ever
 * carries a handle, token or user id: only operation names and error codes.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client'
import { isAppError } from '../errors.js'
import { cachedChildren } from '../metric-children.js'
import type { Store } from './types.js'

/** The Store methods that are timed (close is not an operation). */
export type StoreOperation = Exclude<keyof Store, 'kind' | 'close'>

/** Seconds; Redis round trips are well under a millisecond, a timeout is STORE_TIMEOUT_MS. */
const STORE_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5]

/** What an error counts as: a store failure by code, or null for a domain outcome. */
function failureCode(err: unknown): string | null {
  if (!isAppError(err)) return 'internal'
  return err.code === 'store_unavailable' || err.code === 'internal' ? err.code : null
}

export interface InstrumentOptions {
  /** EVENTS=true: the events this instance's calls record are counted. */
  readonly events: boolean
}

export function instrumentStore(store: Store, registry: Registry, instrument: InstrumentOptions = { events: false }): Store {
  const registers = [registry]
  const duration = new Histogram({
    name: 'sessiond_store_operation_duration_seconds',
    help: 'Duration of store operations, failed ones included.',
    labelNames: ['operation'] as const,
    buckets: STORE_BUCKETS,
    registers
  })
  const errors = new Counter({
    name: 'sessiond_store_errors_total',
    help: 'Store operations that failed: store_unavailable (Redis down, slow or refusing) or internal.',
    labelNames: ['operation', 'code'] as const,
    registers
  })
  const created = new Counter({ name: 'sessiond_sessions_created_total', help: 'Sessions created.', registers })
  const destroyed = new Counter({
    name: 'sessiond_sessions_destroyed_total',
    help: 'Sessions ended by a request: destroy (logout, DELETE by handle, a device), logout_all, index (DELETE /v1/sessions?key=&value=). Expiry is not counted.',
    labelNames: ['reason'] as const,
    registers
  })
  const rotated = new Counter({ name: 'sessiond_sessions_rotated_total', help: 'Sessions rotated to a new token.', registers })
  const recorded = new Counter({
    name: 'sessiond_events_recorded_total',
    help: 'Lifecycle events recorded by this instance\'s requests and sweeps, by type and reason (an expiry a request comes across in passing and MAX_SESSIONS_PER_USER evictions are not counted).',
    labelNames: ['type', 'reason'] as const,
    registers
  })
  const record = (type: 'created' | 'rotated' | 'ended', reason: string, n = 1): void => {
    if (instrument.events && n > 0) recorded.inc({ type: `session.${type}`, reason }, n)
  }
  const sweepDuration = new Histogram({
    name: 'sessiond_events_sweep_duration_seconds',
    help: 'Duration of this instance\'s sweeps of expired sessions (EVENTS=true), failed ones included.',
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10],
    registers
  })
  const trimmed = new Counter({
    name: 'sessiond_events_trimmed_total',
    help: 'Events this instance\'s sweeps trimmed as older than EVENTS_RETENTION.',
    registers
  })
  const logoutAll = new Counter({ name: 'sessiond_logout_all_total', help: 'Log-out-everywhere calls (admin or a user\'s own devices).', registers })
  new Gauge({
    name: 'sessiond_sessions_live',
    help: 'Live sessions in the store, counted at scrape time; absent when the store cannot be reached.',
    registers,
    async collect() {
      try {
        this.set((await store.countSessions()).total)
      } catch {
        // The scrape still succeeds; the gauge is left unset rather than stale.
        this.remove()
      }
    }
  }).remove()

  const durationOf = cachedChildren(duration)

  async function timed<T>(operation: StoreOperation, run: () => Promise<T>): Promise<T> {
    // performance.now() rather than startTimer(), which allocates two closures and a label object per call.
    const started = performance.now()
    try {
      return await run()
    } catch (err) {
      const code = failureCode(err)
      if (code !== null) errors.inc({ operation, code })
      throw err
    } finally {
      durationOf(operation, { operation }).observe((performance.now() - started) / 1000)
    }
  }

  return {
    kind: store.kind,
    deliveries: store.deliveries,
    async create(input, change) {
      const session = await timed('create', () => store.create(input, change))
      created.inc()
      record('created', '')
      return session
    },
    get: (handle, options) => timed('get', () => store.get(handle, options)),
    getKey: (handle, key, options) => timed('getKey', () => store.getKey(handle, key, options)),
    setKey: (handle, key, value, options) => timed('setKey', () => store.setKey(handle, key, value, options)),
    deleteKey: (handle, key, options) => timed('deleteKey', () => store.deleteKey(handle, key, options)),
    patch: (handle, ops, options) => timed('patch', () => store.patch(handle, ops, options)),
    async destroy(handle, change) {
      const ended = await timed('destroy', () => store.destroy(handle, change))
      if (ended) {
        destroyed.inc({ reason: 'destroy' })
        record('ended', change?.reason ?? 'destroyed')
      }
      return ended
    },
    async rotate(handle, newHandle, options) {
      const session = await timed('rotate', () => store.rotate(handle, newHandle, options))
      rotated.inc()
      record('rotated', '')
      return session
    },
    listUserSessions: (userId) => timed('listUserSessions', () => store.listUserSessions(userId)),
    async revokeUserSessions(userId, options) {
      const ended = await timed('revokeUserSessions', () => store.revokeUserSessions(userId, options))
      logoutAll.inc()
      destroyed.inc({ reason: 'logout_all' }, ended)
      record('ended', 'revoked', ended)
      return ended
    },
    listByIndex: (key, value, options) => timed('listByIndex', () => store.listByIndex(key, value, options)),
    async revokeByIndex(key, value, change) {
      const ended = await timed('revokeByIndex', () => store.revokeByIndex(key, value, change))
      destroyed.inc({ reason: 'index' }, ended)
      record('ended', 'revoked', ended)
      return ended
    },
    countSessions: (byKey) => timed('countSessions', () => store.countSessions(byKey)),
    readEvents: (after, limit) => timed('readEvents', () => store.readEvents(after, limit)),
    async sweepExpired() {
      const end = sweepDuration.startTimer()
      try {
        const outcome = await timed('sweepExpired', () => store.sweepExpired())
        record('ended', 'expired', outcome.expired)
        trimmed.inc(outcome.trimmed)
        return outcome
      } finally {
        end()
      }
    },
    ping: () => timed('ping', () => store.ping()),
    close: () => store.close()
  }
}
