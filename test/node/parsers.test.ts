/**
 * The node source's parsers on fixtures from other projects and on odd inputs.
 */
import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { fixture } from '../helpers/paths.js';
import { parseNetDev } from '../../agent/sources/node/netdev.js';
import { DEFAULT_DISK_EXCLUDE, parseDiskstats, parseUdevData } from '../../agent/sources/node/diskstats.js';
import { parseProcStat } from '../../agent/sources/node/proc-stat.js';
import { parseMeminfo } from '../../agent/sources/node/meminfo.js';
import { parseLoadavg } from '../../agent/sources/node/loadavg.js';
import { parseMountinfo, unescapeMountPath, DEFAULT_FS_TYPES_EXCLUDE, DEFAULT_MOUNT_POINTS_EXCLUDE } from '../../agent/sources/node/filesystem.js';
import { parseNetstatPairs, parseSnmp6, DEFAULT_NETSTAT_FIELDS } from '../../agent/sources/node/netstat.js';
import { parseFileNr } from '../../agent/sources/node/filefd.js';
import { parsePressure } from '../../agent/sources/node/pressure.js';
import { parseSockstat } from '../../agent/sources/node/sockstat.js';
import { parseVmstat, DEFAULT_VMSTAT_FIELDS } from '../../agent/sources/node/vmstat.js';
import { localZoneName } from '../../agent/sources/node/time-collector.js';
import { parseCpuList } from '../../agent/sources/node/cpu-sys.js';
import { pageSizeFromAuxv, systemPageSize } from '../../agent/sources/node/page-size.js';

const NETDEV_HEADER =
  'Inter-|   Receive                                                |  Transmit\n' +
  ' face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n';

describe('parseNetDev', () => {
  it('reads cAdvisor\'s real /proc/<pid>/net/dev sample', () => {
    const devs = parseNetDev(readFileSync(fixture('procfs-sysfs/cadvisor/procnetdev'), 'utf8'));
    expect(devs.map((d) => d.device)).toEqual(['wlp4s0', 'docker0', 'lo', 'em1']);
    const w = devs[0].values;
    expect(w.get('receive_bytes')).toBe(1);
    expect(w.get('receive_multicast')).toBe(8);
    expect(w.get('transmit_bytes')).toBe(9);
    expect(w.get('transmit_carrier')).toBe(15);
    expect(w.size).toBe(16);
  });

  it.each([
    { name: 'a colon in the name', line: 'eth0:1: 10 1 0 0 0 0 0 0 20 2 0 0 0 0 0 0', device: 'eth0:1' },
    { name: 'a space in the name', line: ' my if: 10 1 0 0 0 0 0 0 20 2 0 0 0 0 0 0', device: 'my if' },
    { name: 'no space after the colon (huge counter)', line: '  eth0:18446744073709551 1 0 0 0 0 0 0 20 2 0 0 0 0 0 0', device: 'eth0' },
  ])('keeps the device name with $name', ({ line, device }) => {
    const [d] = parseNetDev(NETDEV_HEADER + line + '\n');
    expect(d.device).toBe(device);
    expect(d.values.get('transmit_bytes')).toBe(20);
  });

  it('refuses a line whose field count does not match the header', () => {
    expect(() => parseNetDev(NETDEV_HEADER + 'eth0: 1 2 3\n')).toThrow(/eth0 has 3 fields, header has 16/);
  });

  it('refuses a file without the header', () => {
    expect(() => parseNetDev('eth0: 1 2 3\n')).toThrow(/header/);
  });
});

describe('parseDiskstats', () => {
  it('reads cAdvisor\'s diskstats sample and node_exporter\'s default exclusion drops partitions and ram disks', () => {
    const disks = parseDiskstats(readFileSync(fixture('procfs-sysfs/cadvisor/diskstats'), 'utf8'));
    expect(disks.length).toBe(54);
    const kept = disks.filter((d) => !DEFAULT_DISK_EXCLUDE.test(d.device)).map((d) => d.device);
    expect(kept).not.toContain('ram0');
    expect(kept).not.toContain('sda1');
    expect(kept).toContain('sda');
    expect(disks.every((d) => d.stats.length >= 11)).toBe(true);
  });

  it.each([
    ['sda1', true], ['sda', false], ['nvme0n1p2', true], ['nvme0n1', false], ['zram0', true], ['loop7', true], ['dm-0', false], ['xvda1', true], ['md0', false],
  ])('default device exclusion of %s is %s', (dev, excluded) => {
    expect(DEFAULT_DISK_EXCLUDE.test(dev as string)).toBe(excluded);
  });

  it('accepts 11-, 15- and 17-column kernels', () => {
    const d = parseDiskstats('8 0 sda 1 2 3 4 5 6 7 8 9 10 11\n8 16 sdb 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17\n');
    expect(d.map((x) => x.stats.length)).toEqual([11, 17]);
  });

  it('refuses a non-numeric column', () => {
    expect(() => parseDiskstats('8 0 sda 1 x 3 4 5 6 7 8 9 10 11\n')).toThrow(/non-numeric/);
  });

  it('reads udev properties and ignores the other record types', () => {
    const u = parseUdevData('S:disk/by-id/x\nE:ID_MODEL=Virtual_CDROM0\nE:ID_VENDOR_ENC=AMI\\x20\nE:EMPTY=\nI:123\n');
    expect(u.get('ID_MODEL')).toBe('Virtual_CDROM0');
    expect(u.get('EMPTY')).toBe('');
    expect(u.size).toBe(3);
  });
});

