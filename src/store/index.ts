import type { Config } from '../config.js'
import { createMemoryStore } from './memory.js'
import { createRedisStore } from './redis.js'
import type { Store, StoreOptions } from './types.js'

export function storeOptions(config: Config, clock?: () => number): StoreOptions {
  return {
    limits: config.limits,
    indexedKeys: config.indexedKeys,
    touchIntervalMs: config.session.touchIntervalSec * 1000,
    ...(clock === undefined ? {} : { clock })
  }
}

/** The backend the configuration names: memory by default, Redis when configured. */
export function createStore(config: Config, clock?: () => number): Store {
  const options = storeOptions(config, clock)
  if (config.store.kind === 'memory') return createMemoryStore(options)
  return createRedisStore({
    ...options,
    connection: config.store.connection,
    keyPrefix: config.store.keyPrefix,
    commandTimeoutMs: config.storeTimeoutMs,
    waitReplicas: config.store.waitReplicas
  })
}
