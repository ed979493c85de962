import { RecursiveCharacterTextSplitter } from '@langchain/textsplitters';

export interface Chunk {
  position: number;
  /** The heading path above the passage (`Preços > Consultas`), or null before any heading. */
  heading: string | null;
  text: string;
}

/** About 500 tokens (Portuguese runs near 4 characters a token) with a tenth of overlap. */
const CHUNK_CHARS = 2000;
const OVERLAP_CHARS = 200;
const HEADING = /^(#{1,6})\s+(.+?)\s*#*\s*$/;

const splitter = new RecursiveCharacterTextSplitter({
  chunkSize: CHUNK_CHARS,
  chunkOverlap: OVERLAP_CHARS,
  separators: ['\n\n', '\n', '. ', '; ', ', ', ' ', ''],
});

/**
 * Markdown-aware chunks: the text is cut into sections at its headings, each section is split by
 * LangChain's recursive splitter, and every piece carries its section's heading path, so a passage
 * from the middle of "Preparo para exames > Colonoscopia" still says what it is about.
 */
export async function splitDocument(text: string): Promise<Chunk[]> {
  const sections: { heading: string | null; lines: string[] }[] = [{ heading: null, lines: [] }];
  const path: string[] = [];
  let inFence = false;
  for (const line of text.replace(/\r\n?/g, '\n').split('\n')) {
    if (/^\s*(```|~~~)/.test(line)) inFence = !inFence;
    const match = inFence ? null : HEADING.exec(line);
    if (match?.[1] && match[2]) {
      path.length = match[1].length - 1;
      path[match[1].length - 1] = match[2].replace(/[*_`]/g, '');
      sections.push({ heading: path.filter(Boolean).join(' > '), lines: [] });
    } else sections.at(-1)?.lines.push(line);
  }
  const chunks: Chunk[] = [];
  for (const section of sections) {
    const body = section.lines.join('\n').trim();
    if (!body) continue;
    for (const piece of await splitter.splitText(body)) {
      const trimmed = piece.trim();
      if (trimmed) chunks.push({ position: chunks.length, heading: section.heading, text: trimmed });
    }
  }
  return chunks;
}
