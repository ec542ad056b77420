import t from 'tap'
import { ConfigError, ENV_NAMES, loadConfig } from '../src/config.js'
import type { Extra } from 'tap'
import type { Config } from '../src/config.js'

type Env = Record<string, string | undefined>

const SECRET = 'c'.repeat(32)
const SERVICE_KEY = 'app:service:' + 's'.repeat(16)
const ADMIN_KEY = 'ops:admin:' + 'a'.repeat(16)
const PROD: Env = { NODE_ENV: 'production', STORE: 'memory', API_KEYS: SERVICE_KEY, COOKIE_SECRET: SECRET }

/** Loads env and returns the problems, failing loudly if it loaded or threw something else. */
function problemsOf(env: Env): string[] {
  try {
    loadConfig(env)
  } catch (err) {
    if (err instanceof ConfigError) return [...err.problems]
    throw err
  }
  throw new Error(`loadConfig accepted ${JSON.stringify(env)}`)
}

/** The part of a tap test that refuses() needs. */
interface Asserts {
  ok(value: unknown, message: string, extra: Extra): boolean
}

/** Asserts that env is refused and that some problem line starts with the variable's name. */
function refuses(t: Asserts, env: Env, variable: string, detail?: RegExp): string[] {
  const problems = problemsOf(env)
  const named = problems.filter((p) => p.startsWith(`${variable}:`) || p.startsWith(`${variable}.`))
  t.ok(named.length > 0, `a problem names ${variable}`, { problems })
  if (detail !== undefined) t.ok(named.some((p) => detail.test(p)), `a ${variable} problem matches ${String(detail)}`, { problems })
  return problems
}

function redisOf(config: Config) {
  if (config.store.kind !== 'redis') throw new Error(`expected a redis store, got ${config.store.kind}`)
  return config.store
}

t.test('defaults', async (t) => {
  const c = loadConfig({})
  t.equal(c.env, 'development')
  t.equal(c.port, 3000)
  t.equal(c.host, '127.0.0.1')
  t.equal(c.logLevel, 'info')
  t.same(c.store, { kind: 'memory' })
  t.equal(c.storeTimeoutMs, 1000)
  t.same(c.session, { idleTtlSec: 1800, absoluteTtlSec: 86400, touchIntervalSec: 0 })
  t.same(c.cookie, { name: 'sid', secrets: [], domain: undefined, sameSite: 'lax', secure: true, persistent: true })
  t.same(c.publicKeys, [])
  t.same(c.indexedKeys, [])
  t.equal(c.allowAnonymous, false)
  t.same(c.limits, { maxValueBytes: 16384, maxKeys: 256, maxSessionBytes: 262144, maxSessionsPerUser: null, maxIndexValues: 64 })
  t.equal(c.anonymousRateLimit, 30)
  t.equal(c.metricsToken, undefined)
  t.equal(c.metricsPort, undefined, 'no METRICS_PORT: /metrics on the service port')
  t.equal(c.trustProxy, false)
  t.same(c.allowedOrigins, [])
})

t.test('redis defaults: key prefix, wait replicas, no auth, no TLS', async (t) => {
  const s = redisOf(loadConfig({ REDIS_SENTINELS: 'a:26379', REDIS_SENTINEL_NAME: 'mymaster' }))
  t.equal(s.keyPrefix, 'sessiond:')
  t.equal(s.waitReplicas, 0)
  t.match(s.connection, { mode: 'sentinel', username: undefined, password: undefined, tls: false })
})

t.test('ENV_NAMES lists every variable the schema reads', async (t) => {
  t.equal(new Set(ENV_NAMES).size, ENV_NAMES.length, 'no duplicates')
  for (const name of [
    'NODE_ENV', 'PORT', 'HOST', 'LOG_LEVEL', 'STORE', 'REDIS_URL', 'REDIS_SENTINELS', 'REDIS_SENTINEL_NAME',
    'REDIS_CLUSTER_NODES', 'REDIS_USERNAME', 'REDIS_PASSWORD', 'REDIS_TLS', 'REDIS_KEY_PREFIX', 'REDIS_WAIT_REPLICAS',
    'STORE_TIMEOUT_MS', 'SESSION_IDLE_TTL', 'SESSION_ABSOLUTE_TTL', 'TOUCH_INTERVAL', 'COOKIE_NAME', 'COOKIE_SECRET',
    'COOKIE_DOMAIN', 'COOKIE_SAMESITE', 'COOKIE_SECURE', 'COOKIE_PERSISTENT', 'API_KEYS', 'PUBLIC_KEYS', 'INDEXED_KEYS',
    'ALLOW_ANONYMOUS', 'MAX_VALUE_BYTES', 'MAX_KEYS', 'MAX_SESSION_BYTES', 'MAX_SESSIONS_PER_USER', 'MAX_INDEX_VALUES',
    'ANONYMOUS_RATE_LIMIT', 'METRICS_TOKEN', 'METRICS_PORT', 'TRUST_PROXY', 'ALLOWED_ORIGINS',
    'EVENTS', 'EVENTS_RETENTION', 'EVENTS_EXPIRY_LAG', 'WEBHOOK_URL', 'WEBHOOK_SECRET', 'WEBHOOK_EVENTS', 'WEBHOOK_MAX_AGE'
  ]) {
    t.ok(ENV_NAMES.includes(name), name)
  }
  t.equal(ENV_NAMES.length, 45)
})

