/**
 * What /proc says about a process: resident memory and CPU time. Read from outside, so measuring
 * the hub never runs code inside it.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';

/** Clock ticks per second of /proc/<pid>/stat's utime and stime (almost always 100). */
const TICKS_PER_SECOND = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

function statusField(pid: number, field: string): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
  if (!m?.[1]) throw new Error(`/proc/${pid}/status has no ${field}`);
  return Number(m[1]) * 1024;
}

/** Resident set size in bytes. */
export function rss(pid: number): number {
  return statusField(pid, 'VmRSS');
}

/** Resident memory that is file-backed (the node binary, LevelDB's memory-mapped tables): reclaimable. */
export function rssFile(pid: number): number {
  return statusField(pid, 'RssFile');
}

/** Peak resident set size in bytes since the process started. */
export function peakRss(pid: number): number {
  return statusField(pid, 'VmHWM');
}

/** User + system CPU time of the process (all its threads), in milliseconds. */
export function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name may hold spaces; fields are counted after its closing parenthesis.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return ((utime + stime) * 1000) / TICKS_PER_SECOND;
}

/**
 * CPU time of the process's threads from the scheduler's own accounting (/proc/<pid>/task/<tid>/schedstat,
 * nanoseconds), in milliseconds: fine enough for one request, where utime and stime come in 10 ms ticks.
 * Threads that exit between two readings take their time with them; Node's threads (libuv's pool, V8's
 * helpers) live as long as the process.
 */
export function cpuPreciseMs(pid: number): number {
  let ns = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      // The thread ended after the directory was read.
    }
  }
  return ns / 1e6;
}

const sleep = (msec: number) => new Promise((r) => setTimeout(r, msec));

/**
 * Waits until the process has used (almost) no CPU for `quietMs`: the hub has finished what a
 * request left behind (the cache write after a LIST). Returns how long that took.
 */
export async function waitIdle(pid: number, { quietMs = 300, stepMs = 100, timeoutMs = 30_000 } = {}): Promise<number> {
  const start = Date.now();
  let last = cpuMs(pid);
  let quietSince = Date.now();
  while (Date.now() - start < timeoutMs) {
    await sleep(stepMs);
    const now = cpuMs(pid);
    // One tick (10 ms) per step is the timers and the health checker, not work left over.
    if (now - last > (1000 / TICKS_PER_SECOND) * 1.5) quietSince = Date.now();
    last = now;
    if (Date.now() - quietSince >= quietMs) return Date.now() - start - quietMs;
  }
  throw new Error(`process ${pid} still busy after ${timeoutMs} ms`);
}

export { sleep };

/** The machine's CPU count as `nproc` prints it (the CPUs this process may use), or `?`. */
export function nproc(): string {
  try {
    return execFileSync('nproc', { encoding: 'utf8' }).trim();
  } catch {
    return '?';
  }
}

function machineJiffies(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal (guest time is already counted in user)
  const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
  const idle = (v[3] ?? 0) + (v[4] ?? 0);
  return { busy: total - idle, total };
}

export interface LoadReport {
  wallS: number;
  cpus: number;
  /** CPU time used on the machine during the run, as a share of all CPUs (0..1). */
  busy: number;
  /** Of that, what the benchmark's own processes (load generator, control plane, hubs) used. */
  ours: number;
  /** Everything else: other work on the machine that competed with the measurement. */
  others: number;
  loadAvgMean: number;
  loadAvgMax: number;
}

/**
 * How busy the machine was while the benchmark ran, and how much of that was not the benchmark:
 * figures from a run that shared the CPUs with something else are not comparable to a quiet one.
 */
export class MachineLoad {
  private readonly t0 = Date.now();
  private readonly stat0 = machineJiffies();
  private readonly self0 = process.cpuUsage();
  private readonly loads: number[] = [];
  private readonly timer: NodeJS.Timeout;
  private extraMs = 0;

  constructor(private readonly cpus: number) {
    const sample = () => this.loads.push(Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]));
    sample();
    this.timer = setInterval(sample, 2000);
    this.timer.unref();
  }

  /** CPU time of a process of ours that exits before stop(). */
  charge(pid: number): void {
    this.extraMs += cpuMs(pid);
  }

  /** `pids`: our processes still running (their whole CPU time falls inside the run). */
  stop(pids: number[]): LoadReport {
    clearInterval(this.timer);
    const stat = machineJiffies();
    const wallMs = Date.now() - this.t0;
    const capacity = wallMs * this.cpus;
    const busyMs = ((stat.busy - this.stat0.busy) * 1000) / TICKS_PER_SECOND;
    const self = process.cpuUsage(this.self0);
    let oursMs = (self.user + self.system) / 1000 + this.extraMs;
    for (const pid of pids) {
      try {
        oursMs += cpuMs(pid);
      } catch {
        // gone already
      }
    }
    return {
      wallS: wallMs / 1000,
      cpus: this.cpus,
      busy: busyMs / capacity,
      ours: Math.min(oursMs, busyMs) / capacity,
      others: Math.max(0, busyMs - oursMs) / capacity,
      loadAvgMean: this.loads.reduce((a, b) => a + b, 0) / this.loads.length,
      loadAvgMax: Math.max(...this.loads),
    };
  }
}
