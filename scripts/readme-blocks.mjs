// Extracts the TypeScript and JavaScript blocks of README.md for test/readme.test.ts.
//
// HTML comments right before a fenced block (only blank lines between) steer its test:
//   <!-- readme-test: skip (why) -->        a fragment on purpose: not compiled, not run
//   <!-- readme-test: preamble
//   import Koa from 'koa';
//   -->                                     hidden code put before the block
//   <!-- readme-test: postamble ... -->     hidden code put after the block
//   <!-- readme-test: preamble app -->      a named one: see NAMED below
//   <!-- readme-test: run NAME -->          also executed as an app; NAME picks its checks in the test
//   <!-- readme-test: esm-only (why) -->    not type-checked as CommonJS (top-level await, …)
//   <!-- readme-test: cjs-only (why) -->    type-checked as CommonJS only (require, import = require)
// Every other ```ts / ```js block is type-checked as it stands.
//
// `node scripts/readme-blocks.mjs` lists the blocks with their line numbers and directives.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const FENCE = /^```(\w*)\s*$/;
const DIRECTIVE = /^<!--\s*readme-test:\s*(skip|preamble|postamble|run|esm-only|cjs-only)\b([\s\S]*?)-->$/;

/** Hidden code most fragments share, named in a one-word preamble or postamble. */
export const NAMED = {
  // `app`, as the README says: "your Koa application with app.keys set".
  app: `import Koa from 'koa';
const app = new Koa();
app.keys = ['a long random secret'];`,
  // The quick start's view counter, then listen: makes a store fragment a complete app to run.
  counter: `app.use((ctx) => {
  const n = ((ctx.session.views as number | undefined) ?? 0) + 1;
  ctx.session.views = n;
  ctx.body = \`\${n} views\`;
});
app.listen(3000);`,
};

function amble(directive, line) {
  if (directive === undefined) return '';
  const text = directive.arg.replace(/^\n/, '');
  if (/^\w+$/.test(text)) {
    if (!(text in NAMED)) throw new Error(`README.md:${line}: unknown named ${directive.kind} ${text} (known: ${Object.keys(NAMED).join(', ')})`);
    return NAMED[text];
  }
  return text;
}

/** The blocks of `markdown`: `{ line, lang, code, skip, preamble, postamble, run, esmOnly }`. */
export function readmeBlocks(markdown) {
  const lines = markdown.split('\n');
  const blocks = [];
  let pending = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (line.startsWith('<!--') && /readme-test:/.test(line)) {
      let text = line;
      while (!text.trimEnd().endsWith('-->')) text += '\n' + lines[++i];
      const match = DIRECTIVE.exec(text.trim());
      if (!match) throw new Error(`README.md:${i + 1}: unknown readme-test directive: ${text}`);
      pending.push({ kind: match[1], arg: match[2].replace(/^[ \t]+/, '').replace(/\s+$/, '') });
      continue;
    }
    const fence = FENCE.exec(line);
    if (fence) {
      const start = i + 1;
      const body = [];
      while (++i < lines.length && !lines[i].startsWith('```')) body.push(lines[i]);
      const lang = fence[1];
      if (lang === 'ts' || lang === 'js') {
        const find = (kind) => pending.find((d) => d.kind === kind);
        blocks.push({
          line: start,
          lang,
          code: body.join('\n'),
          skip: find('skip')?.arg,
          preamble: amble(find('preamble'), start),
          postamble: amble(find('postamble'), start),
          run: find('run')?.arg,
          esmOnly: find('esm-only') !== undefined,
          cjsOnly: find('cjs-only') !== undefined,
        });
      } else if (pending.length > 0) {
        throw new Error(`README.md:${start}: readme-test directives before a \`\`\`${lang} block, which is never tested`);
      }
      pending = [];
      continue;
    }
    if (line.trim() !== '' && pending.length > 0) {
      throw new Error(`README.md:${i + 1}: readme-test directive not followed by a code block`);
    }
  }
  return blocks;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const path = fileURLToPath(new URL('../README.md', import.meta.url));
  for (const block of readmeBlocks(readFileSync(path, 'utf8'))) {
    const tags = [block.skip !== undefined && `skip ${block.skip}`, block.run && `run ${block.run}`, block.esmOnly && 'esm-only', block.cjsOnly && 'cjs-only', block.preamble && 'preamble', block.postamble && 'postamble'];
    console.log(`README.md:${block.line} ${block.lang} ${tags.filter(Boolean).join(', ')}`);
  }
}
