/**
 * The store as the service uses it: a backend (memory or Redis) behind
 * checkedStore, which applies every rule the backends share. Metrics are
 * added around it by instrumentStore (src/store/instrumented.ts).
 */
import { checkedStore } from './checked.js'
import { createMemoryBackend, type MemoryStoreOptions } from './memory/index.js'
import { createRedisBackend, type RedisStoreOptions } from './redis/index.js'
import type { EventOptions, EventSettings, Store, StoreOptions, StoreSettings } from './types.js'

export function createMemoryStore(options: MemoryStoreOptions): Store {
  return checkedStore(createMemoryBackend(options), options)
}

export function createRedisStore(options: RedisStoreOptions): Store {
  return checkedStore(createRedisBackend(options), options)
}

export const eventOptions = (events: EventSettings): EventOptions => ({ retentionMs: events.retentionSec * 1000 })

function storeOptions(settings: StoreSettings, clock?: () => number): StoreOptions {
  return {
    limits: settings.limits,
    indexedKeys: settings.indexedKeys,
    touchIntervalMs: settings.session.touchIntervalSec * 1000,
    ...(settings.events.enabled ? { events: eventOptions(settings.events) } : {}),
    ...(clock === undefined ? {} : { clock })
  }
}

/** The backend the settings name: memory by default, Redis when configured. */
export function createStore(settings: StoreSettings, clock?: () => number): Store {
  const options = storeOptions(settings, clock)
  const backend = settings.store
  if (backend.kind === 'memory') return createMemoryStore(options)
  return createRedisStore({
    ...options,
    connection: backend.connection,
    keyPrefix: backend.keyPrefix,
    commandTimeoutMs: settings.storeTimeoutMs,
    waitReplicas: backend.waitReplicas
  })
}
