/**
 * When the memory backend's sessions expire (see table.ts), so that dropping
 * the expired ones visits only them.
 */

/**
 * Handles grouped by the second their session expires in, with a min-heap of
 * those seconds. Pruning pops only the seconds that have fully passed, so it
 * costs what expired (plus log(buckets) per second), never a scan of every
 * session. A bucket stays (possibly empty) until its second passes, so each
 * second is in the heap at most once and memory is bounded by the TTL span.
 */
export interface ExpiryBuckets {
  add(handle: string, expiresAt: number): void
  remove(handle: string, expiresAt: number): void
  /** From the bucket of one expiry to that of another; nothing to do while both fall in one second. */
  move(handle: string, from: number, to: number): void
  /** When the earliest bucket's whole second has passed, so that drainEnded has something to do (Infinity: never). */
  drainableAt(): number
  /** Removes and returns every handle of the buckets whose whole second lies before now. */
  drainEnded(now: number): string[]
  /** The earliest remaining bucket when it may already hold expired handles (it started at or before now). */
  current(now: number): ReadonlySet<string>
  size(): number
}

const BUCKET_MS = 1_000

export function createExpiryBuckets(): ExpiryBuckets {
  const buckets = new Map<number, Set<string>>()
  const seconds: number[] = []

  function push(second: number): void {
    let i = seconds.push(second) - 1
    while (i > 0) {
      const parent = (i - 1) >>> 1
      if ((seconds[parent] as number) <= second) break
      seconds[i] = seconds[parent] as number
      i = parent
    }
    seconds[i] = second
  }

  function pop(): void {
    const last = seconds.pop() as number
    if (seconds.length === 0) return
    let i = 0
    for (;;) {
      const left = 2 * i + 1
      if (left >= seconds.length) break
      const right = left + 1
      const child = right < seconds.length && (seconds[right] as number) < (seconds[left] as number) ? right : left
      if ((seconds[child] as number) >= last) break
      seconds[i] = seconds[child] as number
      i = child
    }
    seconds[i] = last
  }

  const secondOf = (at: number): number => Math.floor(at / BUCKET_MS)

  function add(handle: string, expiresAt: number): void {
    const second = secondOf(expiresAt)
    const bucket = buckets.get(second)
    if (bucket !== undefined) {
      bucket.add(handle)
      return
    }
    buckets.set(second, new Set([handle]))
    push(second)
  }

  function drainableAt(): number {
    const first = seconds[0]
    return first === undefined ? Infinity : (first + 1) * BUCKET_MS
  }

  function remove(handle: string, expiresAt: number): void {
    buckets.get(secondOf(expiresAt))?.delete(handle)
  }

  return {
    add,
    remove,
    move(handle, from, to) {
      if (secondOf(from) === secondOf(to)) return
      remove(handle, from)
      add(handle, to)
    },
    drainableAt,
    drainEnded(now) {
      const ended: string[] = []
      while (drainableAt() <= now) {
        const first = seconds[0] as number
        pop()
        for (const handle of buckets.get(first) ?? []) ended.push(handle)
        buckets.delete(first)
      }
      return ended
    },
    current(now) {
      const first = seconds[0]
      return first !== undefined && first * BUCKET_MS <= now ? (buckets.get(first) ?? new Set()) : new Set()
    },
    size: () => buckets.size
  }
}
