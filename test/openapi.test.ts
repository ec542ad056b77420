/**
 * openapi.yaml and the running app agree (spec §3):
 * - every route the app registers is documented, and every documented
 *   operation is served;
 * - real responses, driven through app.inject, have a documented status,
 *   content type, headers and a body that validates against the file's
 *   schema (Ajv, JSON Schema 2020-12, the dialect of OpenAPI 3.1);
 * - every documented operation is exercised at least once.
 *
 * Routes are collected with an `onRoute` hook attached through fastify's
 * `fastify.initialization` diagnostics channel, which is published as each
 * instance is created, before buildApp registers anything.
 */
import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import { readFileSync } from 'node:fs'
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js'
import ajvFormats from 'ajv-formats'
import type { FastifyInstance, InjectOptions, LightMyRequestResponse, RouteOptions } from 'fastify'
import t, { type Test } from 'tap'
import { parse as parseYaml } from 'yaml'
import { buildApp } from '../src/app.js'
import { loadConfig } from '../src/config.js'
import { ERROR_STATUS } from '../src/errors.js'
import { createStore } from '../src/store/index.js'
import { ADMIN_KEY, BASE_ENV, SERVICE_KEY } from './helpers/app.js'
import { startReceiver, until } from './helpers/receiver.js'

// ------------------------------------------------------------ the document

type Json = Record<string, unknown>

const SPEC_TEXT = readFileSync(new URL('../openapi.yaml', import.meta.url), 'utf8')
const doc = parseYaml(SPEC_TEXT) as Json
const DOC_ID = 'https://sessiond.invalid/openapi.yaml'
/** The methods an OpenAPI 3.1 path item can name. */
const OPENAPI_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v)
const objectAt = (v: unknown): Json => (isObject(v) ? v : {})
const arrayAt = (v: unknown): unknown[] => (Array.isArray(v) ? (v as unknown[]) : [])
const pointerPart = (s: string) => s.replaceAll('~', '~0').replaceAll('/', '~1')

/** Follows `$ref`s (local ones only) and returns the node and its JSON pointer. */
function deref(node: unknown, pointer: string): { node: Json; pointer: string } {
  let current = objectAt(node)
  let at = pointer
  for (let hops = 0; typeof current.$ref === 'string'; hops++) {
    if (hops > 10 || !current.$ref.startsWith('#/')) throw new Error(`cannot follow $ref ${String(current.$ref)} at ${at}`)
    at = current.$ref
    current = objectAt(
      current.$ref
        .slice(2)
        .split('/')
        .map((p) => p.replaceAll('~1', '/').replaceAll('~0', '~'))
        .reduce<unknown>((n, key) => objectAt(n)[key], doc)
    )
  }
  return { node: current, pointer: at }
}

const paths = objectAt(doc.paths)

interface Template {
  readonly path: string
  readonly regex: RegExp
  readonly params: readonly string[]
}

/** Documented paths as matchers; literal segments win over templated ones. */
const templates: Template[] = Object.keys(paths)
  .map((path) => {
    const params: string[] = []
    const source = path
      .split('/')
      .map((segment) => {
        const m = /^\{(.+)\}$/.exec(segment)
        if (m === null) return segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
        params.push(m[1] as string)
        return '([^/]+)'
      })
      .join('/')
    return { path, regex: new RegExp(`^${source}$`), params }
  })
  .sort((a, b) => a.params.length - b.params.length)

// -------------------------------------------------------------------- Ajv

const ajv = new Ajv2020({ allErrors: true, strict: true })
ajvFormats.default(ajv)
// The whole document is one schema resource, so that `#/components/...` refs
// resolve in place; its top-level OpenAPI fields are inert keywords to Ajv.
ajv.addVocabulary(Object.keys(doc))
ajv.addSchema({ ...doc, $id: DOC_ID })
const validators = new Map<string, ValidateFunction>()

/** A validator for the schema at `pointer` in the document; its `#/components/...` refs resolve in place. */
function validatorAt(pointer: string): ValidateFunction {
  let v = validators.get(pointer)
  if (v === undefined) {
    v = ajv.compile({ $ref: `${DOC_ID}${pointer}` })
    validators.set(pointer, v)
  }
  return v
}

function schemaProblems(pointer: string, data: unknown, what: string): string[] {
  const validate = validatorAt(pointer)
  return validate(data) ? [] : [`${what} does not match ${pointer}: ${ajv.errorsText(validate.errors, { dataVar: what })}`]
}

// ------------------------------------------------------------ the exchange

/** An inject request with its URL as a string. */
type Request = InjectOptions & { url: string }

/** Operations seen in a validated exchange, as `METHOD /path`. */
const exercised = new Set<string>()

const headerText = (v: string | string[] | number | undefined): string | undefined =>
  v === undefined ? undefined : Array.isArray(v) ? v.join(', ') : String(v)

/** Response headers whose presence a client relies on: each one sent must be documented. */
const CONTRACT_HEADERS = ['etag', 'set-cookie', 'retry-after', 'x-session-handle', 'x-user-id']

