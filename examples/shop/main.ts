/**
 * `npm run demo`: sessiond on the memory store plus the shop, printing both
 * URLs. Ports: SESSIOND_PORT (default 4000) and SHOP_PORT (default 4001);
 * LOG_LEVEL (default warn) for both.
 */
import { startDemo } from './demo.js'

const port = (name: string, fallback: number): number => {
  const raw = process.env[name]
  const value = raw === undefined || raw === '' ? fallback : Number(raw)
  if (!Number.isInteger(value) || value < 0 || value > 65535) {
    process.stderr.write(`demo: ${name} must be a port number, not ${raw}\n`)
    process.exit(1)
  }
  return value
}

const demo = await startDemo({
  sessiondPort: port('SESSIOND_PORT', 4000),
  shopPort: port('SHOP_PORT', 4001),
  logLevel: process.env.LOG_LEVEL ?? 'warn'
})
process.stdout.write(
  `sessiond (memory store): ${demo.sessiondUrl}\n` +
    `shop:                    ${demo.shopUrl}\n` +
    'Open the shop in two browsers (or a normal and a private window) to watch "log out other devices". Ctrl-C stops both.\n'
)

let closing = false
const stop = (): void => {
  if (closing) return
  closing = true
  demo.close().then(
    () => process.exit(0),
    (err: unknown) => {
      process.stderr.write(`demo: ${String(err)}\n`)
      process.exit(1)
    }
  )
}
process.once('SIGINT', stop)
process.once('SIGTERM', stop)
