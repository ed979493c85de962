import { KNOWLEDGE_LIMITS } from '../../../shared/api/knowledge.js';
import { SafeFetchError, safeFetch } from '../../lib/safe-fetch.js';

/**
 * Text out of a document's source, as Markdown where the source has structure (headings kept, so
 * the splitter can attach them to their chunks). A failure is an `IngestFailure`: a code for
 * programs and a Portuguese message for the clinic's staff; the document ends `failed` with both.
 */
export class IngestFailure extends Error {
  constructor(
    readonly code: string,
    readonly messagePt: string,
  ) {
    super(code);
  }
}

export interface Extracted {
  text: string;
  pages: number | null;
}

const MIN_CHARS_PER_PAGE = 8;

export async function extractPdf(data: Buffer): Promise<Extracted> {
  const { getDocument } = await import('pdfjs-dist/legacy/build/pdf.mjs');
  let doc;
  try {
    doc = await getDocument({ data: new Uint8Array(data), isEvalSupported: false, disableFontFace: true, useSystemFonts: false, verbosity: 0 }).promise;
  } catch {
    throw new IngestFailure('unreadable_file', 'Não foi possível ler o PDF: o arquivo está corrompido ou protegido por senha.');
  }
  try {
    if (doc.numPages > KNOWLEDGE_LIMITS.pdfPages) {
      throw new IngestFailure('document_too_large', `O PDF tem ${doc.numPages} páginas; o limite é ${KNOWLEDGE_LIMITS.pdfPages}.`);
    }
    const pages: string[] = [];
    for (let n = 1; n <= doc.numPages; n++) {
      const page = await doc.getPage(n);
      const content = await page.getTextContent();
      let text = '';
      for (const item of content.items) {
        if (!('str' in item)) continue;
        text += item.str + (item.hasEOL ? '\n' : ' ');
      }
      pages.push(text.replace(/[ \t]+\n/g, '\n').trim());
      page.cleanup();
    }
    const chars = pages.join('').replace(/\s/g, '').length;
    if (chars < MIN_CHARS_PER_PAGE * doc.numPages) {
      throw new IngestFailure('pdf_without_text', 'O PDF não tem texto extraível (parece conter apenas imagens digitalizadas). Envie um PDF com texto ou o conteúdo como texto.');
    }
    return { text: pages.join('\n\n'), pages: doc.numPages };
  } finally {
    await doc.destroy();
  }
}

export async function extractDocx(data: Buffer): Promise<Extracted> {
  const mammoth = await import('mammoth');
  try {
    // Markdown keeps Word's headings as `#` lines for the splitter.
    const result = await (mammoth as unknown as { convertToMarkdown(input: { buffer: Buffer }): Promise<{ value: string }> }).convertToMarkdown({ buffer: data });
    return { text: result.value.replace(/\\([.()\-!#_*[\]])/g, '$1'), pages: null };
  } catch {
    throw new IngestFailure('unreadable_file', 'Não foi possível ler o arquivo DOCX: ele está corrompido ou não é um documento do Word.');
  }
}

/** Visible text of an HTML page, headings as Markdown headings. */
export function htmlToText(html: string): string {
  return decodeEntities(
    html
      .replace(/<(script|style|noscript|template|svg|head)\b[\s\S]*?<\/\1\s*>/gi, ' ')
      .replace(/<!--[\s\S]*?-->/g, ' ')
      .replace(/<h([1-6])\b[^>]*>([\s\S]*?)<\/h\1\s*>/gi, (_m, level: string, inner: string) => `\n\n${'#'.repeat(Number(level))} ${inner.replace(/<[^>]+>/g, ' ').trim()}\n\n`)
      .replace(/<(br|\/p|\/div|\/li|\/tr|\/section|\/article)\b[^>]*>/gi, '\n')
      .replace(/<li\b[^>]*>/gi, '\n- ')
      .replace(/<[^>]+>/g, ' '),
  )
    .replace(/[ \t\u00a0]+/g, ' ')
    .replace(/ *\n */g, '\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: ' ' };
function decodeEntities(s: string): string {
  return s.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (m, e: string) => {
    if (e[0] === '#') {
      const code = e[1] === 'x' || e[1] === 'X' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10);
      return Number.isFinite(code) && code > 0 && code < 0x110000 ? String.fromCodePoint(code) : ' ';
    }
    return ENTITIES[e.toLowerCase()] ?? m;
  });
}

const FETCH_MESSAGES: Record<string, string> = {
  blocked_address: 'O endereço aponta para uma rede interna ou reservada e não pode ser buscado.',
  invalid_url: 'O endereço não é uma URL http(s) válida.',
  unreachable: 'Não foi possível acessar o endereço.',
  timeout: 'O site demorou demais para responder.',
  too_large: `A página é maior que o limite de ${KNOWLEDGE_LIMITS.urlBytes / 1024 / 1024} MB.`,
  too_many_redirects: 'O endereço redireciona vezes demais.',
  bad_status: 'O site respondeu com erro.',
};

export async function extractUrl(url: string, allowHosts: readonly string[]): Promise<Extracted> {
  let res;
  try {
    res = await safeFetch(url, {
      allowHosts,
      maxBytes: KNOWLEDGE_LIMITS.urlBytes,
      timeoutMs: KNOWLEDGE_LIMITS.urlTimeoutMs,
      headers: { accept: 'text/html, text/markdown, text/plain, application/pdf;q=0.9' },
    });
  } catch (err) {
    if (!(err instanceof SafeFetchError)) throw err;
    const suffix = err.status ? ` (HTTP ${err.status})` : '';
    throw new IngestFailure(`url_${err.code}`, `${FETCH_MESSAGES[err.code] ?? 'Falha ao buscar o endereço.'}${suffix}`);
  }
  const type = res.contentType.split(';')[0]?.trim().toLowerCase() ?? '';
  if (type === 'application/pdf') return extractPdf(res.body);
  const body = res.body.toString('utf8');
  if (type === 'text/html' || type === 'application/xhtml+xml') return { text: htmlToText(body), pages: null };
  if (type.startsWith('text/')) return { text: body, pages: null };
  throw new IngestFailure('unsupported_content_type', `O endereço devolveu um conteúdo do tipo ${type || 'desconhecido'}, que não é texto, HTML ou PDF.`);
}