/** Everything about one request/response pair that disagrees with openapi.yaml. */
function disagreements(request: Request, res: LightMyRequestResponse): string[] {
  const method = (request.method ?? 'GET').toUpperCase()
  const url = new URL(request.url, 'http://localhost')
  const template = templates.find((tp) => tp.regex.test(url.pathname))
  if (template === undefined) return [`no documented path matches ${url.pathname}`]
  const item = objectAt(paths[template.path])
  const opPointer = `#/paths/${pointerPart(template.path)}/${method.toLowerCase()}`
  const operation = objectAt(item[method.toLowerCase()])
  const where = `${method} ${template.path}`
  if (Object.keys(operation).length === 0) return [`${where} is not documented`]
  exercised.add(where)

  const problems: string[] = []
  const parameters = [...arrayAt(item.parameters), ...arrayAt(operation.parameters)]
    .map((p, i) => deref(p, `${opPointer}/parameters/${i}`))
  for (const name of new Set(url.searchParams.keys())) {
    if (!parameters.some((p) => p.node.in === 'query' && p.node.name === name)) problems.push(`${where}: query parameter "${name}" is not documented`)
  }
  const success = res.statusCode >= 200 && res.statusCode < 300
  if (success) {
    // What the server accepted, the document must accept too.
    const values = template.regex.exec(url.pathname)?.slice(1) ?? []
    template.params.forEach((name, i) => {
      const param = parameters.find((p) => p.node.in === 'path' && p.node.name === name)
      if (param === undefined) problems.push(`${where}: path parameter "${name}" is not documented`)
      else problems.push(...schemaProblems(`${param.pointer}/schema`, decodeURIComponent(values[i] ?? ''), `path parameter ${name}`))
    })
    if (request.payload !== undefined && isObject(operation.requestBody)) {
      const body = deref(operation.requestBody, `${opPointer}/requestBody`)
      problems.push(...schemaProblems(`${body.pointer}/content/application~1json/schema`, request.payload, 'request body'))
    }
  }

  const documented = objectAt(operation.responses)[String(res.statusCode)]
  if (documented === undefined) return [...problems, `${where} answered ${res.statusCode}, which is not documented`]
  const response = deref(documented, `${opPointer}/responses/${res.statusCode}`)
  const label = `${where} ${res.statusCode}`

  const content = objectAt(response.node.content)
  const mediaType = (headerText(res.headers['content-type']) ?? '').split(';')[0]?.trim().toLowerCase() ?? ''
  if (Object.keys(content).length === 0) {
    if (res.body !== '') problems.push(`${label}: documented without a body, but has one`)
  } else if (!(mediaType in content)) {
    problems.push(`${label}: content type "${mediaType}" is not one of ${Object.keys(content).join(', ')}`)
  } else if (method === 'HEAD') {
    if (res.body !== '') problems.push(`${label}: a HEAD response has a body`)
  } else {
    const schemaPointer = `${response.pointer}/content/${pointerPart(mediaType)}/schema`
    let body: unknown = res.body
    if (/[/+]json$/.test(mediaType)) {
      try {
        body = JSON.parse(res.body)
      } catch {
        problems.push(`${label}: body is not JSON`)
      }
    }
    problems.push(...schemaProblems(schemaPointer, body, 'body'))
    if (mediaType === 'application/problem+json' && objectAt(body).status !== res.statusCode) problems.push(`${label}: problem status ${String(objectAt(body).status)} differs from the HTTP status`)
  }

  const headers = objectAt(response.node.headers)
  const documentedNames = new Set(Object.keys(headers).map((h) => h.toLowerCase()))
  for (const [name, raw] of Object.entries(headers)) {
    const header = deref(raw, `${response.pointer}/headers/${pointerPart(name)}`)
    const value = headerText(res.headers[name.toLowerCase()])
    if (value === undefined) {
      if (header.node.required === true) problems.push(`${label}: documented header ${name} is missing`)
    } else if (header.node.schema !== undefined) {
      problems.push(...schemaProblems(`${header.pointer}/schema`, value, `header ${name}`))
    }
  }
  for (const name of CONTRACT_HEADERS) {
    if (res.headers[name] !== undefined && !documentedNames.has(name)) problems.push(`${label}: sends ${name}, which is not documented for this response`)
  }
  return problems
}

/** Sends `request`, checks the status and that the exchange agrees with openapi.yaml. */
async function exchange(t: Test, app: FastifyInstance, request: Request, status: number): Promise<LightMyRequestResponse> {
  const res = await app.inject(request)
  const name = `${request.method ?? 'GET'} ${request.url.slice(0, 90)}`
  t.equal(res.statusCode, status, `${name} answers ${status}${res.statusCode === status ? '' : `: ${res.body.slice(0, 300)}`}`)
  t.strictSame(disagreements(request, res), [], `${name} → ${res.statusCode} agrees with openapi.yaml`)
  return res
}

// ------------------------------------------------------------ the app

const ENV = { ...BASE_ENV, STORE: 'memory', PUBLIC_KEYS: 'cart,prefs.*', INDEXED_KEYS: 'tenant', ALLOW_ANONYMOUS: 'true', ANONYMOUS_RATE_LIMIT: '2', MAX_VALUE_BYTES: '1024', EVENTS: 'true' }

interface ServedRoute {
  readonly method: string
  readonly url: string
}

/** Builds the app while an onRoute hook records every route it registers. */
async function buildRecording(): Promise<{ app: FastifyInstance; routes: ServedRoute[] }> {
  const routes: ServedRoute[] = []
  const onInit = (message: unknown): void => {
    const { fastify } = message as { fastify: FastifyInstance }
    fastify.addHook('onRoute', (route: RouteOptions) => {
      for (const method of [route.method].flat()) routes.push({ method: method.toUpperCase(), url: route.url })
    })
  }
  subscribe('fastify.initialization', onInit)
  try {
    const app = await buildApp(loadConfig(ENV))
    await app.ready()
    return { app, routes }
  } finally {
    unsubscribe('fastify.initialization', onInit)
  }
}

const service = { authorization: `Bearer ${SERVICE_KEY}` }
const admin = { authorization: `Bearer ${ADMIN_KEY}` }
const cookie = (token: string) => ({ cookie: `sid=${token}` })
const bearerToken = (token: string) => ({ 'x-session-token': token })
const UNKNOWN = 'A'.repeat(43)

