/**
 * RE2 (Go) regular expression syntax → JavaScript, for label matchers and label_replace.
 */

/**
 * Rewrites RE2 syntax that JavaScript lacks: `(?P<name>` groups and the `i` flag as
 * `(?i)` / `(?i:…)` (expanded to letter classes, since Node 20 has no inline modifiers).
 */
export function re2ToJs(src: string): string {
  if (!src.includes('(?')) return src;
  let out = '';
  // Stack of case-insensitivity per open group.
  const stack: boolean[] = [];
  let ci = false;
  for (let i = 0; i < src.length; i++) {
    const c = src[i];
    if (c === '\\') {
      out += src.slice(i, i + 2);
      i++;
      continue;
    }
    if (c === '[') {
      let j = i + 1;
      if (src[j] === '^') j++;
      if (src[j] === ']') j++;
      while (j < src.length && src[j] !== ']') j += src[j] === '\\' ? 2 : 1;
      const cls = src.slice(i, j + 1);
      out += ci ? foldClass(cls) : cls;
      i = j;
      continue;
    }
    if (c === '(') {
      if (src.startsWith('(?i)', i)) {
        ci = true;
        i += 3;
        continue;
      }
      if (src.startsWith('(?i:', i)) {
        stack.push(ci);
        ci = true;
        out += '(?:';
        i += 3;
        continue;
      }
      if (src.startsWith('(?P<', i)) {
        stack.push(ci);
        out += '(?<';
        i += 3;
        continue;
      }
      stack.push(ci);
      out += c;
      continue;
    }
    if (c === ')') {
      ci = stack.pop() ?? false;
      out += c;
      continue;
    }
    if (ci && /[a-zA-Z]/.test(c)) {
      out += `[${c.toLowerCase()}${c.toUpperCase()}]`;
      continue;
    }
    out += c;
  }
  return out;
}

function foldClass(cls: string): string {
  const body = cls.slice(cls.startsWith('[^') ? 2 : 1, -1);
  let extra = '';
  for (let i = 0; i < body.length; i++) {
    if (body[i] === '\\') {
      i++;
      continue;
    }
    const range = /^[a-zA-Z]-[a-zA-Z]/.exec(body.slice(i));
    if (range) {
      const r = range[0];
      extra += r === r.toLowerCase() ? r.toUpperCase() : r.toLowerCase();
      i += 2;
    } else if (/[a-zA-Z]/.test(body[i])) {
      extra += body[i] === body[i].toLowerCase() ? body[i].toUpperCase() : body[i].toLowerCase();
    }
  }
  return cls.slice(0, -1) + extra + ']';
}

