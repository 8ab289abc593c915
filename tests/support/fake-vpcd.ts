/**
 * An in-test stand-in for vpcd, the reader side of the vpcd protocol: a server the card connects to
 * (vpcd's normal mode) or a client that connects to a listening card (reversed mode). It sends frames
 * as vpcd does and reads the card's replies with the project's own FrameDecoder.
 */
import net from 'node:net';
import { encodeFrame, FrameDecoder } from '../../simulator/transport/vpcd/framing.ts';
import { VpcdControl } from '../../simulator/transport/vpcd/messages.ts';
import { waitFor } from './wait.ts';

/** One vpcd-side connection to a card. */
export class VpcdPeer {
  private readonly decoder = new FrameDecoder();
  private readonly inbox: Uint8Array[] = [];
  closed = false;
  decodeError: string | undefined;

  constructor(readonly socket: net.Socket) {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      const r = this.decoder.push(chunk);
      this.inbox.push(...r.frames);
      if (r.error) this.decodeError = r.error;
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      this.closed = true;
    });
  }

  /** Frames received and not yet taken. */
  get received(): number {
    return this.inbox.length;
  }

  /** Writes raw bytes (for split, coalesced or malformed input). */
  async writeRaw(bytes: Uint8Array): Promise<void> {
    await new Promise<void>((resolve, reject) => this.socket.write(bytes, (err) => (err ? reject(err) : resolve())));
  }

  send(payload: Uint8Array): Promise<void> {
    return this.writeRaw(encodeFrame(payload));
  }

  /**
   * Queues a frame without waiting for the kernel to take it: for a peer that floods the card (a
   * card that stopped reading never lets such a write complete).
   */
  push(payload: Uint8Array): void {
    this.socket.write(encodeFrame(payload));
  }

  /** Stops reading the card's replies (they pile up in the kernel, then in the card's process). */
  stopReading(): void {
    this.socket.pause();
  }

  /** Reads the card's replies again. */
  startReading(): void {
    this.socket.resume();
  }

  /** The next frame from the card, waiting with a deadline. */
  async nextFrame(timeoutMs = 2000): Promise<Uint8Array> {
    await waitFor(() => this.inbox.length > 0 || this.closed, { timeoutMs, intervalMs: 1, what: 'a frame from the card' });
    const f = this.inbox.shift();
    if (!f) throw new Error('card closed the connection instead of replying');
    return f;
  }

  /** Sends a payload and returns the card's reply. */
  async request(payload: Uint8Array, timeoutMs = 2000): Promise<Uint8Array> {
    await this.send(payload);
    return this.nextFrame(timeoutMs);
  }

  getAtr(): Promise<Uint8Array> {
    return this.request(Uint8Array.of(VpcdControl.GET_ATR));
  }

  control(code: number): Promise<void> {
    return this.send(Uint8Array.of(code));
  }

  /** Waits until the card closed the connection. */
  async waitClosed(timeoutMs = 2000): Promise<void> {
    await waitFor(() => this.closed, { timeoutMs, intervalMs: 1, what: 'the card to close the connection' });
  }

  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((r) => {
      this.socket.once('close', () => r());
      this.socket.destroy();
    });
  }
}

/** vpcd in normal mode: listens (on 127.0.0.1, an ephemeral port unless given) and accepts cards. */
export class FakeVpcdServer {
  private server: net.Server | undefined;
  readonly peers: VpcdPeer[] = [];
  port = 0;

  /** Starts listening (again, on the same port after a stop()). */
  async listen(port = this.port): Promise<number> {
    const server = net.createServer((s) => this.peers.push(new VpcdPeer(s)));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: '127.0.0.1', port }, () => resolve());
    });
    this.server = server;
    this.port = (server.address() as net.AddressInfo).port;
    return this.port;
  }

  get listening(): boolean {
    return !!this.server;
  }

  /** The n-th accepted connection (0-based), waiting for it with a deadline. */
  async peer(n = 0, timeoutMs = 3000): Promise<VpcdPeer> {
    await waitFor(() => this.peers.length > n, { timeoutMs, what: `connection #${n} from the card` });
    return this.peers[n];
  }

  /** The latest connection. */
  get current(): VpcdPeer | undefined {
    return this.peers[this.peers.length - 1];
  }

  /** Stops listening and drops every connection (pcscd going away). */
  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    await Promise.all(this.peers.map((p) => p.close()));
    if (server) await new Promise<void>((r) => server.close(() => r()));
  }
}

/** vpcd in reversed mode: connects to a listening card. */
export async function connectToCard(port: number, host = '127.0.0.1'): Promise<VpcdPeer> {
  const socket = net.connect({ host, port });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('error', reject);
  });
  return new VpcdPeer(socket);
}
