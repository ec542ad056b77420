/**
 * The fan-out of multi-session work across the 64 shards (keys.ts SHARDS).
 * Every key of a shard carries the shard as its Cluster hash tag, so one
 * script call may touch many shards on a single node (or a Sentinel-managed
 * primary) but only one on Redis Cluster, whose nodes each hold some of the
 * shards' slots. So a multi-session script takes a list of shards (or of
 * handles, whose first character is their shard): on one node one call gets
 * them all, on Cluster each shard gets its own call, all concurrently, and
 * the backend merges the replies the same way in both cases.
 */
import { shardOf } from '../../tokens.js'
import { SHARDS, sessionKey, shardPrefix } from './keys.js'
import { list, num } from './replies.js'
import type { Arg, Run, ScriptName } from './scripts.js'

export interface ShardsOptions {
  /** Redis Cluster: one call per shard rather than one for all. */
  readonly perShard: boolean
  /** REDIS_KEY_PREFIX. */
  readonly prefix: string
  /** How a script runs. */
  readonly run: Run
  /** How a revoking script runs (revocations.ts). */
  readonly revoke: Run
}

/** A call's arguments before its shards or handles, asked for per call so that each reads the clock as it goes. */
export type LeadingArgs = () => readonly Arg[]

export interface Shards {
  /**
   * Runs a script once over the given shards, kept in order; resolves to the
   * replies in shard order. Each shard is passed as `each` says (default: its name).
   */
  overShards(name: ScriptName, shards: readonly string[], args: LeadingArgs, each?: (shard: string) => readonly Arg[]): Promise<unknown[]>
  /**
   * Runs a chunked script over all the shards: each call again for as long
   * as `take`, given its reply, says that the script stopped at its budget.
   */
  inChunks(name: ScriptName, args: LeadingArgs, take: (reply: unknown) => boolean): Promise<void>
  /** Runs a revoking script that replies {ended, more} over all the shards until none is left; resolves to how many it ended. */
  revokeAcrossShards(name: 'revokeUser' | 'revokeIndex', args: LeadingArgs): Promise<number>
  /** Runs a revoking script over the handles, whatever their shards; resolves to the sum of its replies. */
  revokeHandles(name: 'destroy', handles: readonly string[], args: LeadingArgs): Promise<number>
}

export function createShards({ perShard, prefix, run, revoke }: ShardsOptions): Shards {
  /** Shards grouped per call: all in one on a single node, one each on Cluster. */
  const shardGroups = (shards: readonly string[]): (readonly string[])[] => (perShard ? shards.map((s) => [s]) : [shards])

  /** A key of the group's first shard: it routes the call to that shard's node on Cluster and is not otherwise used. */
  const routeKey = (shards: readonly string[]): string => `${shardPrefix(prefix, shards[0] ?? '')}all`

  /** Handles grouped per call as shardGroups groups shards: all in one on a single node, by shard on Cluster. */
  function handlesByShard(handles: readonly string[]): (readonly string[])[] {
    if (!perShard) return [handles]
    const groups = new Map<string, string[]>()
    for (const handle of handles) {
      const group = groups.get(shardOf(handle))
      if (group === undefined) groups.set(shardOf(handle), [handle])
      else group.push(handle)
    }
    return [...groups.values()]
  }

  async function chunked(call: Run, name: ScriptName, args: LeadingArgs, take: (reply: unknown) => boolean): Promise<void> {
    await Promise.all(
      shardGroups(SHARDS).map(async (group) => {
        while (take(await call(name, [routeKey(group)], [...args(), ...group]))) {
          // The script stopped at its budget: the next call goes on from there.
        }
      })
    )
  }

  return {
    overShards: (name, shards, args, each = (shard) => [shard]) =>
      Promise.all(shardGroups(shards).map((group) => run(name, [routeKey(group)], [...args(), ...group.flatMap(each)]))),

    inChunks: (name, args, take) => chunked(run, name, args, take),

    async revokeAcrossShards(name, args) {
      let ended = 0
      await chunked(revoke, name, args, (reply) => {
        const [n, more] = list(reply)
        ended += num(n)
        return num(more) !== 0
      })
      return ended
    },

    async revokeHandles(name, handles, args) {
      if (handles.length === 0) return 0
      const counts = await Promise.all(
        handlesByShard(handles).map(async (group) => num(await revoke(name, [sessionKey(prefix, group[0] ?? '')], [...args(), ...group])))
      )
      return counts.reduce((a, b) => a + b, 0)
    }
  }
}
