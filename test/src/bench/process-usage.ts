import { readFileSync } from 'node:fs';

/** Linux USER_HZ: /proc/<pid>/stat times are in these ticks (100 on every mainstream kernel). */
const CLOCK_TICKS_PER_SECOND = 100;

export interface ProcessUsage {
  /** Resident set size now (VmRSS). */
  rssBytes: number;
  /** Peak resident set size (VmHWM). */
  peakRssBytes: number;
  /** User + system CPU time consumed so far. */
  cpuSeconds: number;
  /** When it was read (performance.now()). */
  at: number;
}

function statusField(status: string, field: string): number {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(status);
  if (!match) throw new Error(`/proc status has no ${field}`);
  return Number(match[1]) * 1024;
}

/** Reads a process's memory and CPU time from /proc (Linux only). */
export function processUsage(pid: number): ProcessUsage {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the parenthesised command name (which may contain spaces): utime is the 14th field overall.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return {
    rssBytes: statusField(status, 'VmRSS'),
    peakRssBytes: statusField(status, 'VmHWM'),
    cpuSeconds: (utime + stime) / CLOCK_TICKS_PER_SECOND,
    at: performance.now(),
  };
}

export interface ThreadSchedule {
  /** Time the process's main thread ran on a CPU, and time it was ready to run but waited for one. */
  runSeconds: number;
  waitSeconds: number;
  at: number;
}

/**
 * The scheduler's account of a process's main thread (/proc/<pid>/schedstat, Linux only): on a
 * machine shared with other work, a slow answer is either work (run) or a CPU it could not get
 * (wait); the difference tells our cost from the machine's load.
 */
export function mainThreadSchedule(pid: number): ThreadSchedule {
  const [run, wait] = readFileSync(`/proc/${pid}/schedstat`, 'utf8').trim().split(' ').map(Number);
  return { runSeconds: (run ?? 0) / 1e9, waitSeconds: (wait ?? 0) / 1e9, at: performance.now() };
}

/** CPU used between two readings, as a percentage of one core. */
export function cpuPercent(before: ProcessUsage, after: ProcessUsage): number {
  const wallSeconds = (after.at - before.at) / 1000;
  return wallSeconds > 0 ? ((after.cpuSeconds - before.cpuSeconds) / wallSeconds) * 100 : Number.NaN;
}

export function formatMb(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}
