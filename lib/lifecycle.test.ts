import { describe, expect, it } from 'vitest';
import { createLogger } from './logger.js';
import { startInSteps, type Component } from './lifecycle.js';

function recorder() {
  const lines: Array<{ msg: string; step?: number; steps?: string[]; err?: { message: string } }> = [];
  const logger = createLogger({ name: 'test', level: 'info', destination: { write: (s: string) => void lines.push(JSON.parse(s)) } });
  return { logger, lines };
}

class Part implements Component {
  constructor(private readonly name: string, private readonly events: string[], private readonly failStart = false) {}
  async start(): Promise<void> {
    if (this.failStart) throw new Error(`${this.name} cannot start`);
    this.events.push(`start ${this.name}`);
  }
  async close(): Promise<void> {
    this.events.push(`close ${this.name}`);
  }
}

describe('lib/lifecycle startInSteps', () => {
  it('logs numbered steps, runs before-close hooks first, then closes in reverse, once', async () => {
    const { logger, lines } = recorder();
    const events: string[] = [];
    const running = await startInSteps('prog', logger, async ({ begin, start, push, beforeClose }) => {
      begin('first');
      await start('a', new Part('a', events));
      begin('second');
      push('b', async () => void events.push('close b'));
      beforeClose(() => void events.push('drain'));
      return { answer: 42 };
    });
    expect(running.answer).toBe(42);
    expect(lines.filter((l) => l.step).map((l) => [l.step, l.msg])).toEqual([[1, 'first'], [2, 'second']]);
    await Promise.all([running.close(), running.close()]);
    await running.close();
    expect(events).toEqual(['start a', 'drain', 'close b', 'close a']);
    expect(lines.find((l) => l.msg === 'prog stopping')?.steps).toEqual(['b', 'a']);
  });

  it('tears down exactly what was started when a step fails, and the failure propagates', async () => {
    const { logger } = recorder();
    const events: string[] = [];
    const started = startInSteps('prog', logger, async ({ start }) => {
      await start('a', new Part('a', events));
      await start('b', new Part('b', events, true));
      await start('c', new Part('c', events));
      return {};
    });
    await expect(started).rejects.toThrow('b cannot start');
    expect(events).toEqual(['start a', 'close a']);
  });

  it('still closes everything when a before-close hook or a close fails, and logs both', async () => {
    const { logger, lines } = recorder();
    const events: string[] = [];
    const running = await startInSteps('prog', logger, async ({ push, beforeClose }) => {
      push('a', async () => void events.push('close a'));
      push('b', async () => {
        throw new Error('b is stuck');
      });
      beforeClose(() => {
        throw new Error('drain failed');
      });
      return {};
    });
    await running.close();
    expect(events).toEqual(['close a']);
    expect(lines.filter((l) => l.err).map((l) => l.err!.message)).toEqual(['drain failed', 'b is stuck']);
  });
});
