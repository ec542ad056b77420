/**
 * The zod schemas of single environment values (lists, ports, API keys,
 * INDEXED_KEYS entries, TRUST_PROXY, origins), which src/config.ts composes
 * into the one environment schema.
 */
import { isIP } from 'node:net'
import { z } from 'zod'
import type { ApiKey } from './config.js'
import { EVENT_TYPES } from './store/events.js'
import { INDEX_ENTRY_RULE, parseIndexEntry } from './store/index-entries.js'
import type { HostPort } from './store/types.js'

export const list = z
  .string()
  .transform((s) => s.split(',').map((p) => p.trim()).filter((p) => p !== ''))

export const port = z.coerce.number().int().min(0).max(65535)
export const seconds = (fallback: number) => z.coerce.number().int().min(1).default(fallback)
export const positiveInt = (fallback: number) => z.coerce.number().int().min(1).default(fallback)

export const hostPortList = list.pipe(
  z.array(
    z.string().refine((hp) => {
      const m = /^[^\s:]+:(\d{1,5})$/.exec(hp)
      return m !== null && Number(m[1]) >= 1 && Number(m[1]) <= 65535
    }, 'expected host:port with a port of 1-65535').transform((hp): HostPort => {
      const at = hp.lastIndexOf(':')
      return { host: hp.slice(0, at), port: Number(hp.slice(at + 1)) }
    })
  ).min(1)
)

export const apiKeyList = list.pipe(
  z.array(
    z.string().transform((entry, ctx): ApiKey => {
      const [name = '', scope = '', ...rest] = entry.split(':')
      const secret = rest.join(':')
      if (name === '' || (scope !== 'service' && scope !== 'admin') || secret.length < 16) {
        ctx.addIssue({
          code: 'custom',
          // An entry without ':' may be a bare secret: never echo it.
          message: `"${name === '' || !entry.includes(':') ? '?' : name}" must be name:scope:secret with scope service or admin and a secret of at least 16 characters`
        })
        return z.NEVER
      }
      return { name, scope, secret }
    })
  )
)

export const indexEntryList = list.pipe(z.array(z.string().refine((name) => parseIndexEntry(name) !== null, `each entry ${INDEX_ENTRY_RULE}`)))
export const globList = list.pipe(z.array(z.string().regex(/^[A-Za-z0-9._:*-]{1,128}$/, 'each glob must be 1-128 characters of [A-Za-z0-9._:-] and *')))

/** What @fastify/proxy-addr accepts: an IP, ip/prefix, IPv4 ip/netmask, or a named range. */
function isProxyAddress(entry: string): boolean {
  if (entry === 'loopback' || entry === 'linklocal' || entry === 'uniquelocal') return true
  const [ip = '', range, ...extra] = entry.split('/')
  const family = isIP(ip)
  if (family === 0 || extra.length > 0) return false
  if (range === undefined) return true
  if (/^\d{1,3}$/.test(range)) return Number(range) <= (family === 4 ? 32 : 128)
  if (family !== 4 || isIP(range) !== 4) return false
  const mask = range.split('.').reduce((n, octet) => n * 256 + Number(octet), 0)
  const hostBits = 2 ** 32 - 1 - mask
  return (hostBits & (hostBits + 1)) === 0
}

export const trustProxy = z.string().transform((raw, ctx): boolean | number | string[] => {
  if (raw === 'true') return true
  if (raw === 'false') return false
  if (/^\d+$/.test(raw)) return Number(raw)
  const entries = raw.split(',').map((p) => p.trim()).filter((p) => p !== '')
  const bad = entries.filter((p) => !isProxyAddress(p))
  if (bad.length > 0) {
    ctx.addIssue({ code: 'custom', message: `must be true, false, a hop count, or a list of IPs/CIDRs (loopback, linklocal, uniquelocal); not ${bad.join(', ')}` })
    return z.NEVER
  }
  return entries
})

/** An http(s) URL; its text is never echoed, since a URL may carry a credential. */
export const httpUrl = z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' })

/** What Standard Webhooks specifies for a secret: `whsec_` and the base64 of 24 to 64 random bytes. */
export const webhookSecret = z.string().refine((raw) => {
  const base64 = raw.slice('whsec_'.length)
  if (!raw.startsWith('whsec_') || !/^[A-Za-z0-9+/]+={0,2}$/.test(base64) || base64.length % 4 !== 0) return false
  const bytes = Buffer.from(base64, 'base64').length
  return bytes >= 24 && bytes <= 64
}, 'must be whsec_ followed by the base64 of 24 to 64 random bytes')

export const eventTypeList = list.pipe(z.array(z.enum(EVENT_TYPES, { error: `each type must be one of ${EVENT_TYPES.join(', ')}` })).min(1))

export const origins = list.pipe(
  z.array(
    z.string().refine((o) => {
      try {
        const u = new URL(o)
        return (u.protocol === 'http:' || u.protocol === 'https:') && u.origin === o
      } catch {
        return false
      }
    }, 'each origin must be scheme://host[:port] with no path or trailing slash')
  )
)

