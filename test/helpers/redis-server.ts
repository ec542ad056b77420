/**
 * Starts a throwaway redis-server on a free port with its own temp dir, for
 * one test file. Never touches the machine's own Redis on 6379.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { Redis } from 'ioredis'

export interface RedisServer {
  readonly port: number
  readonly url: string
  readonly dir: string
  /** Starts it again on the same port and dir (after stop or kill). */
  start(): Promise<void>
  /** SIGKILL: no shutdown save. */
  kill(): Promise<void>
  /** SIGSTOP / SIGCONT: the server stops answering but keeps its connections. */
  pause(): void
  resume(): void
  /** Shuts it down and removes its dir. */
  stop(): Promise<void>
}

export interface RedisServerOptions {
  /** Extra redis-server arguments, e.g. ['--appendonly', 'yes']. */
  readonly args?: readonly string[]
  readonly port?: number
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer()
    srv.unref()
    srv.on('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address()
      srv.close(() => {
        if (address !== null && typeof address === 'object') resolve(address.port)
        else reject(new Error('no port'))
      })
    })
  })
}

function launch(port: number, dir: string, args: readonly string[]): Promise<ChildProcess> {
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no', '--protected-mode', 'no', ...args],
    { stdio: ['ignore', 'pipe', 'pipe'] }
  )
  return new Promise((resolve, reject) => {
    let output = ''
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`redis-server on ${port} did not start:\n${output}`))
    }, 10_000)
    const onData = (chunk: Buffer): void => {
      output += chunk.toString()
      if (output.includes('Ready to accept connections')) {
        clearTimeout(timer)
        child.stdout?.off('data', onData)
        child.stdout?.resume()
        resolve(child)
      }
    }
    child.stdout?.on('data', onData)
    child.stderr?.on('data', (c: Buffer) => { output += c.toString() })
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`redis-server on ${port} exited with ${code}:\n${output}`))
    })
    child.once('error', (err) => {
      clearTimeout(timer)
      reject(err)
    })
  })
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
  return new Promise((resolve) => child.once('exit', () => resolve()))
}

export async function startRedisServer(options: RedisServerOptions = {}): Promise<RedisServer> {
  const dir = await mkdtemp(join(tmpdir(), 'sessiond-redis-'))
  const args = options.args ?? []
  let port = options.port ?? 0
  let child: ChildProcess | undefined
  for (let attempt = 0; child === undefined; attempt++) {
    const candidate = port === 0 ? await freePort() : port
    try {
      child = await launch(candidate, dir, args)
      port = candidate
    } catch (err) {
      if (attempt >= 4 || options.port !== undefined) {
        await rm(dir, { recursive: true, force: true })
        throw err
      }
    }
  }
  let current: ChildProcess | undefined = child
  const server: RedisServer = {
    port,
    url: `redis://127.0.0.1:${port}`,
    dir,
    async start() {
      if (current !== undefined) throw new Error('redis-server is already running')
      current = await launch(port, dir, args)
    },
    async kill() {
      const c = current
      current = undefined
      if (c === undefined) return
      c.kill('SIGCONT')
      c.kill('SIGKILL')
      await exited(c)
    },
    pause() {
      current?.kill('SIGSTOP')
    },
    resume() {
      current?.kill('SIGCONT')
    },
    async stop() {
      const c = current
      current = undefined
      if (c !== undefined) {
        c.kill('SIGCONT')
        c.kill('SIGTERM')
        const forced = setTimeout(() => c.kill('SIGKILL'), 5_000)
        await exited(c)
        clearTimeout(forced)
      }
      await rm(dir, { recursive: true, force: true })
    }
  }
  return server
}

export interface Sentinel {
  readonly port: number
  /** The name it monitors the primary under. */
  readonly name: string
  stop(): void
}

/** One Sentinel (quorum 1) monitoring `primary`, its config in the primary's dir; resolves once it knows the primary. */
export async function startSentinel(primary: RedisServer, name = 'primary'): Promise<Sentinel> {
  const port = await freePort()
  const config = join(primary.dir, `sentinel-${port}.conf`)
  await writeFile(config, `port ${port}\nbind 127.0.0.1\nsentinel monitor ${name} 127.0.0.1 ${primary.port} 1\n`)
  const child = spawn('redis-server', [config, '--sentinel'], { stdio: 'ignore' })
  const probe = new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 0, retryStrategy: () => 100 })
  probe.on('error', () => undefined)
  for (let i = 0; i < 100 && (await probe.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', name).catch(() => null)) === null; i++) {
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  probe.disconnect()
  return { port, name, stop: () => child.kill('SIGKILL') }
}

/** A three-primary Redis Cluster of throwaway servers (no replicas); resolves once every node reports cluster_state:ok. */
export async function startRedisCluster(): Promise<RedisServer[]> {
  const nodes: RedisServer[] = []
  for (let i = 0; i < 3; i++) {
    nodes.push(await startRedisServer({ args: ['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-node-timeout', '2000'] }))
  }
  await promisify(execFile)('redis-cli', ['--cluster', 'create', ...nodes.map((n) => `127.0.0.1:${n.port}`), '--cluster-replicas', '0', '--cluster-yes'])
  for (const node of nodes) {
    const admin = new Redis(node.url)
    for (let i = 0; i < 100 && !(await admin.cluster('INFO')).includes('cluster_state:ok'); i++) {
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    admin.disconnect()
  }
  return nodes
}
