// .dvc/config and .dvc/config.local: the INI dialect DVC writes through
// python's configobj, e.g.
//
//   [core]
//       remote = storage
//   ['remote "storage"']
//       url = s3://bucket/path
//       endpointurl = http://127.0.0.1:9000
//
// only the subset DVC uses is read: [section] lines (the name optionally
// quoted), `key = value` lines (the value optionally quoted in ' or "; an
// unquoted value ends at a '#'), and full-line '#' or ';' comments.
// config.local (never committed: .dvc/.gitignore lists it) overrides config
// key by key; that is where credentials belong.
import fs from 'fs';
import path from 'path';
import { DvcError } from './errors';
import { writeFileAtomic } from '../atomic-file';

export type IniSections = Record<string, Record<string, string>>;

function unquote(s: string, source: string, lineNo: number): string {
  const q = s[0];
  if ((q === '"' || q === "'") && s.length >= 2 && s.endsWith(q)) {
    const inner = s.slice(1, -1);
    if (inner.startsWith(q + q) || s.startsWith(q.repeat(3))) throw new DvcError(`${source}:${lineNo}: triple-quoted values are not supported`);
    return inner;
  }
  if (q === '"' || q === "'") throw new DvcError(`${source}:${lineNo}: unterminated quote in ${s}`);
  return s;
}

export function parseIni(text: string, source: string): IniSections {
  const sections: IniSections = {};
  let current: Record<string, string> | null = null;
  const lines = text.split(/\r?\n/);
  lines.forEach((raw, i) => {
    const lineNo = i + 1;
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) return;
    if (line.startsWith('[')) {
      const m = /^\[([^\[\]]*)\]\s*(#.*)?$/.exec(line);
      if (!m) throw new DvcError(`${source}:${lineNo}: expected a section header like [core] or ['remote "name"'], got ${line}`);
      const name = unquote(m[1].trim(), source, lineNo);
      current = sections[name] ??= {};
      return;
    }
    const eq = line.indexOf('=');
    if (eq <= 0) throw new DvcError(`${source}:${lineNo}: expected 'key = value'`);
    if (!current) throw new DvcError(`${source}:${lineNo}: 'key = value' before any [section]`);
    const key = unquote(line.slice(0, eq).trim(), source, lineNo).toLowerCase();
    let value = line.slice(eq + 1).trim();
    if (value.startsWith('"') || value.startsWith("'")) {
      // a quoted value may be followed by a comment
      const end = value.indexOf(value[0], 1);
      if (end < 0) throw new DvcError(`${source}:${lineNo}: unterminated quote in the value of '${key}'`);
      const rest = value.slice(end + 1).trim();
      if (rest !== '' && !rest.startsWith('#')) throw new DvcError(`${source}:${lineNo}: unexpected text after the quoted value of '${key}'`);
      value = unquote(value.slice(0, end + 1), source, lineNo);
    } else {
      const hash = value.indexOf('#');
      if (hash >= 0) value = value.slice(0, hash).trim();
    }
    (current as Record<string, string>)[key] = value;
  });
  return sections;
}

// configobj's quoting: values with a comment or list character, quotes, or
// surrounding spaces are written quoted
function quoteIfNeeded(value: string, what: string): string {
  const needs = value === '' || /[#,"'\n]/.test(value) || value.trim() !== value;
  if (!needs) return value;
  if (value.includes('\n')) throw new DvcError(`${what}: a value cannot span lines`);
  if (!value.includes('"')) return `"${value}"`;
  if (!value.includes("'")) return `'${value}'`;
  throw new DvcError(`${what}: a value cannot hold both ' and "`);
}

export function formatIni(sections: IniSections): string {
  let out = '';
  for (const [name, values] of Object.entries(sections)) {
    const header = /["'#\[\]]/.test(name) ? (name.includes("'") ? `"${name}"` : `'${name}'`) : name;
    out += `[${header}]\n`;
    for (const [key, value] of Object.entries(values)) out += `    ${key} = ${quoteIfNeeded(value, `[${name}] ${key}`)}\n`;
  }
  return out;
}

export function readIniFile(file: string): IniSections {
  if (!fs.existsSync(file)) return {};
  return parseIni(fs.readFileSync(file, 'utf8'), file);
}

export function writeIniFile(file: string, sections: IniSections): void {
  writeFileAtomic(file, formatIni(sections));
}

/** .dvc/config overlaid with .dvc/config.local */
export function loadRepoConfig(root: string): IniSections {
  const merged: IniSections = {};
  for (const name of ['config', 'config.local']) {
    const sections = readIniFile(path.join(root, '.dvc', name));
    for (const [section, values] of Object.entries(sections)) Object.assign((merged[section] ??= {}), values);
  }
  return merged;
}

export interface RemoteConfig {
  name: string;
  url: string; // s3://bucket/prefix as configured (no credentials in it)
  bucket: string;
  prefix: string; // no leading or trailing '/'; '' for the bucket's root
  endpointUrl?: string;
  region?: string;
  profile?: string;
  accessKeyId?: string;
  secretAccessKey?: string;
  sessionToken?: string;
}

// `remote "storage"` (DVC also accepts extra spaces)
function remoteSectionName(section: string): string | null {
  const m = /^\s*remote\s+"(.*)"\s*$/i.exec(section);
  return m ? m[1] : null;
}

export function remoteNames(config: IniSections): string[] {
  return Object.keys(config).map(remoteSectionName).filter((n): n is string => n !== null);
}

/** the config section of remote `name`; throws (code ERR_DVC_UNKNOWN_REMOTE) naming the defined ones when there is none */
export function remoteSection(config: IniSections, name: string): Record<string, string> {
  const section = Object.keys(config).find((s) => remoteSectionName(s) === name);
  if (section) return config[section];
  const known = remoteNames(config);
  throw new DvcError(
    `remote '${name}' is not defined in .dvc/config or .dvc/config.local (${known.length ? `defined: ${known.join(', ')}` : 'none is defined'})`,
    'ERR_DVC_UNKNOWN_REMOTE',
  );
}

/** the named remote, or [core] remote when no name is given */
export function resolveRemote(config: IniSections, name?: string): RemoteConfig {
  const remoteName = name ?? config.core?.remote;
  if (!remoteName) {
    throw new DvcError("no remote given and no default remote: set one with `[core] remote = NAME` in .dvc/config, or pass --remote NAME");
  }
  const values = remoteSection(config, remoteName);
  const url = values.url;
  if (!url) throw new DvcError(`remote '${remoteName}': no url`);
  const m = /^s3:\/\/([^/]+)\/?(.*)$/.exec(url);
  if (!m) throw new DvcError(`remote '${remoteName}': url '${url}' is not an s3://bucket/path url (only S3 remotes are supported)`);
  for (const unsupported of ['version_aware', 'worktree']) {
    if (/^(true|yes|1)$/i.test(values[unsupported] ?? '')) throw new DvcError(`remote '${remoteName}': ${unsupported} remotes are not supported`);
  }
  return {
    name: remoteName,
    url,
    bucket: m[1],
    prefix: m[2].replace(/^\/+|\/+$/g, ''),
    endpointUrl: values.endpointurl || undefined,
    region: values.region || undefined,
    profile: values.profile || undefined,
    accessKeyId: values.access_key_id || undefined,
    secretAccessKey: values.secret_access_key || undefined,
    sessionToken: values.session_token || undefined,
  };
}
