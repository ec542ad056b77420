/** The webhook delivery cases on the memory backend: the one process delivers. */
import t from 'tap'
import { deliveryCases } from './cases.js'

deliveryCases(t, async () => ({ STORE: 'memory' }))
