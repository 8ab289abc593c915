/** The project's PC/SC client (see ./client.ts). */
export {
  MAX_RESPONSE_LENGTH,
  openPcsc,
  pcscBindingAvailable,
  PcscCard,
  PcscContext,
  PcscError,
  PcscUnavailableError,
  SCARD,
  type CardPresence,
  type ConnectOptions,
  type Disposition,
  type ProtocolChoice,
  type ReaderState,
  type ShareMode,
  type WaitOptions,
} from './client.ts';

/** The name pcscd gives vpcd's reader for a slot (Debian's FRIENDLYNAME "Virtual PCD"). */
export function vpcdReaderName(slot: number): string {
  return `Virtual PCD 00 ${slot.toString().padStart(2, '0')}`;
}