t.test('every variable parses into the config', async (t) => {
  const c = loadConfig({
    NODE_ENV: 'test',
    PORT: '8080',
    HOST: '0.0.0.0',
    LOG_LEVEL: 'debug',
    STORE_TIMEOUT_MS: '250',
    SESSION_IDLE_TTL: '600',
    SESSION_ABSOLUTE_TTL: '3600',
    TOUCH_INTERVAL: '30',
    COOKIE_NAME: '__Secure-sess',
    COOKIE_SECRET: ` ${SECRET}, ${'o'.repeat(40)} `,
    COOKIE_DOMAIN: 'example.com',
    COOKIE_SAMESITE: 'Strict',
    COOKIE_SECURE: 'true',
    COOKIE_PERSISTENT: 'false',
    API_KEYS: `${SERVICE_KEY}, ${ADMIN_KEY}`,
    PUBLIC_KEYS: 'cart, prefs.*',
    INDEXED_KEYS: 'tenant,plan',
    ALLOW_ANONYMOUS: 'true',
    MAX_VALUE_BYTES: '1024',
    MAX_KEYS: '10',
    MAX_SESSION_BYTES: '4096',
    MAX_SESSIONS_PER_USER: '5',
    ANONYMOUS_RATE_LIMIT: '7',
    METRICS_TOKEN: 'm'.repeat(16),
    METRICS_PORT: '9464',
    TRUST_PROXY: '2',
    ALLOWED_ORIGINS: 'https://app.example.com,http://localhost:5173'
  })
  t.equal(c.env, 'test')
  t.equal(c.port, 8080)
  t.equal(c.host, '0.0.0.0')
  t.equal(c.logLevel, 'debug')
  t.equal(c.storeTimeoutMs, 250)
  t.same(c.session, { idleTtlSec: 600, absoluteTtlSec: 3600, touchIntervalSec: 30 })
  t.same(c.cookie, {
    name: '__Secure-sess',
    secrets: [SECRET, 'o'.repeat(40)],
    domain: 'example.com',
    sameSite: 'strict',
    secure: true,
    persistent: false
  })
  t.same(c.apiKeys, [
    { name: 'app', scope: 'service', secret: 's'.repeat(16) },
    { name: 'ops', scope: 'admin', secret: 'a'.repeat(16) }
  ])
  t.equal(c.generatedAdminKey, undefined)
  t.same(c.publicKeys, ['cart', 'prefs.*'])
  t.same(c.indexedKeys, ['tenant', 'plan'])
  t.equal(c.allowAnonymous, true)
  t.same(c.limits, { maxValueBytes: 1024, maxKeys: 10, maxSessionBytes: 4096, maxSessionsPerUser: 5, maxIndexValues: 64 })
  t.equal(c.anonymousRateLimit, 7)
  t.equal(c.metricsToken, 'm'.repeat(16))
  t.equal(c.metricsPort, 9464)
  t.equal(c.trustProxy, 2)
  t.same(c.allowedOrigins, ['https://app.example.com', 'http://localhost:5173'])
})

t.test('redis variables parse into the store config', async (t) => {
  const s = redisOf(
    loadConfig({
      STORE: 'redis',
      REDIS_URL: 'rediss://user:pw@redis.internal:6380/2',
      REDIS_KEY_PREFIX: 'app1:',
      REDIS_WAIT_REPLICAS: '1'
    })
  )
  t.same(s, {
    kind: 'redis',
    connection: { mode: 'single', url: 'rediss://user:pw@redis.internal:6380/2' },
    keyPrefix: 'app1:',
    waitReplicas: 1
  })
})

t.test('an API key secret may contain colons', async (t) => {
  const c = loadConfig({ API_KEYS: 'svc:service:abc:def:ghi:jkl:mnop' })
  t.same(c.apiKeys, [{ name: 'svc', scope: 'service', secret: 'abc:def:ghi:jkl:mnop' }])
})

t.test('COOKIE_SAMESITE is case-insensitive; None is accepted with origins and Secure', async (t) => {
  t.equal(loadConfig({ COOKIE_SAMESITE: 'LAX' }).cookie.sameSite, 'lax')
  t.equal(loadConfig({ COOKIE_SAMESITE: 'None', ALLOWED_ORIGINS: 'https://a.example' }).cookie.sameSite, 'none')
})

t.test('booleans are real booleans', async (t) => {
  for (const [raw, value] of [
    ['true', true], ['false', false], ['TRUE', true], ['False', false], ['1', true], ['0', false],
    ['yes', true], ['no', false], ['on', true], ['off', false]
  ] as const) {
    const c = loadConfig({ COOKIE_SECURE: raw, COOKIE_PERSISTENT: raw, ALLOW_ANONYMOUS: raw, REDIS_TLS: raw, REDIS_CLUSTER_NODES: 'n1:7000' })
    t.equal(c.cookie.secure, value, `COOKIE_SECURE=${raw}`)
    t.equal(c.cookie.persistent, value, `COOKIE_PERSISTENT=${raw}`)
    t.equal(c.allowAnonymous, value, `ALLOW_ANONYMOUS=${raw}`)
    const s = redisOf(c)
    t.equal(s.connection.mode === 'cluster' && s.connection.tls, value, `REDIS_TLS=${raw}`)
  }
  t.equal(loadConfig({ COOKIE_SECURE: 'false' }).cookie.secure, false, 'the z.coerce.boolean bug stays fixed')
})

