/**
 * The demo's voice: numbered steps with a spinner on a terminal, plain lines when not a TTY or under
 * CI=true, so a log of the run reads the same as the screen.
 */
const interactive = Boolean(process.stdout.isTTY) && process.env.CI !== 'true';
const FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

let stepNo = 0;

export function title(text: string): void {
  console.log(`\n${text}\n${'─'.repeat(Math.min(text.length, 100))}`);
}

/** Runs one step: prints what it does, shows progress while it runs, then ✓ or ✗ with its outcome. */
export async function step<T>(what: string, run: () => Promise<T>, outcome?: (value: T) => string): Promise<T> {
  const n = ++stepNo;
  const started = Date.now();
  const label = `[${n}] ${what}`;
  let frame = 0;
  let timer: NodeJS.Timeout | undefined;
  if (interactive) {
    timer = setInterval(() => process.stdout.write(`\r${FRAMES[frame++ % FRAMES.length]} ${label} (${((Date.now() - started) / 1000).toFixed(0)}s)`), 100);
  } else {
    console.log(`... ${label}`);
  }
  try {
    const value = await run();
    const secs = ((Date.now() - started) / 1000).toFixed(1);
    if (timer) clearInterval(timer);
    console.log(`${interactive ? '\r\x1b[2K' : ''}✓ ${label} (${secs}s)${outcome ? `: ${outcome(value)}` : ''}`);
    return value;
  } catch (err) {
    if (timer) clearInterval(timer);
    console.log(`${interactive ? '\r\x1b[2K' : ''}✗ ${label}: ${err instanceof Error ? err.message : String(err)}`);
    throw err;
  }
}

export function say(text: string): void {
  console.log(text.split('\n').map((l) => `    ${l}`).join('\n'));
}

/** Lines of a command's output worth showing, indented under the step. */
export function show(text: string, keepLine: (line: string) => boolean = () => true): void {
  const lines = text.split('\n').filter((l) => l.trim() && keepLine(l));
  if (lines.length) say(lines.join('\n'));
}
