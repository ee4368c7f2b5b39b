/**
 * The Jupyter messaging wire format: a message as ZMQ frames (`ids..., <IDS|MSG>, hmac, header,
 * parent_header, metadata, content, buffers...`), signed and verified with HMAC-SHA256 over the
 * four JSON parts as jupyter_client's `Session` does. A message that fails verification is an
 * error here; the channels drop and log it.
 */
import { createHmac, randomUUID, timingSafeEqual } from 'node:crypto';
import os from 'node:os';

/** The frame between the routing identities and the signed message. */
export const DELIMITER = Buffer.from('<IDS|MSG>');

/** The protocol version nbstage speaks (jupyter_client's). */
export const PROTOCOL_VERSION = '5.4';

/** A JSON object as it comes off the wire. */
export type JsonObject = Record<string, unknown>;

/** A message header. */
export interface MessageHeader {
  msg_id: string;
  msg_type: string;
  username: string;
  session: string;
  date: string;
  version: string;
  [key: string]: unknown;
}

/** A Jupyter message, decoded. */
export interface WireMessage {
  /** The ZMQ routing identities (on iopub: the topic). */
  identities: Buffer[];
  header: MessageHeader;
  /** The header of the request this message answers, or `{}`. */
  parent_header: Partial<MessageHeader>;
  metadata: JsonObject;
  content: JsonObject;
  /** Binary buffers after the content; not signed (as in jupyter_client). */
  buffers: Buffer[];
}

/** Why frames are not a message nbstage accepts. */
export type WireErrorKind = 'malformed' | 'unsigned' | 'bad-signature' | 'replayed';

/** Frames that are not a valid, authentic message. */
export class WireError extends Error {
  constructor(
    readonly kind: WireErrorKind,
    message: string,
  ) {
    super(message);
    this.name = 'WireError';
  }
}

/** How many signatures are remembered to refuse replays (jupyter_client keeps 2^16). */
const DIGEST_HISTORY = 1 << 14;

/**
 * One side of a connection: its session id and key. Builds, signs, serializes and verifies
 * messages; a verified message's signature is remembered so a replay of it is refused.
 */
export class Session {
  /** The session id in every header this side sends. */
  readonly id = randomUUID();
  private readonly key: Buffer;
  private readonly username: string;
  private readonly seen = new Set<string>();

  /** `key` from the connection file; an empty key means unsigned messages (no auth). */
  constructor(key: string, options: { username?: string; scheme?: string } = {}) {
    const scheme = options.scheme ?? 'hmac-sha256';
    if (scheme !== 'hmac-sha256') {
      throw new Error(`unsupported signature scheme ${scheme} (nbstage speaks hmac-sha256)`);
    }
    this.key = Buffer.from(key, 'utf8');
    this.username = options.username ?? safeUsername();
  }

  /** A new message of `msgType`, answering `parent` when given. */
  message(
    msgType: string,
    content: JsonObject,
    options: { parent?: Partial<MessageHeader>; metadata?: JsonObject; buffers?: Buffer[] } = {},
  ): WireMessage {
    return {
      identities: [],
      header: {
        msg_id: randomUUID(),
        msg_type: msgType,
        username: this.username,
        session: this.id,
        date: new Date().toISOString(),
        version: PROTOCOL_VERSION,
      },
      parent_header: options.parent ?? {},
      metadata: options.metadata ?? {},
      content,
      buffers: options.buffers ?? [],
    };
  }

  /** The hex HMAC-SHA256 of the four JSON parts ('' without a key). */
  sign(parts: readonly Buffer[]): string {
    if (this.key.length === 0) {
      return '';
    }
    const hmac = createHmac('sha256', this.key);
    for (const part of parts) {
      hmac.update(part);
    }
    return hmac.digest('hex');
  }

  /** The frames of `msg`, signed. */
  serialize(msg: WireMessage): Buffer[] {
    const parts = [msg.header, msg.parent_header, msg.metadata, msg.content].map((p) =>
      Buffer.from(JSON.stringify(p), 'utf8'),
    );
    return [
      ...msg.identities,
      DELIMITER,
      Buffer.from(this.sign(parts), 'ascii'),
      ...parts,
      ...msg.buffers,
    ];
  }

  /**
   * The message in `frames`, verified.
   * @throws WireError when the frames are malformed, unsigned, wrongly signed or a replay.
   */
  deserialize(frames: readonly Buffer[]): WireMessage {
    const at = frames.findIndex((f) => f.equals(DELIMITER));
    if (at < 0) {
      throw new WireError('malformed', 'no <IDS|MSG> delimiter');
    }
    const signed = frames.slice(at + 1);
    if (signed.length < 5) {
      throw new WireError('malformed', `${signed.length} frames after the delimiter (5 at least)`);
    }
    const [signature, ...rest] = signed;
    const parts = rest.slice(0, 4);
    if (this.key.length > 0) {
      if (signature.length === 0) {
        throw new WireError('unsigned', 'unsigned message');
      }
      const expected = Buffer.from(this.sign(parts), 'ascii');
      if (signature.length !== expected.length || !timingSafeEqual(signature, expected)) {
        throw new WireError('bad-signature', 'invalid HMAC signature');
      }
      const digest = signature.toString('ascii');
      if (this.seen.has(digest)) {
        throw new WireError('replayed', 'duplicate signature (a replayed message)');
      }
      this.remember(digest);
    }
    const [header, parent, metadata, content] = parts.map((p, i) => parseObject(p, i));
    if (typeof header.msg_id !== 'string' || typeof header.msg_type !== 'string') {
      throw new WireError('malformed', 'header without msg_id or msg_type');
    }
    return {
      identities: frames.slice(0, at),
      header: header as MessageHeader,
      parent_header: parent as Partial<MessageHeader>,
      metadata,
      content,
      buffers: rest.slice(4),
    };
  }

  private remember(digest: string): void {
    this.seen.add(digest);
    if (this.seen.size > DIGEST_HISTORY) {
      // Sets iterate in insertion order: forget the oldest.
      const oldest = this.seen.values().next().value;
      if (oldest !== undefined) {
        this.seen.delete(oldest);
      }
    }
  }
}

const PART_NAMES = ['header', 'parent_header', 'metadata', 'content'];

function parseObject(part: Buffer, index: number): JsonObject {
  let value: unknown;
  try {
    value = JSON.parse(part.toString('utf8'));
  } catch {
    throw new WireError('malformed', `${PART_NAMES[index]} is not JSON`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new WireError('malformed', `${PART_NAMES[index]} is not a JSON object`);
  }
  return value as JsonObject;
}

function safeUsername(): string {
  try {
    return os.userInfo().username;
  } catch {
    return 'nbstage';
  }
}
