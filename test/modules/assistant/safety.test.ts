import { describe, expect, it } from 'vitest';
import { DEFAULT_HANDOFF_KEYWORDS } from '../../../server/modules/ai/defaults.js';
import { detectEmergency, matchKeyword } from '../../../server/modules/assistant/safety.js';

describe('emergency detector (before the model)', () => {
  it.each([
    ['Estou com DOR NO PEITO', 'medical'],
    ['minha mãe desmaiou agora', 'medical'],
    ['tô com falta de ar', 'medical'],
    ['acho que é um AVC, a boca ficou torta', 'medical'],
    ['penso em suicidio todo dia', 'mental'],
    ['Não quero mais viver', 'mental'],
    ['vou me matar', 'mental'],
  ])('%s -> %s', (text, kind) => {
    expect(detectEmergency(['oi', text])).toBe(kind);
  });

  it.each(['Quero marcar consulta para dor nas costas', 'Qual o preço do eletrocardiograma?', 'Vocês atendem aos sábados?', 'meu filho avcxz'])('%s -> none', (text) => {
    expect(detectEmergency([text])).toBeUndefined();
  });
});

describe('handoff keywords', () => {
  it('match whole words and phrases, without accents or case', () => {
    expect(matchKeyword(['Quero falar com um HUMANO!'], DEFAULT_HANDOFF_KEYWORDS)).toBe('humano');
    expect(matchKeyword(['posso falar com alguem?'], DEFAULT_HANDOFF_KEYWORDS)).toBe('falar com alguém');
    expect(matchKeyword(['chama a secretaria'], DEFAULT_HANDOFF_KEYWORDS)).toBe('secretária');
  });

  it('do not match inside other words', () => {
    expect(matchKeyword(['Oi pessoal, tudo bem?'], DEFAULT_HANDOFF_KEYWORDS)).toBeUndefined();
    expect(matchKeyword(['Qual o preço da consulta?'], DEFAULT_HANDOFF_KEYWORDS)).toBeUndefined();
  });
});