async function create(t: Test, app: FastifyInstance, payload: Json = {}): Promise<{ token: string; handle: string }> {
  const res = await exchange(t, app, { method: 'POST', url: '/v1/sessions', headers: service, payload }, 201)
  const body = res.json<{ token: string; session: { handle: string } }>()
  return { token: body.token, handle: body.session.handle }
}

// ------------------------------------------------------------ the tests

t.test('the document', async (t) => {
  t.match(SPEC_TEXT, /^openapi: 3\.1\.0\n/, 'starts with openapi: 3.1.0')
  const problem = deref(objectAt(objectAt(doc.components).schemas).Problem, '#/components/schemas/Problem').node
  const codes = objectAt(objectAt(problem.properties).code).enum
  t.strictSame(arrayAt(codes).map(String).sort(), Object.keys(ERROR_STATUS).sort(), 'Problem.code lists every code of src/errors.ts')
  // Every schema in the document compiles under strict Ajv (no OpenAPI-only keywords, no dangling $refs).
  for (const name of Object.keys(objectAt(objectAt(doc.components).schemas))) validatorAt(`#/components/schemas/${name}`)
  t.pass('every component schema compiles')
})

t.test('the routes the app serves are the routes the document describes', async (t) => {
  const { app, routes } = await buildRecording()
  t.teardown(() => app.close())
  t.ok(routes.length > 0, 'routes were recorded')
  const toOpenApi = (url: string) => url.replace(/:([A-Za-z0-9_]+)/g, '{$1}')
  const served = new Set(routes.map((r) => `${r.method} ${toOpenApi(r.url)}`))
  const problems: string[] = []

  for (const key of served) {
    const [method = '', path = ''] = key.split(' ')
    const item = paths[path]
    const lower = method.toLowerCase()
    if (!isObject(item)) problems.push(`${method} ${path} is served but its path is not in openapi.yaml`)
    else if ((OPENAPI_METHODS as readonly string[]).includes(lower)) {
      // fastify answers HEAD for every GET by itself; that counts only where the document names HEAD.
      const automaticHead = lower === 'head' && served.has(`GET ${path}`)
      if (item[lower] === undefined && !automaticHead) problems.push(`${method} ${path} is served but not documented`)
    } else if (item['x-any-method'] !== true) {
      problems.push(`${method} ${path} is served; OpenAPI 3.1 cannot name that method, so the path needs x-any-method: true`)
    }
  }

  for (const [path, raw] of Object.entries(paths)) {
    const item = objectAt(raw)
    const url = path.replace(/\{([^}]+)\}/g, ':$1')
    for (const lower of OPENAPI_METHODS) {
      if (item[lower] === undefined) continue
      const method = lower.toUpperCase()
      if (!served.has(`${method} ${path}`) || !app.hasRoute({ method, url })) problems.push(`${method} ${path} is documented but the app does not serve it`)
    }
    if (item['x-any-method'] === true && ![...served].some((k) => k.endsWith(` ${path}`) && !(OPENAPI_METHODS as readonly string[]).includes(k.split(' ')[0]?.toLowerCase() ?? ''))) {
      problems.push(`${path} is marked x-any-method but the app serves only the methods OpenAPI names`)
    }
  }
  t.strictSame(problems, [], 'no route disagrees')
})

