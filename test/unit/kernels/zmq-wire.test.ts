/**
 * The Jupyter wire format with real bytes: frames jupyter_client's Session signed are read and
 * verified, nbstage's own frames verify with the same key, and a wrong HMAC, an unsigned
 * message, a replay or malformed frames are refused with their kind.
 */
import { createHmac } from 'node:crypto';
import { DELIMITER, Session, WireError, type WireErrorKind } from '../../../kernels/zmq/wire';

const KEY = 'a0f3c1d2-test-key';

/** A stream message exactly as jupyter_client 8's Session.serialize wrote it with KEY. */
const FROM_JUPYTER_CLIENT = [
  'stream.stdout',
  '<IDS|MSG>',
  'ab56090bc4e3cce2da4e0d117d56136b0879dc3040eefcf77905aeea502ec88c',
  '{"msg_id": "m-1", "msg_type": "stream", "username": "tester", "session": "sess-1", "date": "2026-01-02T03:04:05.000000Z", "version": "5.4"}',
  '{"msg_id": "parent-1", "msg_type": "execute_request"}',
  '{}',
  '{"name": "stdout", "text": "hi\\n"}',
].map((s) => Buffer.from(s, 'utf8'));

function kindOf(fn: () => unknown): WireErrorKind | null {
  try {
    fn();
    return null;
  } catch (err) {
    return err instanceof WireError ? err.kind : null;
  }
}

describe('Session.deserialize', () => {
  it("verifies and reads jupyter_client's bytes", () => {
    const msg = new Session(KEY).deserialize(FROM_JUPYTER_CLIENT);
    expect(msg.identities.map((b) => b.toString())).toEqual(['stream.stdout']);
    expect(msg.header.msg_id).toBe('m-1');
    expect(msg.header.msg_type).toBe('stream');
    expect(msg.parent_header.msg_id).toBe('parent-1');
    expect(msg.metadata).toEqual({});
    expect(msg.content).toEqual({ name: 'stdout', text: 'hi\n' });
    expect(msg.buffers).toEqual([]);
  });

  it('refuses a wrong HMAC: another key, or one byte of content changed', () => {
    expect(kindOf(() => new Session('another-key').deserialize(FROM_JUPYTER_CLIENT))).toBe(
      'bad-signature',
    );
    const tampered = [...FROM_JUPYTER_CLIENT];
    tampered[6] = Buffer.from('{"name": "stdout", "text": "HI\\n"}');
    expect(kindOf(() => new Session(KEY).deserialize(tampered))).toBe('bad-signature');
    const short = [...FROM_JUPYTER_CLIENT];
    short[2] = Buffer.from('ab56');
    expect(kindOf(() => new Session(KEY).deserialize(short))).toBe('bad-signature');
  });

  it('refuses an unsigned message, a replay and malformed frames', () => {
    const unsigned = [...FROM_JUPYTER_CLIENT];
    unsigned[2] = Buffer.alloc(0);
    expect(kindOf(() => new Session(KEY).deserialize(unsigned))).toBe('unsigned');
    const session = new Session(KEY);
    session.deserialize(FROM_JUPYTER_CLIENT);
    expect(kindOf(() => session.deserialize(FROM_JUPYTER_CLIENT))).toBe('replayed');
    expect(kindOf(() => session.deserialize(FROM_JUPYTER_CLIENT.slice(0, 5)))).toBe('malformed');
    expect(kindOf(() => session.deserialize(FROM_JUPYTER_CLIENT.filter((_, i) => i !== 1)))).toBe(
      'malformed',
    );
  });

  it('accepts unsigned messages when the key is empty (no auth)', () => {
    const unsigned = [...FROM_JUPYTER_CLIENT];
    unsigned[2] = Buffer.alloc(0);
    expect(new Session('').deserialize(unsigned).header.msg_id).toBe('m-1');
  });
});

describe('Session.serialize', () => {
  it('signs header, parent, metadata and content with HMAC-SHA256; buffers follow unsigned', () => {
    const session = new Session(KEY, { username: 'tester' });
    const msg = session.message(
      'execute_request',
      { code: 'print(1)' },
      { parent: { msg_id: 'p' }, buffers: [Buffer.from([0, 1, 2])] },
    );
    msg.identities = [Buffer.from('id-1')];
    const frames = session.serialize(msg);
    expect(frames[0].toString()).toBe('id-1');
    expect(frames[1].equals(DELIMITER)).toBe(true);
    const hmac = createHmac('sha256', KEY);
    for (const part of frames.slice(3, 7)) {
      hmac.update(part);
    }
    expect(frames[2].toString()).toBe(hmac.digest('hex'));
    expect(JSON.parse(frames[3].toString())).toMatchObject({
      msg_type: 'execute_request',
      username: 'tester',
      session: session.id,
      version: '5.4',
    });
    expect(frames[7]).toEqual(Buffer.from([0, 1, 2]));
    const back = new Session(KEY).deserialize(frames);
    expect(back.content).toEqual({ code: 'print(1)' });
    expect(back.parent_header).toEqual({ msg_id: 'p' });
    expect(back.buffers).toEqual([Buffer.from([0, 1, 2])]);
  });
});
