/**
 * Where the service's logs go unless a caller passes a stream: stdout,
 * buffered. Writing each line with its own write(2) cost a tenth of a session
 * read's CPU; lines now leave in batches of about 4 KB, at least every
 * LOG_FLUSH_MS, and what is left is flushed when the app closes or the
 * process exits (pino registers that). A SIGKILL or an OOM kill loses at most
 * the last batch.
 */
import pino from 'pino'

const BATCH_BYTES = 4096
export const LOG_FLUSH_MS = 250

export interface LogDestination {
  readonly stream: pino.DestinationStream
  /** Stops the flush timer and writes out what is buffered. */
  close(): void
}

export function bufferedStdout(): LogDestination {
  const stream = pino.destination({ dest: 1, sync: false, minLength: BATCH_BYTES })
  const timer = setInterval(() => {
    stream.flush()
  }, LOG_FLUSH_MS)
  timer.unref()
  return {
    stream,
    close() {
      clearInterval(timer)
      stream.flushSync()
    }
  }
}
