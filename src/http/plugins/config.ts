/** The service's settings as `app.config`, with PUBLIC_KEYS compiled once into `app.isPublicKey`. */
import fp from 'fastify-plugin'
import type { Config } from '../../config.js'
import { compileGlobs } from '../../globs.js'

declare module 'fastify' {
  interface FastifyInstance {
    readonly config: Config
    /** Whether browsers may read and write a data key (PUBLIC_KEYS). */
    readonly isPublicKey: (key: string) => boolean
  }
}

export default fp<{ config: Config }>(
  async (app, { config }) => {
    app.decorate('config', config)
    app.decorate('isPublicKey', compileGlobs(config.publicKeys))
  },
  { name: 'sessiond-config', fastify: '5.x' }
)
