/**
 * `npm run demo` as a user runs it: both servers come up on the ports asked
 * for (0 here: free ones), print their URLs, answer, and stop on Ctrl-C.
 */
import { spawn } from 'node:child_process'
import t from 'tap'

t.test('npm run demo starts sessiond and the shop, prints both URLs, stops on SIGINT', { timeout: 60_000 }, async (t) => {
  const child = spawn('npm', ['run', 'demo'], {
    cwd: new URL('../../', import.meta.url),
    env: { ...process.env, SESSIOND_PORT: '0', SHOP_PORT: '0', LOG_LEVEL: 'silent' },
    stdio: ['ignore', 'pipe', 'pipe'],
    // Its own process group, so that the signal reaches npm's children as Ctrl-C would.
    detached: true
  })
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })))
  t.teardown(() => {
    try {
      if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL')
    } catch {
      // Already gone.
    }
  })
  let output = ''
  child.stderr.on('data', (chunk: Buffer) => { output += chunk.toString() })
  const urls = await new Promise<{ sessiond: string; shop: string }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no URLs printed within 30 s:\n${output}`)), 30_000)
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString()
      const sessiond = /sessiond \(memory store\): (http:\/\/\S+)/.exec(output)?.[1]
      const shop = /shop: +(http:\/\/\S+)/.exec(output)?.[1]
      if (sessiond !== undefined && shop !== undefined) {
        clearTimeout(timer)
        resolve({ sessiond, shop })
      }
    })
    child.once('exit', () => reject(new Error(`npm run demo exited:\n${output}`)))
  })
  t.not(urls.sessiond, urls.shop)
  t.same(await (await fetch(`${urls.sessiond}/readyz`)).json(), { status: 'ok', store: 'memory' })
  const page = await fetch(urls.shop)
  t.equal(page.status, 200)
  t.match(await page.text(), /<title>sessiond shop<\/title>/)
  t.match(await (await fetch(`${urls.shop}/api/state`)).json(), { user: null, cart: [] })
  if (child.pid !== undefined) process.kill(-child.pid, 'SIGINT')
  const exit = await exited
  t.ok(exit.code === 0 || exit.signal === 'SIGINT', `npm ended with the Ctrl-C (${JSON.stringify(exit)})`)
  const gone = async (url: string): Promise<boolean> => fetch(url).then(() => false, () => true)
  const deadline = Date.now() + 10_000
  while (!((await gone(urls.shop)) && (await gone(urls.sessiond))) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100))
  t.ok(await gone(urls.shop), 'the shop stopped')
  t.ok(await gone(urls.sessiond), 'sessiond stopped')
})
