/**
 * The periodic sweep of expired sessions that EVENTS_EXPIRY_LAG asks for
 * (SPEC §2 "events"): any number of instances may run it at once, since the
 * step that ends a session is the one that records its event. Runs never
 * overlap, a failed run (the store unreachable) is retried at the next, and
 * the timer never keeps the process alive.
 */
export interface Sweeper {
  stop(): void
}

/** Twice per EVENTS_EXPIRY_LAG, so that an expiry is announced within it even when a sweep is slow. */
export const sweepIntervalMs = (expiryLagSec: number): number => (expiryLagSec * 1000) / 2

export function startSweeper(sweep: () => Promise<unknown>, intervalMs: number): Sweeper {
  let timer: NodeJS.Timeout | null = null
  let stopped = false
  const schedule = (): void => {
    if (stopped) return
    timer = setTimeout(() => {
      sweep().catch(() => undefined).finally(schedule)
    }, intervalMs)
    timer.unref()
  }
  schedule()
  return {
    stop() {
      stopped = true
      if (timer !== null) clearTimeout(timer)
    }
  }
}
