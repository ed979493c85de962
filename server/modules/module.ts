import type { Metric } from 'prom-client';
import type { DomainEventName } from '../../shared/api/domain-events.js';
import type { IntegrationProvider } from '../../shared/schema/index.js';
import type { Subscriber } from '../infra/outbox.js';
import type { AnyJobDef } from '../infra/queue.js';
import type { RouteDef } from '../http/route.js';
import type { DependentsCheck } from './contacts/service.js';
import type { TimelineProvider } from './contacts/timeline.js';
import type { FileAccessGuard } from './files/service.js';
import type { WebhookProcessor } from './integrations/webhooks.js';
import type { Anonymizer, ExportSection } from './lgpd/service.js';
import type { BusySource } from './scheduling/availability.js';

/**
 * Answers a feature gives when another one asks (synchronous calls, made at the time of the
 * question). Reactions to a change are never here: they are `subscribers`.
 */
export interface Provided {
  /** Items of a patient's timeline, by item type (`appointment`, `medical_record`, ...). */
  timeline?: Record<string, TimelineProvider>;
  /** Sections of a patient's LGPD export, by key of the export document. */
  exportSections?: Record<string, ExportSection>;
  /** Erase or redact this feature's data about a patient, inside the anonymisation transaction. */
  anonymizers?: Anonymizer[];
  /** The feature holds rows about a patient: deleting the patient only hides them. */
  dependents?: DependentsCheck[];
  /** The feature holds clinical history of a patient: the patient can never be deleted. */
  clinicalHistory?: DependentsCheck[];
  /** The feature may refuse reading or deleting a file it links to its rows. */
  fileAccessGuards?: FileAccessGuard[];
  /** Time a professional is busy outside this calendar (Google Calendar). */
  busySources?: BusySource[];
  /** What a provider's stored inbound webhook deliveries do, run by the integrations inbox job. */
  webhookProcessors?: Partial<Record<IntegrationProvider, WebhookProcessor>>;
  /**
   * A feature that takes a patient's message as an answer to itself (a reminder's "1" or "sim"):
   * the assistant asks before replying and stays quiet for a message any of them claims.
   */
  inboundClaims?: InboundClaim[];
}

/** True when this feature handles the inbound message itself; decided from stored data, so the answer is the same whenever asked. */
export type InboundClaim = (clinicId: string, messageId: string) => Promise<boolean>;

/** What a feature brings, declared once in its `module.ts` and wired by `server/modules/index.ts`. */
export interface Module<S extends object = object> {
  /** Unique; names the module in wiring errors. */
  name: string;
  /** Reachable by the modules listed after this one, and by tests as `modules.services`. */
  services: S;
  routes?: RouteDef[];
  jobs?: AnyJobDef[];
  /** Reactions to domain events (docs/events.md). */
  subscribers?: Subscriber[];
  provides?: Provided;
  /** prom-client metrics of the feature (created with `registers: []`), served at /metrics. */
  metrics?: Metric[];
}

/** Types a subscriber against its events, like `defineJob` does for a job. */
export const defineSubscriber = <N extends DomainEventName>(subscriber: Subscriber<N>): Subscriber => subscriber as unknown as Subscriber;

/**
 * Every module's answers, gathered by `index.ts` before the app serves. A service that asks a
 * question is given this registry (or the part it reads) and reads it when it asks, so it needs
 * no register call and does not know which features answer.
 */
export class Providers {
  private readonly timelineByType = new Map<string, TimelineProvider>();
  private readonly sectionsByKey = new Map<string, ExportSection>();
  private readonly processorsByProvider = new Map<string, WebhookProcessor>();
  private readonly lists = {
    anonymizers: [] as Anonymizer[],
    dependents: [] as DependentsCheck[],
    clinicalHistory: [] as DependentsCheck[],
    fileAccessGuards: [] as FileAccessGuard[],
    busySources: [] as BusySource[],
    inboundClaims: [] as InboundClaim[],
  };

  get timeline(): ReadonlyMap<string, TimelineProvider> {
    return this.timelineByType;
  }
  get exportSections(): ReadonlyMap<string, ExportSection> {
    return this.sectionsByKey;
  }
  get webhookProcessors(): ReadonlyMap<string, WebhookProcessor> {
    return this.processorsByProvider;
  }
  get anonymizers(): readonly Anonymizer[] {
    return this.lists.anonymizers;
  }
  get dependents(): readonly DependentsCheck[] {
    return this.lists.dependents;
  }
  get clinicalHistory(): readonly DependentsCheck[] {
    return this.lists.clinicalHistory;
  }
  get fileAccessGuards(): readonly FileAccessGuard[] {
    return this.lists.fileAccessGuards;
  }
  get busySources(): readonly BusySource[] {
    return this.lists.busySources;
  }
  get inboundClaims(): readonly InboundClaim[] {
    return this.lists.inboundClaims;
  }

  /** Adds a module's answers, in module order; a timeline type, export key or webhook provider taken twice throws. */
  add(module: string, provided: Provided) {
    addUnique(this.timelineByType, provided.timeline, (type) => `Timeline items "${type}" of module "${module}" are provided twice`);
    addUnique(this.sectionsByKey, provided.exportSections, (key) => `Export section "${key}" of module "${module}" is provided twice`);
    addUnique(this.processorsByProvider, provided.webhookProcessors, (provider) => `Webhook processor "${provider}" of module "${module}" is provided twice`);
    for (const kind of Object.keys(this.lists) as (keyof typeof this.lists)[]) {
      (this.lists[kind] as unknown[]).push(...(provided[kind] ?? []));
    }
  }
}

function addUnique<T>(target: Map<string, T>, entries: Record<string, T> | undefined, message: (key: string) => string) {
  for (const [key, value] of Object.entries(entries ?? {})) {
    if (target.has(key)) throw new Error(message(key));
    target.set(key, value);
  }
}
