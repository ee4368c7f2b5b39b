/**
 * The client a request counts against for the failed-authentication limit: its IPv4 address, or
 * the /64 network of its IPv6 address (one host usually holds a whole /64, so counting single
 * IPv6 addresses would let it try again from the next one). The same for HTTP requests and
 * websocket upgrades, so both draw on one budget.
 */
import type { IncomingMessage } from 'node:http';
import { isIPv4, isIPv6 } from 'node:net';
import proxyaddr from 'proxy-addr';
import { ValidationError } from '../../pipelines/errors';

/** The eight 16-bit groups of an IPv6 address, or null when it is not one. */
function ipv6Groups(address: string): number[] | null {
  const plain = address.split('%')[0];
  if (!isIPv6(plain)) {
    return null;
  }
  let text = plain;
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted !== null) {
    const [a, b, c, d] = dotted[1].split('.').map(Number);
    text = `${text.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined];
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const zeros = tail === undefined ? 0 : 8 - left.length - right.length;
  return [...left, ...Array<string>(zeros).fill('0'), ...right].map((g) => parseInt(g, 16));
}

/**
 * The key of a client address: `ip:<IPv4>` (IPv4-mapped IPv6 addresses too), `ip6:<first four
 * groups>::/64`, or `addr:<as given>` for anything else (a Unix socket path, `unknown`).
 */
export function clientKey(address: string | undefined): string {
  const value = address ?? 'unknown';
  if (isIPv4(value)) {
    return `ip:${value}`;
  }
  const groups = ipv6Groups(value);
  if (groups === null) {
    return `addr:${value}`;
  }
  const mapped = groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff;
  if (mapped) {
    return `ip:${groups[6] >> 8}.${groups[6] & 0xff}.${groups[7] >> 8}.${groups[7] & 0xff}`;
  }
  return `ip6:${groups
    .slice(0, 4)
    .map((g) => g.toString(16))
    .join(':')}::/64`;
}

/** Whether the peer at `address`, `hop` proxies away, may tell who the client is. */
export type TrustProxy = (address: string, hop: number) => boolean;

/**
 * `NBSTAGE_TRUST_PROXY`: which reverse proxies in front of the service may say, in
 * `X-Forwarded-For`, who the client is: a number of hops, or a comma-separated list of
 * addresses, CIDR ranges and proxy-addr's names (`loopback`, `linklocal`, `uniquelocal`).
 * Unset: none, and every client is the peer of its socket (behind a proxy, all clients would be
 * the proxy and share one failed-authentication budget). The same setting is express's
 * `trust proxy`, so `req.ip` agrees.
 *
 * @throws ValidationError naming the variable for a value proxy-addr cannot read
 */
export function trustProxyOf(value: string | undefined): TrustProxy | null {
  const text = (value ?? '').trim();
  if (text === '') {
    return null;
  }
  if (/^\d+$/.test(text)) {
    const hops = Number(text);
    return (_address, hop) => hop < hops;
  }
  try {
    return proxyaddr.compile(text.split(',').map((part) => part.trim()));
  } catch (err) {
    throw new ValidationError(
      'NBSTAGE_TRUST_PROXY',
      `NBSTAGE_TRUST_PROXY: ${(err as Error).message} (a hop count, or addresses, CIDR ranges, loopback, linklocal, uniquelocal separated by commas)`,
    );
  }
}

/**
 * The key of the client that sent `req` (an HTTP request or a websocket upgrade alike): its
 * socket's peer, or with `trust` the address the trusted proxies forwarded.
 */
export function requestClientKey(req: IncomingMessage, trust: TrustProxy | null = null): string {
  if (trust !== null && req.socket?.remoteAddress !== undefined) {
    return clientKey(proxyaddr(req, trust));
  }
  return clientKey(req.socket?.remoteAddress);
}