describe('parseProcStat', () => {
  it('handles 300 CPUs', () => {
    const lines = ['cpu  1 2 3 4 5 6 7 8 9 10'];
    for (let c = 0; c < 300; c++) lines.push(`cpu${c} ${c} 0 ${c * 2} 1000 0 0 0 0 0 0`);
    lines.push('ctxt 5', 'btime 1700000000', 'processes 9', 'procs_running 2', 'procs_blocked 0', 'intr 77 1 2 3');
    const s = parseProcStat(lines.join('\n'));
    expect(s.cpus).toHaveLength(300);
    expect(s.cpus[299]).toMatchObject({ cpu: '299', modes: { user: 2.99, system: 5.98, idle: 10 } });
    expect(s.interrupts).toBe(77);
    expect(s.bootTime).toBe(1700000000);
  });

  it('keeps the CPU number when CPUs are offline (holes in the numbering)', () => {
    const s = parseProcStat('cpu 1 1 1 1\ncpu0 1 1 1 1 1 1 1 1\ncpu7 2 2 2 2 2 2 2 2\n');
    expect(s.cpus.map((c) => c.cpu)).toEqual(['0', '7']);
  });

  it('refuses a garbled CPU line', () => {
    expect(() => parseProcStat('cpu0 1 x 1 1\n')).toThrow(/unexpected \/proc\/stat line/);
  });
});

describe('parseMeminfo', () => {
  it('reads an old kernel\'s meminfo without MemAvailable', () => {
    const m = parseMeminfo(readFileSync(fixture('procfs-sysfs/elastic-agent-system-metrics/memory/oldkern/proc/meminfo'), 'utf8'));
    expect(m.get('node_memory_MemTotal_bytes')).toBe(61641404 * 1024);
    expect(m.has('node_memory_MemAvailable_bytes')).toBe(false);
  });

  it('names (anon)/(file) fields and unitless fields as node_exporter does', () => {
    const m = parseMeminfo('Active(anon):  4 kB\nHugePages_Total:   3\nnonsense\nBad: x kB\n');
    expect([...m]).toEqual([
      ['node_memory_Active_anon_bytes', 4096],
      ['node_memory_HugePages_Total', 3],
    ]);
  });
});

