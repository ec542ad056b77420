/**
 * Requests Node's HTTP parser refuses never reach a route: they are answered
 * by the app's clientErrorHandler, as problem+json with a stable code like
 * every other error, and the connection is closed. Sent as raw bytes over a
 * real socket, since app.inject never goes through the parser.
 */
import { maxHeaderSize } from 'node:http'
import t from 'tap'
import { parserProblem } from '../../src/http/problem.js'
import { listening } from '../ops/http.js'
import { rawRequest, type RawReply } from '../helpers/raw-http.js'

const { app, http } = await listening(t, { STORE: 'memory' })
const address = app.server.address()
const port = typeof address === 'object' && address !== null ? address.port : 0

const request = (lines: readonly string[]): string => `${lines.join('\r\n')}\r\n\r\n`

function problem(reply: RawReply): Record<string, unknown> {
  try {
    return JSON.parse(reply.body) as Record<string, unknown>
  } catch {
    return { notJson: reply.raw.slice(0, 200) }
  }
}

const CASES: readonly [name: string, bytes: string, status: number, code: string, detail: RegExp][] = [
  ['a 16 KiB Cookie header', request(['GET /v1/session HTTP/1.1', 'Host: sessiond', `Cookie: sid=${'a'.repeat(16 * 1024)}`]), 431, 'payload_too_large', new RegExp(`exceed ${maxHeaderSize} bytes`)],
  ['a 20 KiB query string', request([`GET /v1/sessions?key=tenant&value=${'%C3%A9'.repeat(3400)} HTTP/1.1`, 'Host: sessiond']), 431, 'payload_too_large', /exceed/],
  ['a request line with an unknown version and a trailing word', request(['GET /x HTTP/9.9 extra', 'Host: sessiond']), 400, 'validation_failed', /^malformed HTTP request: Invalid HTTP version$/],
  ['a header line without a colon', request(['GET /healthz HTTP/1.1', 'Host: sessiond', 'no colon here']), 400, 'validation_failed', /^malformed HTTP request: Invalid header token$/],
  ['a method with a character no method has', request(['GE@T /healthz HTTP/1.1', 'Host: sessiond']), 400, 'validation_failed', /^malformed HTTP request: /],
  ['a control character in a header value', request(['GET /healthz HTTP/1.1', 'Host: sessiond', 'X-Thing: a\x01b']), 400, 'validation_failed', /^malformed HTTP request: /],
  ['not HTTP at all', 'hello there\r\n\r\n', 400, 'validation_failed', /^malformed HTTP request/]
]

t.test('what the parser refuses is problem+json with a stable code, and the connection closes', async (t) => {
  for (const [name, bytes, status, code, detail] of CASES) {
    const reply = await rawRequest(port, bytes)
    t.equal(reply.status, status, `${name}: ${status}`)
    t.equal(reply.headers['content-type'], 'application/problem+json', `${name}: problem+json`)
    t.equal(reply.headers.connection, 'close', `${name}: the connection is closed`)
    t.equal(Number(reply.headers['content-length']), Buffer.byteLength(reply.body), `${name}: the whole body arrived`)
    const body = problem(reply)
    t.match(body, { type: `urn:sessiond:problem:${code}`, status, code, title: String }, `${name}: code ${code}`)
    t.match(body.detail, detail, `${name}: the detail says why, echoing nothing of the request`)
  }
})

t.test('the same socket path still serves a well-formed request, before and after', async (t) => {
  const ok = await rawRequest(port, request(['GET /healthz HTTP/1.1', 'Host: sessiond', 'Connection: close']))
  t.equal(ok.status, 200)
  t.same(JSON.parse(ok.body), { status: 'ok' })
  t.equal((await http('/healthz')).status, 200, 'and over fetch')
})

t.test('an HTTP/1.1 request without Host is 400 problem+json (Node\'s own answer would be a bare 400); HTTP/1.0 needs none', async (t) => {
  const reply = await rawRequest(port, request(['GET /healthz HTTP/1.1', 'Connection: close']))
  t.equal(reply.status, 400)
  t.equal(reply.headers['content-type'], 'application/problem+json; charset=utf-8')
  t.match(problem(reply), { code: 'validation_failed', status: 400, detail: 'an HTTP/1.1 request needs a Host header' })
  const old = await rawRequest(port, request(['GET /healthz HTTP/1.0']))
  t.equal(old.status, 200)
})

t.test('bytes after a request with Connection: close: that request is answered alone, then the connection closes', async (t) => {
  for (const [lines, status] of [[['GET /healthz HTTP/1.1', 'Host: sessiond', 'Connection: close'], 200], [['GET /healthz HTTP/1.1', 'Connection: close'], 400]] as const) {
    const reply = await rawRequest(port, `${request(lines)} trailing`)
    t.equal(reply.status, status, `${lines.join(' | ')} → ${status}`)
    t.equal(reply.raw.match(/^HTTP\/1\.1 \d{3} /gm)?.length, 1, 'one answer on the socket, not a second one for the trailing bytes')
    t.doesNotThrow(() => JSON.parse(reply.body) as unknown, 'and its body is the whole JSON')
  }
})

t.test('a request whose headers do not arrive in time is 408 (Node\'s headersTimeout)', async (t) => {
  const timeout = parserProblem({ code: 'ERR_HTTP_REQUEST_TIMEOUT' })
  t.match(timeout, { status: 408, code: 'validation_failed', message: 'the request did not arrive in time' })
  t.match(parserProblem({ code: 'EPIPE' }), { status: 400, code: 'validation_failed', message: 'malformed HTTP request' }, 'a socket error is not an llhttp reason')
})
