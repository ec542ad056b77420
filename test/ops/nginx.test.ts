/**
 * The documented nginx `auth_request` configuration, driven for real: Debian's
 * nginx, on a free port with its own prefix, including deploy/nginx/*.conf
 * as they are, in front of a listening sessiond (memory store) and a small
 * upstream app that answers with what it received.
 *
 * nginx comes from Debian (`apt-get install nginx-light`; scripts/setup.sh
 * installs it); NGINX_PATH points elsewhere. No nginx is a failure, not a skip.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { createServer, type IncomingHttpHeaders } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import fastifyCookie from '@fastify/cookie'
import t, { type Test } from 'tap'
import { SERVICE_KEY } from '../helpers/app.js'
import { freePort } from '../helpers/redis-server.js'
import { client, codeOf, listening, until, type Reply } from './http.js'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const AUTH_CONF = join(ROOT, 'deploy/nginx/sessiond-auth.conf')
const PROTECT_CONF = join(ROOT, 'deploy/nginx/sessiond-protect.conf')
const CANDIDATES = [process.env.NGINX_PATH, '/usr/sbin/nginx', '/usr/local/sbin/nginx', '/usr/local/nginx/sbin/nginx']
const NEW_SECRET = 'the-current-cookie-secret-0123456789'
const OLD_SECRET = 'the-previous-cookie-secret-012345678'
const JWT = 'Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhcHAtdXNlciJ9.c2lnbmF0dXJlLW9mLXRoZS1hcHA'

interface Received {
  readonly method: string
  readonly url: string
  readonly headers: IncomingHttpHeaders
  readonly body: string
}

/** The upstream app: records each request and answers 200 with it as JSON. */
async function startApp(t: Test): Promise<{ port: number; received: Received[] }> {
  const received: Received[] = []
  const server = createServer((req, res) => {
    let body = ''
    req.setEncoding('utf8')
    req.on('data', (chunk: string) => (body += chunk))
    req.on('end', () => {
      const seen = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body }
      received.push(seen)
      res.setHeader('content-type', 'application/json')
      res.end(JSON.stringify(seen))
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())))
  return { port: (server.address() as AddressInfo).port, received }
}

/** nginx.conf around the two files: only what a test run needs of its own (ports, prefix, no daemon). */
function nginxConf(prefix: string, ports: { nginx: number; sessiond: number; app: number }): string {
  return `
daemon off;
master_process off;
worker_processes 1;
pid ${prefix}/nginx.pid;
error_log ${prefix}/error.log info;
events { worker_connections 64; }
http {
    access_log off;
    client_body_temp_path ${prefix}/tmp/client_body;
    proxy_temp_path ${prefix}/tmp/proxy;
    fastcgi_temp_path ${prefix}/tmp/fastcgi;
    uwsgi_temp_path ${prefix}/tmp/uwsgi;
    scgi_temp_path ${prefix}/tmp/scgi;
    upstream sessiond { server 127.0.0.1:${ports.sessiond}; keepalive 4; }
    upstream app { server 127.0.0.1:${ports.app}; }
    server {
        listen 127.0.0.1:${ports.nginx};
        include ${AUTH_CONF};
        location /app/ {
            include ${PROTECT_CONF};
            proxy_pass http://app;
        }
    }
}
`
}

async function startNginx(t: Test, binary: string, ports: { sessiond: number; app: number }): Promise<{ port: number; log: () => Promise<string> }> {
  const prefix = await mkdtemp(join(tmpdir(), 'sessiond-nginx-'))
  await mkdir(join(prefix, 'tmp'))
  t.teardown(() => rm(prefix, { recursive: true, force: true }))
  const log = () => readFile(join(prefix, 'error.log'), 'utf8').catch(() => '')
  for (let attempt = 0; ; attempt++) {
    const port = await freePort()
    await writeFile(join(prefix, 'nginx.conf'), nginxConf(prefix, { nginx: port, ...ports }))
    let output = ''
    const child: ChildProcess = spawn(binary, ['-p', prefix, '-c', join(prefix, 'nginx.conf'), '-e', join(prefix, 'error.log')], { stdio: ['ignore', 'pipe', 'pipe'] })
    child.stdout?.on('data', (c: Buffer) => (output += c.toString()))
    child.stderr?.on('data', (c: Buffer) => (output += c.toString()))
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
    const up = await until(async () => child.exitCode !== null || (await fetch(`http://127.0.0.1:${port}/`).then(() => true, () => false)), 20_000)
    if (up && child.exitCode === null) {
      t.teardown(async () => {
        child.kill('SIGTERM')
        await exited
      })
      return { port, log }
    }
    child.kill('SIGKILL')
    await exited
    if (attempt >= 3) throw new Error(`nginx did not start:\n${output}\n${await log()}`)
  }
}

const bodyOf = (reply: Reply): Received => JSON.parse(reply.body) as Received