t.test('a boolean that is not a boolean is a problem naming its variable', async (t) => {
  for (const name of ['COOKIE_SECURE', 'COOKIE_PERSISTENT', 'ALLOW_ANONYMOUS', 'REDIS_TLS']) {
    refuses(t, { [name]: 'maybe' }, name)
  }
})

t.test('empty strings count as unset', async (t) => {
  const empty: Env = Object.fromEntries(ENV_NAMES.map((n) => [n, '']))
  const c = loadConfig(empty)
  const d = loadConfig({})
  const { apiKeys, generatedAdminKey, ...rest } = c
  const { apiKeys: dApiKeys, generatedAdminKey: dGenerated, ...dRest } = d
  t.same(rest, dRest, 'same as no variables at all')
  t.equal(apiKeys.length, 1)
  t.equal(dApiKeys.length, 1)
  t.type(generatedAdminKey, 'string')
  t.type(dGenerated, 'string')
  t.equal(loadConfig({ COOKIE_SECURE: '' }).cookie.secure, true, 'an empty boolean takes its default, not false')
  t.equal(loadConfig({ PORT: '' }).port, 3000, 'an empty number takes its default, not 0')
  t.same(loadConfig({ REDIS_URL: '', STORE: '' }).store, { kind: 'memory' })
  refuses(t, { ...PROD, STORE: '' }, 'STORE', /explicitly/)
  refuses(t, { ...PROD, API_KEYS: '' }, 'API_KEYS', /required/)
  refuses(t, { ...PROD, COOKIE_SECRET: '' }, 'COOKIE_SECRET', /required/)
})

t.test('undefined values count as unset', async (t) => {
  t.equal(loadConfig({ PORT: undefined, COOKIE_SECURE: undefined }).port, 3000)
})

t.test('unrelated environment variables are ignored', async (t) => {
  t.equal(loadConfig({ PATH: '/usr/bin', HOME: '/root', npm_config_foo: 'x' }).port, 3000)
})

t.test('each bad value gives a problem line naming its variable', async (t) => {
  const cases: [string, string][] = [
    ['NODE_ENV', 'staging'],
    ['PORT', 'abc'],
    ['PORT', '65536'],
    ['PORT', '-1'],
    ['PORT', '80.5'],
    ['LOG_LEVEL', 'verbose'],
    ['STORE', 'postgres'],
    ['REDIS_URL', 'http://redis:6379'],
    ['REDIS_URL', 'localhost:6379'],
    ['REDIS_SENTINELS', 'host-without-port'],
    ['REDIS_SENTINELS', 'a:1,b'],
    ['REDIS_SENTINELS', 'a:99999'],
    ['REDIS_SENTINELS', 'a:0'],
    ['REDIS_SENTINELS', ','],
    ['REDIS_CLUSTER_NODES', 'n1:7000,n2'],
    ['REDIS_CLUSTER_NODES', 'n1:70000'],
    ['REDIS_KEY_PREFIX', 'p'.repeat(65)],
    ['REDIS_WAIT_REPLICAS', '-1'],
    ['REDIS_WAIT_REPLICAS', 'two'],
    ['STORE_TIMEOUT_MS', '5'],
    ['STORE_TIMEOUT_MS', '60001'],
    ['SESSION_IDLE_TTL', '0'],
    ['SESSION_IDLE_TTL', '1.5'],
    ['SESSION_ABSOLUTE_TTL', 'forever'],
    ['TOUCH_INTERVAL', '-5'],
    ['COOKIE_NAME', 'my sid'],
    ['COOKIE_NAME', 'sid;'],
    ['COOKIE_NAME', 'x'.repeat(65)],
    ['COOKIE_SECRET', 'too-short'],
    ['COOKIE_SECRET', `${SECRET},short`],
    ['COOKIE_SAMESITE', 'sometimes'],
    ['API_KEYS', 'app:root:' + 's'.repeat(16)],
    ['API_KEYS', 'app:service:short'],
    ['API_KEYS', ':service:' + 's'.repeat(16)],
    ['API_KEYS', 'app:service'],
    ['PUBLIC_KEYS', 'cart,prefs/*'],
    ['PUBLIC_KEYS', 'a b'],
    ['INDEXED_KEYS', 'tenant,ten*'],
    ['INDEXED_KEYS', 'k'.repeat(129)],
    ['INDEXED_KEYS', 'cart[].'],
    ['INDEXED_KEYS', 'cart[]x'],
    ['INDEXED_KEYS', 'cart[].a.b'],
    ['INDEXED_KEYS', '[].sku'],
    ['INDEXED_KEYS', 'cart[][]'],
    ['INDEXED_KEYS', `cart[].${'m'.repeat(65)}`],
    ['MAX_INDEX_VALUES', '0'],
    ['MAX_VALUE_BYTES', '0'],
    ['MAX_KEYS', '-1'],
    ['MAX_SESSION_BYTES', 'lots'],
    ['MAX_SESSIONS_PER_USER', '-1'],
    ['MAX_SESSIONS_PER_USER', '2.5'],
    ['ANONYMOUS_RATE_LIMIT', '0'],
    ['METRICS_TOKEN', 'short'],
    ['METRICS_PORT', '65536'],
    ['METRICS_PORT', '-1'],
    ['METRICS_PORT', 'metrics'],
    ['METRICS_PORT', '3000'],
    ['TRUST_PROXY', 'yes'],
    ['TRUST_PROXY', '10.0.0.0/33'],
    ['TRUST_PROXY', '10.0.0.1,proxy.internal'],
    ['TRUST_PROXY', '10.0.0.0/255.0.255.0'],
    ['ALLOWED_ORIGINS', 'app.example.com'],
    ['ALLOWED_ORIGINS', 'ftp://files.example.com']
  ]
  for (const [name, value] of cases) {
    const problems = refuses(t, { [name]: value }, name)
    t.equal(problems.length, 1, `${name}=${value} gives exactly one line`, { problems })
  }
})

