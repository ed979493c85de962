import type { WhatsappNumberState } from '../../../shared/schema/index.js';
import type { ChannelState } from '../integrations/providers.js';

/** What moves a number's state: a `connection.update` / `qrcode.updated` webhook or the probe. */
export interface ConnectionEvent {
  /** Evolution's state, or ours: `qr` (a QR was issued, waiting for a scan), `broken` (credentials or instance gone). */
  state: ChannelState | 'qr' | 'broken';
  /** Baileys' `statusReason` (401...) or our own code (`unauthorized`, `not_found`, `qr_limit_reached`...). */
  reason?: string | number | null;
  /** The linked phone (`wuid` on `open`): E.164 digits or a JID. */
  phone?: string | null;
}

/** Baileys `DisconnectReason` codes, by name: what the screen shows as the reason. */
const DISCONNECT_REASONS: Record<number, string> = {
  401: 'logged_out',
  402: 'payment_required',
  403: 'forbidden',
  406: 'not_acceptable',
  408: 'timed_out',
  411: 'multidevice_mismatch',
  428: 'connection_closed',
  440: 'connection_replaced',
  500: 'bad_session',
  503: 'unavailable_service',
  515: 'restart_required',
};

/** A short, secret-free reason; none for `open`. */
export function reasonOf(event: ConnectionEvent): string | null {
  if (event.state === 'open' || event.reason === undefined || event.reason === null || event.reason === 200) return null;
  if (typeof event.reason === 'number') return DISCONNECT_REASONS[event.reason] ?? `status_${event.reason}`;
  return event.reason.replace(/[^a-z0-9_:.-]/gi, '_').slice(0, 100);
}

/**
 * The state a number moves to, or null when the event changes nothing. Webhooks race each other
 * and are retried, so a late one must not undo a newer truth: a QR issued while the phone is
 * linked is stale, and `connecting` while waiting for a scan says nothing new.
 */
export function nextState(current: WhatsappNumberState, event: ConnectionEvent): WhatsappNumberState | null {
  const next = event.state;
  if (next === 'qr' && current === 'open') return null;
  if (next === 'connecting' && current === 'qr') return null;
  return next;
}

/** E.164 digits of a `wuid` (`5511940001234@s.whatsapp.net`, `5511940001234:12@s.whatsapp.net`). */
export function phoneOf(value: string | null | undefined): string | null {
  if (!value) return null;
  const digits = value.split('@')[0]?.split(':')[0]?.replace(/\D/g, '') ?? '';
  return digits.length >= 8 && digits.length <= 15 ? digits : null;
}
