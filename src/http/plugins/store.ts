/**
 * The session store as `app.store`, measured into `app.metrics` (wrapped once,
 * so every backend is measured alike), and the clock it runs on as
 * `app.clock`. A store the app creates is closed with the app; one the caller
 * passes in is the caller's to close.
 */
import fp from 'fastify-plugin'
import { createStore } from '../../store/index.js'
import { instrumentStore } from '../../store/instrumented.js'
import type { Store } from '../../store/types.js'

declare module 'fastify' {
  interface FastifyInstance {
    readonly store: Store
    /** Milliseconds since the epoch, as the store reads them: cookie lifetimes are counted on it. */
    readonly clock: () => number
  }
}

export interface StorePluginOptions {
  /** A store the caller owns; by default the configured one. */
  readonly store?: Store | undefined
  readonly clock?: (() => number) | undefined
}

export default fp<StorePluginOptions>(
  async (app, options) => {
    const store = instrumentStore(options.store ?? createStore(app.config, options.clock), app.metrics, { events: app.config.events.enabled })
    app.decorate('store', store)
    app.decorate('clock', options.clock ?? Date.now)
    if (options.store === undefined) app.addHook('onClose', async () => store.close())
    if (store.kind === 'memory') app.log.warn('STORE=memory: sessions live in this process only; they are not shared and do not survive a restart')
  },
  { name: 'sessiond-store', fastify: '5.x', dependencies: ['sessiond-config', 'sessiond-metrics'] }
)
