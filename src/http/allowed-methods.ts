/**
 * Which methods the app serves at a path, learnt from the routes as they are
 * registered (an onRoute hook feeds `add`), so that a known path asked with
 * another method is 405 with an `Allow` header rather than 404, and no list
 * of methods is kept by hand beside the routes.
 */

/** The order `Allow` lists methods in; any others follow alphabetically. */
const METHOD_ORDER = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']

const rank = (method: string): number => {
  const at = METHOD_ORDER.indexOf(method)
  return at === -1 ? METHOD_ORDER.length : at
}

const byAllowOrder = (a: string, b: string): number => rank(a) - rank(b) || a.localeCompare(b)

/** A route pattern as a matcher for concrete paths: a `:name` segment is any one segment, empty too, as the router matches it (the app's routes use no other kind). */
function patternOf(url: string): RegExp {
  const source = url
    .split('/')
    .map((segment) => (segment.startsWith(':') ? '[^/]*' : segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
    .join('/')
  return new RegExp(`^${source}$`)
}

/** decodeURI leaves `%2F` encoded, so a parameter holding one stays one segment, as in the router. */
function decodedPath(path: string): string {
  try {
    return decodeURI(path)
  } catch {
    return path
  }
}

export interface RouteTable {
  /** Records that `url` (a route pattern such as `/v1/sessions/:handle`) serves `methods`. */
  add(url: string, methods: readonly string[]): void
  /** The methods served at `path` (a request path without its query), in `Allow` order; empty for an unknown path. */
  allowedAt(path: string): string[]
}

export function routeTable(): RouteTable {
  const routes = new Map<string, { pattern: RegExp; methods: Set<string> }>()
  return {
    add(url, methods) {
      let route = routes.get(url)
      if (route === undefined) {
        route = { pattern: patternOf(url), methods: new Set() }
        routes.set(url, route)
      }
      for (const method of methods) route.methods.add(method.toUpperCase())
    },
    allowedAt(path) {
      const decoded = decodedPath(path)
      const allowed = new Set<string>()
      for (const { pattern, methods } of routes.values()) {
        if (pattern.test(path) || pattern.test(decoded)) for (const method of methods) allowed.add(method)
      }
      return [...allowed].sort(byAllowOrder)
    }
  }
}