t.test('several bad values give several lines, one per problem', async (t) => {
  const problems = problemsOf({ PORT: 'abc', STORE: 'x', COOKIE_SECURE: 'maybe', LOG_LEVEL: 'loud', METRICS_TOKEN: 'short' })
  t.equal(problems.length, 5, 'five lines', { problems })
  for (const name of ['PORT', 'STORE', 'COOKIE_SECURE', 'LOG_LEVEL', 'METRICS_TOKEN']) {
    t.equal(problems.filter((p) => p.startsWith(`${name}:`)).length, 1, `one line for ${name}`)
  }
  for (const p of problems) t.notMatch(p, /\n/, 'a problem is one line')
})

t.test('ConfigError carries the problems and prints them one per line', async (t) => {
  let caught: unknown
  try {
    loadConfig({ PORT: 'abc', STORE: 'x' })
  } catch (err) {
    caught = err
  }
  if (!(caught instanceof ConfigError)) throw new Error('expected a ConfigError')
  t.type(caught, Error)
  t.equal(caught.name, 'ConfigError')
  t.equal(caught.problems.length, 2)
  t.equal(caught.message, caught.problems.join('\n'))
})

t.test('problem lines never echo secrets', async (t) => {
  const bareSecret = 'Zk3u9wQ2mX7pL4sV8nR1'
  const p1 = problemsOf({ API_KEYS: bareSecret })
  t.ok(p1.every((p) => !p.includes(bareSecret)), 'a bare secret given as API_KEYS is not printed', { problems: p1 })
  const p2 = problemsOf({ API_KEYS: `app:root:${bareSecret}` })
  t.ok(p2.every((p) => !p.includes(bareSecret)), 'the secret of a key with a bad scope is not printed')
  t.match(p2.join('\n'), /"app"/, 'but its name is, to find the entry')
  const shortSecret = 'hunter2hunter2xyzzy'
  const p3 = problemsOf({ COOKIE_SECRET: shortSecret })
  t.ok(p3.every((p) => !p.includes(shortSecret)), 'a short cookie secret is not printed')
  const shortToken = 'tok3n'
  const p4 = problemsOf({ METRICS_TOKEN: shortToken })
  t.ok(p4.every((p) => !p.includes(shortToken)), 'a short metrics token is not printed')
})

t.test('METRICS_PORT: its own port, or 0 (any free one) like PORT', async (t) => {
  refuses(t, { PORT: '8080', METRICS_PORT: '8080' }, 'METRICS_PORT', /differ from PORT/)
  t.equal(loadConfig({ PORT: '8080', METRICS_PORT: '9464' }).metricsPort, 9464)
  t.equal(loadConfig({ PORT: '0', METRICS_PORT: '0' }).metricsPort, 0, 'both on free ports (tests)')
})

t.test('events: off by default; EVENTS, EVENTS_RETENTION and EVENTS_EXPIRY_LAG parse, bad values stop the start', async (t) => {
  t.same(loadConfig({}).events, { enabled: false, retentionSec: 86400, expiryLagSec: 5 })
  t.same(loadConfig({ EVENTS: 'true', EVENTS_RETENTION: '3600', EVENTS_EXPIRY_LAG: '2' }).events, { enabled: true, retentionSec: 3600, expiryLagSec: 2 })
  refuses(t, { EVENTS: 'maybe' }, 'EVENTS')
  refuses(t, { EVENTS_RETENTION: '0' }, 'EVENTS_RETENTION')
  refuses(t, { EVENTS_EXPIRY_LAG: '0' }, 'EVENTS_EXPIRY_LAG')
  refuses(t, { EVENTS_EXPIRY_LAG: '3601' }, 'EVENTS_EXPIRY_LAG')
})

const WEBHOOK_SECRET = `whsec_${Buffer.alloc(32, 7).toString('base64')}`
const WEBHOOK: Env = { EVENTS: 'true', WEBHOOK_URL: 'https://hooks.example.com/sessiond?token=abc', WEBHOOK_SECRET }

t.test('webhooks: off without WEBHOOK_URL; URL, secret, types and maximum age parse', async (t) => {
  t.equal(loadConfig({}).webhook, null)
  t.equal(loadConfig({ EVENTS: 'true', WEBHOOK_EVENTS: 'session.ended', WEBHOOK_MAX_AGE: '60' }).webhook, null, 'types and age alone configure nothing')
  t.same(loadConfig(WEBHOOK).webhook, {
    url: 'https://hooks.example.com/sessiond?token=abc',
    secret: WEBHOOK_SECRET,
    events: ['session.created', 'session.rotated', 'session.ended'],
    maxAgeSec: 86400
  }, 'every type and a day by default')
  const chosen = loadConfig({ ...WEBHOOK, WEBHOOK_URL: 'http://127.0.0.1:8080/', WEBHOOK_EVENTS: ' session.ended, session.created,session.ended ', WEBHOOK_MAX_AGE: '600' }).webhook
  t.same(chosen?.events, ['session.ended', 'session.created'], 'a list, each type once')
  t.equal(chosen?.maxAgeSec, 600)
})

