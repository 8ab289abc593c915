/**
 * Without the optional FFI package koffi, synchronous PC/SC calls (harness/pcsc/direct.ts) are
 * unavailable with a reason that names koffi, not the `pcsclite` binding the caller falls back to.
 */
import { expect, it, vi } from 'vitest';

vi.mock('koffi', () => {
  throw new Error("Cannot find package 'koffi'");
});

const { connectDirect, DirectIoUnavailable } = await import('../../harness/pcsc/direct.ts');

it('connectDirect rejects with DirectIoUnavailable naming koffi and how to install it', async () => {
  const err = await connectDirect('Virtual PCD 00 01').catch((e: unknown) => e);
  expect(err).toBeInstanceOf(DirectIoUnavailable);
  expect((err as Error).message).toMatch(/^synchronous card I\/O unavailable: the optional npm package koffi could not be loaded .*npm install koffi/);
  expect((err as Error).message).not.toContain('pcsclite');
});
