/**
 * Markdown for model output, rendered safely: marked turns it into HTML and
 * DOMPurify removes anything that could run (scripts, event handlers,
 * javascript: links). Model output is untrusted input. Loaded on first use.
 */
import DOMPurify from 'dompurify';
import { marked } from 'marked';

// A link opens in a new tab: following it in this one would close the OS and its agents.
DOMPurify.addHook('afterSanitizeAttributes', (node) => {
  if (node.tagName === 'A') {
    node.setAttribute('target', '_blank');
    node.setAttribute('rel', 'noopener noreferrer');
  }
});

export function renderMarkdown(md: string): string {
  const html = marked.parse(md, { async: false, gfm: true, breaks: true });
  return DOMPurify.sanitize(html, {
    USE_PROFILES: { html: true },
    FORBID_TAGS: ['style', 'form', 'input', 'button'],
    ADD_ATTR: ['target'],
  });
}
