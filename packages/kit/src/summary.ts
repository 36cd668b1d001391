type Block =
  | { kind: 'heading'; text: string; level: number }
  | { kind: 'paragraph'; text: string }
  | { kind: 'table'; header: string[]; rows: string[][] }
  | { kind: 'list'; items: string[] }
  | { kind: 'details'; title: string; body: string };

/** A job summary built from blocks, rendered as Markdown (GitHub) or plain text (terminals). */
export class Summary {
  private readonly blocks: Block[] = [];

  heading(text: string, level = 3): this {
    this.blocks.push({ kind: 'heading', text, level });
    return this;
  }

  paragraph(text: string): this {
    this.blocks.push({ kind: 'paragraph', text });
    return this;
  }

  table(header: string[], rows: string[][]): this {
    this.blocks.push({ kind: 'table', header, rows });
    return this;
  }

  list(items: string[]): this {
    this.blocks.push({ kind: 'list', items });
    return this;
  }

  details(title: string, body: string): this {
    this.blocks.push({ kind: 'details', title, body });
    return this;
  }

  get empty(): boolean {
    return this.blocks.length === 0;
  }

  toMarkdown(): string {
    return `${this.blocks.map(markdown).join('\n\n')}\n`;
  }

  toText(): string {
    return `${this.blocks.map(text).join('\n\n')}\n`;
  }
}

function cell(s: string): string {
  return s.replace(/\|/g, '\\|').replace(/\r?\n/g, '<br>');
}

function markdown(b: Block): string {
  switch (b.kind) {
    case 'heading':
      return `${'#'.repeat(b.level)} ${b.text}`;
    case 'paragraph':
      return b.text;
    case 'list':
      return b.items.map((i) => `- ${i}`).join('\n');
    case 'details':
      return `<details><summary>${b.title}</summary>\n\n\`\`\`\n${b.body}\n\`\`\`\n\n</details>`;
    case 'table': {
      const head = `| ${b.header.map(cell).join(' | ')} |`;
      const sep = `| ${b.header.map(() => '---').join(' | ')} |`;
      return [head, sep, ...b.rows.map((r) => `| ${r.map(cell).join(' | ')} |`)].join('\n');
    }
  }
}

// Markdown code spans read as noise in a terminal.
const plain = (s: string) => s.replace(/`([^`]*)`/g, '$1');

function text(b: Block): string {
  switch (b.kind) {
    case 'heading':
      return plain(b.text);
    case 'paragraph':
      return plain(b.text);
    case 'list':
      return b.items.map((i) => `  - ${plain(i)}`).join('\n');
    case 'details':
      return `${plain(b.title)}\n${b.body}`;
    case 'table': {
      const rows = [b.header, ...b.rows].map((r) => r.map((c) => plain(c).replace(/\r?\n/g, ' ')));
      const widths = b.header.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
      const line = (r: string[]) =>
        r
          .map((c, i) => c.padEnd(widths[i] ?? 0))
          .join('  ')
          .trimEnd();
      return [line(rows[0] as string[]), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.slice(1).map(line)].join('\n');
    }
  }
}
