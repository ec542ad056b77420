/**
 * The demo shop in headless Chromium, two browser contexts as two devices of
 * one user: anonymous cart, login (the cart survives the rotation), the
 * devices list with the current one marked, "log out other devices" (the
 * other device is logged out on its next reload), and logout. A screenshot at
 * each step goes to a temp dir (SHOP_SCREENSHOTS=<dir> to choose and keep it).
 *
 * Chromium comes from Debian (`apt-get install chromium`; scripts/setup.sh installs
 * it); CHROMIUM_PATH points elsewhere. No browser is a failure, not a skip.
 */
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core'
import t from 'tap'
import { startDemo } from '../../examples/shop/demo.js'

const CANDIDATES = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome-stable', '/usr/bin/google-chrome']
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic', '--no-first-run', '--disable-component-update', '--disable-sync']
const LAPTOP_UA = 'Mozilla/5.0 (X11; Linux x86_64) Chromium Laptop'
const PHONE_UA = 'Mozilla/5.0 (Linux; Android 14) Chromium Phone'

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

  const demo = await startDemo({ logLevel: 'silent' })
  t.teardown(() => demo.close())
  const browser: Browser = await chromium.launch({ executablePath, headless: true, args: ARGS })
  t.teardown(() => browser.close())
  const device = async (userAgent: string): Promise<{ context: BrowserContext; page: Page }> => {
    const context = await browser.newContext({ userAgent, viewport: { width: 820, height: 520 } })
    const page = await context.newPage()
    page.setDefaultTimeout(10_000)
    return { context, page }
  }
  const open = async (page: Page): Promise<void> => {
    await page.goto(demo.shopUrl)
    await page.waitForSelector('body[data-ready="true"]')
  }
  const sid = async (context: BrowserContext): Promise<string | undefined> => (await context.cookies()).find((c) => c.name === 'sid')?.value
  const text = async (page: Page, selector: string): Promise<string> => (await page.textContent(selector)) ?? ''
  const cartItems = async (page: Page): Promise<string[]> => page.locator('#cart li').allTextContents()

  const laptop = await device(LAPTOP_UA)
  const phone = await device(PHONE_UA)

  // 1. An anonymous visitor: no session yet, and none is made just by looking.
  await open(laptop.page)
  t.equal(await text(laptop.page, '#who'), 'Browsing anonymously')
  t.equal(await sid(laptop.context), undefined, 'no cookie before the first write')
  await shot(laptop.page, 'laptop-anonymous')

  // 2. The anonymous cart: the first add starts a session.
  await laptop.page.click('button[data-add="tea"]')
  await laptop.page.waitForSelector('#cart-count:text-is("1")')
  await laptop.page.click('button[data-add="mug"]')
  await laptop.page.waitForSelector('#cart-count:text-is("2")')
  t.same(await cartItems(laptop.page), ['Green tea', 'Enamel mug'])
  const anonymousSid = await sid(laptop.context)
  t.match(anonymousSid, /^[A-Za-z0-9_-]{43}$/, 'the shop relayed sessiond\'s cookie')
  const cookie = (await laptop.context.cookies()).find((c) => c.name === 'sid')
  t.match(cookie, { httpOnly: true, sameSite: 'Lax', path: '/' })
  await shot(laptop.page, 'laptop-anonymous-cart')

  // 3. Log in: the session is rotated (a new cookie) and bound to alice; the cart survives.
  await laptop.page.fill('#name', 'alice')
  await laptop.page.click('#login')
  await laptop.page.waitForSelector('#who[data-user="alice"]')
  t.equal(await text(laptop.page, '#who'), 'Signed in as alice')
  t.same(await cartItems(laptop.page), ['Green tea', 'Enamel mug'], 'cart kept across login')
  const laptopSid = await sid(laptop.context)
  t.match(laptopSid, /^[A-Za-z0-9_-]{43}$/)
  t.not(laptopSid, anonymousSid, 'login rotated the token')
  await laptop.page.reload()
  await laptop.page.waitForSelector('body[data-ready="true"]')
  t.same(await cartItems(laptop.page), ['Green tea', 'Enamel mug'], 'and still there after a reload')
  await shot(laptop.page, 'laptop-logged-in-cart-kept')

  // 4. A second device logs in as alice too.
  await open(phone.page)
  t.equal(await text(phone.page, '#who'), 'Browsing anonymously', 'the phone has its own (no) session')
  await phone.page.click('button[data-add="socks"]')
  await phone.page.waitForSelector('#cart-count:text-is("1")')
  await phone.page.fill('#name', 'alice')
  await phone.page.click('#login')
  await phone.page.waitForSelector('#who[data-user="alice"]')
  t.same(await cartItems(phone.page), ['Wool socks'], 'each device keeps its own cart')
  await phone.page.locator('#devices tr').nth(1).waitFor()
  await shot(phone.page, 'phone-logged-in')

  // 5. The laptop sees both devices, itself marked current.
  await laptop.page.reload()
  await laptop.page.waitForSelector('body[data-ready="true"]')
  await laptop.page.locator('#devices tr').nth(1).waitFor()
  const rows: [string, string | null][] = []
  for (const row of await laptop.page.locator('#devices tr').all()) rows.push([(await row.locator('td').first().textContent()) ?? '', await row.getAttribute('data-current')])
  t.same(rows.sort(), [[PHONE_UA, 'false'], [LAPTOP_UA, 'true']].sort(), 'two devices, the laptop current')
  t.equal(await text(laptop.page, '#devices tr.current .badge'), 'this device')
  t.equal(await laptop.page.locator('#devices tr.current').count(), 1)
  await shot(laptop.page, 'laptop-devices')

  // 6. Log out the other devices from the laptop.
  await laptop.page.click('#logout-others')
  await laptop.page.waitForSelector('#message:text-is("Logged out 1 other device.")')
  await laptop.page.locator('#devices tr').nth(1).waitFor({ state: 'detached' })
  t.equal(await laptop.page.locator('#devices tr.current').count(), 1, 'only the laptop is left')
  await shot(laptop.page, 'laptop-logged-out-others')

  // 7. The phone is logged out on its next reload, and its cookie cleared.
  t.ok(await sid(phone.context), 'the phone still holds its (now dead) cookie')
  await phone.page.reload()
  await phone.page.waitForSelector('body[data-ready="true"]')
  t.equal(await text(phone.page, '#who'), 'Browsing anonymously')
  t.same(await cartItems(phone.page), [])
  t.ok(await phone.page.isVisible('#login-form'))
  t.notOk(await phone.page.isVisible('#account-section'))
  t.equal(await sid(phone.context), undefined, 'the shop relayed sessiond\'s cookie clearing')
  t.equal(await text(phone.page, '#message'), 'Your session ended: you were logged out from another device.')
  await shot(phone.page, 'phone-logged-out-on-reload')

  // 8. The laptop is untouched by that, then logs out itself.
  await laptop.page.reload()
  await laptop.page.waitForSelector('body[data-ready="true"]')
  t.equal(await text(laptop.page, '#who'), 'Signed in as alice')
  await laptop.page.click('#logout')
  await laptop.page.waitForSelector('#who[data-user=""]')
  t.equal(await text(laptop.page, '#who'), 'Browsing anonymously')
  t.same(await cartItems(laptop.page), [])
  t.equal(await sid(laptop.context), undefined)
  await shot(laptop.page, 'laptop-logged-out')

  // 9. Nothing comes back: a reload stays anonymous.
  await laptop.page.reload()
  await laptop.page.waitForSelector('body[data-ready="true"]')
  t.equal(await text(laptop.page, '#who'), 'Browsing anonymously')
  t.equal(step, 8)
  t.comment(`screenshots in ${dir}`)
})