t.test('webhooks: an incomplete or malformed configuration stops the start with one line each, never the secret', async (t) => {
  refuses(t, { ...WEBHOOK, EVENTS: 'false' }, 'WEBHOOK_URL', /requires EVENTS=true/)
  refuses(t, { ...WEBHOOK, WEBHOOK_SECRET: undefined }, 'WEBHOOK_SECRET', /required with WEBHOOK_URL/)
  refuses(t, { ...WEBHOOK, WEBHOOK_URL: undefined }, 'WEBHOOK_SECRET', /without WEBHOOK_URL/)
  refuses(t, { ...WEBHOOK, WEBHOOK_URL: 'ftp://hooks.example.com/' }, 'WEBHOOK_URL', /http/)
  refuses(t, { ...WEBHOOK, WEBHOOK_URL: 'hooks.example.com/x' }, 'WEBHOOK_URL', /http/)
  refuses(t, { ...WEBHOOK, WEBHOOK_EVENTS: 'session.created,session.touched' }, 'WEBHOOK_EVENTS', /one of session\.created, session\.rotated, session\.ended/)
  refuses(t, { ...WEBHOOK, WEBHOOK_MAX_AGE: '0' }, 'WEBHOOK_MAX_AGE')
  refuses(t, { ...WEBHOOK, WEBHOOK_MAX_AGE: '7200', EVENTS_RETENTION: '3600' }, 'WEBHOOK_MAX_AGE', /EVENTS_RETENTION/)
  t.equal(loadConfig({ ...WEBHOOK, WEBHOOK_MAX_AGE: '3600', EVENTS_RETENTION: '3600' }).webhook?.maxAgeSec, 3600, 'up to the retention')
  for (const secret of ['0123456789abcdef0123456789abcdef', 'whsec_', `whsec_${Buffer.alloc(16).toString('base64')}`, `whsec_${Buffer.alloc(65).toString('base64')}`, 'whsec_not base64 at all!!!!!!!!!!!!!!', `${WEBHOOK_SECRET}=`]) {
    const problems = refuses(t, { ...WEBHOOK, WEBHOOK_SECRET: secret }, 'WEBHOOK_SECRET', /whsec_ followed by the base64 of 24 to 64/)
    t.ok(problems.every((p) => secret.length <= 'whsec_'.length || !p.includes(secret.slice('whsec_'.length))), 'the secret is not printed', { problems })
  }
  const url = 'https://user:pa55w0rd@hooks.example.com:99999/'
  t.ok(refuses(t, { ...WEBHOOK, WEBHOOK_URL: url }, 'WEBHOOK_URL').every((p) => !p.includes('pa55w0rd')), 'nor a URL that may carry a credential')
})

t.test('an API key may not be named "system": events name expiry and eviction so', async (t) => {
  refuses(t, { API_KEYS: `system:admin:${'s'.repeat(16)}` }, 'API_KEYS', /"system" is reserved/)
})

t.test('an API key may not be named "self": audit lines name a session\'s own changes so', async (t) => {
  refuses(t, { API_KEYS: `self:admin:${'s'.repeat(16)}` }, 'API_KEYS', /"self" is reserved/)
  t.same(loadConfig({ API_KEYS: `selfish:admin:${'s'.repeat(16)}` }).apiKeys.map((k) => k.name), ['selfish'])
})

t.test('STORE=redis without a Redis source', async (t) => {
  refuses(t, { STORE: 'redis' }, 'STORE', /REDIS_URL/)
  refuses(t, { STORE: 'redis', REDIS_SENTINEL_NAME: 'mymaster' }, 'STORE')
})

t.test('two Redis sources', async (t) => {
  const both = { REDIS_URL: 'redis://r:6379', REDIS_CLUSTER_NODES: 'n1:7000' }
  t.equal(refuses(t, both, 'REDIS_URL', /only one/).length, 1)
  refuses(t, { REDIS_URL: 'redis://r:6379', REDIS_SENTINELS: 's1:26379', REDIS_SENTINEL_NAME: 'm' }, 'REDIS_URL', /only one/)
  refuses(t, { REDIS_SENTINELS: 's1:26379', REDIS_SENTINEL_NAME: 'm', REDIS_CLUSTER_NODES: 'n1:7000' }, 'REDIS_URL', /only one/)
})

t.test('sentinels without a name', async (t) => {
  const problems = refuses(t, { REDIS_SENTINELS: 's1:26379,s2:26379' }, 'REDIS_SENTINEL_NAME', /required/)
  t.equal(problems.length, 1)
})

