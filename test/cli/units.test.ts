import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/cli/command.js';
import { formatBytes, formatDuration, formatRate, parseDuration, parseRate, parseSize } from '../../src/cli/units.js';

describe('parseSize', () => {
  it.each([
    ['8GiB', 8 * 1024 ** 3],
    ['512 MiB', 512 * 1024 ** 2],
    ['4096B', 4096],
    ['1.5GB', 1.5e9],
    ['300MB', 300e6],
    ['2kib', 2048],
    ['1TiB', 1024 ** 4],
  ])('reads %s as %d bytes', (text, bytes) => {
    expect(parseSize(text, '--ram')).toBe(bytes);
  });

  it.each(['8', '8G', '8 gigs', 'GiB', '-1GiB', '8GiB/s', ''])('rejects %j, naming the flag and the value', (text) => {
    expect(() => parseSize(text, '--ram')).toThrow(UsageError);
    expect(() => parseSize(text, '--ram')).toThrow(`--ram: '${text}' is not a size`);
  });
});

describe('parseRate', () => {
  it.each([
    ['127MiB/s', 127 * 1024 ** 2],
    ['128 MiB/s', 128 * 1024 ** 2],
    ['1GB/s', 1e9],
    ['500KiB/s', 500 * 1024],
    ['10Gbit/s', 10e9 / 8],
    ['800Mbps', 100e6],
    ['25Gb/s', 25e9 / 8],
    ['1000bit/s', 125],
    ['135MBps', 135e6],
  ])('reads %s as %d bytes/s', (text, rate) => {
    expect(parseRate(text, '--bandwidth')).toBeCloseTo(rate, 6);
  });

  it.each(['127MiB', '127', '10 furlongs/s', 'fast', '10Gbit', '5MiB/h'])('rejects %j', (text) => {
    expect(() => parseRate(text, '--dirty-rate')).toThrow(`--dirty-rate: '${text}' is not a rate`);
  });
});

describe('parseDuration', () => {
  it.each([
    ['300ms', 300],
    ['1.5s', 1500],
    ['2min', 120_000],
    ['1h', 3_600_000],
    ['500us', 0.5],
    ['120 s', 120_000],
  ])('reads %s as %d ms', (text, ms) => {
    expect(parseDuration(text, '--deadline')).toBeCloseTo(ms, 9);
  });

  it.each(['300', '3 days', 'ms', '1m'])('rejects %j', (text) => {
    expect(() => parseDuration(text, '--deadline')).toThrow(`--deadline: '${text}' is not a duration`);
  });
});

describe('formatting', () => {
  it('prints sizes, rates and durations in readable units', () => {
    expect(formatBytes(8 * 1024 ** 3)).toBe('8.00 GiB');
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(1.5 * 1024 ** 2)).toBe('1.50 MiB');
    expect(formatRate(127 * 1024 ** 2)).toBe('127 MiB/s');
    expect(formatDuration(300)).toBe('300 ms');
    expect(formatDuration(45_100)).toBe('45.1 s');
    expect(formatDuration(600_000)).toBe('10.0 min');
  });
});
