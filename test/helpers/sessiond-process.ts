/**
 * sessiond as a reader's `npm start` runs it: its own process, the memory
 * store, no API_KEYS (so it prints a generated development admin key), on a
 * free port. The TypeScript runs through the loader tap brings instead of the
 * build, so that parallel test files never compile into the shared dist/.
 * Stopped (SIGTERM) when the test ends.
 */
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import type { Test } from 'tap'
import { ENV_NAMES } from '../../src/config.js'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const START_MS = 60_000

export interface SessiondProcess {
  /** Where it listens, e.g. `http://127.0.0.1:40123`. */
  readonly url: string
  /** The development admin key it printed at start-up. */
  readonly adminKey: string
  /** SIGKILL, no shutdown: resolves once it has exited. */
  kill(): Promise<void>
}

export async function startSessiond(t: Test, env: Record<string, string> = {}): Promise<SessiondProcess> {
  const inherited: Record<string, string | undefined> = { ...process.env }
  for (const name of ENV_NAMES) delete inherited[name]
  const child = spawn(process.execPath, ['--import', '@tapjs/typescript/import', 'src/server.ts'], {
    cwd: ROOT,
    env: { ...inherited, TS_NODE_TRANSPILE_ONLY: '1', PORT: '0', HOST: '127.0.0.1', ...env },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  t.teardown(() => {
    if (child.exitCode === null) child.kill('SIGTERM')
  })
  const exited = new Promise<void>((done) => child.once('exit', () => done()))
  let stdout = ''
  let stderr = ''
  return new Promise<SessiondProcess>((resolve, reject) => {
    let adminKey: string | undefined
    let url: string | undefined
    const timer = setTimeout(() => reject(new Error(`sessiond did not start within ${START_MS} ms:\n${stdout}${stderr}`)), START_MS)
    const settle = (): void => {
      if (adminKey === undefined || url === undefined) return
      clearTimeout(timer)
      resolve({
        url,
        adminKey,
        kill() {
          if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
          child.kill('SIGKILL')
          return exited
        }
      })
    }
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString()
      adminKey = /generated a development admin key: (\S+)/.exec(stderr)?.[1]
      settle()
    })
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString()
      url = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(stdout)?.[1]
      settle()
    })
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`sessiond exited (${code}) before it listened:\n${stdout}${stderr}`))
    })
  })
}
