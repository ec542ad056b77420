/**
 * The requests each benchmark scenario sends: a random session per request,
 * except where a request uses a session up. A rotation makes its cookie stale,
 * so rotations run as chains: each takes a cookie no request in flight holds,
 * and its answer's new cookie goes back in the queue. A destroy ends its
 * session, so each destroys one of a pool created for it beforehand, and the
 * scenario runs a fixed number of requests (ScenarioInfo.pool) rather than a
 * fixed time.
 */
import { pick, sessionBody, type Fixture, type LoadOptions, type LoadRequest } from './lib.js'

export type ScenarioName =
  | 'hello'
  | 'thin-read'
  | 'read'
  | 'events-read'
  | 'hook-read'
  | 'auth'
  | 'memory-read'
  | 'thin-write'
  | 'write'
  | 'events-write'
  | 'hook-write'
  | 'cart-write'
  | 'cart-write-indexed'
  | 'create'
  | 'events-create'
  | 'rotate'
  | 'events-rotate'
  | 'destroy'
  | 'events-destroy'

export interface ScenarioInfo {
  readonly name: ScenarioName
  readonly what: string
  /**
   * Which process answers; `events` is the Redis service with EVENTS=true, on
   * a Redis of its own, `hooked` the same with WEBHOOK_URL at a receiver that
   * never answers (its deliverer holds its 16 POSTs open all run long).
   */
  readonly target: 'hello' | 'thin' | 'redis' | 'memory' | 'cart' | 'events' | 'hooked'
  /** The baseline its ×thin ratio is taken against, and the target for that ratio. */
  readonly thin: 'thin-read' | 'thin-write' | null
  readonly thinTarget: number | null
  readonly helloTarget: number | null
  /**
   * For a scenario that differs from another by one setting (EVENTS=true; a
   * webhook receiver that never answers): that scenario, the same requests
   * without the setting, which its ratio is taken against.
   */
  readonly against?: ScenarioName
  /** Each request uses up a session of a pool (ScenarioInputs.pools): run by request count, not duration. */
  readonly pool?: boolean
}

export const SCENARIOS: readonly ScenarioInfo[] = [
  { name: 'hello', what: 'bare fastify, fixed JSON of a session read\'s size', target: 'hello', thin: null, thinTarget: null, helloTarget: null },
  { name: 'thin-read', what: 'bare fastify + ioredis, EVALSHA HGETALL+PEXPIRE', target: 'thin', thin: null, thinTarget: null, helloTarget: null },
  { name: 'read', what: 'GET /v1/session (cookie + service key)', target: 'redis', thin: 'thin-read', thinTarget: 1.0, helloTarget: null },
  { name: 'events-read', what: 'read, EVENTS=true', target: 'events', thin: 'thin-read', thinTarget: null, helloTarget: null, against: 'read' },
  { name: 'hook-read', what: 'read, EVENTS=true, the webhook receiver hanging', target: 'hooked', thin: 'thin-read', thinTarget: null, helloTarget: null, against: 'events-read' },
  { name: 'auth', what: 'GET /v1/auth (cookie)', target: 'redis', thin: 'thin-read', thinTarget: 1.0, helloTarget: null },
  { name: 'memory-read', what: 'GET /v1/session, STORE=memory', target: 'memory', thin: 'thin-read', thinTarget: null, helloTarget: 0.7 },
  { name: 'thin-write', what: 'bare fastify + ioredis, EVALSHA HSET+PEXPIRE', target: 'thin', thin: null, thinTarget: null, helloTarget: null },
  { name: 'write', what: 'PUT /v1/session/data/counter (cookie + service key)', target: 'redis', thin: 'thin-write', thinTarget: 1.0, helloTarget: null },
  { name: 'events-write', what: 'write, EVENTS=true', target: 'events', thin: 'thin-write', thinTarget: null, helloTarget: null, against: 'write' },
  { name: 'hook-write', what: 'write, EVENTS=true, the webhook receiver hanging', target: 'hooked', thin: 'thin-write', thinTarget: null, helloTarget: null, against: 'events-write' },
  { name: 'cart-write', what: 'PUT /v1/session/data/cart, 5 items, INDEXED_KEYS=tenant', target: 'redis', thin: 'thin-write', thinTarget: null, helloTarget: null },
  { name: 'cart-write-indexed', what: 'the same with a cart[].sku entry', target: 'cart', thin: 'thin-write', thinTarget: null, helloTarget: null },
  { name: 'create', what: 'POST /v1/sessions (userId + 8 keys)', target: 'redis', thin: null, thinTarget: null, helloTarget: null },
  { name: 'events-create', what: 'create, EVENTS=true', target: 'events', thin: null, thinTarget: null, helloTarget: null, against: 'create' },
  { name: 'rotate', what: 'POST /v1/session/rotate (cookie + service key), chained', target: 'redis', thin: null, thinTarget: null, helloTarget: null },
  { name: 'events-rotate', what: 'rotate, EVENTS=true', target: 'events', thin: null, thinTarget: null, helloTarget: null, against: 'rotate' },
  { name: 'destroy', what: 'DELETE /v1/sessions/{handle} (service key), each once', target: 'redis', thin: null, thinTarget: null, helloTarget: null, pool: true },
  { name: 'events-destroy', what: 'destroy, EVENTS=true', target: 'events', thin: null, thinTarget: null, helloTarget: null, against: 'destroy', pool: true }
]

