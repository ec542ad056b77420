/**
 * Raw bytes to a listening server over a real TCP socket, for what app.inject
 * cannot send: requests Node's HTTP parser refuses (bad request lines, header
 * lines without a colon, oversized headers). The request is written and the
 * writing side half-closed; the reply is read until the server closes.
 */
import { connect } from 'node:net'

export interface RawReply {
  /** 0 when no status line came back (the connection was closed or reset first). */
  readonly status: number
  /** Header names in lower case. */
  readonly headers: Readonly<Record<string, string>>
  readonly body: string
  /** The whole reply as it arrived. */
  readonly raw: string
}

/** Far above any answer here: a reply that takes this long has hung. */
const HANG_MS = 30_000

export function parseReply(raw: string): RawReply {
  const end = raw.indexOf('\r\n\r\n')
  const head = end === -1 ? raw : raw.slice(0, end)
  const [statusLine = '', ...lines] = head.split('\r\n')
  const status = /^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1]
  const headers: Record<string, string> = {}
  for (const line of lines) {
    const colon = line.indexOf(':')
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim()
  }
  return { status: status === undefined ? 0 : Number(status), headers, body: end === -1 ? '' : raw.slice(end + 4), raw }
}

/** Sends `request` as it is to 127.0.0.1:`port` and resolves to what came back. */
export function rawRequest(port: number, request: string | Buffer): Promise<RawReply> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1')
    const chunks: Buffer[] = []
    const done = (): void => {
      clearTimeout(timer)
      resolve(parseReply(Buffer.concat(chunks).toString('latin1')))
    }
    const timer = setTimeout(() => socket.destroy(), HANG_MS)
    socket.on('data', (chunk: Buffer) => chunks.push(chunk))
    // A reset after the reply was written still leaves the reply to read.
    socket.on('error', () => undefined)
    socket.on('close', done)
    socket.end(request)
  })
}
