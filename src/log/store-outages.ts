/**
 * A store outage is logged once, not once per request. The first
 * store_unavailable of an outage is logged at error with its cause: the
 * backend's own message, which may name a host, an address or a port and so
 * never reaches a caller. Later ones add nothing beyond their access lines
 * until a ping, tried every PROBE_MS while the outage lasts, is answered;
 * that end is logged too, with how long the outage lasted.
 */
import type { FastifyBaseLogger } from 'fastify'

const PROBE_MS = 1_000

export interface StoreOutages {
  /** A store call failed with store_unavailable; `log` (the request's logger) reports it if it starts an outage. */
  failed(error: unknown, log: FastifyBaseLogger): void
  /** Stops probing and ignores what fails from now on: the store is being closed. */
  close(): void
}

/** Tracks outages of the store that `ping` reaches; `log` reports their ends. */
export function storeOutages(ping: () => Promise<void>, log: FastifyBaseLogger, probeMs = PROBE_MS): StoreOutages {
  let since: number | undefined
  let timer: NodeJS.Timeout | undefined
  let closed = false

  const probeLater = (): void => {
    timer = setTimeout(() => {
      ping().then(
        () => {
          if (closed || since === undefined) return
          log.info({ outageMs: Math.round(performance.now() - since) }, 'store reachable again')
          since = undefined
        },
        () => {
          if (!closed) probeLater()
        }
      )
    }, probeMs)
    // An outage never keeps the process alive.
    timer.unref()
  }

  return {
    failed(error, requestLog) {
      if (closed || since !== undefined) return
      since = performance.now()
      requestLog.error({ err: error }, 'store unreachable')
      probeLater()
    },
    close() {
      closed = true
      clearTimeout(timer)
    }
  }
}
