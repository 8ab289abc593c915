/**
 * The card-side fix for Debian vpcd 0.8's 40 ms stall (docs/pcsc-stack.md §6.1, §6.3 a).
 *
 * vpcd 0.8 writes each frame as two send()s (length, then payload) with Nagle on; the card's kernel
 * delays the ACK of the first, so the payload waits for the delayed-ACK timer (about 40 ms). Setting
 * TCP_QUICKACK on the card's socket makes the kernel ACK at once. Linux clears the flag by itself, so
 * it is re-armed after every read. Node has no API for it: libc setsockopt is called through the
 * optional FFI package `koffi` on the socket's file descriptor (`socket._handle.fd`, undocumented).
 *
 * Without koffi, or off Linux, the transport logs once why the fix is unavailable and carries on.
 */
import { importKoffi, type Koffi } from '../koffi.ts';
import type { Socket } from 'node:net';

const IPPROTO_TCP = 6;
const TCP_QUICKACK = 12;

export interface QuickAckLogger {
  warn(message: string): void;
}

export interface QuickAck {
  readonly available: boolean;
  /** Why it is unavailable (undefined when available). */
  readonly reason?: string;
  /** Re-arms TCP_QUICKACK on the socket. Returns false (and logs once per process) when it cannot. */
  arm(socket: Socket): boolean;
}

type SetSockOpt = (fd: number, level: number, name: number, value: number[], len: number) => number;

let loading: Promise<{ setsockopt?: SetSockOpt; errno?: () => number; reason?: string }> | undefined;
let warnedUnavailable = false;
let warnedArmFailure = false;

async function loadFfi(): Promise<{ setsockopt?: SetSockOpt; errno?: () => number; reason?: string }> {
  if (process.platform !== 'linux') return { reason: `TCP_QUICKACK is Linux-only (platform is ${process.platform})` };
  let koffi: Koffi;
  try {
    koffi = await importKoffi();
  } catch (err) {
    return { reason: (err as Error).message };
  }
  try {
    const libc = koffi.load('libc.so.6');
    const fn = libc.func('int setsockopt(int sockfd, int level, int optname, const int *optval, uint32_t optlen)');
    return { setsockopt: fn as unknown as SetSockOpt, errno: () => koffi.errno() };
  } catch (err) {
    return { reason: `libc setsockopt could not be bound through koffi: ${(err as Error).message}` };
  }
}

const DISABLED: QuickAck = { available: false, reason: 'disabled by option quickAck: false', arm: () => false };

/**
 * Loads the fix (once per process). With `enabled` false returns a no-op without loading koffi.
 * Logs once per process when the fix is wanted but unavailable.
 */
export async function loadQuickAck(enabled: boolean, logger: QuickAckLogger): Promise<QuickAck> {
  if (!enabled) return DISABLED;
  loading ??= loadFfi();
  const ffi = await loading;
  if (!ffi.setsockopt) {
    if (!warnedUnavailable) {
      warnedUnavailable = true;
      logger.warn(
        `vpcd: the TCP_QUICKACK fix for the 40 ms vpcd stall is unavailable: ${ffi.reason}. ` +
          'Every vpcd message will take about 40 ms (or set the loopback route: scripts/pcsc-stack.sh quickack-route on).',
      );
    }
    return { available: false, reason: ffi.reason, arm: () => false };
  }
  const setsockopt = ffi.setsockopt;
  const errno = ffi.errno!;
  return {
    available: true,
    arm(socket: Socket): boolean {
      const fd = (socket as unknown as { _handle?: { fd?: unknown } })._handle?.fd;
      if (typeof fd !== 'number' || fd < 0) {
        if (!warnedArmFailure) {
          warnedArmFailure = true;
          logger.warn('vpcd: TCP_QUICKACK not set: the socket has no file descriptor (socket._handle.fd)');
        }
        return false;
      }
      if (setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, [1], 4) !== 0) {
        if (!warnedArmFailure) {
          warnedArmFailure = true;
          logger.warn(`vpcd: setsockopt(TCP_QUICKACK) failed with errno ${errno()}`);
        }
        return false;
      }
      return true;
    },
  };
}
