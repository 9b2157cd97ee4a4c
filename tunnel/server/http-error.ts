/**
 * Error answers written straight onto a socket, for the places where no ServerResponse exists: a
 * refused WebSocket upgrade or a CONNECT. The code travels in a header and in the reason phrase, so
 * it shows up both in the agent's logs and in kube-apiserver's "proxy error ... code 503: ..." line.
 */
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { isYurtError } from '../../lib/errors.js';
import { ERROR_CODE_HEADER } from '../protocol/index.js';

function headerSafe(text: string): string {
  return text.replace(/[^\x20-\x7e]/g, ' ').slice(0, 300);
}

export function statusOf(err: unknown): number {
  return isYurtError(err) ? err.statusCode : 502;
}

export function codeOf(err: unknown): string {
  return isYurtError(err) ? err.code : 'TUN_ERR_INTERNAL';
}

/** Writes `HTTP/1.1 <status> <code> <message>` with a text body and ends the socket. */
export function writeHttpError(socket: Duplex, err: unknown, status = statusOf(err)): void {
  if (socket.destroyed || !socket.writable) return;
  const code = codeOf(err);
  const message = err instanceof Error ? err.message : String(err);
  const body = `${code}: ${message}\n`;
  const reason = headerSafe(`${STATUS_CODES[status] ?? 'Error'} (${code})`);
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\n` +
      'content-type: text/plain; charset=utf-8\r\n' +
      `${ERROR_CODE_HEADER}: ${code}\r\n` +
      `content-length: ${Buffer.byteLength(body)}\r\n` +
      'connection: close\r\n\r\n' +
      body,
  );
}