t.test('idle TTL longer than absolute TTL', async (t) => {
  refuses(t, { SESSION_IDLE_TTL: '7200', SESSION_ABSOLUTE_TTL: '3600' }, 'SESSION_IDLE_TTL', /SESSION_ABSOLUTE_TTL/)
  refuses(t, { SESSION_IDLE_TTL: '90000' }, 'SESSION_IDLE_TTL', /SESSION_ABSOLUTE_TTL/)
  refuses(t, { SESSION_ABSOLUTE_TTL: '60' }, 'SESSION_IDLE_TTL', /SESSION_ABSOLUTE_TTL/)
  const equal = loadConfig({ SESSION_IDLE_TTL: '3600', SESSION_ABSOLUTE_TTL: '3600' })
  t.same(equal.session, { idleTtlSec: 3600, absoluteTtlSec: 3600, touchIntervalSec: 0 }, 'equal is allowed')
})

t.test('a touch interval as long as the idle TTL would let sessions in use expire', async (t) => {
  refuses(t, { SESSION_IDLE_TTL: '60', TOUCH_INTERVAL: '60' }, 'TOUCH_INTERVAL', /SESSION_IDLE_TTL/)
  refuses(t, { SESSION_IDLE_TTL: '60', TOUCH_INTERVAL: '300' }, 'TOUCH_INTERVAL', /SESSION_IDLE_TTL/)
  t.equal(loadConfig({ SESSION_IDLE_TTL: '60', TOUCH_INTERVAL: '59' }).session.touchIntervalSec, 59)
})

t.test('production requires STORE, API_KEYS and COOKIE_SECRET', async (t) => {
  const c = loadConfig(PROD)
  t.equal(c.env, 'production')
  const problems = problemsOf({ NODE_ENV: 'production' })
  t.equal(problems.length, 3, 'one line each', { problems })
  t.ok(problems.some((p) => p.startsWith('STORE:')))
  t.ok(problems.some((p) => p.startsWith('API_KEYS:')))
  t.ok(problems.some((p) => p.startsWith('COOKIE_SECRET:')))
  for (const name of ['STORE', 'API_KEYS', 'COOKIE_SECRET']) {
    const env = { ...PROD, [name]: undefined }
    t.equal(refuses(t, env, name).length, 1, `only ${name} is missing`)
  }
  refuses(t, { ...PROD, API_KEYS: ' , ' }, 'API_KEYS', /required/)
  refuses(t, { ...PROD, COOKIE_SECRET: ',' }, 'COOKIE_SECRET', /required/)
  t.same(loadConfig({ ...PROD, STORE: 'redis', REDIS_URL: 'redis://r:6379' }).store.kind, 'redis', 'STORE=redis is explicit')
})

t.test('outside production none of those are required', async (t) => {
  t.equal(loadConfig({ NODE_ENV: 'development' }).cookie.secrets.length, 0)
  t.equal(loadConfig({ NODE_ENV: 'test' }).store.kind, 'memory')
})

t.test('API key names must be unique', async (t) => {
  const problems = refuses(
    t,
    { API_KEYS: `app:service:${'x'.repeat(16)},app:admin:${'y'.repeat(16)}` },
    'API_KEYS',
    /"app" is used twice/
  )
  t.equal(problems.length, 1)
  t.ok(problems.every((p) => !p.includes('x'.repeat(16)) && !p.includes('y'.repeat(16))), 'no secret in the line')
})

t.test('malformed API key entries', async (t) => {
  for (const entry of [
    'app',
    'app:service',
    'app:service:',
    'app:service:short',
    'app:superuser:' + 's'.repeat(16),
    ':admin:' + 's'.repeat(16),
    'app:Admin:' + 's'.repeat(16)
  ]) {
    refuses(t, { API_KEYS: entry }, 'API_KEYS', /name:scope:secret/)
  }
  const problems = problemsOf({ API_KEYS: `${SERVICE_KEY},bad:service:x,${ADMIN_KEY},worse` })
  t.equal(problems.length, 2, 'one line per bad entry', { problems })
  t.ok(problems.every((p) => p.startsWith('API_KEYS')))
})

t.test('a __Host- cookie must be Secure and have no Domain', async (t) => {
  t.equal(loadConfig({ COOKIE_NAME: '__Host-sid' }).cookie.name, '__Host-sid')
  refuses(t, { COOKIE_NAME: '__Host-sid', COOKIE_SECURE: 'false' }, 'COOKIE_SECURE', /__Host-/)
  refuses(t, { COOKIE_NAME: '__Host-sid', COOKIE_DOMAIN: 'example.com' }, 'COOKIE_DOMAIN', /__Host-/)
  const both = problemsOf({ COOKIE_NAME: '__Host-sid', COOKIE_SECURE: 'false', COOKIE_DOMAIN: 'example.com' })
  t.equal(both.length, 2, 'both problems at once', { problems: both })
})

t.test('a __Secure- cookie must be Secure', async (t) => {
  refuses(t, { COOKIE_NAME: '__Secure-sid', COOKIE_SECURE: 'false' }, 'COOKIE_SECURE', /__Secure-/)
  t.equal(loadConfig({ COOKIE_NAME: '__Secure-sid', COOKIE_DOMAIN: 'example.com' }).cookie.domain, 'example.com')
})

t.test('COOKIE_SECURE=false is allowed for plain cookies (local http)', async (t) => {
  t.equal(loadConfig({ COOKIE_SECURE: 'false' }).cookie.secure, false)
})

