// The wire format of connection path 200, above the hal's frame header (hal/link.ts): which
// frame types exist and how each payload is laid out. One module, like a protocol header, so
// both ends read the same table.
//
// JNLRD — journal read command (secondary -> primary, seed 000 §4.6, [0087], [0109])
//  off size field
//    0    4 group              the primary's group number A
//    4    4 requester          the secondary's storage system number (selects its pointer set)
//    8    4 request_id         echoed in the response
//   12    1 retry              1 = resend the journals of the previous command (S1530)
//   13    1 release_mode       ReleaseMode: which sent batches this command releases (S1590, [0107])
//   14    2 reserved
//   16    4 max_journals       batching by count ([0105]); 0 = as many as fit
//   20    4 max_bytes          batching by payload bytes
//   24    8 release_number     float64: UP_TO mode releases every batch numbered at most this
//   32    8 from_number        float64: 0 = the next unsent journals; n = resend from update number n
//                              (several reads in flight: the secondary asks again for what it lacks)
//
// JNLRD_RESPONSE — journal read response (primary -> secondary)
//  off size field
//    0    4 request_id
//    4    1 kind               ResponseKind: journals, no journal (S1560), group state (S1515/S1525), refused
//    5    1 group_state        the primary group's state (GroupState)
//    6    1 flags              bit 0: every primary pair of the group is 正常 (initial copy ended, S940)
//    7    1 reserved
//    8    4 count              journals that follow
//   12    4 refusal            why a command was refused (RefusalReason)
//   16    8 primary_usage      float64: the primary's journal usage 0..1 for this reader ([0113])
//   24    8 next_number        float64: the primary group's next update number (lag display)
//   32    …  journals          count x (64-byte update information + data_blocks x 512 bytes)

//
// CONFIG — an instruction forwarded by the primary to the secondary (seed 000 S900 item 2, S910
// step 3, S920 item 2, S930 step 3)
//  off size field
//    0    4 request_id
//    4    1 op                 ConfigOp
//    5    3 reserved
//    8    4 group              the group on the receiving system (B)
//   12    4 a                  CREATE_GROUP: the primary's group A; REGISTER_PAIR: primary volume; REGISTER_JOURNAL: volume
//   16    4 b                  REGISTER_PAIR: secondary volume
//   20    4 c                  REGISTER_PAIR: the primary volume's capacity in blocks
//   24    8 reserved
// The sender is the system at the other end of the link the frame arrived on.
//
// CONFIG_RESPONSE
//  off size field
//    0    4 request_id
//    4    1 status             0 ok, 1 rejected
//    5    1 reserved
//    6    2 reason_length      bytes of reason that follow
//    8    4 value              REGISTER_PAIR: the secondary's pair number
//   12    4 reserved
//   16    …  reason            ASCII, at most CONFIG_REASON_MAX bytes

export const Frame = { JNLRD: 1, JNLRD_RESPONSE: 2, CONFIG: 3, CONFIG_RESPONSE: 4 } as const;

export const CONFIG_BYTES = 32;
export const ConfigOff = { REQUEST_ID: 0, OP: 4, GROUP: 8, A: 12, B: 16, C: 20 } as const;
export const ConfigOp = { CREATE_GROUP: 1, REGISTER_PAIR: 2, REGISTER_JOURNAL: 3, START: 4 } as const;
export const CONFIG_RESPONSE_HEADER_BYTES = 16;
export const CONFIG_REASON_MAX = 480;
export const CfgRespOff = { REQUEST_ID: 0, STATUS: 4, REASON_LENGTH: 6, VALUE: 8, REASON: 16 } as const;

export const JNLRD_BYTES = 40;
export const JnlrdOff = { GROUP: 0, REQUESTER: 4, REQUEST_ID: 8, RETRY: 12, RELEASE_MODE: 13, MAX_JOURNALS: 16, MAX_BYTES: 20, RELEASE_NUMBER: 24, FROM_NUMBER: 32 } as const;
/** S1590 and its variants ([0107]): the previous batch at the next command, everything right after sending, or up to a named update number. */
export const ReleaseMode = { NEXT_COMMAND: 0, AFTER_SEND: 1, UP_TO: 2 } as const;

export const RESPONSE_HEADER_BYTES = 32;
export const RespOff = { REQUEST_ID: 0, KIND: 4, GROUP_STATE: 5, FLAGS: 6, COUNT: 8, REFUSAL: 12, PRIMARY_USAGE: 16, NEXT_NUMBER: 24 } as const;
export const ResponseKind = { JOURNALS: 1, NO_JOURNAL: 2, GROUP_STATE: 3, REFUSED: 4 } as const;
export const RESPONSE_FLAG_COPY_COMPLETE = 1;
export const RefusalReason = { NONE: 0, MALFORMED: 1, NOT_A_READER: 2, UNKNOWN_GROUP: 3, CORRUPT_JOURNAL: 4, RELEASED: 5 } as const;
export const REFUSAL_TEXT = ['none', 'malformed journal read command', 'requester is not a reader of this group', 'group is not a primary group here', 'journal data failed its checksum on the primary', 'the journals asked for are already released'] as const;

/** Bytes of one update information inside a response. */
export const WIRE_UPDATE_INFO_BYTES = 64;
