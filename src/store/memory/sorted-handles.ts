/**
 * The handles filed under one value of an indexed key (see indexes.ts), kept
 * in order so that listings page by handle, as they do on Redis.
 */

/** The first position in a sorted array whose element is not below value. */
function lowerBound(sorted: readonly string[], value: string): number {
  let low = 0
  let high = sorted.length
  while (low < high) {
    const mid = (low + high) >>> 1
    if ((sorted[mid] as string) < value) low = mid + 1
    else high = mid
  }
  return low
}

/** The handles filed under one index value, in (byte) order, as Redis orders a score-0 sorted set. */
export interface SortedHandles {
  add(handle: string): void
  delete(handle: string): void
  size(): number
  /** The handles above `cursor` (all of them when null), in order. */
  after(cursor: string | null): Generator<string>
}

const CHUNK_SIZE = 512

/**
 * A sorted list of sorted chunks of at most 2 x CHUNK_SIZE handles: adding or
 * deleting one moves at most a chunk, not the whole list, so filing or
 * expiring many sessions under one value stays linear rather than quadratic.
 */
export function createSortedHandles(): SortedHandles {
  const chunks: string[][] = []
  let size = 0

  /** The first chunk whose last handle is not below `handle` (chunks.length when none is). */
  function chunkOf(handle: string): number {
    let low = 0
    let high = chunks.length
    while (low < high) {
      const mid = (low + high) >>> 1
      if (((chunks[mid] as string[]).at(-1) as string) < handle) low = mid + 1
      else high = mid
    }
    return low
  }

  return {
    add(handle) {
      const at = Math.min(chunkOf(handle), chunks.length - 1)
      const chunk = chunks[at]
      if (chunk === undefined) {
        chunks.push([handle])
        size += 1
        return
      }
      const position = lowerBound(chunk, handle)
      if (chunk[position] === handle) return
      chunk.splice(position, 0, handle)
      size += 1
      if (chunk.length > 2 * CHUNK_SIZE) chunks.splice(at, 1, chunk.slice(0, CHUNK_SIZE), chunk.slice(CHUNK_SIZE))
    },
    delete(handle) {
      const at = chunkOf(handle)
      const chunk = chunks[at]
      if (chunk === undefined) return
      const position = lowerBound(chunk, handle)
      if (chunk[position] !== handle) return
      chunk.splice(position, 1)
      size -= 1
      if (chunk.length === 0) chunks.splice(at, 1)
    },
    size: () => size,
    *after(cursor) {
      for (let at = cursor === null ? 0 : chunkOf(cursor); at < chunks.length; at += 1) {
        const chunk = chunks[at] as string[]
        let position = cursor === null ? 0 : lowerBound(chunk, cursor)
        if (chunk[position] === cursor) position += 1
        for (; position < chunk.length; position += 1) yield chunk[position] as string
      }
    }
  }
}
