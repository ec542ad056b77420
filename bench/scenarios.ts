/** The requests each benchmark scenario sends: a random session per request. */
import { pick, sessionBody, type Fixture, type LoadRequest } from './lib.js'

export type ScenarioName = 'hello' | 'thin-read' | 'read' | 'auth' | 'memory-read' | 'thin-write' | 'write' | 'cart-write' | 'cart-write-indexed' | 'create'

export interface ScenarioInfo {
  readonly name: ScenarioName
  readonly what: string
  /** Which process answers. */
  readonly target: 'hello' | 'thin' | 'redis' | 'memory' | 'cart'
  /** The baseline its ×thin ratio is taken against, and the target for that ratio. */
  readonly thin: 'thin-read' | 'thin-write' | null
  readonly thinTarget: number | null
  readonly helloTarget: number | null
}

export const SCENARIOS: readonly ScenarioInfo[] = [
  { name: 'hello', what: 'bare fastify, fixed JSON of a session read\'s size', target: 'hello', thin: null, thinTarget: null, helloTarget: null },
  { name: 'thin-read', what: 'bare fastify + ioredis, EVALSHA HGETALL+PEXPIRE', target: 'thin', thin: null, thinTarget: null, helloTarget: null },
  { name: 'read', what: 'GET /v1/session (cookie + service key)', target: 'redis', thin: 'thin-read', thinTarget: 1.0, helloTarget: null },
  { name: 'auth', what: 'GET /v1/auth (cookie)', target: 'redis', thin: 'thin-read', thinTarget: 1.0, helloTarget: null },
  { name: 'memory-read', what: 'GET /v1/session, STORE=memory', target: 'memory', thin: 'thin-read', thinTarget: null, helloTarget: 0.7 },
  { name: 'thin-write', what: 'bare fastify + ioredis, EVALSHA HSET+PEXPIRE', target: 'thin', thin: null, thinTarget: null, helloTarget: null },
  { name: 'write', what: 'PUT /v1/session/data/counter (cookie + service key)', target: 'redis', thin: 'thin-write', thinTarget: 1.0, helloTarget: null },
  { name: 'cart-write', what: 'PUT /v1/session/data/cart, 5 items, INDEXED_KEYS=tenant', target: 'redis', thin: 'thin-write', thinTarget: null, helloTarget: null },
  { name: 'cart-write-indexed', what: 'the same with a cart[].sku entry', target: 'cart', thin: 'thin-write', thinTarget: null, helloTarget: null },
  { name: 'create', what: 'POST /v1/sessions (userId + 8 keys)', target: 'redis', thin: null, thinTarget: null, helloTarget: null }
]

export interface ScenarioInputs {
  readonly serviceKey: string
  readonly redisFixtures: readonly Fixture[]
  readonly memoryFixtures: readonly Fixture[]
  /** Sessions of the service with a cart[].sku entry. */
  readonly cartFixtures: readonly Fixture[]
}

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

let created = 0

/** A request generator for a scenario. */
export function requestsFor(name: ScenarioName, inputs: ScenarioInputs): () => LoadRequest {
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
    case 'memory-read':
      return () => ({ method: 'GET', path: '/v1/session', headers: { cookie: pick(inputs.memoryFixtures).cookie, authorization: bearer } })
    case 'auth':
      return () => ({ method: 'GET', path: '/v1/auth', headers: { cookie: pick(inputs.redisFixtures).cookie } })
    case 'write':
      return () => ({
        method: 'PUT',
        path: '/v1/session/data/counter',
        headers: { cookie: pick(inputs.redisFixtures).cookie, authorization: bearer, 'content-type': json },
        body: `{"value":${Math.floor(Math.random() * 1e6)}}`
      })
    case 'cart-write':
      return cartWrite(inputs.redisFixtures, bearer)
    case 'cart-write-indexed':
      return cartWrite(inputs.cartFixtures, bearer)
    case 'create':
      return () => {
        const i = created++
        return { method: 'POST', path: '/v1/sessions', headers: { authorization: bearer, 'content-type': json }, body: sessionBody(`bench-new-${process.pid}-${i}`, i) }
      }
  }
}