t.test('real responses match the documented ones', async (t) => {
  const { app } = await buildRecording()
  t.teardown(() => app.close())

  t.test('operations', async (t) => {
    await exchange(t, app, { method: 'GET', url: '/healthz' }, 200)
    await exchange(t, app, { method: 'GET', url: '/readyz' }, 200)
    const spec = await exchange(t, app, { method: 'GET', url: '/openapi.yaml' }, 200)
    t.equal(spec.body, SPEC_TEXT, 'serves this very file')
    await exchange(t, app, { method: 'GET', url: '/metrics' }, 200)
    const guarded = await buildApp(loadConfig({ ...ENV, METRICS_TOKEN: 'metrics-token-0123456789' }))
    t.teardown(() => guarded.close())
    await exchange(t, guarded, { method: 'GET', url: '/metrics' }, 401)
    await exchange(t, guarded, { method: 'GET', url: '/metrics', headers: { authorization: 'Bearer metrics-token-0123456789' } }, 200)
    const apart = await buildApp(loadConfig({ ...ENV, METRICS_PORT: '0' }))
    t.teardown(() => apart.close())
    await exchange(t, apart, { method: 'GET', url: '/metrics' }, 404)
    if (apart.metricsListener === null) throw new Error('METRICS_PORT set, but no metrics listener')
    await exchange(t, apart.metricsListener, { method: 'GET', url: '/metrics' }, 200)
  })

  t.test('events', async (t) => {
    const start = await exchange(t, app, { method: 'GET', url: '/v1/events?after=now', headers: admin }, 200)
    const session = await create(t, app, { userId: 'eve', data: { tenant: 'acme' } })
    await exchange(t, app, { method: 'DELETE', url: `/v1/sessions/${session.handle}`, headers: admin }, 204)
    const cursor = start.json<{ nextCursor: string }>().nextCursor
    const page = await exchange(t, app, { method: 'GET', url: `/v1/events?after=${cursor}&limit=10`, headers: admin }, 200)
    t.equal(page.json<{ events: unknown[] }>().events.length, 2, 'created and ended')
    await exchange(t, app, { method: 'GET', url: '/v1/events?limit=0', headers: admin }, 400)
    await exchange(t, app, { method: 'GET', url: '/v1/events' }, 401)
    await exchange(t, app, { method: 'GET', url: '/v1/events', headers: service }, 403)
    const off = await buildApp(loadConfig({ ...ENV, EVENTS: 'false' }))
    t.teardown(() => off.close())
    await exchange(t, off, { method: 'GET', url: '/v1/events', headers: admin }, 404)
  })

  t.test('sessions by handle', async (t) => {
    const alice = await create(t, app, { userId: 'alice', data: { cart: [1], 'prefs.theme': 'dark', role: 'admin', n: 1, label: 'x', tenant: 'acme' }, idleTtl: 600, absoluteTtl: 3600, userAgent: 'tap', ip: '203.0.113.7' })
    await create(t, app)
    await create(t, app, { ip: '2001:db8::1', data: {} })
    await exchange(t, app, { method: 'POST', url: '/v1/sessions', headers: service, payload: { idleTtl: 0 } }, 400)
    await exchange(t, app, { method: 'POST', url: '/v1/sessions', headers: service, payload: { surprise: 1 } }, 400)
    await exchange(t, app, { method: 'POST', url: '/v1/sessions', payload: {} }, 401)
    await exchange(t, app, { method: 'POST', url: '/v1/sessions', headers: service, payload: { data: { big: 'x'.repeat(2000) } } }, 413)
    await exchange(t, app, { method: 'POST', url: '/v1/sessions', headers: { ...service, 'content-type': 'text/plain' }, payload: 'hi' }, 415)

    const at = `/v1/sessions/${alice.handle}`
    await exchange(t, app, { method: 'GET', url: at, headers: service }, 200)
    await exchange(t, app, { method: 'GET', url: '/v1/sessions/short', headers: service }, 400)
    await exchange(t, app, { method: 'GET', url: at }, 401)
    await exchange(t, app, { method: 'GET', url: `/v1/sessions/${UNKNOWN}`, headers: service }, 404)

    const key = `${at}/data/cart`
    await exchange(t, app, { method: 'PUT', url: key, headers: service, payload: { value: { items: ['book'] } } }, 204)
    await exchange(t, app, { method: 'PUT', url: `${at}/data/empty`, headers: { ...service, 'if-match': '"2"' }, payload: { value: null } }, 204)
    await exchange(t, app, { method: 'PUT', url: key, headers: { ...service, 'if-match': '*' }, payload: { value: [] } }, 204)
    await exchange(t, app, { method: 'PUT', url: key, headers: { ...service, 'if-match': '"1"' }, payload: { value: 1 } }, 412)
    await exchange(t, app, { method: 'PUT', url: key, headers: { ...service, 'if-match': 'W/"1"' }, payload: { value: 1 } }, 400)
    await exchange(t, app, { method: 'PUT', url: key, headers: service, payload: { value: 'x'.repeat(2000) } }, 413)
    await exchange(t, app, { method: 'PUT', url: key, headers: service, payload: { wrong: 1 } }, 400)
    await exchange(t, app, { method: 'PUT', url: key, headers: { ...service, 'content-type': 'application/x-www-form-urlencoded' }, payload: 'value=1' }, 415)
    await exchange(t, app, { method: 'PUT', url: `${at}/data/bad%20key`, headers: service, payload: { value: 1 } }, 400)
    await exchange(t, app, { method: 'PUT', url: `/v1/sessions/${UNKNOWN}/data/cart`, headers: service, payload: { value: 1 } }, 404)
    await exchange(t, app, { method: 'PUT', url: key, payload: { value: 1 } }, 401)

    await exchange(t, app, { method: 'GET', url: key, headers: service }, 200)
    await exchange(t, app, { method: 'GET', url: `${at}/data/empty`, headers: service }, 200)
    await exchange(t, app, { method: 'GET', url: `${at}/data/missing`, headers: service }, 404)
    await exchange(t, app, { method: 'GET', url: `/v1/sessions/${UNKNOWN}/data/cart`, headers: service }, 404)
    await exchange(t, app, { method: 'GET', url: `${at}/data/${'k'.repeat(129)}`, headers: service }, 400)
    await exchange(t, app, { method: 'GET', url: key }, 401)
    await exchange(t, app, { method: 'HEAD', url: key, headers: service }, 200)
    await exchange(t, app, { method: 'HEAD', url: `${at}/data/missing`, headers: service }, 404)
    await exchange(t, app, { method: 'HEAD', url: `${at}/data/bad%20key`, headers: service }, 400)
    await exchange(t, app, { method: 'HEAD', url: key }, 401)

    const batch = `${at}/data`
    await exchange(t, app, { method: 'PATCH', url: batch, headers: service, payload: { set: { c: true, o: { deep: [1, 'two', null] } }, del: ['empty', 'nothing'], incr: { n: 2, fresh: -1 } } }, 200)
    await exchange(t, app, { method: 'PATCH', url: batch, headers: service, payload: { incr: { label: 1 } } }, 409)
    await exchange(t, app, { method: 'PATCH', url: batch, headers: service, payload: { set: { c: 1 }, del: ['c'] } }, 400)
    await exchange(t, app, { method: 'PATCH', url: batch, headers: { ...service, 'if-match': '"1"' }, payload: { set: { c: 1 } } }, 412)
    await exchange(t, app, { method: 'PATCH', url: batch, headers: service, payload: { set: { big: 'y'.repeat(2000) } } }, 413)
    await exchange(t, app, { method: 'PATCH', url: batch, headers: { ...service, 'content-type': 'text/plain' }, payload: 'set' }, 415)
    await exchange(t, app, { method: 'PATCH', url: `/v1/sessions/${UNKNOWN}/data`, headers: service, payload: { set: { a: 1 } } }, 404)
    await exchange(t, app, { method: 'PATCH', url: batch, payload: { set: { a: 1 } } }, 401)

    await exchange(t, app, { method: 'DELETE', url: key, headers: { ...service, 'if-match': '"1"' } }, 412)
    await exchange(t, app, { method: 'DELETE', url: key, headers: service }, 204)
    await exchange(t, app, { method: 'DELETE', url: key, headers: service }, 204)
    await exchange(t, app, { method: 'DELETE', url: `${at}/data/bad%20key`, headers: service }, 400)
    await exchange(t, app, { method: 'DELETE', url: `/v1/sessions/${UNKNOWN}/data/cart`, headers: service }, 404)
    await exchange(t, app, { method: 'DELETE', url: key }, 401)

    await exchange(t, app, { method: 'DELETE', url: '/v1/sessions/short', headers: service }, 400)
    await exchange(t, app, { method: 'DELETE', url: at }, 401)
    await exchange(t, app, { method: 'DELETE', url: at, headers: service }, 204)
    await exchange(t, app, { method: 'DELETE', url: at, headers: service }, 404)
  })

  t.test('the caller\'s own session', async (t) => {
    const { token, handle } = await create(t, app, { userId: 'carol', data: { cart: [1], 'prefs.theme': 'dark', role: 'admin', n: 1 } })
    const other = await create(t, app, { userId: 'carol' })
    const third = await create(t, app, { userId: 'carol' })

    await exchange(t, app, { method: 'GET', url: '/v1/session', headers: cookie(token) }, 200)
    await exchange(t, app, { method: 'GET', url: '/v1/session', headers: { ...bearerToken(token), ...service } }, 200)
    await exchange(t, app, { method: 'GET', url: '/v1/session' }, 401)
    await exchange(t, app, { method: 'GET', url: '/v1/session', headers: { cookie: 'sid=short' } }, 401)
    const ended = await exchange(t, app, { method: 'GET', url: '/v1/session', headers: cookie(UNKNOWN) }, 401)
    t.match(String(ended.headers['set-cookie']), /Max-Age=0/, 'an unknown session\'s cookie is cleared')

    const key = '/v1/session/data/cart'
    await exchange(t, app, { method: 'GET', url: key, headers: cookie(token) }, 200)
    await exchange(t, app, { method: 'GET', url: '/v1/session/data/role', headers: cookie(token) }, 403)
    await exchange(t, app, { method: 'GET', url: '/v1/session/data/role', headers: { ...cookie(token), ...service } }, 200)
    await exchange(t, app, { method: 'GET', url: '/v1/session/data/prefs.missing', headers: cookie(token) }, 404)
    await exchange(t, app, { method: 'GET', url: '/v1/session/data/bad%20key', headers: cookie(token) }, 400)
    await exchange(t, app, { method: 'GET', url: key, headers: cookie(UNKNOWN) }, 401)
    await exchange(t, app, { method: 'HEAD', url: key, headers: cookie(token) }, 200)
    await exchange(t, app, { method: 'HEAD', url: '/v1/session/data/prefs.missing', headers: bearerToken(token) }, 404)
    await exchange(t, app, { method: 'HEAD', url: '/v1/session/data/role', headers: cookie(token) }, 403)
    await exchange(t, app, { method: 'HEAD', url: '/v1/session/data/bad%20key', headers: cookie(token) }, 400)
    await exchange(t, app, { method: 'HEAD', url: key }, 401)

    await exchange(t, app, { method: 'PUT', url: key, headers: cookie(token), payload: { value: [1, 2] } }, 204)
    await exchange(t, app, { method: 'PUT', url: key, headers: { ...cookie(token), 'sec-fetch-site': 'cross-site' }, payload: { value: [] } }, 403)
    await exchange(t, app, { method: 'PUT', url: '/v1/session/data/role', headers: cookie(token), payload: { value: 'root' } }, 403)
    await exchange(t, app, { method: 'PUT', url: key, headers: { ...bearerToken(token), 'if-match': '"1"' }, payload: { value: [] } }, 412)
    await exchange(t, app, { method: 'PUT', url: key, headers: bearerToken(token), payload: { value: 'x'.repeat(2000) } }, 413)
    await exchange(t, app, { method: 'PUT', url: key, headers: { ...bearerToken(token), 'content-type': 'text/plain' }, payload: 'x' }, 415)
    await exchange(t, app, { method: 'PUT', url: key, headers: bearerToken(token), payload: [] }, 400)
    await exchange(t, app, { method: 'PUT', url: key, headers: bearerToken(UNKNOWN), payload: { value: 1 } }, 401)

    const batch = '/v1/session/data'
    await exchange(t, app, { method: 'PATCH', url: batch, headers: cookie(token), payload: { set: { 'prefs.lang': 'en' }, del: ['prefs.theme'] } }, 200)
    await exchange(t, app, { method: 'PATCH', url: batch, headers: { ...bearerToken(token), ...service }, payload: { incr: { n: 1 } } }, 200)
    await exchange(t, app, { method: 'PATCH', url: batch, headers: cookie(token), payload: { incr: { n: 1 } } }, 403)
    await exchange(t, app, { method: 'PATCH', url: batch, headers: { ...bearerToken(token), ...service }, payload: { incr: { role: 1 } } }, 409)
    await exchange(t, app, { method: 'PATCH', url: batch, headers: { ...bearerToken(token), 'if-match': '"1"' }, payload: { set: { cart: 1 } } }, 412)
    await exchange(t, app, { method: 'PATCH', url: batch, headers: bearerToken(token), payload: { set: { cart: 'x'.repeat(2000) } } }, 413)
    await exchange(t, app, { method: 'PATCH', url: batch, headers: { ...bearerToken(token), 'content-type': 'text/plain' }, payload: 'x' }, 415)
    await exchange(t, app, { method: 'PATCH', url: batch, headers: bearerToken(token), payload: {} }, 400)
    await exchange(t, app, { method: 'PATCH', url: batch, headers: bearerToken(UNKNOWN), payload: { set: { cart: 1 } } }, 401)

    await exchange(t, app, { method: 'DELETE', url: key, headers: { ...bearerToken(token), 'if-match': '"1"' } }, 412)
    await exchange(t, app, { method: 'DELETE', url: key, headers: cookie(token) }, 204)
    await exchange(t, app, { method: 'DELETE', url: '/v1/session/data/role', headers: cookie(token) }, 403)
    await exchange(t, app, { method: 'DELETE', url: '/v1/session/data/bad%20key', headers: cookie(token) }, 400)
    await exchange(t, app, { method: 'DELETE', url: key, headers: bearerToken(UNKNOWN) }, 401)

    await exchange(t, app, { method: 'GET', url: '/v1/session/devices', headers: cookie(token) }, 200)
    await exchange(t, app, { method: 'GET', url: '/v1/session/devices' }, 401)
    await exchange(t, app, { method: 'DELETE', url: `/v1/session/devices/${other.handle}`, headers: cookie(token) }, 204)
    await exchange(t, app, { method: 'DELETE', url: `/v1/session/devices/${handle}`, headers: cookie(token) }, 404)
    await exchange(t, app, { method: 'DELETE', url: '/v1/session/devices/short', headers: cookie(token) }, 400)
    await exchange(t, app, { method: 'DELETE', url: `/v1/session/devices/${other.handle}`, headers: { ...cookie(token), origin: 'https://evil.example' } }, 403)
    await exchange(t, app, { method: 'DELETE', url: `/v1/session/devices/${UNKNOWN}` }, 401)
    await exchange(t, app, { method: 'DELETE', url: '/v1/session/devices?all=maybe', headers: cookie(token) }, 400)
    await exchange(t, app, { method: 'DELETE', url: '/v1/session/devices', headers: { ...cookie(token), 'sec-fetch-site': 'cross-site' } }, 403)
    await exchange(t, app, { method: 'DELETE', url: '/v1/session/devices', headers: cookie(token) }, 200)
    await exchange(t, app, { method: 'DELETE', url: '/v1/session/devices' }, 401)
    await exchange(t, app, { method: 'GET', url: `/v1/session/devices`, headers: bearerToken(third.token) }, 401)

    // Rotation: the old token is then 401 session_rotated.
    await exchange(t, app, { method: 'POST', url: '/v1/session/rotate', headers: cookie(token) }, 401)
    await exchange(t, app, { method: 'POST', url: '/v1/session/rotate', headers: { ...cookie(token), ...service }, payload: { userId: 'has space' } }, 400)
    await exchange(t, app, { method: 'POST', url: '/v1/session/rotate', headers: { ...cookie(token), ...service, 'content-type': 'text/plain' }, payload: 'x' }, 415)
    await exchange(t, app, { method: 'POST', url: '/v1/session/rotate', headers: { ...cookie(token), 'sec-fetch-site': 'cross-site' } }, 403)
    const rotated = await exchange(t, app, { method: 'POST', url: '/v1/session/rotate', headers: { ...cookie(token), ...service }, payload: { userId: 'dave' } }, 201)
    const fresh = rotated.json<{ token: string }>().token
    await exchange(t, app, { method: 'POST', url: '/v1/session/rotate', headers: { ...bearerToken(fresh), ...service } }, 201)
    await exchange(t, app, { method: 'GET', url: '/v1/session', headers: cookie(token) }, 401)

    const logout = await create(t, app)
    await exchange(t, app, { method: 'DELETE', url: '/v1/session', headers: { ...cookie(logout.token), 'sec-fetch-site': 'cross-site' } }, 403)
    await exchange(t, app, { method: 'DELETE', url: '/v1/session', headers: { ...cookie(logout.token), 'content-type': 'text/plain' }, payload: 'x' }, 415)
    await exchange(t, app, { method: 'DELETE', url: '/v1/session', headers: cookie(logout.token) }, 204)
    await exchange(t, app, { method: 'DELETE', url: '/v1/session', headers: cookie(logout.token) }, 401)

    const all = await create(t, app, { userId: 'erin' })
    await create(t, app, { userId: 'erin' })
    await exchange(t, app, { method: 'DELETE', url: '/v1/session/devices?all=true', headers: cookie(all.token) }, 200)
  })

  t.test('anonymous sessions', async (t) => {
    const first = await exchange(t, app, { method: 'POST', url: '/v1/session/anonymous', remoteAddress: '198.51.100.1' }, 201)
    const token = /^sid=([^;]+);/.exec(String(first.headers['set-cookie']))?.[1] ?? ''
    await exchange(t, app, { method: 'POST', url: '/v1/session/anonymous', remoteAddress: '198.51.100.1', headers: cookie(token) }, 200)
    await exchange(t, app, { method: 'POST', url: '/v1/session/anonymous', remoteAddress: '198.51.100.1' }, 429)
    await exchange(t, app, { method: 'POST', url: '/v1/session/anonymous', remoteAddress: '198.51.100.2', headers: { 'sec-fetch-site': 'cross-site' } }, 403)
    await exchange(t, app, { method: 'POST', url: '/v1/session/anonymous', remoteAddress: '198.51.100.3', headers: { 'content-type': 'text/plain' }, payload: 'x' }, 415)
    await exchange(t, app, { method: 'POST', url: '/v1/session/anonymous', remoteAddress: '198.51.100.4', headers: { 'content-type': 'application/json' }, payload: '{' }, 400)
  })

  t.test('forward-auth answers every method', async (t) => {
    const bound = await create(t, app, { userId: 'frank' })
    const anonymous = await create(t, app)
    for (const method of ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'TRACE'] as const) {
      const res = await exchange(t, app, { method, url: '/v1/auth', headers: bearerToken(bound.token) }, 204)
      t.equal(res.headers['x-user-id'], 'frank', `${method}: X-User-Id`)
    }
    await exchange(t, app, { method: 'GET', url: '/v1/auth', headers: cookie(anonymous.token) }, 204)
    await exchange(t, app, { method: 'GET', url: '/v1/auth' }, 401)
    await exchange(t, app, { method: 'POST', url: '/v1/auth', headers: cookie(UNKNOWN) }, 401)
    await exchange(t, app, { method: 'POST', url: '/v1/auth', headers: { ...cookie(bound.token), 'sec-fetch-site': 'cross-site' } }, 204)
  })

  t.test('admin', async (t) => {
    const keep = await create(t, app, { userId: 'gina', data: { tenant: 'globex' } })
    await create(t, app, { userId: 'gina', data: { tenant: 'globex' } })
    await create(t, app, { data: { tenant: 'globex' } })
    await exchange(t, app, { method: 'GET', url: '/v1/users/gina/sessions', headers: admin }, 200)
    await exchange(t, app, { method: 'GET', url: '/v1/users/nobody/sessions', headers: admin }, 200)
    await exchange(t, app, { method: 'GET', url: '/v1/users/gina/sessions', headers: service }, 403)
    await exchange(t, app, { method: 'GET', url: '/v1/users/gina/sessions' }, 401)
    await exchange(t, app, { method: 'GET', url: '/v1/users/a%20b/sessions', headers: admin }, 400)
    await exchange(t, app, { method: 'DELETE', url: '/v1/users/gina/sessions?except=short', headers: admin }, 400)
    await exchange(t, app, { method: 'DELETE', url: '/v1/users/gina/sessions', headers: service }, 403)
    await exchange(t, app, { method: 'DELETE', url: '/v1/users/gina/sessions', headers: { ...admin, 'content-type': 'text/plain' }, payload: 'x' }, 415)
    await exchange(t, app, { method: 'DELETE', url: '/v1/users/gina/sessions' }, 401)
    await exchange(t, app, { method: 'DELETE', url: `/v1/users/gina/sessions?except=${keep.handle}`, headers: admin }, 200)

    const page = await exchange(t, app, { method: 'GET', url: '/v1/sessions?key=tenant&value=globex&limit=1', headers: admin }, 200)
    const cursor = page.json<{ nextCursor: string | null }>().nextCursor
    t.type(cursor, 'string', 'a first page of one has a next cursor')
    await exchange(t, app, { method: 'GET', url: `/v1/sessions?key=tenant&value=globex&limit=100&cursor=${cursor ?? ''}`, headers: admin }, 200)
    await exchange(t, app, { method: 'GET', url: '/v1/sessions?key=role&value=x', headers: admin }, 400)
    await exchange(t, app, { method: 'GET', url: '/v1/sessions?key=tenant&value=globex', headers: service }, 403)
    await exchange(t, app, { method: 'GET', url: '/v1/sessions?key=tenant&value=globex' }, 401)
    await exchange(t, app, { method: 'GET', url: '/v1/stats/sessions?by=tenant', headers: admin }, 200)
    await exchange(t, app, { method: 'GET', url: '/v1/stats/sessions', headers: admin }, 200)
    await exchange(t, app, { method: 'GET', url: '/v1/stats/sessions?by=nope', headers: admin }, 400)
    await exchange(t, app, { method: 'GET', url: '/v1/stats/sessions', headers: service }, 403)
    await exchange(t, app, { method: 'GET', url: '/v1/stats/sessions' }, 401)
    await exchange(t, app, { method: 'DELETE', url: '/v1/sessions?key=tenant', headers: admin }, 400)
    await exchange(t, app, { method: 'DELETE', url: '/v1/sessions?key=tenant&value=globex', headers: service }, 403)
    await exchange(t, app, { method: 'DELETE', url: '/v1/sessions?key=tenant&value=globex', headers: { ...admin, 'content-type': 'text/plain' }, payload: 'x' }, 415)
    await exchange(t, app, { method: 'DELETE', url: '/v1/sessions?key=tenant&value=globex' }, 401)
    await exchange(t, app, { method: 'DELETE', url: '/v1/sessions?key=tenant&value=globex', headers: admin }, 200)
  })
})

