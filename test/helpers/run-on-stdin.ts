/**
 * Runs a program given on stdin (`bash -s`, `python3 -`), as a reader pastes
 * it, in an environment with nothing of ours but PATH and HOME.
 */
import { spawn } from 'node:child_process'

export interface Ran {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

export function runOnStdin(command: string, args: readonly string[], program: string, env: Record<string, string>): Promise<Ran> {
  const child = spawn(command, args, { env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env }, stdio: ['pipe', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (chunk: Buffer) => { stdout += chunk.toString() })
  child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
  child.stdin.end(program)
  return new Promise((resolve, reject) => {
    child.once('error', (err) => reject(new Error(`${command} is needed for this test (apt-get install ${command}): ${err.message}`)))
    child.once('close', (code) => resolve({ code, stdout, stderr }))
  })
}
