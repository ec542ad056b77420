/**
 * docs/webhooks.md's receiver runs as printed: the page's TypeScript block is
 * examples/webhook-receiver.ts (which `npm run check` typechecks), run in its
 * own process and fed by a sessiond delivering to it. It prints each event
 * once, refuses what does not verify, and handles a repeated webhook-id once.
 */
import { spawn } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { Webhook } from 'standardwebhooks'
import t from 'tap'
import { buildApp } from '../../src/app.js'
import { loadConfig } from '../../src/config.js'
import { BASE_ENV, admin, createSession, service } from '../helpers/app.js'
import { until } from '../helpers/receiver.js'
import { SECRET } from '../webhooks/cases.js'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const page = await readFile(new URL('docs/webhooks.md', `file://${ROOT}`), 'utf8')
const example = await readFile(new URL('examples/webhook-receiver.ts', `file://${ROOT}`), 'utf8')

t.test('the page shows the example file', async (t) => {
  const blocks = [...page.matchAll(/```ts\n([^]*?)```/g)].map((m) => m[1])
  t.strictSame(blocks, [example])
})

t.test('the receiver verifies, prints each event once and refuses a forgery', { timeout: 60_000 }, async (t) => {
  const child = spawn(process.execPath, ['--import', '@tapjs/typescript/import', 'examples/webhook-receiver.ts'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', TS_NODE_TRANSPILE_ONLY: '1', WEBHOOK_SECRET: SECRET, PORT: '0' },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  t.teardown(() => child.kill())
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (chunk: Buffer) => { stdout += chunk.toString() })
  child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
  await until(() => stdout.includes('listening on '), 'the receiver to listen')
  const url = /listening on (\S+)/.exec(stdout)?.[1] ?? ''

  const app = await buildApp(loadConfig({ ...BASE_ENV, STORE: 'memory', EVENTS: 'true', WEBHOOK_URL: `${url}/hooks`, WEBHOOK_SECRET: SECRET }))
  t.teardown(() => app.close())
  await app.ready()
  const { token, handle } = await createSession(app, { userId: 'ann' })
  const rotated = await app.inject({ method: 'POST', url: '/v1/session/rotate', headers: { ...service, 'x-session-token': token } })
  const next = rotated.json<{ token: string; session: { handle: string } }>()
  await app.inject({ method: 'DELETE', url: '/v1/session', headers: { 'x-session-token': next.token } })
  await until(() => stdout.split('\n').length >= 5, 'three events printed')
  t.strictSame(stdout.split('\n').slice(1), [
    `session.created ${handle}`,
    `session.rotated ${handle} -> ${next.session.handle}`,
    `session.ended ${next.session.handle} logout`,
    ''
  ])

  const events = (await app.inject({ method: 'GET', url: '/v1/events', headers: admin })).json<{ events: { id: string }[] }>().events
  const first = JSON.stringify(events[0])
  const id = events[0]?.id ?? ''
  const signed = (secret: string) => {
    const at = new Date()
    return { 'content-type': 'application/json', 'webhook-id': id, 'webhook-timestamp': String(Math.floor(at.getTime() / 1000)), 'webhook-signature': new Webhook(secret).sign(id, at, first) }
  }
  const repeat = await fetch(`${url}/hooks`, { method: 'POST', headers: signed(SECRET), body: first })
  t.equal(repeat.status, 204, 'a repeat is acknowledged')
  const forged = await fetch(`${url}/hooks`, { method: 'POST', headers: signed(`whsec_${Buffer.alloc(32, 1).toString('base64')}`), body: first })
  t.equal(forged.status, 400, 'a request signed with another secret is refused')
  const altered = await fetch(`${url}/hooks`, { method: 'POST', headers: signed(SECRET), body: first.replace('"ann"', '"bob"') })
  t.equal(altered.status, 400, 'an altered body is refused')
  t.equal(stdout.split('\n').length, 5, 'and none of them was handled')
  t.equal(stderr, '')
})
