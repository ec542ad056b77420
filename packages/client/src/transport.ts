/**
 * One HTTP call to sessiond over Node's global fetch: the URL, the API key and
 * credential headers, the time limit, and every failure made a SessiondError.
 */
import { isProblemCode, isSessiondError, SessiondError } from './errors.js'
import type { CallOptions, Credential, IfMatch } from './types.js'

export const DEFAULT_TIMEOUT_MS = 5_000

export interface SessionClientOptions {
  /** Where sessiond listens, e.g. `http://sessiond:3000` (a path prefix is kept). */
  readonly baseUrl: string | URL
  /** A service API key (an admin key for the admin operations). */
  readonly apiKey: string
  /** Per-call time limit (default 5000 ms); a call that takes longer fails with `timeout`. */
  readonly timeoutMs?: number
}

type Method = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE'

export interface Call {
  readonly method: Method
  readonly path: string
  readonly query?: Readonly<Record<string, string | number | boolean | null | undefined>>
  readonly body?: unknown
  readonly credential?: Credential | undefined
  readonly ifMatch?: IfMatch | undefined
  readonly options?: CallOptions | undefined
  /** Statuses handed back instead of thrown (HEAD has no problem body to read). */
  readonly passStatus?: readonly number[]
}

export interface Reply {
  readonly status: number
  readonly headers: Headers
  readonly body: unknown
  readonly setCookie: readonly string[]
}

export const enc = encodeURIComponent

/** `.` and `..` are valid keys, but URL parsing would resolve them as path segments. */
export const isDotSegment = (segment: string): boolean => segment === '.' || segment === '..'

function credentialHeaders(credential: Credential | undefined): Record<string, string> {
  if (credential === undefined) return {}
  return credential.token !== undefined ? { 'x-session-token': credential.token } : { cookie: credential.cookie }
}

export function versionOf(headers: Headers): number {
  const match = /^"(\d+)"$/.exec(headers.get('etag') ?? '')
  if (match === null) throw new SessiondError({ status: 0, code: 'unexpected_response', detail: `no ETag in the response (got ${JSON.stringify(headers.get('etag'))})` })
  return Number(match[1])
}

function retryAfterOf(headers: Headers): number | undefined {
  const raw = headers.get('retry-after')
  return raw !== null && /^\d+$/.test(raw) ? Number(raw) : undefined
}

function problemError(status: number, headers: Headers, text: string, setCookie: readonly string[]): SessiondError {
  let problem: unknown
  try {
    problem = text === '' ? undefined : JSON.parse(text)
  } catch {
    problem = undefined
  }
  const retryAfterSec = retryAfterOf(headers)
  if (typeof problem === 'object' && problem !== null && 'code' in problem && isProblemCode(problem.code)) {
    const detail = 'detail' in problem && typeof problem.detail === 'string' ? problem.detail : ''
    const title = 'title' in problem && typeof problem.title === 'string' ? problem.title : undefined
    return new SessiondError({ status, code: problem.code, detail, ...(title === undefined ? {} : { title }), setCookie, ...(retryAfterSec === undefined ? {} : { retryAfterSec }) })
  }
  const excerpt = text.length > 200 ? `${text.slice(0, 200)}…` : text
  return new SessiondError({ status, code: 'unexpected_response', detail: `HTTP ${status} without a problem document${excerpt === '' ? '' : `: ${excerpt}`}`, setCookie })
}

function transportError(err: unknown, timeout: AbortSignal, userSignal: AbortSignal | undefined, timeoutMs: number): SessiondError {
  if (isSessiondError(err)) return err
  if (timeout.aborted) return new SessiondError({ status: 0, code: 'timeout', detail: `no answer within ${timeoutMs} ms`, cause: err })
  if (userSignal?.aborted === true) return new SessiondError({ status: 0, code: 'aborted', detail: 'the call was aborted', cause: err })
  const cause = err instanceof Error && err.cause instanceof Error ? err.cause : err
  const message = cause instanceof Error ? cause.message : String(cause)
  return new SessiondError({ status: 0, code: 'network_error', detail: `could not reach sessiond: ${message}`, cause: err })
}

/** The body as T: sessiond's replies follow openapi.yaml, which the service's own tests check. */
export const bodyOf = <T>(reply: Reply): T => reply.body as T

/** The function that sends calls to the sessiond at options.baseUrl. */
export function createTransport(options: SessionClientOptions): (call: Call) => Promise<Reply> {
  const base = new URL(options.baseUrl)
  if (base.protocol !== 'http:' && base.protocol !== 'https:') throw new TypeError(`sessiond baseUrl must be http(s), not ${base.protocol}`)
  const root = base.href.replace(/\/+$/, '')
  const authorization = `Bearer ${options.apiKey}`
  const defaultTimeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS

  return async function send(call: Call): Promise<Reply> {
    const search = new URLSearchParams()
    for (const [name, value] of Object.entries(call.query ?? {})) if (value !== undefined && value !== null) search.set(name, String(value))
    const url = `${root}${call.path}${search.size > 0 ? `?${search.toString()}` : ''}`
    const headers: Record<string, string> = { authorization, accept: 'application/json', ...credentialHeaders(call.credential) }
    if (call.body !== undefined) headers['content-type'] = 'application/json'
    if (call.ifMatch !== undefined) headers['if-match'] = call.ifMatch === '*' ? '*' : `"${call.ifMatch}"`
    const timeoutMs = call.options?.timeoutMs ?? defaultTimeoutMs
    const timeout = AbortSignal.timeout(timeoutMs)
    const userSignal = call.options?.signal
    const signal = userSignal === undefined ? timeout : AbortSignal.any([timeout, userSignal])
    try {
      const res = await fetch(url, {
        method: call.method,
        headers,
        signal,
        redirect: 'manual',
        ...(call.body === undefined ? {} : { body: JSON.stringify(call.body) })
      })
      const text = await res.text()
      const setCookie = res.headers.getSetCookie()
      if (res.status >= 200 && res.status < 300) {
        let body: unknown
        try {
          body = text === '' ? undefined : JSON.parse(text)
        } catch (err) {
          throw new SessiondError({ status: res.status, code: 'unexpected_response', detail: 'the response is not JSON', setCookie, cause: err })
        }
        return { status: res.status, headers: res.headers, body, setCookie }
      }
      if (call.passStatus?.includes(res.status) === true) return { status: res.status, headers: res.headers, body: undefined, setCookie }
      throw problemError(res.status, res.headers, text, setCookie)
    } catch (err) {
      throw transportError(err, timeout, userSignal, timeoutMs)
    }
  }
}