t.test('a store that does not answer: 503 with Retry-After, as documented', async (t) => {
  const config = loadConfig(ENV)
  const store = createStore(config)
  const app = await buildApp(config, { store })
  t.teardown(() => app.close())
  const { token, handle } = await create(t, app, { userId: 'hank' })
  await store.close()

  const at = `/v1/sessions/${handle}`
  const requests: Request[] = [
    { method: 'GET', url: '/readyz' },
    { method: 'POST', url: '/v1/sessions', headers: service, payload: {} },
    { method: 'GET', url: at, headers: service },
    { method: 'DELETE', url: at, headers: service },
    { method: 'GET', url: `${at}/data/k`, headers: service },
    { method: 'HEAD', url: `${at}/data/k`, headers: service },
    { method: 'PUT', url: `${at}/data/k`, headers: service, payload: { value: 1 } },
    { method: 'DELETE', url: `${at}/data/k`, headers: service },
    { method: 'PATCH', url: `${at}/data`, headers: service, payload: { set: { k: 1 } } },
    { method: 'GET', url: '/v1/session', headers: bearerToken(token) },
    { method: 'DELETE', url: '/v1/session', headers: bearerToken(token) },
    { method: 'GET', url: '/v1/session/data/cart', headers: bearerToken(token) },
    { method: 'HEAD', url: '/v1/session/data/cart', headers: bearerToken(token) },
    { method: 'PUT', url: '/v1/session/data/cart', headers: bearerToken(token), payload: { value: 1 } },
    { method: 'DELETE', url: '/v1/session/data/cart', headers: bearerToken(token) },
    { method: 'PATCH', url: '/v1/session/data', headers: bearerToken(token), payload: { set: { cart: 1 } } },
    { method: 'POST', url: '/v1/session/rotate', headers: { ...bearerToken(token), ...service } },
    { method: 'GET', url: '/v1/session/devices', headers: bearerToken(token) },
    { method: 'DELETE', url: '/v1/session/devices', headers: bearerToken(token) },
    { method: 'DELETE', url: `/v1/session/devices/${UNKNOWN}`, headers: bearerToken(token) },
    { method: 'POST', url: '/v1/session/anonymous', remoteAddress: '192.0.2.1' },
    { method: 'GET', url: '/v1/auth', headers: bearerToken(token) },
    { method: 'GET', url: '/v1/users/hank/sessions', headers: admin },
    { method: 'DELETE', url: '/v1/users/hank/sessions', headers: admin },
    { method: 'GET', url: '/v1/sessions?key=tenant&value=acme', headers: admin },
    { method: 'DELETE', url: '/v1/sessions?key=tenant&value=acme', headers: admin },
    { method: 'GET', url: '/v1/stats/sessions', headers: admin }
  ]
  for (const request of requests) {
    const res = await exchange(t, app, request, 503)
    t.equal(res.headers['retry-after'], '1', `${request.method ?? 'GET'} ${request.url}: Retry-After`)
  }
})

