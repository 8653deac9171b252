// CPU time of the processes in a measurement (server, its embedded database, the
// driver) and of the whole machine, from /proc: where the cores went while a
// figure was taken, and whether something else on the machine took a share.
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { childPids } from './proc.ts';

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

export function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces) in parentheses.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND; // utime, stime
  } catch {
    return 0;
  }
}

/** CPU seconds the whole machine spent busy (all cores: everything but idle and iowait). */
export function machineBusySeconds(): number {
  try {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!.trim().split(/\s+/).slice(1, 9).map(Number);
    const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = fields;
    return (user + nice + system + irq + softirq + steal) / TICKS_PER_SECOND;
  } catch {
    return 0;
  }
}

export interface CpuSample {
  at: number;
  server: number;
  database: number;
  driver: number;
  machine: number;
}

export function sampleCpu(serverPid: number): CpuSample {
  return {
    at: performance.now(),
    server: cpuSeconds(serverPid),
    database: childPids(serverPid).reduce((sum, pid) => sum + cpuSeconds(pid), 0),
    driver: (({ user, system }) => (user + system) / 1e6)(process.cpuUsage()),
    machine: machineBusySeconds(),
  };
}

export interface CpuShares {
  server: number;
  database: number;
  driver: number;
  /** Everything else on the machine (other processes, the kernel's own work). */
  other: number;
}

/** Average cores in use by each party between two samples. */
export function cpuShares(from: CpuSample, to: CpuSample): CpuShares {
  const seconds = (to.at - from.at) / 1000;
  const server = (to.server - from.server) / seconds;
  const database = (to.database - from.database) / seconds;
  const driver = (to.driver - from.driver) / seconds;
  const machine = (to.machine - from.machine) / seconds;
  return { server, database, driver, other: Math.max(0, machine - server - database - driver) };
}

/** "cores in use: server 1.62, its database 0.21, driver 0.10, other processes 0.02 (of 2)". */
export function describeCpu(from: CpuSample, to: CpuSample): string {
  return describeShares(cpuShares(from, to));
}

export function describeShares(s: CpuShares): string {
  noteOtherLoad(s.other);
  return `cores in use (of ${availableParallelism()}): server ${s.server.toFixed(2)}, its database ${s.database.toFixed(2)}, driver ${s.driver.toFixed(2)}, other processes ${s.other.toFixed(2)}`;
}

/** The CPU other processes took during each measurement of the run (cores). */
export const otherLoad: number[] = [];

export function noteOtherLoad(cores: number): void {
  otherLoad.push(cores);
}

/**
 * "CPU per request: server 4.1 ms, its database 5.8 ms": what one operation costs each
 * process, which says where a ratio is lost better than the rate does.
 */
export function cpuPerOperation(shares: CpuShares, operationsPerSecond: number, what = 'operation'): string {
  const ms = (cores: number) => ((cores / operationsPerSecond) * 1000).toFixed(1);
  return `CPU per ${what}: server ${ms(shares.server)} ms, its database ${ms(shares.database)} ms`;
}
