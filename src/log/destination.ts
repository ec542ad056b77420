/**
 * Where the service's logs go unless a caller passes a stream: stdout,
 * buffered. Lines leave in batches of about 4 KB, at least every
 * LOG_FLUSH_MS, and what is left when the app closes or the process exits.
 * The writes are synchronous, so a batch leaves on the thread that wrote it.
 * A SIGKILL or an OOM kill loses at most the last batch.
 */
import pino from 'pino'

const BATCH_BYTES = 4096
const LOG_FLUSH_MS = 250

export interface LogDestination {
  readonly stream: pino.DestinationStream
  /** Writes out what is buffered and stops flushing. */
  close(): void
}

export function bufferedStdout(): LogDestination {
  const stream = pino.destination({ dest: 1, sync: true, minLength: BATCH_BYTES, periodicFlush: LOG_FLUSH_MS })
  const flush = (): void => {
    stream.flushSync()
  }
  process.on('exit', flush)
  return {
    stream,
    close() {
      process.off('exit', flush)
      flush()
    }
  }
}
