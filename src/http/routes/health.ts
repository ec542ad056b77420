/** Liveness, readiness and the API description: no credentials needed. */
import { readFileSync } from 'node:fs'
import type { FastifyInstance } from 'fastify'

const OPENAPI_PATH = new URL('../../../openapi.yaml', import.meta.url)

export default async function healthRoutes(app: FastifyInstance): Promise<void> {
  const { store } = app
  const openapi = readFileSync(OPENAPI_PATH, 'utf8')

  app.get('/healthz', async () => ({ status: 'ok' }))

  app.get('/readyz', async () => {
    await store.ping()
    return { status: 'ok', store: store.kind }
  })

  app.get('/openapi.yaml', async (_request, reply) => reply.type('application/yaml; charset=utf-8').send(openapi))
}
