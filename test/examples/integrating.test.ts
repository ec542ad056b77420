/**
 * docs/integrating.md's examples run as printed: its curl block in bash and
 * its Python block in python3 (standard library only), against a fresh
 * sessiond process, with nothing set but the variables the page names.
 */
import { readFile } from 'node:fs/promises'
import t from 'tap'
import { runOnStdin } from '../helpers/run-on-stdin.js'
import { startSessiond } from '../helpers/sessiond-process.js'

const page = await readFile(new URL('../../docs/integrating.md', import.meta.url), 'utf8')
const sessiond = await startSessiond(t)

function block(language: string): string {
  const blocks = [...page.matchAll(new RegExp(`\`\`\`${language}\\n([^]*?)\`\`\``, 'g'))].map((m) => m[1] ?? '')
  if (blocks.length !== 1) throw new Error(`docs/integrating.md has ${blocks.length} ${language} blocks, not one`)
  return blocks[0] ?? ''
}

t.test('the curl example: a new visitor, a forwarded Cookie header, an atomic count, forward-auth, a cleared cookie', { timeout: 120_000 }, async (t) => {
  const { code, stdout, stderr } = await runOnStdin('bash', ['-s'], block('sh'), { KEY: sessiond.adminKey, S: sessiond.url })
  t.equal(code, 0)
  t.equal(stderr, '')
  const lines = stdout.split(/\r?\n/)
  const json = lines.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as unknown)
  t.match(json, [
    { userId: null, version: 2, data: { views: 1 } },
    { status: 401, code: 'session_not_found' }
  ], 'the counted view under the forwarded cookie, then the ended session')
  t.same(lines.filter((l) => l.startsWith('HTTP/')), ['HTTP/1.1 204 No Content', 'HTTP/1.1 401 Unauthorized'], 'forward-auth, then the old cookie')
  t.ok(lines.some((l) => /^x-session-handle: [A-Za-z0-9_-]{43}$/.test(l)), 'forward-auth names the session')
  t.ok(lines.includes('204'), 'the logout')
  t.ok(lines.some((l) => l.startsWith('set-cookie: sid=; Max-Age=0;')), 'the old cookie is cleared')
})

t.test('the Python example: login, If-Match writes, rotation, the old cookie, logout', { timeout: 120_000 }, async (t) => {
  const { code, stdout, stderr } = await runOnStdin('python3', ['-'], block('python'), { SESSIOND_URL: sessiond.url, SESSIOND_API_KEY: sessiond.adminKey })
  t.equal(stderr, '')
  t.equal(code, 0)
  t.equal(
    stdout,
    ['logged in: alice relay: True', 'cart version: 2 3', 'old cookie: 401 session_rotated', "cart kept: ['book', 'pen']", 'logged out, relay: sid=', ''].join('\n')
  )
  const left = await fetch(`${sessiond.url}/v1/users/alice/sessions`, { headers: { authorization: `Bearer ${sessiond.adminKey}` } })
  t.same(await left.json(), { sessions: [] }, 'alice has no session left')
})

t.test('the Python example\'s add_to_cart retries when another write lands between its read and its write', { timeout: 120_000 }, async (t) => {
  // The page's definitions, then a session whose cart another request changes after each of the first two reads.
  const definitions = block('python').split('\n# Login:')[0] ?? ''
  const race = `
created, _, _ = call("POST", "/v1/sessions", {"data": {"cart": []}})
cookie = f"sid={created['token']}"
reads = 0
plain_call = call
def call(method, path, body=None, cookie=None, if_match=None):
    global reads
    result = plain_call(method, path, body, cookie, if_match)
    if method == "GET" and reads < 2:
        reads += 1
        plain_call("PUT", "/v1/session/data/cart", {"value": ["other" + str(reads)]}, cookie=cookie)
    return result
print(add_to_cart(cookie, "book"), reads)
print(plain_call("GET", "/v1/session/data/cart", cookie=cookie)[0]["value"])
`
  const { code, stdout, stderr } = await runOnStdin('python3', ['-'], definitions + race, { SESSIOND_URL: sessiond.url, SESSIOND_API_KEY: sessiond.adminKey })
  t.equal(stderr, '')
  t.equal(code, 0)
  t.equal(stdout, "4 2\n['other2', 'book']\n", 'two 412s, then the write on the third read keeps the other writes\' item')
})
