/**
 * `card learn` on a card in a PC/SC reader: the reader is picked by a regular expression that must
 * match exactly one reader (harness/targets/lab.ts, as for the `pcsc` target and the relay), the card is opened
 * exclusively (no other program sends commands between the probes) and left as it was.
 */
import { openPcsc, type PcscContext } from '../pcsc/index.ts';
import { pcscChannel } from '../pcsc/channel.ts';
import { pickReader, readerRegex, TargetEnvironmentError } from '../targets/lab.ts';
import { learnCard, type LearnedCard } from './read.ts';

export interface LearnFromReaderOptions {
  /** `--reader`: a regular expression matching exactly one reader name. */
  reader: string;
  /** Deadline for the reader list and for a card to be present. Default 10 000 ms. */
  timeoutMs?: number;
}

/** Learns the card in the reader `options.reader` names. Throws InputError for a bad regex (exit 2). */
export async function learnFromReader(options: LearnFromReaderOptions): Promise<{ reader: string; learned: LearnedCard }> {
  const re = readerRegex(options.reader);
  const timeoutMs = options.timeoutMs ?? 10_000;
  let ctx: PcscContext;
  try {
    ctx = await openPcsc();
  } catch (err) {
    throw new TargetEnvironmentError(`PC/SC is not usable: ${(err as Error).message}`);
  }
  try {
    const reader = await pickReader(ctx, re, options.reader, timeoutMs);
    let state: Awaited<ReturnType<PcscContext['waitForCard']>>;
    let card: Awaited<ReturnType<PcscContext['connect']>>;
    try {
      state = await ctx.waitForCard(reader, 'present', { timeoutMs });
      card = await ctx.connect(reader, { share: 'exclusive' });
    } catch (err) {
      throw new TargetEnvironmentError(`no usable card in "${reader}": ${(err as Error).message}`);
    }
    try {
      return { reader, learned: await learnCard(pcscChannel(card), state.atr) };
    } finally {
      await card.disconnect('leave').catch(() => {});
    }
  } finally {
    await ctx.close();
  }
}
