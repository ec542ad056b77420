/**
 * The demo shop in headless Chromium, two browser contexts as two devices of
 * one user (a desktop at 1000 px and a phone at 390 px): two first clicks of a
 * new visitor land in one session, a burst of parallel adds keeps every item,
 * login (the cart survives the rotation), readable device names with the
 * current one marked, one device logged out by its own button (its next click
 * shows the notice), "log out other devices" (the notice on the next reload),
 * no horizontal overflow at 390 px, and logout. A screenshot at each step goes
 * to a temp dir (SHOP_SCREENSHOTS=<dir> to choose and keep it);
 * SHOP_DOCS_SCREENSHOTS=1 also writes docs/demo.png and docs/demo-mobile.png.
 *
 * Chromium comes from Debian (`apt-get install chromium`; scripts/setup.sh installs
 * it); CHROMIUM_PATH points elsewhere. No browser is a failure, not a skip.
 */
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core'
import t from 'tap'
import { startDemo } from '../../examples/shop/demo.js'

const CANDIDATES = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome-stable', '/usr/bin/google-chrome']
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic', '--no-first-run', '--disable-component-update', '--disable-sync']
const LAPTOP_UA = 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36'
const PHONE_UA = 'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36'
const DOCS = fileURLToPath(new URL('../../docs/', import.meta.url))
const ENDED_NOTICE = 'You were logged out from another device, so nothing was changed. You are browsing anonymously now.'

const executablePath = CANDIDATES.find((p): p is string => p !== undefined && p !== '' && existsSync(p))

