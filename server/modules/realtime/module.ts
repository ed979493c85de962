import type { Infra } from '../../infra/index.js';
import { defineSubscriber, type Module } from '../module.js';
import { realtimeSubscriber } from './subscriber.js';

/** Domain events to the clinic's sockets. */
export function realtimeModule(infra: Infra): Module {
  return { name: 'realtime', services: {}, subscribers: [defineSubscriber(realtimeSubscriber(infra.realtime))] };
}