export interface ScenarioInputs {
  readonly serviceKey: string
  readonly redisFixtures: readonly Fixture[]
  readonly memoryFixtures: readonly Fixture[]
  /** Sessions of the service with a cart[].sku entry. */
  readonly cartFixtures: readonly Fixture[]
  /** Sessions of the EVENTS=true service. */
  readonly eventsFixtures: readonly Fixture[]
  /** Sessions of the `hooked` service. */
  readonly hookFixtures: readonly Fixture[]
  /** Sessions only rotations use, per service (they go stale as they are rotated). */
  readonly rotateFixtures: { readonly redis: readonly Fixture[]; readonly events: readonly Fixture[] }
  /** Handles of sessions created for the destroy scenarios, each destroyed once. */
  readonly pools: { readonly redis: readonly string[]; readonly events: readonly string[] }
}

/** What a scenario sends, and what it does with the answers. */
export type Traffic = Pick<LoadOptions, 'next' | 'onResponse'>

/** A PUT of a cart of 5 items, 5 distinct SKUs of 1,000. */
function cartWrite(fixtures: readonly Fixture[], bearer: string): () => LoadRequest {
  return () => {
    const first = Math.floor(Math.random() * 1000)
    const cart = Array.from({ length: 5 }, (_, j) => ({ sku: `SKU-${(first + j) % 1000}`, qty: 1 + j }))
    return {
      method: 'PUT',
      path: '/v1/session/data/cart',
      headers: { cookie: pick(fixtures).cookie, authorization: bearer, 'content-type': 'application/json' },
      body: JSON.stringify({ value: cart })
    }
  }
}

/** Rotations of sessions no request in flight holds: each answer's cookie replaces the one it rotated. */
function rotations(fixtures: readonly Fixture[], bearer: string): Traffic {
  const free = fixtures.map((f) => f.cookie)
  return {
    // An empty queue (answers lost to errors) sends no cookie, which fails visibly as a non-2xx.
    next: () => ({ method: 'POST', path: '/v1/session/rotate', headers: { cookie: free.shift() ?? '', authorization: bearer } }),
    onResponse: (status, _body, headers) => {
      const setCookie = headers['set-cookie']
      const cookie = (Array.isArray(setCookie) ? setCookie[0] : setCookie)?.split(';')[0]
      if (status === 201 && cookie !== undefined) free.push(cookie)
    }
  }
}

