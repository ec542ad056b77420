/**
 * The one fake clock of the tests: the store suite, the store tests beside it
 * and the HTTP tests (through buildApp's `clock` option) all use it.
 */

/** A clock for one store: starts at Date.now() and only moves when told to, forward. */
export interface FakeClock {
  readonly now: () => number
  /** Moves forward by `ms` and returns the new time. */
  readonly advance: (ms: number) => number
}

export function fakeClock(start: number = Date.now()): FakeClock {
  let current = start
  return {
    now: () => current,
    advance: (ms: number): number => {
      if (!Number.isFinite(ms) || ms < 0) throw new Error('the fake clock only moves forward')
      current += ms
      return current
    }
  }
}
