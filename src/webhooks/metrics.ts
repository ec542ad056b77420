/**
 * The webhook metrics in the app's registry: deliveries by outcome, the
 * latency from an event's recording to its 2xx, and the age of the oldest
 * event not delivered yet, asked of the store at scrape time (so that every
 * instance reports the same, whichever delivers). No label names an event,
 * a session or the receiver.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client'
import type { Deliveries } from '../store/deliveries.js'

export type DeliveryOutcome = 'delivered' | 'retried' | 'dropped'

export interface WebhookMetrics {
  /** An attempt ended so: a 2xx (with the seconds since the event was recorded), a failure to retry, a drop. */
  count(outcome: DeliveryOutcome, latencySec?: number): void
}

/** Seconds: a healthy receiver takes well under one; retries take minutes to hours. */
const LATENCY_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 21600, 86400]

export function webhookMetrics(registry: Registry, deliveries: Deliveries, clock: () => number): WebhookMetrics {
  const registers = [registry]
  const outcomes = new Counter({
    name: 'sessiond_webhook_deliveries_total',
    help: 'Webhook attempts by outcome: delivered (a 2xx), retried (anything else, to be tried again), dropped (still failing at WEBHOOK_MAX_AGE).',
    labelNames: ['outcome'] as const,
    registers
  })
  for (const outcome of ['delivered', 'retried', 'dropped'] as const) outcomes.inc({ outcome }, 0)
  const latency = new Histogram({
    name: 'sessiond_webhook_delivery_latency_seconds',
    help: 'From an event\'s recording to the 2xx that acknowledged it, retries included.',
    buckets: LATENCY_BUCKETS,
    registers
  })
  new Gauge({
    name: 'sessiond_webhook_oldest_undelivered_seconds',
    help: 'Age of the oldest event not yet delivered, dropped or passed over, asked of the store at scrape time; absent when none waits or the store cannot be reached.',
    registers,
    async collect() {
      try {
        const oldest = await deliveries.oldestUndelivered()
        if (oldest === null) this.remove()
        else this.set(Math.max(0, clock() - oldest) / 1000)
      } catch {
        // The scrape still succeeds; the gauge is left out rather than stale.
        this.remove()
      }
    }
  }).remove()

  return {
    count(outcome, latencySec) {
      outcomes.inc({ outcome })
      if (latencySec !== undefined) latency.observe(latencySec)
    }
  }
}
