/**
 * Hooks on every request's path are plain synchronous checks, run as
 * callback-style hooks so that no request waits on a promise for them. A
 * throw becomes the request's error, as it would from an async hook.
 */
import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction, onRequestHookHandler } from 'fastify'

export function syncHook(check: (request: FastifyRequest, reply: FastifyReply) => void): onRequestHookHandler {
  return function hook(request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction) {
    try {
      check(request, reply)
    } catch (err) {
      done(err as Error)
      return
    }
    done()
  }
}