t.test('a documented path asked with a method it does not list is 405, with the methods it lists in Allow', async (t) => {
  const { app } = await buildRecording()
  t.teardown(() => app.close())
  const response = deref(objectAt(objectAt(doc.components).responses).MethodNotAllowed, '#/components/responses/MethodNotAllowed')
  t.ok(objectAt(response.node.headers).Allow !== undefined, 'the 405 response documents Allow')
  for (const [path, raw] of Object.entries(paths)) {
    const item = objectAt(raw)
    if (item['x-any-method'] === true) continue
    const listed = OPENAPI_METHODS.filter((m) => item[m] !== undefined).map((m) => m.toUpperCase())
    // fastify answers HEAD wherever GET is served, documented or not.
    const allowed = new Set(listed.includes('GET') ? [...listed, 'HEAD'] : listed)
    const method = ['PATCH', 'PUT', 'POST', 'DELETE', 'GET'].find((m) => !allowed.has(m)) ?? 'TRACE'
    // Any parameter value: a path is known whatever its parameters hold.
    const url = path.replace(/\{[^}]+\}/g, 'x')
    const res = await app.inject({ method, url })
    const where = `${method} ${path}`
    t.equal(res.statusCode, 405, `${where} answers 405`)
    t.strictSame(String(res.headers.allow).split(', ').sort(), [...allowed].sort(), `${where}: Allow lists what the document lists`)
    t.strictSame(
      [
        ...schemaProblems(`${response.pointer}/content/application~1problem+json/schema`, JSON.parse(res.body), 'body'),
        ...schemaProblems('#/components/headers/Allow/schema', res.headers.allow, 'header Allow')
      ],
      [],
      `${where} → 405 agrees with #/components/responses/MethodNotAllowed`
    )
  }
})