t.test('SameSite=None needs ALLOWED_ORIGINS and Secure', async (t) => {
  refuses(t, { COOKIE_SAMESITE: 'none' }, 'ALLOWED_ORIGINS', /COOKIE_SAMESITE/)
  refuses(t, { COOKIE_SAMESITE: 'None', ALLOWED_ORIGINS: 'https://a.example', COOKIE_SECURE: 'false' }, 'COOKIE_SECURE', /SameSite=None/)
  const both = problemsOf({ COOKIE_SAMESITE: 'none', COOKIE_SECURE: 'false' })
  t.equal(both.length, 2, { problems: both })
})

t.test('an INDEXED_KEYS entry may not be a public key', async (t) => {
  refuses(t, { PUBLIC_KEYS: '*', INDEXED_KEYS: 'tenant' }, 'INDEXED_KEYS', /"tenant".*PUBLIC_KEYS/)
  refuses(t, { PUBLIC_KEYS: 'ten*', INDEXED_KEYS: 'tenant' }, 'INDEXED_KEYS', /"tenant"/)
  refuses(t, { PUBLIC_KEYS: 'cart,tenant', INDEXED_KEYS: 'tenant' }, 'INDEXED_KEYS', /"tenant"/)
  refuses(t, { PUBLIC_KEYS: 'org.*', INDEXED_KEYS: 'org.id' }, 'INDEXED_KEYS', /"org.id"/)
  const two = problemsOf({ PUBLIC_KEYS: '*', INDEXED_KEYS: 'tenant,plan' })
  t.equal(two.length, 2, 'one line per exposed key', { problems: two })
  const ok = loadConfig({ PUBLIC_KEYS: 'cart,prefs.*,tenants', INDEXED_KEYS: 'tenant,prefs' })
  t.same(ok.indexedKeys, ['tenant', 'prefs'], 'near misses are fine')
  refuses(t, { PUBLIC_KEYS: 'tags', INDEXED_KEYS: 'tags,tags[]' }, 'INDEXED_KEYS', /"tags" is matched/)
  const collections = loadConfig({ PUBLIC_KEYS: 'cart,tags', INDEXED_KEYS: 'cart[].sku,tags[],cart[].brand_2-x' })
  t.same(collections.indexedKeys, ['cart[].sku', 'tags[]', 'cart[].brand_2-x'], 'a collection entry may index a public key: it describes content, never authority')
  t.equal(loadConfig({ MAX_INDEX_VALUES: '8' }).limits.maxIndexValues, 8)
})

t.test('COOKIE_SECRET: every secret at least 32 characters', async (t) => {
  refuses(t, { COOKIE_SECRET: 'c'.repeat(31) }, 'COOKIE_SECRET', /32/)
  refuses(t, { COOKIE_SECRET: `${SECRET},${'o'.repeat(31)}` }, 'COOKIE_SECRET', /32/)
  t.same(loadConfig({ COOKIE_SECRET: SECRET }).cookie.secrets, [SECRET])
})

t.test('origins must be bare scheme://host[:port]', async (t) => {
  for (const o of ['https://app.example.com/', 'https://app.example.com/login', 'https://app.example.com?x=1', 'https://APP.example.com', '*']) {
    refuses(t, { ALLOWED_ORIGINS: o }, 'ALLOWED_ORIGINS', /origin/)
  }
  t.same(loadConfig({ ALLOWED_ORIGINS: 'https://app.example.com:8443' }).allowedOrigins, ['https://app.example.com:8443'])
})

t.test('STORE inference', async (t) => {
  const single = redisOf(loadConfig({ REDIS_URL: 'redis://localhost:6379' }))
  t.same(single.connection, { mode: 'single', url: 'redis://localhost:6379' }, 'REDIS_URL alone: redis single')

  const sentinel = redisOf(
    loadConfig({
      REDIS_SENTINELS: 's1:26379, s2:26380',
      REDIS_SENTINEL_NAME: 'mymaster',
      REDIS_USERNAME: 'u',
      REDIS_PASSWORD: 'p',
      REDIS_TLS: 'true'
    })
  )
  t.same(sentinel.connection, {
    mode: 'sentinel',
    sentinels: [{ host: 's1', port: 26379 }, { host: 's2', port: 26380 }],
    name: 'mymaster',
    username: 'u',
    password: 'p',
    tls: true
  }, 'REDIS_SENTINELS + REDIS_SENTINEL_NAME: sentinel')

  const cluster = redisOf(loadConfig({ REDIS_CLUSTER_NODES: 'n1:7000,n2:7001,10.0.0.3:7002', REDIS_PASSWORD: 'p' }))
  t.same(cluster.connection, {
    mode: 'cluster',
    nodes: [{ host: 'n1', port: 7000 }, { host: 'n2', port: 7001 }, { host: '10.0.0.3', port: 7002 }],
    username: undefined,
    password: 'p',
    tls: false
  }, 'REDIS_CLUSTER_NODES: cluster')

  t.same(loadConfig({ STORE: 'memory', REDIS_URL: 'redis://localhost:6379' }).store, { kind: 'memory' }, 'an explicit STORE=memory wins')
  t.same(loadConfig({ STORE: 'memory' }).store, { kind: 'memory' })
  t.same(loadConfig({ REDIS_SENTINEL_NAME: 'mymaster' }).store, { kind: 'memory' }, 'a sentinel name alone is not a source')
})

