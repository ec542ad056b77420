import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Webhook, WebhookVerificationError } from 'standardwebhooks'

interface SessionEvent {
  id: string
  type: 'session.created' | 'session.rotated' | 'session.ended'
  time: string
  handle: string
  userId: string | null
  reason?: 'logout' | 'destroyed' | 'revoked' | 'evicted' | 'expired'
  newHandle?: string
  index: Record<string, string>
  actor: string
}

const webhook = new Webhook(process.env.WEBHOOK_SECRET ?? '')
// Delivery is at least once: remember what was handled by webhook-id (in production in your
// database, for at least WEBHOOK_MAX_AGE) and answer 2xx again for a repeat without handling it twice.
const handled = new Set<string>()

function handle(event: SessionEvent): void {
  const detail = event.type === 'session.rotated' ? ` -> ${event.newHandle}` : event.type === 'session.ended' ? ` ${event.reason}` : ''
  process.stdout.write(`${event.type} ${event.handle}${detail}\n`)
}

const server = createServer((req, res) => {
  const chunks: Buffer[] = []
  req.on('data', (chunk: Buffer) => chunks.push(chunk))
  req.on('end', () => {
    let event: SessionEvent
    try {
      // The raw bytes, before any JSON parsing: the signature covers them as sent.
      event = webhook.verify(Buffer.concat(chunks), req.headers as Record<string, string>) as SessionEvent
    } catch (err) {
      // A forged, altered or replayed-too-late request (timestamp over 5 minutes off) is refused.
      res.writeHead(err instanceof WebhookVerificationError ? 400 : 500).end()
      return
    }
    const id = String(req.headers['webhook-id'])
    if (!handled.has(id)) {
      handle(event)
      handled.add(id)
    }
    res.writeHead(204).end()
  })
})

server.listen(Number(process.env.PORT ?? 8080), '127.0.0.1', () => {
  process.stdout.write(`listening on http://127.0.0.1:${(server.address() as AddressInfo).port}\n`)
})
