/**
 * One access line per request instead of fastify's two: 'request completed'
 * (or 'request errored') at info, with the fields fastify's own lines use
 * (`req.method`, `req.url`, `req.remoteAddress`, `res.statusCode`,
 * `responseTime`, via fastify's serializers), so log queries written for
 * fastify keep working. The 'incoming request' line moves to debug, for
 * following requests that have not finished.
 */
import { LogController, type FastifyReply, type FastifyRequest } from 'fastify'

export class AccessLog extends LogController {
  override incomingRequest(request: FastifyRequest): void {
    request.log.debug({ req: request }, 'incoming request')
  }

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    const line = { req: request, res: reply, responseTime: reply.elapsedTime }
    if (error) reply.log.error({ ...line, err: error }, 'request errored')
    else reply.log.info(line, 'request completed')
  }
}
