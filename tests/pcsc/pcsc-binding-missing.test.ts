/** harness/pcsc without its native binding: a clear error naming the fix (no pcscd needed). */
import { describe, expect, it, vi } from 'vitest';

vi.mock('pcsclite', () => {
  throw new Error('Could not locate the bindings file. Tried: build/Release/pcsclite.node');
});

const { openPcsc, pcscBindingAvailable, PcscError, PcscUnavailableError } = await import('../../harness/pcsc/index.ts');

describe('harness/pcsc without the pcsclite binding', () => {
  it('openPcsc rejects with PcscUnavailableError naming npm install pcsclite and libpcsclite-dev', async () => {
    const err = await openPcsc().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(PcscUnavailableError);
    const msg = (err as Error).message;
    expect(msg).toContain('npm install pcsclite');
    expect(msg).toContain('apt-get install libpcsclite-dev');
    expect(msg).toContain('scripts/pcsc-stack.sh install');
    expect(msg).toMatch(/could not be loaded: .+/);
  });

  it('pcscBindingAvailable reports the reason instead of throwing', async () => {
    const r = await pcscBindingAvailable();
    expect(r.ok).toBe(false);
  });
});

describe('PcscError', () => {
  it('parses the SCARD code out of the binding message and names it', () => {
    const e = PcscError.from(new Error('SCardTransmit error: Card was removed.(0x80100069)'), 'transmit');
    expect(e.code).toBe(0x80100069);
    expect(e.codeName).toBe('SCARD_W_REMOVED_CARD');
    expect(e.message).toBe('transmit: SCardTransmit error: Card was removed.(0x80100069)');
  });

  it('points at the script when pcscd is not running', () => {
    const e = PcscError.from(new Error('SCardEstablishContext error: Service not available.(0x8010001d)'));
    expect(e.codeName).toBe('SCARD_E_NO_SERVICE');
    expect(e.message).toMatch(/scripts\/pcsc-stack\.sh start/);
  });
});
