/**
 * node_exporter's diskstats collector: `/proc/diskstats` counters per block device,
 * `node_disk_info` from `/sys/block/<dev>/queue` and udev's database, and the udev-derived
 * `node_disk_filesystem_info`, `node_disk_device_mapper_info` and `node_disk_ata_*`.
 * Devices are skipped by node_exporter's default regex (partitions, loop, ram, …).
 */
import { join } from 'node:path';
import type { NodeCollector } from './read.js';
import { readOptional, readText } from './read.js';

/** node_exporter's default `--collector.diskstats.device-exclude` (1.6+, with `zram`). */
export const DEFAULT_DISK_EXCLUDE = /^(z?ram|loop|fd|(h|s|v|xv)d[a-z]|nvme\d+n\d+p)\d+$/;

const SECTOR = 512;
const MS = 1 / 1000;

/** The stat columns in kernel order: metric name, type, scale, help. */
const COLUMNS: ReadonlyArray<readonly [string, 'counter' | 'gauge', number, string]> = [
  ['node_disk_reads_completed_total', 'counter', 1, 'The total number of reads completed successfully.'],
  ['node_disk_reads_merged_total', 'counter', 1, 'The total number of reads merged.'],
  ['node_disk_read_bytes_total', 'counter', SECTOR, 'The total number of bytes read successfully.'],
  ['node_disk_read_time_seconds_total', 'counter', MS, 'The total number of seconds spent by all reads.'],
  ['node_disk_writes_completed_total', 'counter', 1, 'The total number of writes completed successfully.'],
  ['node_disk_writes_merged_total', 'counter', 1, 'The number of writes merged.'],
  ['node_disk_written_bytes_total', 'counter', SECTOR, 'The total number of bytes written successfully.'],
  ['node_disk_write_time_seconds_total', 'counter', MS, 'This is the total number of seconds spent by all writes.'],
  ['node_disk_io_now', 'gauge', 1, 'The number of I/Os currently in progress.'],
  ['node_disk_io_time_seconds_total', 'counter', MS, 'Total seconds spent doing I/Os.'],
  ['node_disk_io_time_weighted_seconds_total', 'counter', MS, 'The weighted # of seconds spent doing I/Os.'],
  ['node_disk_discards_completed_total', 'counter', 1, 'The total number of discards completed successfully.'],
  ['node_disk_discards_merged_total', 'counter', 1, 'The total number of discards merged.'],
  // node_exporter keeps discarded sectors in sectors, unlike read/written bytes.
  ['node_disk_discarded_sectors_total', 'counter', 1, 'The total number of sectors discarded successfully.'],
  ['node_disk_discard_time_seconds_total', 'counter', MS, 'This is the total number of seconds spent by all discards.'],
  ['node_disk_flush_requests_total', 'counter', 1, 'The total number of flush requests completed successfully'],
  ['node_disk_flush_requests_time_seconds_total', 'counter', MS, 'This is the total number of seconds spent by all flush requests.'],
];

export interface DiskStat {
  major: number;
  minor: number;
  device: string;
  /** The raw stat columns (11 before 4.18, 15 from 4.18, 17 from 5.5). */
  stats: number[];
}

export function parseDiskstats(text: string): DiskStat[] {
  const out: DiskStat[] = [];
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 4) continue;
    const stats = f.slice(3).map(Number);
    if (stats.some((v) => !Number.isFinite(v))) throw new Error(`non-numeric /proc/diskstats line: ${JSON.stringify(line.slice(0, 100))}`);
    out.push({ major: Number(f[0]), minor: Number(f[1]), device: f[2], stats });
  }
  return out;
}

/** `E:KEY=value` properties of one udev database file. */
export function parseUdevData(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (!line.startsWith('E:')) continue;
    const eq = line.indexOf('=');
    if (eq > 2) out.set(line.slice(2, eq), line.slice(eq + 1));
  }
  return out;
}

