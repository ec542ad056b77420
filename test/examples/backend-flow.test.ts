/**
 * The README's backend flow runs as written: examples/backend-flow.sh holds
 * the README's lines (compared here), and the README block, pasted into bash
 * on stdin, runs against a fresh sessiond process with nothing set but what a
 * reader sets (KEY, the admin key it printed; S, where it listens).
 */
import { readFile } from 'node:fs/promises'
import t from 'tap'
import { runOnStdin } from '../helpers/run-on-stdin.js'
import { startSessiond } from '../helpers/sessiond-process.js'

const ROOT = new URL('../../', import.meta.url)
const read = (name: string): Promise<string> => readFile(new URL(name, ROOT), 'utf8')

async function readmeFlow(): Promise<string> {
  const block = /## Using sessiond from a backend\n[^]*?```sh\n([^]*?)```/.exec(await read('README.md'))?.[1]
  if (block === undefined) throw new Error('README.md has no sh block under "Using sessiond from a backend"')
  return block
}

t.test('the README shows exactly the lines of examples/backend-flow.sh', async (t) => {
  const script = await read('examples/backend-flow.sh')
  t.match(script, /^#!\/usr\/bin\/env bash\n/, 'a script to run')
  t.equal(await readmeFlow(), script.slice(script.indexOf('\n\n') + 2), 'the script is its header and the README block')
})

t.test('pasted against a fresh sessiond: login, read, If-Match write, a stale write, rotation, logout', { timeout: 120_000 }, async (t) => {
  const sessiond = await startSessiond(t)
  const { code, stdout, stderr } = await runOnStdin('bash', ['-s'], await readmeFlow(), { KEY: sessiond.adminKey, S: sessiond.url })
  t.equal(code, 0)
  t.equal(stderr, '', 'nothing on stderr')
  const lines = stdout.split(/\r?\n/)
  t.match(lines.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as unknown), [
    { userId: 'alice', version: 1, data: { cart: [] } },
    { status: 412, code: 'precondition_failed', detail: 'the session is at version 2, not 1' },
    { status: 401, code: 'session_rotated' },
    { key: 'cart', value: ['book'] }
  ], 'the session read, the stale write, the old token after rotation, the cart under the new token')
  t.equal(lines.filter((l) => l.startsWith('{')).length, 4)
  t.same(lines.filter((l) => l.startsWith('HTTP/')), ['HTTP/1.1 204 No Content', 'HTTP/1.1 204 No Content'], 'the write and the logout')
  t.ok(lines.includes('etag: "2"'), 'the write answers the new ETag')
  t.ok(lines.some((l) => l.startsWith('set-cookie: sid=; Max-Age=0;')), 'the logout clears the cookie')

  const left = await fetch(`${sessiond.url}/v1/users/alice/sessions`, { headers: { authorization: `Bearer ${sessiond.adminKey}` } })
  t.same(await left.json(), { sessions: [] }, 'alice has no session left')
})

t.test('without KEY the block stops at its first line and says what to set', async (t) => {
  const { code, stderr } = await runOnStdin('bash', ['-s'], await readmeFlow(), { S: 'http://127.0.0.1:1' })
  t.not(code, 0)
  t.match(stderr, /KEY: set KEY to the admin key npm start printed/)
})
