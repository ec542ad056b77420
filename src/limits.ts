/**
 * Limits and patterns that both the HTTP edge and the store apply, kept in
 * one module so that neither imports the other (or the configuration) for them.
 */

/** A data key: 1-128 characters of [A-Za-z0-9._:-] ("=" never appears, so index key names stay unambiguous). */
export const DATA_KEY_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/
export const DATA_KEY_RULE = 'must be 1-128 characters of [A-Za-z0-9._:-]'
