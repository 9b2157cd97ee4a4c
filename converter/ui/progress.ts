/**
 * Per-node progress. On a terminal, a block with one line per node is redrawn in place; without one
 * (a pipe, a log file) or under CI=true, every change is one plain line, so logs read top to bottom.
 */
export interface Out {
  write(chunk: string): boolean;
  isTTY?: boolean;
}

export function interactive(stream: Out, env: NodeJS.ProcessEnv = process.env): boolean {
  return stream.isTTY === true && env.CI !== 'true' && env.TERM !== 'dumb';
}

export class Progress {
  private readonly nodes = new Map<string, string>();
  private drawn = 0;
  private stepNo = 0;

  constructor(private readonly out: Out, private readonly tty: boolean, private readonly steps: number) {}

  /** A numbered step: `[2/6] labelling nodes`. */
  step(text: string): void {
    this.above(`[${++this.stepNo}/${this.steps}] ${text}`);
  }

  info(text: string): void {
    this.above(text);
  }

  /** A node's status changed. */
  node(name: string, status: string): void {
    if (this.nodes.get(name) === status) return;
    this.nodes.set(name, status);
    if (this.tty) this.redraw();
    else this.out.write(`  ${name}: ${status}\n`);
  }

  /** Leaves the node block where it is (the next output goes below it). */
  done(): void {
    this.drawn = 0;
  }

  private above(line: string): void {
    if (this.tty && this.drawn) {
      this.out.write(`\x1b[${this.drawn}A\x1b[J${line}\n`);
      this.drawn = 0;
      this.redraw();
    } else {
      this.out.write(`${line}\n`);
    }
  }

  private redraw(): void {
    const width = Math.max(0, ...[...this.nodes.keys()].map((n) => n.length));
    let text = this.drawn ? `\x1b[${this.drawn}A` : '';
    for (const [name, status] of this.nodes) text += `\x1b[2K  ${name.padEnd(width)}  ${status}\n`;
    this.out.write(text);
    this.drawn = this.nodes.size;
  }
}