export interface DiskstatsOptions {
  deviceExclude?: RegExp;
  /** When set, only these devices (mutually exclusive with deviceExclude in node_exporter). */
  deviceInclude?: RegExp;
}

const ATA: ReadonlyArray<readonly [string, string, string]> = [
  ['ID_ATA_ROTATION_RATE_RPM', 'node_disk_ata_rotation_rate_rpm', 'ATA disk rotation rate in RPMs (0 for SSDs).'],
  ['ID_ATA_WRITE_CACHE', 'node_disk_ata_write_cache', 'ATA disk has a write cache.'],
  ['ID_ATA_WRITE_CACHE_ENABLED', 'node_disk_ata_write_cache_enabled', 'ATA disk has its write cache enabled.'],
];

export function diskstatsCollector(opts: DiskstatsOptions = {}): NodeCollector {
  const exclude = opts.deviceInclude ? undefined : (opts.deviceExclude ?? DEFAULT_DISK_EXCLUDE);
  return {
    name: 'diskstats',
    async collect(env, sink) {
      const disks = parseDiskstats(await readText(join(env.paths.proc, 'diskstats'), env.signal)).filter(
        (d) => !(exclude?.test(d.device) ?? false) && (opts.deviceInclude?.test(d.device) ?? true),
      );
      const extra = await Promise.all(
        disks.map(async (d) => {
          const [udev, rotational] = await Promise.all([
            readOptional(join(env.paths.udevData, `b${d.major}:${d.minor}`), env.signal),
            readOptional(join(env.paths.sys, 'block', d.device, 'queue/rotational'), env.signal),
          ]);
          return { udev: udev === undefined ? new Map<string, string>() : parseUdevData(udev), rotational: rotational?.trim() === '1' ? '1' : '0' };
        }),
      );
      sink.family('node_disk_info', 'gauge', 'Info of /sys/block/<block_device>.');
      for (const [i, d] of disks.entries()) {
        const { udev, rotational } = extra[i];
        const device = d.device;
        const serial = udev.get('SCSI_IDENT_SERIAL') || udev.get('ID_SERIAL_SHORT') || udev.get('ID_SERIAL') || '';
        sink.add(
          'node_disk_info',
          { device, major: String(d.major), minor: String(d.minor), path: udev.get('ID_PATH') ?? '', wwn: udev.get('ID_WWN') ?? '', model: udev.get('ID_MODEL') ?? '', serial, revision: udev.get('ID_REVISION') ?? '', rotational },
          1,
        );
        const n = Math.min(d.stats.length, COLUMNS.length);
        for (let c = 0; c < n; c++) {
          const [name, type, scale, help] = COLUMNS[c];
          sink.family(name, type, help);
          sink.add(name, { device }, d.stats[c] * scale);
        }
        const fsType = udev.get('ID_FS_TYPE');
        if (fsType) {
          sink.family('node_disk_filesystem_info', 'gauge', 'Info about disk filesystem.');
          sink.add('node_disk_filesystem_info', { device, type: fsType, usage: udev.get('ID_FS_USAGE') ?? '', uuid: udev.get('ID_FS_UUID') ?? '', version: udev.get('ID_FS_VERSION') ?? '' }, 1);
        }
        const dmName = udev.get('DM_NAME');
        if (dmName) {
          sink.family('node_disk_device_mapper_info', 'gauge', 'Info about disk device mapper.');
          sink.add(
            'node_disk_device_mapper_info',
            { device, name: dmName, uuid: udev.get('DM_UUID') ?? '', vg_name: udev.get('DM_VG_NAME') ?? '', lv_name: udev.get('DM_LV_NAME') ?? '', lv_layer: udev.get('DM_LV_LAYER') ?? '' },
            1,
          );
        }
        if (udev.get('ID_ATA')) {
          for (const [key, name, help] of ATA) {
            const v = Number(udev.get(key) ?? Number.NaN);
            if (udev.has(key) && Number.isFinite(v)) {
              sink.family(name, 'gauge', help);
              sink.add(name, { device }, v);
            }
          }
        }
      }
    },
  };
}