/** Destroys of the pool's sessions, in order, each once. */
function destroys(handles: readonly string[], bearer: string): Traffic {
  let next = 0
  return { next: () => ({ method: 'DELETE', path: `/v1/sessions/${handles[next++] ?? 'pool-exhausted'}`, headers: { authorization: bearer } }) }
}

/** A PUT of a random number to `counter`. */
function counterWrites(fixtures: readonly Fixture[], bearer: string): () => LoadRequest {
  return () => ({
    method: 'PUT',
    path: '/v1/session/data/counter',
    headers: { cookie: pick(fixtures).cookie, authorization: bearer, 'content-type': 'application/json' },
    body: `{"value":${Math.floor(Math.random() * 1e6)}}`
  })
}

let created = 0

/** What a scenario sends. */
export function trafficFor(name: ScenarioName, inputs: ScenarioInputs): Traffic {
  const bearer = `Bearer ${inputs.serviceKey}`
  switch (name) {
    case 'rotate':
      return rotations(inputs.rotateFixtures.redis, bearer)
    case 'events-rotate':
      return rotations(inputs.rotateFixtures.events, bearer)
    case 'destroy':
      return destroys(inputs.pools.redis, bearer)
    case 'events-destroy':
      return destroys(inputs.pools.events, bearer)
    default:
      return { next: requestsFor(name, inputs) }
  }
}

/** A request generator for a scenario whose requests leave its sessions as they were (or make new ones). */
function requestsFor(name: Exclude<ScenarioName, 'rotate' | 'events-rotate' | 'destroy' | 'events-destroy'>, inputs: ScenarioInputs): () => LoadRequest {
  const bearer = `Bearer ${inputs.serviceKey}`
  const json = 'application/json'
  switch (name) {
    case 'hello':
      return () => ({ method: 'GET', path: '/hello', headers: {} })
    case 'thin-read':
      return () => ({ method: 'GET', path: `/thin/${pick(inputs.redisFixtures).handle}`, headers: {} })
    case 'thin-write':
      return () => ({
        method: 'PUT',
        path: `/thin/${pick(inputs.redisFixtures).handle}/counter`,
        headers: { 'content-type': json },
        body: `{"value":${Math.floor(Math.random() * 1e6)}}`
      })
    case 'read':
      return () => ({ method: 'GET', path: '/v1/session', headers: { cookie: pick(inputs.redisFixtures).cookie, authorization: bearer } })
    case 'events-read':
      return () => ({ method: 'GET', path: '/v1/session', headers: { cookie: pick(inputs.eventsFixtures).cookie, authorization: bearer } })
    case 'hook-read':
      return () => ({ method: 'GET', path: '/v1/session', headers: { cookie: pick(inputs.hookFixtures).cookie, authorization: bearer } })
    case 'memory-read':
      return () => ({ method: 'GET', path: '/v1/session', headers: { cookie: pick(inputs.memoryFixtures).cookie, authorization: bearer } })
    case 'auth':
      return () => ({ method: 'GET', path: '/v1/auth', headers: { cookie: pick(inputs.redisFixtures).cookie } })
    case 'write':
      return counterWrites(inputs.redisFixtures, bearer)
    case 'events-write':
      return counterWrites(inputs.eventsFixtures, bearer)
    case 'hook-write':
      return counterWrites(inputs.hookFixtures, bearer)
    case 'cart-write':
      return cartWrite(inputs.redisFixtures, bearer)
    case 'cart-write-indexed':
      return cartWrite(inputs.cartFixtures, bearer)
    case 'create':
    case 'events-create':
      return () => {
        const i = created++
        return { method: 'POST', path: '/v1/sessions', headers: { authorization: bearer, 'content-type': json }, body: sessionBody(`bench-new-${process.pid}-${i}`, i) }
      }
  }
}
