/** Reads the configuration, builds the app, listens, and closes gracefully. */
import { buildApp, listen } from './app.js'
import { ConfigError, loadConfig } from './config.js'

const SHUTDOWN_GRACE_MS = 10_000

async function main(): Promise<void> {
  let config
  try {
    config = loadConfig(process.env)
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err
    process.stderr.write(`sessiond: invalid configuration\n${err.problems.map((p) => `  ${p}\n`).join('')}`)
    process.exit(1)
  }
  if (config.generatedAdminKey !== undefined) {
    // Printed once, outside the logger, so it never lands in log storage.
    process.stderr.write(`sessiond: no API_KEYS set; generated a development admin key: ${config.generatedAdminKey}\n`)
  }

  const app = await buildApp(config)
  let closing = false
  // While shutting down, each response closes its connection: an idle
  // keep-alive connection (clients and proxies keep them for a minute) would
  // otherwise hold the shutdown open until the grace period runs out.
  app.addHook('onSend', (_request, reply, payload, done) => {
    if (closing) reply.header('connection', 'close')
    done(null, payload)
  })
  const shutdown = (signal: string): void => {
    if (closing) return
    closing = true
    app.log.info({ signal }, 'shutting down')
    const timer = setTimeout(() => {
      app.log.error('graceful shutdown timed out')
      process.exit(1)
    }, SHUTDOWN_GRACE_MS)
    timer.unref()
    app.close().then(
      () => process.exit(0),
      (err: unknown) => {
        app.log.error({ err }, 'error during shutdown')
        process.exit(1)
      }
    )
  }
  process.once('SIGTERM', shutdown)
  process.once('SIGINT', shutdown)

  await listen(app)
}

main().catch((err: unknown) => {
  process.stderr.write(`sessiond: failed to start: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`)
  process.exit(1)
})
