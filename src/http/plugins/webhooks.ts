/**
 * Webhooks (WEBHOOK_URL): the instance's deliverer as `app.webhooks`, with
 * its metrics in `app.metrics`. It starts when the app is ready (listen or
 * ready()), once the store's delivery state is prepared, so that an event
 * recorded by the first request is delivered; it stops on close before the
 * store closes (onClose hooks run last-added first), letting POSTs in flight
 * finish for a bounded time and giving up its leases, so that another
 * instance takes its shards over at once. Store failures are reported as
 * outages, once.
 */
import fp from 'fastify-plugin'
import { createDeliverer, type Deliverer } from '../../webhooks/deliverer.js'
import { webhookMetrics } from '../../webhooks/metrics.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** This instance's webhook deliverer; null without WEBHOOK_URL. */
    readonly webhooks: Deliverer | null
  }
}

export default fp(
  async (app) => {
    const webhook = app.config.webhook
    if (webhook === null) {
      app.decorate('webhooks', null)
      return
    }
    const deliveries = app.store.deliveries
    // WEBHOOK_URL needs EVENTS=true, with which every backend keeps delivery state: this is a backend without it.
    if (deliveries === null) throw new Error(`the ${app.store.kind} store keeps no webhook delivery state`)
    const deliverer = createDeliverer({
      deliveries,
      webhook,
      clock: app.clock,
      log: app.log,
      metrics: webhookMetrics(app.metrics, deliveries, app.clock),
      storeFailed: (err) => app.storeOutages.failed(err, app.log)
    })
    app.decorate('webhooks', deliverer)
    app.addHook('onReady', async () => {
      await deliverer.start()
      // The origin only: a URL's path or query may carry the receiver's credential.
      app.log.info({ consumer: deliverer.consumer, receiver: new URL(webhook.url).origin }, 'webhook delivery started')
    })
    app.addHook('onClose', async () => deliverer.stop())
  },
  { name: 'sessiond-webhooks', fastify: '5.x', dependencies: ['sessiond-config', 'sessiond-metrics', 'sessiond-store'] }
)
