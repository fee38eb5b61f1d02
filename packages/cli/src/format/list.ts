import { tabwrite } from './table.js';
import { Template, TemplateError } from './template.js';

/**
 * Renders a list with a `--format` the docker way: `table …` (headers from `headers`,
 * columns aligned), `json` (one JSON object per line), or any template (one line per
 * item). `\t` and `\n` written literally in the format are turned into tab and newline.
 */
export function renderList(format: string, items: unknown[], headers: Record<string, unknown>): string {
  const table = format.startsWith('table');
  let source = table ? format.slice('table'.length) : format === 'json' ? '{{json .}}' : format;
  source = source
    .replace(/^ +| +$/g, '')
    .replace(/\\t/g, '\t')
    .replace(/\\n/g, '\n');
  let template: Template;
  try {
    template = Template.parse(source);
  } catch (err) {
    throw new TemplateError(`template parsing error: ${(err as Error).message}`);
  }
  let body = '';
  try {
    for (const item of items) body += `${template.render(item)}\n`;
  } catch (err) {
    throw new TemplateError(`template parsing error: ${(err as Error).message}`);
  }
  if (!table) return body;
  return tabwrite(`${template.render(headers, { header: true })}\n${body}`);
}

/** Whether `--format` asks for the default table (absent, empty or just `table`). */
export function isDefaultTable(format: string | undefined): boolean {
  return format === undefined || format === '' || format === 'table';
}
