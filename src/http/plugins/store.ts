/**
 * The session store as `app.store`, measured into `app.metrics` (wrapped once,
 * so every backend is measured alike), and the clock it runs on as
 * `app.clock`. A store the app creates is closed with the app; one the caller
 * passes in is the caller's to close. `app.storeOutages` logs each outage
 * once; the store is pinged when the app starts listening, so that a store
 * unreachable at start-up is in the log before any request finds out.
 */
import fp from 'fastify-plugin'
import { storeOutages, type StoreOutages } from '../../log/store-outages.js'
import { createStore } from '../../store/index.js'
import { instrumentStore } from '../../store/instrumented.js'
import { startSweeper, sweepIntervalMs } from '../../store/sweeper.js'
import type { Store } from '../../store/types.js'

declare module 'fastify' {
  interface FastifyInstance {
    readonly store: Store
    /** Milliseconds since the epoch, as the store reads them: cookie lifetimes are counted on it. */
    readonly clock: () => number
    /** Where a store_unavailable is reported: logged once per outage, with its cause. */
    readonly storeOutages: StoreOutages
  }
}

export interface StorePluginOptions {
  /** A store the caller owns; by default the configured one. */
  readonly store?: Store | undefined
  readonly clock?: (() => number) | undefined
}

export default fp<StorePluginOptions>(
  async (app, options) => {
    const backend = options.store ?? createStore(app.config, options.clock)
    const store = instrumentStore(backend, app.metrics, { events: app.config.events.enabled })
    // Probes ping the store unmeasured: they are not operations anyone asked for.
    const outages = storeOutages(() => backend.ping(), app.log)
    app.decorate('store', store)
    app.decorate('clock', options.clock ?? Date.now)
    app.decorate('storeOutages', outages)
    if (options.store === undefined) app.addHook('onClose', async () => store.close())
    if (app.config.events.enabled) {
      const sweeper = startSweeper(() => store.sweepExpired(), sweepIntervalMs(app.config.events.expiryLagSec))
      // Added after the store's: it stops before the store closes.
      app.addHook('onClose', async () => sweeper.stop())
    }
    // Added after the store's: onClose hooks run last-added first, so nothing failing as the store closes reads as an outage.
    app.addHook('onClose', async () => outages.close())
    app.addHook('onListen', async () => {
      await backend.ping().catch((err: unknown) => outages.failed(err, app.log))
    })
    if (store.kind === 'memory') app.log.warn('STORE=memory: sessions live in this process only; they are not shared and do not survive a restart')
  },
  { name: 'sessiond-store', fastify: '5.x', dependencies: ['sessiond-config', 'sessiond-metrics'] }
)
