// Inter-processor messages: the 6-word mailbox entries processors send each other.
//
//  word 0 kind      Msg
//  word 1 from      sending processor id
//  word 2 task      task index in the sender's task table (echoed in replies)
//  word 3 slot      cache slot
//  word 4 status    reply status (MsgStatus)
//  word 5 reserved
//
// A receiver validates every field of a message before acting on it; an invalid message is
// counted (Stat.BAD_MESSAGES) and dropped, never trusted.

export const Msg = {
  /** CA -> DA: read the invalid sectors of a pinned cache slot from its drive. */
  STAGE: 1,
  /** DA -> CA: the stage of `slot` for `task` ended with `status`. */
  STAGE_DONE: 2,
} as const;

export const MsgStatus = { OK: 0, MEDIUM_ERROR: 1, DRIVE_FAILED: 2, NO_STORAGE: 3 } as const;

/** Which disk adapter serves a cache slot: slots are partitioned among disk adapters. */
export function diskAdapterFor(channelAdapters: number, diskAdapters: number, slot: number): number {
  return channelAdapters + (slot % diskAdapters);
}
