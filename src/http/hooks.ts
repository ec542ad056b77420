/**
 * fastify runs an async hook through a promise and a microtask per request;
 * a callback-style hook runs inline. Hooks on every request's path are
 * written as plain synchronous checks and adapted here: a throw becomes the
 * request's error, as it would from an async hook.
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