t.test('a webhook request matches the document\'s webhooks section', async (t) => {
  const receiver = await startReceiver(t)
  const app = await buildApp(loadConfig({ ...ENV, WEBHOOK_URL: receiver.url, WEBHOOK_SECRET: `whsec_${Buffer.alloc(32, 9).toString('base64')}` }))
  t.teardown(() => app.close())
  await app.ready()
  const { token } = await create(t, app)
  await app.inject({ method: 'DELETE', url: '/v1/session', headers: cookie(token) })
  await until(() => receiver.received.length === 2, 'the created and ended events')
  const at = '#/webhooks/sessionEvent/post'
  const operation = deref(objectAt(objectAt(objectAt(doc.webhooks).sessionEvent).post), at).node
  const headers = arrayAt(operation.parameters).map((p, i) => deref(p, `${at}/parameters/${i}`))
  t.strictSame(headers.map((h) => [h.node.in, h.node.name, h.node.required]), [['header', 'webhook-id', true], ['header', 'webhook-timestamp', true], ['header', 'webhook-signature', true]])
  for (const request of receiver.received) {
    t.strictSame([
      ...schemaProblems(`${at}/requestBody/content/application~1json/schema`, JSON.parse(request.body), 'body'),
      ...headers.flatMap((h) => schemaProblems(`${h.pointer}/schema`, request.headers[String(h.node.name)], `header ${String(h.node.name)}`))
    ], [], `${request.event.type}: the request agrees with openapi.yaml`)
  }
})

t.test('every documented operation was exercised', async (t) => {
  const documented = Object.entries(paths).flatMap(([path, item]) =>
    OPENAPI_METHODS.filter((m) => objectAt(item)[m] !== undefined).map((m) => `${m.toUpperCase()} ${path}`)
  )
  t.strictSame(documented.filter((op) => !exercised.has(op)), [], 'no documented operation went unchecked')
})