t.test('the shop story in two browser contexts', { timeout: 90_000 }, async (t) => {
  if (executablePath === undefined) {
    t.fail(
      `no Chromium found (looked at ${CANDIDATES.filter((c) => c !== undefined).join(', ')}): ` +
        'install it with `apt-get install chromium` (scripts/setup.sh does) or set CHROMIUM_PATH'
    )
    return
  }

  const keep = process.env.SHOP_SCREENSHOTS
  const dir = keep !== undefined && keep !== '' ? keep : await mkdtemp(join(tmpdir(), 'sessiond-shop-'))
  await mkdir(dir, { recursive: true })
  t.teardown(async () => {
    if (keep === undefined && t.passing()) await rm(dir, { recursive: true, force: true })
    else t.comment(`screenshots kept in ${dir}`)
  })
  let step = 0
  const shot = async (page: Page, name: string): Promise<void> => {
    step++
    await page.screenshot({ path: join(dir, `${String(step).padStart(2, '0')}-${name}.png`), fullPage: true })
  }

  const docs = process.env.SHOP_DOCS_SCREENSHOTS === '1'
  const demo = await startDemo({ logLevel: 'silent' })
  t.teardown(() => demo.close())
  const browser: Browser = await chromium.launch({ executablePath, headless: true, args: ARGS })
  t.teardown(() => browser.close())
  const device = async (userAgent: string, phone: boolean): Promise<{ context: BrowserContext; page: Page }> => {
    const context = await browser.newContext(
      phone ? { userAgent, viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true } : { userAgent, viewport: { width: 1000, height: 700 } }
    )
    const page = await context.newPage()
    page.setDefaultTimeout(15_000)
    return { context, page }
  }
  const open = async (page: Page): Promise<void> => {
    await page.goto(demo.shopUrl)
    await page.waitForSelector('body[data-ready="true"]')
  }
  const sid = async (context: BrowserContext): Promise<string | undefined> => (await context.cookies()).find((c) => c.name === 'sid')?.value
  const text = async (page: Page, selector: string): Promise<string> => (await page.textContent(selector)) ?? ''
  const cartItems = async (page: Page): Promise<string[]> => page.locator('#cart li').allTextContents()
  /** Clicks the Add buttons in one task, so that every request is sent before any answer arrives. */
  const burst = async (page: Page, ids: string[]): Promise<void> => {
    await page.evaluate(`for (const id of ${JSON.stringify(ids)}) document.querySelector(\`button[data-add="\${id}"]\`).click()`)
    await page.waitForSelector('body[data-pending="0"]')
  }
  const overflow = async (page: Page): Promise<{ scrollWidth: number; clientWidth: number }> =>
    page.evaluate<{ scrollWidth: number; clientWidth: number }>('({ scrollWidth: document.documentElement.scrollWidth, clientWidth: document.documentElement.clientWidth })')
  const devices = async (page: Page): Promise<[string, string | null][]> => {
    const rows: [string, string | null][] = []
    for (const row of await page.locator('#devices li').all()) rows.push([(await row.locator('.device-name').textContent()) ?? '', await row.getAttribute('data-current')])
    return rows.sort()
  }

  const laptop = await device(LAPTOP_UA, false)
  const phone = await device(PHONE_UA, true)

  // 1. An anonymous visitor: no session yet, and none is made just by looking.
  await open(laptop.page)
  t.equal(await text(laptop.page, '#who'), 'Browsing anonymously')
  t.equal(await sid(laptop.context), undefined, 'no cookie before the first write')
  t.match(await text(laptop.page, '#cart-note'), /Carts are per device/, 'the page says carts are per device')
  await shot(laptop.page, 'laptop-anonymous')

  // 2. Two first clicks of a new visitor, sent at once: the page holds the second until the
  // first has created the session, so both land in it.
  await burst(laptop.page, ['tea', 'mug'])
  await laptop.page.waitForSelector('#cart-count:text-is("2")')
  t.same((await cartItems(laptop.page)).sort(), ['Enamel mug', 'Green tea'])
  const anonymousSid = await sid(laptop.context)
  t.match(anonymousSid, /^[A-Za-z0-9_-]{43}$/, 'the shop relayed sessiond\'s cookie')
  const cookie = (await laptop.context.cookies()).find((c) => c.name === 'sid')
  t.match(cookie, { httpOnly: true, sameSite: 'Lax', path: '/' })
  await laptop.page.reload()
  await laptop.page.waitForSelector('body[data-ready="true"]')
  t.same((await cartItems(laptop.page)).sort(), ['Enamel mug', 'Green tea'], 'both first clicks are in the one session the cookie names')
  await shot(laptop.page, 'laptop-two-first-clicks')

  // 3. A burst of parallel adds to that session: read-modify-write with If-Match, retried on 412.
  const BURST = ['tea', 'socks', 'mug', 'tea', 'socks', 'tea', 'mug', 'socks']
  await burst(laptop.page, BURST)
  await laptop.page.waitForSelector(`#cart-count:text-is("${2 + BURST.length}")`)
  await laptop.page.reload()
  await laptop.page.waitForSelector('body[data-ready="true"]')
  const cart = await cartItems(laptop.page)
  t.equal(cart.length, 2 + BURST.length, 'every parallel add kept')
  t.same(
    [cart.filter((c) => c === 'Green tea').length, cart.filter((c) => c === 'Enamel mug').length, cart.filter((c) => c === 'Wool socks').length],
    [4, 3, 3]
  )
  t.equal(await sid(laptop.context), anonymousSid, 'still the one session')
  await shot(laptop.page, 'laptop-burst')

  // 4. Log in: the session is rotated (a new cookie) and bound to alice; this device's cart survives.
  await laptop.page.fill('#name', 'alice')
  await laptop.page.click('#login')
  await laptop.page.waitForSelector('#who[data-user="alice"]')
  t.equal(await text(laptop.page, '#who'), 'Signed in as alice')
  t.same(await cartItems(laptop.page), cart, 'cart kept across login')
  const laptopSid = await sid(laptop.context)
  t.match(laptopSid, /^[A-Za-z0-9_-]{43}$/)
  t.not(laptopSid, anonymousSid, 'login rotated the token')
  await shot(laptop.page, 'laptop-logged-in-cart-kept')

  // 5. A phone (390 px) logs in as alice too: it has its own cart, as the page says.
  await open(phone.page)
  t.equal(await text(phone.page, '#who'), 'Browsing anonymously', 'the phone has its own (no) session')
  await phone.page.click('button[data-add="socks"]')
  await phone.page.waitForSelector('#cart-count:text-is("1")')
  await phone.page.fill('#name', 'alice')
  await phone.page.click('#login')
  await phone.page.waitForSelector('#who[data-user="alice"]')
  t.same(await cartItems(phone.page), ['Wool socks'], 'each device keeps its own cart')
  await phone.page.locator('#devices li').nth(1).waitFor()
  t.same(await devices(phone.page), [['Chrome on Android', 'true'], ['Chrome on macOS', 'false']], 'readable device names, the phone current')
  const narrow = await overflow(phone.page)
  t.equal(narrow.clientWidth, 390)
  t.ok(narrow.scrollWidth <= narrow.clientWidth, `no horizontal scroll at 390 px (${narrow.scrollWidth} <= ${narrow.clientWidth})`)
  await shot(phone.page, 'phone-logged-in')
  if (docs) await phone.page.screenshot({ path: join(DOCS, 'demo-mobile.png'), fullPage: true })

  // 6. The laptop sees both devices by name, itself marked current, a "Log out" button on the other.
  await laptop.page.reload()
  await laptop.page.waitForSelector('body[data-ready="true"]')
  await laptop.page.locator('#devices li').nth(1).waitFor()
  t.same(await devices(laptop.page), [['Chrome on Android', 'false'], ['Chrome on macOS', 'true']], 'two devices, the laptop current')
  t.equal(await text(laptop.page, '#devices li.current .badge'), 'this device')
  t.equal(await laptop.page.locator('#devices li.current button').count(), 0, 'no button to log out this device from the list')
  t.equal(await laptop.page.locator('#devices li[data-current="false"] button').textContent(), 'Log out')
  const wide = await overflow(laptop.page)
  t.ok(wide.scrollWidth <= wide.clientWidth, `no horizontal scroll on the desktop (${wide.scrollWidth} <= ${wide.clientWidth})`)
  await shot(laptop.page, 'laptop-devices')
  if (docs) await laptop.page.screenshot({ path: join(DOCS, 'demo.png'), fullPage: true })

  // 7. The laptop logs the phone out by its button.
  await laptop.page.click('#devices li[data-current="false"] button')
  await laptop.page.waitForSelector('#message:text-is("Logged out Chrome on Android.")')
  await laptop.page.locator('#devices li').nth(1).waitFor({ state: 'detached' })
  t.same(await devices(laptop.page), [['Chrome on macOS', 'true']], 'only the laptop is left')
  await shot(laptop.page, 'laptop-logged-out-phone')

  // 8. The phone's next click shows the notice; it does not quietly start an anonymous cart.
  t.ok(await sid(phone.context), 'the phone still holds its (now dead) cookie')
  t.equal(await text(phone.page, '#who'), 'Signed in as alice', 'the phone page does not know yet')
  await phone.page.click('button[data-add="tea"]')
  await phone.page.waitForSelector('#who[data-user=""]')
  await phone.page.waitForSelector('#message.error')
  t.equal(await text(phone.page, '#message'), ENDED_NOTICE)
  t.same(await cartItems(phone.page), [], 'the click added nothing')
  t.equal(await sid(phone.context), undefined, 'the shop relayed sessiond\'s cookie clearing')
  t.ok(await phone.page.isVisible('#login-form'))
  t.notOk(await phone.page.isVisible('#account-section'))
  await shot(phone.page, 'phone-logged-out-notice')

  // 9. The phone logs in again; "Log out other devices" on the laptop; the phone learns it on reload.
  await phone.page.fill('#name', 'alice')
  await phone.page.click('#login')
  await phone.page.waitForSelector('#who[data-user="alice"]')
  await laptop.page.click('#logout-others')
  await laptop.page.waitForSelector('#message:text-is("Logged out 1 other device.")')
  await phone.page.reload()
  await phone.page.waitForSelector('body[data-ready="true"]')
  t.equal(await text(phone.page, '#who'), 'Browsing anonymously')
  t.equal(await text(phone.page, '#message'), ENDED_NOTICE, 'the notice on reload too')
  t.equal(await sid(phone.context), undefined)
  await shot(phone.page, 'phone-logged-out-on-reload')

  // 10. The laptop is untouched by that, then logs out itself.
  await laptop.page.reload()
  await laptop.page.waitForSelector('body[data-ready="true"]')
  t.equal(await text(laptop.page, '#who'), 'Signed in as alice')
  t.equal(await text(laptop.page, '#message'), '', 'no notice on the device that stayed')
  await laptop.page.click('#logout')
  await laptop.page.waitForSelector('#who[data-user=""]')
  t.equal(await text(laptop.page, '#who'), 'Browsing anonymously')
  t.same(await cartItems(laptop.page), [])
  t.equal(await sid(laptop.context), undefined)
  await shot(laptop.page, 'laptop-logged-out')

  // 11. Nothing comes back: a reload stays anonymous, with no notice (this tab logged out itself).
  await laptop.page.reload()
  await laptop.page.waitForSelector('body[data-ready="true"]')
  t.equal(await text(laptop.page, '#who'), 'Browsing anonymously')
  t.equal(await text(laptop.page, '#message'), '')
  t.equal(step, 10)
  t.comment(`screenshots in ${dir}`)
})
