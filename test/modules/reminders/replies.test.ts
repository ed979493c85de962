import { describe, expect, it } from 'vitest';
import { parseReply } from '../../../server/modules/reminders/replies.js';

const CONFIRM = [
  '1', '1.', ' 1 ', '1️⃣', 'sim', 'Sim', 'SIM!', 's', 'Sim, confirmo', 'confirmo', 'Confirmo!', 'confirmado', 'Confirmada', 'ok', 'OK', 'ok, confirmado', 'Ok confirmado!',
  '👍', '👍🏽', '👍🏻👍🏻', '✅', 'Sim 👍', 'sim 😊', 'Bom dia! Confirmo, obrigada', 'Pode confirmar', 'confirmo presença', 'Confirmo minha presença', 'Estarei lá', 'Vou sim',
  'tudo certo', 'Combinado', 'certo, obrigado', 'Sim, estarei lá amanhã', 'beleza', 'Claro!', 'Perfeito',
];
const RESCHEDULE = [
  '2', '2.', 'não', 'Não', 'NÃO', 'nao', 'n', 'Não posso', 'nao posso', 'Não vou poder', 'não vou poder ir', 'Não consigo ir amanhã', 'não vou', 'Não estarei',
  'remarcar', 'Remarcar', 'preciso remarcar', 'Preciso remarcar, por favor', 'Quero remarcar', 'gostaria de remarcar a consulta', 'Posso remarcar?', 'Infelizmente não vou poder',
  '👎', 'desmarcar', 'Preciso mudar o horário', 'outro dia', 'Boa tarde, não vou conseguir',
];
const NEITHER = [
  '', '   ', 'Oi', 'Bom dia', 'obrigada', '😊', 'Qual o endereço?', 'Sim, mas tenho uma dúvida sobre o exame', 'sim, preciso remarcar', 'Quem fala?', 'Pode ser às 15h?', 'Quanto custa?',
  'Tudo bem', 'amanhã', '3', '12', 'Estou com dor de cabeça', 'Não sei', 'mais tarde te respondo', 'ok mas qual o endereço', 'x'.repeat(300),
];

describe('the answer to a reminder', () => {
  it.each(CONFIRM)('%j confirms', (text) => expect(parseReply(text)).toBe('confirm'));
  it.each(RESCHEDULE)('%j asks to reschedule', (text) => expect(parseReply(text)).toBe('reschedule'));
  it.each(NEITHER)('%j is no answer (stays a normal message)', (text) => expect(parseReply(text)).toBeNull());
  it('a message without text is no answer', () => expect(parseReply(null)).toBeNull());
});
