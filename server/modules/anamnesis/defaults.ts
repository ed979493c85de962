import type { Question } from '../../../shared/api/anamnesis.js';

interface DefaultTemplate {
  key: string;
  name: string;
  description: string;
  questions: Question[];
}

const yesNo = (id: string, label: string, required = false): Question => ({ id, label, type: 'yes_no', required });
const textarea = (id: string, label: string, showIf?: Question['showIf'], required = false): Question => ({ id, label, type: 'textarea', required, ...(showIf ? { showIf } : {}) });
const ifYes = (questionId: string) => ({ questionId, equals: true });

/** The templates every clinic starts with; the clinic edits them like any other. */
export const DEFAULT_TEMPLATES: DefaultTemplate[] = [
  {
    key: 'geral',
    name: 'Anamnese geral',
    description: 'Histórico de saúde para a primeira consulta.',
    questions: [
      textarea('queixa_principal', 'Qual o motivo da consulta?', undefined, true),
      { id: 'inicio_sintomas', label: 'Quando os sintomas começaram?', type: 'date', required: false },
      yesNo('doencas_cronicas', 'Você tem alguma doença crônica (diabetes, hipertensão, asma...)?', true),
      textarea('doencas_cronicas_quais', 'Quais?', ifYes('doencas_cronicas')),
      yesNo('usa_medicamentos', 'Usa algum medicamento de forma contínua?', true),
      textarea('medicamentos_quais', 'Quais medicamentos e doses?', ifYes('usa_medicamentos')),
      yesNo('alergias', 'Tem alergia a algum medicamento ou alimento?', true),
      textarea('alergias_quais', 'A quê?', ifYes('alergias')),
      yesNo('cirurgias', 'Já fez alguma cirurgia?'),
      textarea('cirurgias_quais', 'Quais e quando?', ifYes('cirurgias')),
      { id: 'fuma', label: 'Você fuma?', type: 'single', options: ['Nunca fumei', 'Ex-fumante', 'Sim'], required: true },
      { id: 'alcool', label: 'Consome bebidas alcoólicas?', type: 'single', options: ['Não', 'Socialmente', 'Frequentemente'], required: true },
      { id: 'atividade_fisica', label: 'Quantos dias por semana pratica atividade física?', type: 'number', min: 0, max: 7, required: false },
      textarea('historico_familiar', 'Há doenças importantes na família (pais, irmãos)?'),
    ],
  },
  {
    key: 'psicologica',
    name: 'Anamnese psicológica',
    description: 'Informações iniciais para o acompanhamento psicológico.',
    questions: [
      textarea('motivo', 'O que levou você a procurar atendimento psicológico?', undefined, true),
      { id: 'humor', label: 'Como você avalia seu humor nas últimas duas semanas? (0 = muito ruim, 10 = muito bom)', type: 'scale', min: 0, max: 10, required: true },
      { id: 'sono', label: 'Como está seu sono?', type: 'single', options: ['Bom', 'Dificuldade para dormir', 'Acorda durante a noite', 'Dorme demais'], required: true },
      yesNo('terapia_anterior', 'Já fez psicoterapia antes?', true),
      textarea('terapia_anterior_detalhes', 'Por quanto tempo e como foi?', ifYes('terapia_anterior')),
      yesNo('medicacao_psiquiatrica', 'Usa medicação psiquiátrica?', true),
      textarea('medicacao_psiquiatrica_quais', 'Quais?', ifYes('medicacao_psiquiatrica')),
      { id: 'areas_afetadas', label: 'Quais áreas da sua vida estão mais afetadas?', type: 'multi', options: ['Trabalho ou estudos', 'Relacionamentos', 'Família', 'Saúde', 'Finanças', 'Outra'], required: false },
      textarea('rede_apoio', 'Com quem você pode contar nos momentos difíceis?'),
    ],
  },
  {
    key: 'odontologica',
    name: 'Anamnese odontológica',
    description: 'Saúde geral e bucal antes do tratamento odontológico.',
    questions: [
      textarea('queixa', 'Qual o motivo da consulta?', undefined, true),
      { id: 'ultima_consulta', label: 'Quando foi sua última consulta com dentista?', type: 'single', options: ['Menos de 6 meses', 'Entre 6 meses e 1 ano', 'Mais de 1 ano', 'Nunca fui'], required: true },
      yesNo('sangramento_gengival', 'Sua gengiva sangra ao escovar ou usar fio dental?', true),
      yesNo('sensibilidade', 'Sente sensibilidade a frio ou calor?', true),
      yesNo('anestesia_reacao', 'Já teve reação a anestesia local?', true),
      textarea('anestesia_reacao_qual', 'Qual reação?', ifYes('anestesia_reacao')),
      yesNo('anticoagulante', 'Usa anticoagulante (ex.: varfarina, AAS)?', true),
      yesNo('gestante', 'Está grávida ou amamentando?'),
      { id: 'condicoes', label: 'Marque as condições que você tem', type: 'multi', options: ['Diabetes', 'Hipertensão', 'Cardiopatia', 'Problemas de coagulação', 'Nenhuma'], required: false },
      { id: 'dor', label: 'Nível de dor hoje (0 = nenhuma, 10 = insuportável)', type: 'scale', min: 0, max: 10, required: false },
    ],
  },
];

export const CONSENT_VERSION = '2026-11-v1';
export const CONSENT_TEXT =
  'Autorizo a clínica a coletar e tratar os dados de saúde informados neste formulário exclusivamente para o meu atendimento, ' +
  'conforme a Lei Geral de Proteção de Dados (Lei 13.709/2018, art. 11). Os dados ficam no meu prontuário pelo prazo legal ' +
  'e posso solicitar acesso a eles a qualquer momento.';