async function run(binary: string): Promise<void> {
  const { app, http: sessiondHttp } = await listening(t, {
    STORE: 'memory',
    COOKIE_SECRET: `${NEW_SECRET},${OLD_SECRET}`,
    COOKIE_SECURE: 'false'
  })
  const create = async (userId?: string): Promise<{ token: string; handle: string; cookie: string }> => {
    const res = await sessiondHttp('/v1/sessions', { method: 'POST', headers: { authorization: `Bearer ${SERVICE_KEY}` }, body: userId === undefined ? {} : { userId } })
    const { token, session } = JSON.parse(res.body) as { token: string; session: { handle: string } }
    return { token, handle: session.handle, cookie: `sid=${fastifyCookie.sign(token, NEW_SECRET)}` }
  }
  const upstream = await startApp(t)
  const sessiondPort = (app.server.address() as AddressInfo).port
  const nginx = await startNginx(t, binary, { sessiond: sessiondPort, app: upstream.port })
  const gateway = client(`http://127.0.0.1:${nginx.port}`)
  const bob = await create('bob')
  const anonymous = await create()

  t.test('a valid session cookie reaches the app with X-User-Id and X-Session-Handle', async (t) => {
    const res = await gateway('/app/orders?page=2', { headers: { cookie: bob.cookie } })
    t.equal(res.status, 200, res.body)
    const seen = bodyOf(res)
    t.equal(seen.url, '/app/orders?page=2')
    t.equal(seen.headers['x-user-id'], 'bob')
    t.equal(seen.headers['x-session-handle'], bob.handle)
    t.equal(res.headers.get('set-cookie'), null, 'a current cookie is not re-issued')
    const viaToken = await gateway('/app/', { headers: { 'x-session-token': bob.token } })
    t.equal(viaToken.status, 200, 'X-Session-Token works as well')
    t.equal(bodyOf(viaToken).headers['x-user-id'], 'bob')
  })

  t.test("the app's own Authorization header reaches the app and leaves the check alone", async (t) => {
    for (const authorization of [JWT, 'Basic YXBwLXVzZXI6YXBwLXBhc3N3b3Jk', `Bearer ${SERVICE_KEY}`]) {
      const res = await gateway('/app/api', { method: 'POST', headers: { cookie: bob.cookie, authorization }, body: { order: 7 } })
      t.equal(res.status, 200, authorization.slice(0, 6))
      const seen = bodyOf(res)
      t.equal(seen.headers.authorization, authorization, 'Authorization reaches the app unchanged')
      t.equal(seen.headers['x-user-id'], 'bob')
      t.equal(seen.body, '{"order":7}', 'so does the body')
    }
    const keyAlone = await gateway('/app/api', { headers: { authorization: `Bearer ${SERVICE_KEY}` } })
    t.equal(keyAlone.status, 401, 'an API key is no session')
  })

  t.test("a client's own X-User-Id and X-Session-Handle never reach the app", async (t) => {
    const spoof = { 'x-user-id': 'admin', 'x-session-handle': bob.handle }
    const res = await gateway('/app/', { headers: { cookie: anonymous.cookie, ...spoof } })
    t.equal(res.status, 200)
    const seen = bodyOf(res)
    t.equal(seen.headers['x-user-id'], undefined, 'an anonymous session has no user')
    t.equal(seen.headers['x-session-handle'], anonymous.handle)
    const before = upstream.received.length
    t.equal((await gateway('/app/', { headers: spoof })).status, 401)
    t.equal(upstream.received.length, before, 'and without a session nothing reaches the app')
  })

  t.test('no session: 401 problem+json, the app is not reached', async (t) => {
    const before = upstream.received.length
    const attempts: Record<string, string>[] = [{}, { cookie: 'sid=not-a-token' }, { cookie: `sid=${fastifyCookie.sign(bob.token, 'a-secret-the-service-never-had-0123')}` }]
    for (const headers of attempts) {
      const res = await gateway('/app/orders', { headers })
      t.equal(res.status, 401, JSON.stringify(headers))
      t.equal(res.headers.get('content-type'), 'application/problem+json')
      t.equal(codeOf(res), 'unauthenticated')
      t.equal(res.headers.get('cache-control'), 'no-store')
    }
    t.equal(upstream.received.length, before)
  })

  t.test("an ended session's cookie is cleared by the 401", async (t) => {
    const carol = await create('carol')
    t.equal((await gateway('/app/', { headers: { cookie: carol.cookie } })).status, 200)
    t.equal((await sessiondHttp('/v1/session', { method: 'DELETE', headers: { 'x-session-token': carol.token } })).status, 204)
    const res = await gateway('/app/', { headers: { cookie: carol.cookie } })
    t.equal(res.status, 401)
    t.match(res.headers.get('set-cookie') ?? '', /^sid=; Max-Age=0/, "sessiond's clearing Set-Cookie is relayed")
  })

  t.test('a cookie signed with an older COOKIE_SECRET is re-issued through nginx', async (t) => {
    const res = await gateway('/app/', { headers: { cookie: `sid=${fastifyCookie.sign(bob.token, OLD_SECRET)}` } })
    t.equal(res.status, 200)
    t.equal(bodyOf(res).headers['x-user-id'], 'bob')
    t.match(res.headers.get('set-cookie') ?? '', new RegExp(`^${bob.cookie.replace(/[.+/]/g, '\\$&')};`), 'signed with the first secret')
  })

  t.test('sessiond stopped: 503 problem+json with Retry-After from nginx, not a 500', async (t) => {
    await app.close()
    const before = upstream.received.length
    const res = await gateway('/app/orders', { headers: { cookie: bob.cookie } })
    t.equal(res.status, 503, res.body)
    t.equal(res.headers.get('content-type'), 'application/problem+json')
    t.equal(codeOf(res), 'session_service_unavailable')
    t.equal(res.headers.get('retry-after'), '1')
    t.equal(upstream.received.length, before, 'the app is not reached')
    t.match(await nginx.log(), /connect\(\) failed/, "nginx's error log names the cause")
  })
}

const nginxPath = CANDIDATES.find((p): p is string => p !== undefined && p !== '' && existsSync(p))
if (nginxPath === undefined) {
  t.fail(
    `no nginx found (looked at ${CANDIDATES.filter((c) => c !== undefined).join(', ')}): ` +
      'install it with `apt-get install nginx-light` (scripts/setup.sh does) or set NGINX_PATH'
  )
} else {
  await run(nginxPath)
}
