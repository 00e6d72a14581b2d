import { describe, expect, it } from 'vitest';
import { findDuplicates } from '../../src/report/duplicates';
import { makeDataSet, makeSplit } from './synthetic-data';

describe('exact duplicates', () => {
  it('finds none in distinct images', () => {
    const d = findDuplicates([{ name: 'train', split: makeSplit(100, 9) }, { name: 'test', split: makeSplit(30, 10) }]);
    expect(d.groups).toHaveLength(0);
    expect(d.extraCopies).toEqual({ train: 0, test: 0 });
    expect(d.groupsAcross).toBe(0);
  });

  it('finds copies within each split and across them, and label conflicts', () => {
    const data = makeDataSet();
    const d = findDuplicates([{ name: 'train', split: data.train }, { name: 'test', split: data.test }]);
    expect(d.groups).toHaveLength(4);
    expect(d.extraCopies).toEqual({ train: 1, test: 1 });
    expect(d.groupsWithin).toEqual({ train: 1, test: 1 });
    expect(d.groupsAcross).toBe(2);
    expect(d.imagesAcross).toEqual({ train: 2, test: 2 });
    expect(d.labelConflicts).toBe(1);
    // groups across splits come first
    const members = d.groups.map((g) => g.members.map((m) => `${m.split}#${m.index}`).sort());
    expect(members.slice(0, 2)).toEqual([['test#7', 'train#12'], ['test#9', 'train#20']]);
    expect(members.slice(2)).toEqual([['train#0', 'train#5'], ['test#1', 'test#3']]);
  });

  it('puts three copies in one group and counts two extra', () => {
    const s = makeSplit(10, 11);
    s.images.copyWithin(4 * 3072, 2 * 3072, 3 * 3072);
    s.images.copyWithin(8 * 3072, 2 * 3072, 3 * 3072);
    const d = findDuplicates([{ name: 'train', split: s }]);
    expect(d.groups).toHaveLength(1);
    expect(d.groups[0].members.map((m) => m.index)).toEqual([2, 4, 8]);
    expect(d.extraCopies.train).toBe(2);
  });

  it('tells images apart that differ in one byte', () => {
    const s = makeSplit(3, 12);
    s.images.copyWithin(3072, 0, 3072);
    s.images[3072 + 3071] ^= 1;
    expect(findDuplicates([{ name: 'train', split: s }]).groups).toHaveLength(0);
  });
});
