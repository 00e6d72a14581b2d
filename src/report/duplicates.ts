import { createHash } from 'crypto';
import { IMAGE_BYTES } from './png';
import { ProgressSink, silentProgress } from './progress';
import { SplitLike } from './pixel-stats';

// exact duplicates: images whose 3072 bytes are identical, within a split and
// across splits (a test image that is also a train image measures nothing).
// each image is hashed (sha-1 of its bytes); members of a group are checked
// byte for byte against the group's first image, so a group is never wrong.

export interface ImageRef { split: string; index: number; label: number }

export interface DuplicateGroup { members: ImageRef[] } // two or more identical images

export interface DuplicateSummary {
  groups: DuplicateGroup[];
  // per split: images that repeat an earlier image of the same split
  extraCopies: Record<string, number>;
  // per split: groups with two or more images of that split
  groupsWithin: Record<string, number>;
  // groups that span more than one split, and images of each split in them
  groupsAcross: number;
  imagesAcross: Record<string, number>;
  // groups whose members do not all carry the same label
  labelConflicts: number;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.length), Buffer.from(b.buffer, b.byteOffset, b.length)) === 0;
}

export function findDuplicates(splits: Array<{ name: string; split: SplitLike }>, progress: ProgressSink = silentProgress): DuplicateSummary {
  const byHash = new Map<string, ImageRef[]>();
  const bytesOf = (ref: ImageRef): Uint8Array => {
    const s = splits.find((x) => x.name === ref.split)!.split;
    return s.images.subarray(ref.index * IMAGE_BYTES, (ref.index + 1) * IMAGE_BYTES);
  };
  let done = 0;
  const total = splits.reduce((n, s) => n + s.split.count, 0);
  for (const { name, split } of splits) {
    for (let i = 0; i < split.count; i++) {
      const bytes = split.images.subarray(i * IMAGE_BYTES, (i + 1) * IMAGE_BYTES);
      const hash = createHash('sha1').update(bytes).digest('base64');
      // a sha-1 collision between different images gets a key of its own
      let key = hash;
      for (let k = 1; byHash.has(key) && !sameBytes(bytesOf(byHash.get(key)![0]), bytes); k++) key = `${hash}#${k}`;
      const ref: ImageRef = { split: name, index: i, label: split.labels[i] };
      const group = byHash.get(key);
      if (group) group.push(ref); else byHash.set(key, [ref]);
      if (++done % 2000 === 0) progress.update(done);
    }
  }
  progress.update(done);

  const groups: DuplicateGroup[] = [];
  for (const members of byHash.values()) if (members.length > 1) groups.push({ members });
  const names = splits.map((s) => s.name);
  const extraCopies: Record<string, number> = {}, groupsWithin: Record<string, number> = {}, imagesAcross: Record<string, number> = {};
  for (const n of names) { extraCopies[n] = 0; groupsWithin[n] = 0; imagesAcross[n] = 0; }
  let groupsAcross = 0, labelConflicts = 0;
  for (const g of groups) {
    const per = new Map<string, number>();
    for (const m of g.members) per.set(m.split, (per.get(m.split) ?? 0) + 1);
    for (const [n, k] of per) {
      if (k > 1) { groupsWithin[n]++; extraCopies[n] += k - 1; }
    }
    if (per.size > 1) {
      groupsAcross++;
      for (const [n, k] of per) imagesAcross[n] += k;
    }
    if (new Set(g.members.map((m) => m.label)).size > 1) labelConflicts++;
  }
  // a stable order: groups that cross splits first, then by first member
  groups.sort((a, b) => {
    const cross = (g: DuplicateGroup) => (new Set(g.members.map((m) => m.split)).size > 1 ? 0 : 1);
    return cross(a) - cross(b) || names.indexOf(a.members[0].split) - names.indexOf(b.members[0].split) || a.members[0].index - b.members[0].index;
  });
  return { groups, extraCopies, groupsWithin, groupsAcross, imagesAcross, labelConflicts };
}
