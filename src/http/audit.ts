/**
 * The audit trail (spec §9): one `audit` line at info per administrative
 * change, naming who made it (`actor`: the API key's name, or `self` when a
 * session credential made it without one), the `action`, its `target` and
 * how many sessions it `ended`. Targets are handles, user ids and index
 * values, never a token or a secret; each is cut to TARGET_CHARS characters,
 * since an index value may be up to 16 KiB.
 */
import type { FastifyRequest } from 'fastify'
import { SELF_ACTOR } from '../config.js'

export type AuditAction = 'destroy' | 'logout_all' | 'device_revoke' | 'index_revoke' | 'rotate'

/** What the change was made to, by name: `handle`, `userId`, `except`, `key`, `value`, `newHandle`. */
export type AuditTarget = Readonly<Record<string, string>>

export const TARGET_CHARS = 128

const bounded = (text: string): string => (text.length <= TARGET_CHARS ? text : `${text.slice(0, TARGET_CHARS)}…`)

/** Who makes the request's changes, for audit lines and the store's events: the API key's name, else `self`. */
export const actorOf = (request: FastifyRequest): string => request.caller?.name ?? SELF_ACTOR

/** The store's change options for this request's changes. */
export const changeBy = (request: FastifyRequest): { actor: string } => ({ actor: actorOf(request) })

export function audit(request: FastifyRequest, action: AuditAction, target: AuditTarget, ended: number): void {
  const fields = Object.fromEntries(Object.entries(target).map(([name, text]) => [name, bounded(text)]))
  request.log.info({ actor: actorOf(request), action, target: fields, ended }, 'audit')
}
