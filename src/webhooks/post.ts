/**
 * One webhook request: an event's JSON POSTed to WEBHOOK_URL, signed as
 * Standard Webhooks specifies (`webhook-id`, `webhook-timestamp`,
 * `webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">`), by
 * the `standardwebhooks` package rather than by hand.
 */
import { Webhook } from 'standardwebhooks'

/** A receiver that has not answered by then counts as a failure, and the event is retried. */
export const POST_TIMEOUT_MS = 10_000

export interface SignedRequest {
  readonly headers: Readonly<Record<string, string>>
  readonly body: string
}

export type Signer = (id: string, body: string) => SignedRequest

/** Signs with `secret` at the time of each request, as receivers check the timestamp against their clock. */
export function signer(secret: string): Signer {
  const webhook = new Webhook(secret)
  return (id, body) => {
    const at = new Date()
    return {
      body,
      headers: {
        'content-type': 'application/json',
        'user-agent': 'sessiond-webhooks',
        'webhook-id': id,
        'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
        'webhook-signature': webhook.sign(id, at, body)
      }
    }
  }
}

/** What a request came to: a 2xx, another status, or no answer (with why, never a header or the body). */
export type PostOutcome = { readonly ok: true; readonly status: number } | { readonly ok: false; readonly status: number | null; readonly error: string | null }

/** POSTs once; never throws. `stop` aborts it (shutdown). Redirects are not followed: a 3xx is a failure like any non-2xx. */
export async function post(url: string, request: SignedRequest, stop: AbortSignal): Promise<PostOutcome> {
  try {
    const response = await fetch(url, {
      method: 'POST',
      headers: request.headers,
      body: request.body,
      redirect: 'manual',
      signal: AbortSignal.any([stop, AbortSignal.timeout(POST_TIMEOUT_MS)])
    })
    // The answer's body is of no use; cancelling it frees the connection at once.
    await response.body?.cancel().catch(() => undefined)
    const status = response.status
    return status >= 200 && status < 300 ? { ok: true, status } : { ok: false, status, error: null }
  } catch (err) {
    return { ok: false, status: null, error: describe(err) }
  }
}

/** An error's name and, under fetch's generic "fetch failed", its cause's code (ECONNREFUSED): enough to see why, nothing of the request. */
function describe(err: unknown): string {
  if (!(err instanceof Error)) return String(err)
  if (err.name === 'TimeoutError') return `no answer within ${POST_TIMEOUT_MS} ms`
  const cause = err.cause
  const code = typeof cause === 'object' && cause !== null && 'code' in cause ? String(cause.code) : null
  return code === null ? `${err.name}: ${err.message}` : `${err.message} (${code})`
}