t.test('development without API_KEYS generates an admin key', async (t) => {
  const a = loadConfig({})
  const b = loadConfig({ NODE_ENV: 'development' })
  if (a.generatedAdminKey === undefined || b.generatedAdminKey === undefined) throw new Error('expected a generated key')
  t.ok(a.generatedAdminKey.length >= 32, 'long enough')
  t.match(a.generatedAdminKey, /^[A-Za-z0-9_-]+$/)
  t.not(a.generatedAdminKey, b.generatedAdminKey, 'random per start')
  t.same(a.apiKeys, [{ name: 'generated', scope: 'admin', secret: a.generatedAdminKey }], 'it is the only key, with admin scope')
})

t.test('no admin key is generated when API_KEYS is set, and never in production', async (t) => {
  const dev = loadConfig({ API_KEYS: SERVICE_KEY })
  t.equal(dev.generatedAdminKey, undefined)
  t.same(dev.apiKeys.map((k) => k.name), ['app'])
  const prod = loadConfig(PROD)
  t.equal(prod.generatedAdminKey, undefined)
  t.ok(prod.apiKeys.every((k) => k.name !== 'generated'))
  t.throws(() => loadConfig({ ...PROD, API_KEYS: undefined }), ConfigError, 'production without keys refuses instead')
})

t.test('MAX_SESSIONS_PER_USER: 0 or unset is unlimited (null)', async (t) => {
  t.equal(loadConfig({}).limits.maxSessionsPerUser, null)
  t.equal(loadConfig({ MAX_SESSIONS_PER_USER: '' }).limits.maxSessionsPerUser, null)
  t.equal(loadConfig({ MAX_SESSIONS_PER_USER: '0' }).limits.maxSessionsPerUser, null)
  t.equal(loadConfig({ MAX_SESSIONS_PER_USER: '1' }).limits.maxSessionsPerUser, 1)
  t.equal(loadConfig({ MAX_SESSIONS_PER_USER: '20' }).limits.maxSessionsPerUser, 20)
})

t.test('TRUST_PROXY: true, false, a hop count, or a list', async (t) => {
  t.equal(loadConfig({ TRUST_PROXY: 'true' }).trustProxy, true)
  t.equal(loadConfig({ TRUST_PROXY: 'false' }).trustProxy, false)
  t.equal(loadConfig({}).trustProxy, false)
  t.equal(loadConfig({ TRUST_PROXY: '1' }).trustProxy, 1)
  t.equal(loadConfig({ TRUST_PROXY: '0' }).trustProxy, 0)
  t.same(loadConfig({ TRUST_PROXY: '10.0.0.1' }).trustProxy, ['10.0.0.1'])
  t.same(
    loadConfig({ TRUST_PROXY: ' loopback, 10.0.0.0/8 ,192.168.0.0/255.255.0.0, ::1, fd00::/8,linklocal,uniquelocal' }).trustProxy,
    ['loopback', '10.0.0.0/8', '192.168.0.0/255.255.0.0', '::1', 'fd00::/8', 'linklocal', 'uniquelocal']
  )
  refuses(t, { TRUST_PROXY: 'TRUE' }, 'TRUST_PROXY')
  refuses(t, { TRUST_PROXY: '::1/129' }, 'TRUST_PROXY')
  refuses(t, { TRUST_PROXY: '10.0.0.0/8/8' }, 'TRUST_PROXY')
})

t.test('the result is deeply frozen', async (t) => {
  const c = loadConfig({
    API_KEYS: SERVICE_KEY,
    COOKIE_SECRET: SECRET,
    PUBLIC_KEYS: 'cart',
    INDEXED_KEYS: 'tenant',
    TRUST_PROXY: '10.0.0.1',
    ALLOWED_ORIGINS: 'https://a.example',
    REDIS_CLUSTER_NODES: 'n1:7000'
  })
  t.ok(Object.isFrozen(c))
  const s = redisOf(c)
  for (const [label, value] of Object.entries({
    session: c.session,
    cookie: c.cookie,
    'cookie.secrets': c.cookie.secrets,
    limits: c.limits,
    store: s,
    'store.connection': s.connection,
    'store.connection.nodes': s.connection.mode === 'cluster' ? s.connection.nodes : null,
    'store.connection.nodes[0]': s.connection.mode === 'cluster' ? s.connection.nodes[0] : null,
    apiKeys: c.apiKeys,
    'apiKeys[0]': c.apiKeys[0],
    publicKeys: c.publicKeys,
    indexedKeys: c.indexedKeys,
    trustProxy: c.trustProxy,
    allowedOrigins: c.allowedOrigins
  })) {
    t.ok(typeof value === 'object' && value !== null && Object.isFrozen(value), `${label} is frozen`)
  }
  t.throws(() => {
    ;(c as { port: number }).port = 1
  }, TypeError)
  t.throws(() => {
    ;(c.cookie as { secure: boolean }).secure = false
  }, TypeError)
  t.throws(() => {
    ;(c.apiKeys as unknown[]).push({ name: 'x', scope: 'admin', secret: 'y' })
  }, TypeError)
  t.equal(c.port, 3000)
  t.equal(c.cookie.secure, true)
  t.equal(c.apiKeys.length, 1)
})

t.test('loadConfig does not modify the environment it is given', async (t) => {
  const env: Env = { PORT: '4000', COOKIE_SECURE: '', API_KEYS: SERVICE_KEY }
  const copy = { ...env }
  loadConfig(env)
  t.same(env, copy)
})
