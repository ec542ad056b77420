import t from 'tap'
import { CENSOR, redactHeaders } from '../src/log/redaction.js'

t.test('secret headers are censored at the top and one level down, wherever a log call puts them', async (t) => {
  const headers = { authorization: 'Bearer key', cookie: 'sid=abc', 'x-session-token': 'tok', 'set-cookie': ['sid=abc'], accept: '*/*' }
  const fields = { headers, req: { headers, url: '/x' }, reply: { headers: { 'set-cookie': 'sid=abc', etag: '"1"' } }, n: 1, text: 'x' }
  const out = redactHeaders(fields)
  t.same(out, {
    headers: { authorization: CENSOR, cookie: CENSOR, 'x-session-token': CENSOR, 'set-cookie': CENSOR, accept: '*/*' },
    req: { headers: { authorization: CENSOR, cookie: CENSOR, 'x-session-token': CENSOR, 'set-cookie': CENSOR, accept: '*/*' }, url: '/x' },
    reply: { headers: { 'set-cookie': CENSOR, etag: '"1"' } },
    n: 1,
    text: 'x'
  })
  t.equal(headers.authorization, 'Bearer key', 'the logged objects themselves are left alone')
  t.equal(fields.reply.headers['set-cookie'], 'sid=abc')
})

t.test('nothing to censor: the very same object, no copy', async (t) => {
  const fields = { req: { method: 'GET' }, headers: { accept: '*/*' }, res: { statusCode: 200 }, responseTime: 1.5, none: null }
  t.equal(redactHeaders(fields), fields)
})

t.test('headers inherited from a prototype (a FastifyRequest) are left to its serializer', async (t) => {
  const request = Object.create({ headers: { authorization: 'Bearer key' } }) as { headers: unknown }
  const fields = { req: request }
  t.equal(redactHeaders(fields), fields)
})
