/**
 * An {@link ApduChannel} over a PC/SC card handle: the spec flows (harness/flows) run through pcscd
 * exactly as they run in process, against the simulator behind vpcd or a physical card in a reader.
 *
 * Pass-through, as the My Number Card speaks T=1 with short and extended APDUs and never answers
 * `61 xx` / `6C xx`: the response is returned exactly as the reader delivered it (data + SW1 SW2). A
 * card that died mid-command comes back as 0 bytes (docs/pcsc-stack.md §5.5); FlowSession reports that as
 * a missing status word.
 */
import type { ApduChannel } from '../../simulator/card/channel.ts';
import type { PcscCard } from './client.ts';

export function pcscChannel(card: PcscCard): ApduChannel {
  return { transmit: (command) => card.transmit(command) };
}
