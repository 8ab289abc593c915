/**
 * `card learn` on a card in a PC/SC reader: the reader is picked by a regular expression that must
 * match exactly one reader (as for the `pcsc` target, harness/targets/pcsc.ts), the card is opened
 * exclusively (no other program sends commands between the probes) and left as it was.
 */
import { openPcsc, type PcscContext } from '../pcsc/index.ts';
import { pcscChannel } from '../pcsc/channel.ts';
import { readerRegex, TargetEnvironmentError } from '../targets/pcsc.ts';
import { learnCard, type LearnedCard } from './read.ts';

export interface LearnFromReaderOptions {
  /** `--reader`: a regular expression matching exactly one reader name. */
  reader: string;
  /** Deadline for the reader list and for a card to be present. Default 10 000 ms. */
  timeoutMs?: number;
}

/** The one reader `re` matches, or a TargetEnvironmentError (exit 3) naming the readers there are. */
async function pickReader(ctx: PcscContext, source: string, re: RegExp, timeoutMs: number): Promise<string> {
  const readers = await ctx.listReaders({ timeoutMs });
  const matching = readers.filter((r) => re.test(r));
  if (matching.length === 1) return matching[0];
  const found = matching.length === 0 ? 'matches no reader' : `matches ${matching.length} readers (${matching.map((r) => `"${r}"`).join(', ')})`;
  const all = readers.length ? readers.map((r) => `"${r}"`).join(', ') : 'none';
  throw new TargetEnvironmentError(`--reader /${source}/ ${found}; it must match exactly one (readers: ${all})`);
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
    const reader = await pickReader(ctx, options.reader, re, timeoutMs);
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