describe('small parsers', () => {
  it('loadavg', () => {
    expect(parseLoadavg('0.21 0.37 0.39 1/719 19737\n')).toEqual([0.21, 0.37, 0.39]);
    expect(() => parseLoadavg('')).toThrow(/unexpected \/proc\/loadavg/);
  });

  it('file-nr', () => {
    expect(parseFileNr('1024\t0\t1631329\n')).toEqual({ allocated: 1024, maximum: 1631329 });
    expect(() => parseFileNr('1024\n')).toThrow(/file-nr/);
  });

  it('pressure: µs totals to seconds, some and full', () => {
    expect(parsePressure('some avg10=0.00 avg60=0.00 avg300=0.00 total=14036781\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=5\n')).toEqual({ some: 14.036781, full: 0.000005 });
    expect(parsePressure('full avg10=0.00 avg60=0.00 avg300=0.00 total=8494')).toEqual({ full: 0.008494 });
    expect(() => parsePressure('some avg10=0.00\n')).toThrow(/without total/);
  });

  it('sockstat', () => {
    expect(parseSockstat('sockets: used 229\nTCP: inuse 4 orphan 0 tw 4 alloc 17 mem 1\nFRAG: inuse 0 memory 0\n')).toEqual([
      ['sockets_used', 229], ['TCP_inuse', 4], ['TCP_orphan', 0], ['TCP_tw', 4], ['TCP_alloc', 17], ['TCP_mem', 1], ['FRAG_inuse', 0], ['FRAG_memory', 0],
    ]);
    expect(() => parseSockstat('TCP: inuse\n')).toThrow(/odd number/);
  });

  it('vmstat keeps only the default fields', () => {
    expect(parseVmstat('nr_free_pages 5\npgfault 10\npgmajfault 2\noom_kill 0\npswpin 1\npgpgout 3\npgsteal_kswapd 9\n', DEFAULT_VMSTAT_FIELDS).map(([k]) => k)).toEqual([
      'pgfault', 'pgmajfault', 'oom_kill', 'pswpin', 'pgpgout',
    ]);
  });

  it('netstat header/value pairs and snmp6', () => {
    const m = parseNetstatPairs('Tcp: RtoAlgorithm MaxConn InSegs\nTcp: 1 -1 42\nUdp: InDatagrams\nUdp: 7\n');
    expect(m.get('Tcp_MaxConn')).toBe(-1);
    expect(m.get('Tcp_InSegs')).toBe(42);
    expect(DEFAULT_NETSTAT_FIELDS.test('Tcp_InSegs')).toBe(true);
    expect(DEFAULT_NETSTAT_FIELDS.test('Tcp_MaxConn')).toBe(false);
    expect(() => parseNetstatPairs('Tcp: A B\nTcp: 1\n')).toThrow(/2 names but 1 values/);
    const six = parseSnmp6('Ip6InOctets 5\nUdpLite6InErrors 2\nIcmp6OutMsgs 3\n');
    expect([...six.keys()]).toEqual(['Ip6_InOctets', 'UdpLite6_InErrors', 'Icmp6_OutMsgs']);
  });

  it('names a UTC zone without Intl, as Go does', () => {
    const d = new Date(0);
    // Only meaningful where this process runs in UTC (the CI machine and containers do).
    if (d.getTimezoneOffset() !== 0) return;
    for (const tz of ['UTC', 'Etc/UTC', ':UTC', 'Zulu']) expect(localZoneName(d, tz)).toBe('UTC');
  });

  it('CPU lists', () => {
    expect(parseCpuList('1,3-5,9\n')).toEqual([1, 3, 4, 5, 9]);
    expect(parseCpuList('\n')).toEqual([]);
    expect(() => parseCpuList('3-1')).toThrow(/range/);
  });
});

describe('mount table', () => {
  it('decodes octal escapes in mount points', () => {
    expect(unescapeMountPath('/mnt/my\\040disk\\011x\\134y')).toBe('/mnt/my disk\tx\\y');
  });

  it('reads node_exporter\'s fixture mountinfo and applies the default exclusions', () => {
    const mounts = parseMountinfo(readFileSync(fixture('procfs-sysfs/node_exporter/collector-fixtures/proc/1/mountinfo'), 'utf8'));
    expect(mounts.length).toBeGreaterThan(10);
    const kept = mounts.filter((m) => !DEFAULT_MOUNT_POINTS_EXCLUDE.test(m.mountPoint) && !DEFAULT_FS_TYPES_EXCLUDE.test(m.fsType));
    expect(kept.map((m) => m.mountPoint)).toContain('/');
    expect(kept.some((m) => m.mountPoint.startsWith('/proc') || m.mountPoint.startsWith('/sys'))).toBe(false);
  });

  it('reads optional fields, read-only flags and escaped sources', () => {
    const [m] = parseMountinfo('36 35 98:0 /mnt1 /mnt/a\\040b ro,noatime master:1 shared:2 - ext3 /dev/my\\040disk rw,errors=continue\n');
    expect(m).toEqual({ major: '98', minor: '0', mountPoint: '/mnt/a b', fsType: 'ext3', device: '/dev/my disk', readOnly: true });
  });

  it('refuses a line without the separator', () => {
    expect(() => parseMountinfo('36 35 98:0 / / rw shared:1 ext3 /dev/x rw\n')).toThrow(/malformed mountinfo/);
  });
});

describe('page size', () => {
  it('matches getconf PAGESIZE on this machine', () => {
    const want = Number(execFileSync('getconf', ['PAGESIZE'], { encoding: 'utf8' }).trim());
    expect(systemPageSize()).toBe(want);
  });

  it('reads AT_PAGESZ from an auxv image', () => {
    const b = Buffer.alloc(48);
    b.writeBigUInt64LE(33n, 0); // AT_SYSINFO_EHDR
    b.writeBigUInt64LE(6n, 16);
    b.writeBigUInt64LE(65536n, 24);
    expect(pageSizeFromAuxv(b, true)).toBe(65536);
    expect(pageSizeFromAuxv(Buffer.alloc(16), true)).toBeUndefined();
  });
});
