/** Liveness, readiness and the API description: no credentials needed. */
import { readFileSync } from 'node:fs'
import type { FastifyInstance } from 'fastify'
import type { HttpContext } from '../context.js'

const OPENAPI_PATH = new URL('../../../openapi.yaml', import.meta.url)

export function healthRoutes(ctx: HttpContext) {
  const openapi = readFileSync(OPENAPI_PATH, 'utf8')
  return async function plugin(app: FastifyInstance): Promise<void> {
    app.get('/healthz', async () => ({ status: 'ok' }))

    app.get('/readyz', async () => {
      await ctx.store.ping()
      return { status: 'ok', store: ctx.store.kind }
    })

    app.get('/openapi.yaml', async (_request, reply) => reply.type('application/yaml; charset=utf-8').send(openapi))
  }
}
