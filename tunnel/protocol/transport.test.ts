import { describe, expect, it } from 'vitest';
import { settle } from './testing.js';
import { createMemoryTransportPair } from './transport.js';

describe('createMemoryTransportPair', () => {
  it('delivers asynchronously, in order, as copies', async () => {
    const [a, b] = createMemoryTransportPair();
    const got: string[] = [];
    b.onMessage((m) => got.push(m.toString()));
    const buf = Buffer.from('one');
    a.send(buf);
    buf.write('ONE');
    a.send(Buffer.from('two'));
    expect(got).toEqual([]);
    await settle(2);
    expect(got).toEqual(['one', 'two']);
    expect(a.sentMessages).toBe(2);
    expect(a.sentBytes).toBe(6);
  });

  it('closes both ends once, after what was sent before the close, then drops sends', async () => {
    const [a, b] = createMemoryTransportPair();
    const events: string[] = [];
    a.onClose((code, reason) => events.push(`a closed ${code} ${reason}`));
    b.onClose((code, reason) => events.push(`b closed ${code} ${reason}`));
    b.onMessage((m) => events.push(`b got ${m.toString()}`));
    a.onMessage((m) => events.push(`a got ${m.toString()}`));
    a.send(Buffer.from('last words'));
    b.send(Buffer.from('crossing the close'));
    a.close(1001, 'going away');
    a.close(1000, 'again');
    a.send(Buffer.from('after close'));
    await settle(3);
    b.send(Buffer.from('after peer close'));
    b.close(1000, 'too late');
    await settle(3);
    // Each end's own events are ordered; the two ends' interleaving is not specified.
    expect(events.filter((e) => e.startsWith('a'))).toEqual(['a closed 1001 going away']);
    expect(events.filter((e) => e.startsWith('b'))).toEqual(['b got last words', 'b closed 1001 going away']);
    expect(a.closed && b.closed).toBe(true);
  });
});
