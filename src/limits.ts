/**
 * Limits and patterns that both the HTTP edge and the store apply, kept in
 * one module so that neither imports the other (or the configuration) for them.
 */

/** A data key: 1-128 characters of [A-Za-z0-9._:-] ("=" never appears, so index key names stay unambiguous). */
export const DATA_KEY_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/
export const DATA_KEY_RULE = 'must be 1-128 characters of [A-Za-z0-9._:-]'

/**
 * How deeply a data value may nest arrays and objects (`[[1]]` is 2 deep):
 * far beyond what session state needs, and shallow enough that every reader
 * of a value (JSON.stringify, the response serializer, clients' parsers) can.
 */
export const MAX_VALUE_DEPTH = 64

/**
 * The most UTF-8 bytes a value may have to be filed in a secondary index.
 * Percent-encoded (at worst three characters a byte) it still fits a query
 * string under the common 4-8 KiB URL limits, so every filed value can be
 * listed and revoked.
 */
export const MAX_INDEX_VALUE_BYTES = 1024
