/**
 * What a store test builds its stores with unless it says otherwise: the
 * store suite's defaults, shared with the store tests that build their own.
 */
import type { CreateSessionInput, StoreLimits } from '../../src/store/types.js'
import { handleOf, newToken } from '../../src/tokens.js'

export const IDLE_MS = 600_000
export const ABSOLUTE_MS = 3_600_000

export const DEFAULT_LIMITS: StoreLimits = {
  maxValueBytes: 16 * 1024,
  maxKeys: 256,
  maxSessionBytes: 256 * 1024,
  maxSessionsPerUser: null,
  maxIndexValues: 64
}

/** A session to create: anonymous, no data, IDLE_MS / ABSOLUTE_MS and a fresh handle, unless overridden. */
export const sessionInput = (input: Partial<CreateSessionInput> = {}): CreateSessionInput => ({
  handle: handleOf(newToken()),
  userId: null,
  data: {},
  idleTtlMs: IDLE_MS,
  absoluteTtlMs: ABSOLUTE_MS,
  userAgent: null,
  ip: null,
  ...input
})
