import type { Config } from '../config.js'
import type { Store } from '../store/types.js'
import type { ApiKeyVerifier } from './api-keys.js'
import type { SessionCookies } from './cookies.js'
import type { CredentialReader } from './credential.js'

/** What every route plugin is given: built once in buildApp. */
export interface HttpContext {
  readonly config: Config
  readonly store: Store
  readonly apiKeys: ApiKeyVerifier
  readonly cookies: SessionCookies
  readonly readCredential: CredentialReader
  readonly clock: () => number
  /** Whether browsers may read and write a data key (PUBLIC_KEYS). */
  readonly isPublicKey: (key: string) => boolean
}
