/**
 * The demo: sessiond (memory store) in this process, and the shop backend
 * next to it on its own port. `npm run demo` runs main.ts, which calls this;
 * the browser test calls it too.
 */
import { randomBytes } from 'node:crypto'
import type { AddressInfo } from 'node:net'
import type { FastifyInstance } from 'fastify'
import { buildApp } from '../../src/app.js'
import { loadConfig } from '../../src/config.js'
import { buildShop } from './shop.js'

export interface DemoOptions {
  /** 0 picks a free port. */
  readonly sessiondPort?: number
  readonly shopPort?: number
  readonly host?: string
  readonly logLevel?: string
}

export interface Demo {
  readonly sessiondUrl: string
  readonly shopUrl: string
  close(): Promise<void>
}

const urlOf = (app: FastifyInstance, host: string): string => `http://${host}:${(app.server.address() as AddressInfo).port}`

export async function startDemo(options: DemoOptions = {}): Promise<Demo> {
  const host = options.host ?? '127.0.0.1'
  const logLevel = options.logLevel ?? 'warn'
  // A fresh service key per run: only the shop's backend knows it.
  const apiKey = randomBytes(24).toString('base64url')
  const config = loadConfig({
    NODE_ENV: 'development',
    STORE: 'memory',
    HOST: host,
    LOG_LEVEL: logLevel,
    API_KEYS: `shop:service:${apiKey}`,
    // Plain http on localhost: the cookie cannot be Secure.
    COOKIE_SECURE: 'false'
  })
  const service = await buildApp(config)
  await service.listen({ port: options.sessiondPort ?? 0, host })
  const sessiondUrl = urlOf(service, host)

  const shop = await buildShop({ sessiondUrl, apiKey, logLevel })
  try {
    await shop.listen({ port: options.shopPort ?? 0, host })
  } catch (err) {
    await service.close()
    throw err
  }
  return {
    sessiondUrl,
    shopUrl: urlOf(shop, host),
    async close() {
      await shop.close()
      await service.close()
    }
  }
}
