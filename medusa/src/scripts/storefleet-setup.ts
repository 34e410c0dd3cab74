// Storefleet's setup of a Medusa store: run by the store's setup Job as
// `medusa exec ./src/scripts/storefleet-setup.js` (from the built server), once the database is
// migrated and the server answers. Idempotent: every entity is looked up by a stable name first,
// so a second run creates nothing. It ends by placing a test order through the Store API (cart →
// shipping → payment → complete) with the storefront's publishable key, and verifying it; the
// order is remembered in the store's metadata and only verified on later runs.
//
// Inputs (environment):
//   STORE_TITLE, ADMIN_EMAIL, ADMIN_PASSWORD, CURRENCY (ISO 4217), SAMPLE_PRODUCTS (0-50),
//   COUNTRY (ISO 3166-1 alpha-2, default from the currency), MEDUSA_URL (the server, for the
//   Store API), RESTORED_FROM (optional: the store whose backup the restore Job put in place;
//   that shop is adopted: its admin login takes this store's password, its cache is emptied).
//   Secrets are never printed.
import {
  createApiKeysWorkflow,
  createInventoryLevelsWorkflow,
  createProductsWorkflow,
  createRegionsWorkflow,
  createSalesChannelsWorkflow,
  createShippingOptionsWorkflow,
  createShippingProfilesWorkflow,
  createStockLocationsWorkflow,
  createTaxRegionsWorkflow,
  createUsersWorkflow,
  linkSalesChannelsToApiKeyWorkflow,
  linkSalesChannelsToStockLocationWorkflow,
  updateStoresWorkflow,
} from "@medusajs/medusa/core-flows"
import { existsSync, writeFileSync } from "node:fs"
import { ExecArgs } from "@medusajs/framework/types"
import { ContainerRegistrationKeys, Modules, ProductStatus } from "@medusajs/framework/utils"

const NAMES = {
  salesChannel: "Storefleet webshop",
  region: "Storefleet region",
  location: "Storefleet warehouse",
  fulfillmentSet: "Storefleet delivery",
  shippingProfile: "Default Shipping Profile",
  shippingOption: "Standard shipping",
  apiKey: "Storefleet storefront",
}
const SYSTEM_PAYMENT_PROVIDER = "pp_system_default"
const MANUAL_FULFILLMENT_PROVIDER = "manual_manual"
const SYSTEM_TAX_PROVIDER = "tp_system"
const COUNTRY_OF: Record<string, string> = { usd: "us", eur: "de", gbp: "gb", cad: "ca", aud: "au", dkk: "dk", sek: "se", chf: "ch", jpy: "jp" }

function log(message: string) {
  console.log(`storefleet-setup: ${message}`)
}

function fail(message: string): never {
  console.error(`storefleet-setup: FAILED: ${message}`)
  throw new Error(message)
}

function required(name: string): string {
  const value = process.env[name]
  if (!value) fail(`environment variable ${name} is not set`)
  return value
}

export default async function storefleetSetup({ container }: ExecArgs) {
  const title = required("STORE_TITLE")
  const adminEmail = required("ADMIN_EMAIL")
  const adminPassword = required("ADMIN_PASSWORD")
  const currency = required("CURRENCY").toLowerCase()
  const sampleProducts = Number(process.env.SAMPLE_PRODUCTS ?? "3")
  if (!Number.isInteger(sampleProducts) || sampleProducts < 0 || sampleProducts > 50) fail("SAMPLE_PRODUCTS must be 0 to 50")
  const country = (process.env.COUNTRY || COUNTRY_OF[currency] || "us").toLowerCase()
  const medusaUrl = required("MEDUSA_URL").replace(/\/$/, "")
  const restoredFrom = process.env.RESTORED_FROM || ""
  const created: string[] = []

  const link = container.resolve(ContainerRegistrationKeys.LINK)
  const query = container.resolve(ContainerRegistrationKeys.QUERY)
  const users = container.resolve(Modules.USER)
  const auth = container.resolve(Modules.AUTH)
  const stores = container.resolve(Modules.STORE)
  const salesChannels = container.resolve(Modules.SALES_CHANNEL)
  const regions = container.resolve(Modules.REGION)
  const taxes = container.resolve(Modules.TAX)
  const locations = container.resolve(Modules.STOCK_LOCATION)
  const fulfillment = container.resolve(Modules.FULFILLMENT)
  const apiKeys = container.resolve(Modules.API_KEY)
  const products = container.resolve(Modules.PRODUCT)

  if (restoredFrom) {
    log(`adopting the shop restored from a backup of store ${restoredFrom}`)
    // What the server cached before the restore is not the restored shop's.
    await container.resolve(Modules.CACHE).invalidate("*")
  }

  // The admin: a user and its login, checked as one. A run that stopped between the two (a user
  // without a login) is completed now; a login for the e-mail that is not this user's (someone
  // else registered it) is refused, never adopted.
  let [adminUser] = await users.listUsers({ email: adminEmail })
  if (adminUser) {
    log("the admin user exists")
  } else {
    const { result } = await createUsersWorkflow(container).run({ input: { users: [{ email: adminEmail }] } })
    adminUser = result[0]
    created.push("admin user")
  }
  const [login] = await auth.listProviderIdentities(
    { entity_id: adminEmail, provider: "emailpass" },
    { relations: ["auth_identity"] },
  )
  if (!login) {
    const { authIdentity, error } = await auth.register("emailpass", { body: { email: adminEmail, password: adminPassword } })
    if (error || !authIdentity) fail(`could not register the admin login: ${error}`)
    await auth.updateAuthIdentities({ id: authIdentity.id, app_metadata: { user_id: adminUser.id } })
    created.push("admin login")
  } else {
    const owner = (login.auth_identity?.app_metadata as Record<string, unknown> | undefined)?.user_id
    if (owner !== adminUser.id) {
      fail(`a login for the admin e-mail exists that is not the admin user's (${owner ? "another user's" : "not an admin's, e.g. a customer's"}): it was not made by this setup; remove it, or give the store another setup.adminEmail`)
    }
    log("the admin login exists and is the admin user's")
    if (restoredFrom) {
      // A shop restored from a backup: its admin's password is the backed-up store's until now.
      const { success, error } = await auth.updateProvider("emailpass", { entity_id: adminEmail, password: adminPassword })
      if (!success) fail(`could not hand the restored shop to this store's admin: ${error}`)
      log("the restored shop's admin logs in with this store's password")
    }
  }

  // Sales channel.
  let [channel] = await salesChannels.listSalesChannels({ name: NAMES.salesChannel })
  if (!channel) {
    const { result } = await createSalesChannelsWorkflow(container).run({ input: { salesChannelsData: [{ name: NAMES.salesChannel }] } })
    channel = result[0]
    created.push("sales channel")
  }

  // Region with the store's currency, paid with the system (manual) payment provider.
  let [region] = await regions.listRegions({ name: NAMES.region })
  if (!region) {
    const { result } = await createRegionsWorkflow(container).run({
      input: { regions: [{ name: NAMES.region, currency_code: currency, countries: [country], payment_providers: [SYSTEM_PAYMENT_PROVIDER] }] },
    })
    region = result[0]
    created.push("region")
  } else if (region.currency_code !== currency) {
    fail(`region ${NAMES.region} uses ${region.currency_code}, not ${currency}: the currency of a set-up store cannot change`)
  }
  // Taxes are computed by the system tax provider (no rates: prices are as set).
  const taxRegion = (await taxes.listTaxRegions({ country_code: country })).find((r) => !r.parent_id)
  if (!taxRegion) {
    await createTaxRegionsWorkflow(container).run({ input: [{ country_code: country, provider_id: SYSTEM_TAX_PROVIDER }] })
    created.push("tax region")
  } else if (!taxRegion.provider_id) {
    await taxes.updateTaxRegions({ id: taxRegion.id, provider_id: SYSTEM_TAX_PROVIDER })
  }

  // Stock location, reachable from the sales channel, fulfilled manually.
  let [location] = await locations.listStockLocations({ name: NAMES.location })
  if (!location) {
    const { result } = await createStockLocationsWorkflow(container).run({
      input: { locations: [{ name: NAMES.location, address: { city: title.slice(0, 100), country_code: country.toUpperCase(), address_1: "" } }] },
    })
    location = result[0]
    await linkSalesChannelsToStockLocationWorkflow(container).run({ input: { id: location.id, add: [channel.id] } })
    await link.create({
      [Modules.STOCK_LOCATION]: { stock_location_id: location.id },
      [Modules.FULFILLMENT]: { fulfillment_provider_id: MANUAL_FULFILLMENT_PROVIDER },
    })
    created.push("stock location")
  }

  let [fulfillmentSet] = await fulfillment.listFulfillmentSets({ name: NAMES.fulfillmentSet }, { relations: ["service_zones"] })
  if (!fulfillmentSet) {
    fulfillmentSet = await fulfillment.createFulfillmentSets({
      name: NAMES.fulfillmentSet,
      type: "shipping",
      service_zones: [{ name: title.slice(0, 100), geo_zones: [{ country_code: country, type: "country" }] }],
    })
    await link.create({
      [Modules.STOCK_LOCATION]: { stock_location_id: location.id },
      [Modules.FULFILLMENT]: { fulfillment_set_id: fulfillmentSet.id },
    })
    created.push("fulfillment set")
  }

  let [profile] = await fulfillment.listShippingProfiles({ type: "default" })
  if (!profile) {
    const { result } = await createShippingProfilesWorkflow(container).run({ input: { data: [{ name: NAMES.shippingProfile, type: "default" }] } })
    profile = result[0]
    created.push("shipping profile")
  }

  const [option] = await fulfillment.listShippingOptions({ name: NAMES.shippingOption })
  if (!option) {
    await createShippingOptionsWorkflow(container).run({
      input: [{
        name: NAMES.shippingOption,
        price_type: "flat",
        provider_id: MANUAL_FULFILLMENT_PROVIDER,
        service_zone_id: fulfillmentSet.service_zones[0].id,
        shipping_profile_id: profile.id,
        type: { label: "Standard", description: "Delivered in 2-3 days.", code: "standard" },
        prices: [{ currency_code: currency, amount: 5 }, { region_id: region.id, amount: 5 }],
        rules: [
          { attribute: "enabled_in_store", value: "true", operator: "eq" },
          { attribute: "is_return", value: "false", operator: "eq" },
        ],
      }],
    })
    created.push("shipping option")
  }

  // Publishable key of the storefront, scoped to the sales channel.
  let [key] = await apiKeys.listApiKeys({ title: NAMES.apiKey, type: "publishable" })
  if (!key) {
    const { result } = await createApiKeysWorkflow(container).run({
      input: { api_keys: [{ title: NAMES.apiKey, type: "publishable", created_by: "storefleet" }] },
    })
    key = result[0]
    await linkSalesChannelsToApiKeyWorkflow(container).run({ input: { id: key.id, add: [channel.id] } })
    created.push("publishable API key")
  }

  // The store: title, currency, defaults.
  const [store] = await stores.listStores()
  if (!store) fail("Medusa has no store record (was the database migrated?)")
  await updateStoresWorkflow(container).run({
    input: {
      selector: { id: store.id },
      update: {
        name: title,
        supported_currencies: [{ currency_code: currency, is_default: true }],
        default_sales_channel_id: channel.id,
        default_region_id: region.id,
        default_location_id: location.id,
      },
    },
  })

  // Sample products, with stock, when the shop has none.
  const [, productCount] = await products.listAndCountProducts({ status: ProductStatus.PUBLISHED })
  if (productCount > 0) {
    log("the shop has products already; no sample products created")
  } else if (sampleProducts > 0) {
    const { result } = await createProductsWorkflow(container).run({
      input: {
        products: Array.from({ length: sampleProducts }, (_, i) => ({
          title: `Sample product ${i + 1}`,
          handle: `sample-product-${i + 1}`,
          description: "A sample product created by Storefleet.",
          status: ProductStatus.PUBLISHED,
          shipping_profile_id: profile.id,
          options: [{ title: "Default", values: ["Default"] }],
          variants: [{
            title: "Default",
            sku: `SAMPLE-${i + 1}`,
            options: { Default: "Default" },
            manage_inventory: true,
            prices: [{ currency_code: currency, amount: (i + 1) * 10 + 9.99 }],
          }],
          sales_channels: [{ id: channel.id }],
        })),
      },
    })
    const skus = result.flatMap((p: any) => (p.variants ?? []).map((v: any) => v.sku))
    const { data: items } = await query.graph({ entity: "inventory_item", fields: ["id", "sku"], filters: { sku: skus } })
    await createInventoryLevelsWorkflow(container).run({
      input: { inventory_levels: items.map((item: any) => ({ inventory_item_id: item.id, location_id: location.id, stocked_quantity: 100 })) },
    })
    created.push(`${sampleProducts} sample products`)
  }

  // The test order, through the Store API as a customer's browser would place it.
  const orderId = (store.metadata as Record<string, unknown> | null)?.storefleet_test_order_id as string | undefined
  let order: any = orderId ? (await query.graph({ entity: "order", fields: ["id", "total", "currency_code", "status"], filters: { id: orderId } })).data[0] : undefined
  if (order) {
    log(`test order ${order.id} exists`)
  } else {
    const id = await placeTestOrder(medusaUrl, key.token, region.id, adminEmail, country)
    await updateStoresWorkflow(container).run({
      input: { selector: { id: store.id }, update: { metadata: { ...(store.metadata ?? {}), storefleet_test_order_id: id } } },
    })
    order = (await query.graph({ entity: "order", fields: ["id", "total", "currency_code", "status"], filters: { id } })).data[0]
    if (!order) fail(`the test order ${id} was placed but cannot be found`)
    created.push("test order")
  }
  if (!(Number(order.total) > 0)) fail(`test order ${order.id} has no total`)
  if (order.currency_code !== currency) fail(`test order ${order.id} is in ${order.currency_code}, not ${currency}`)
  log(`verified test order ${order.id} (total ${order.total} ${order.currency_code})`)
  log(`created: ${created.length ? created.join(", ") : "nothing"}`)

  // What the shop runs (the operator copies it to status.versions): one line of JSON to the
  // termination log, which the kubelet puts in the container's status.
  const medusaVersion: string = require("@medusajs/medusa/package.json").version
  const pg = container.resolve(ContainerRegistrationKeys.PG_CONNECTION)
  const server = await pg.raw("SHOW server_version")
  const databaseVersion: string = server.rows?.[0]?.server_version ?? ""
  // TERMINATION_LOG, or the kubelet's file in a pod; on a machine with neither, nowhere.
  const reportTo = process.env.TERMINATION_LOG || (existsSync("/dev/termination-log") ? "/dev/termination-log" : "")
  if (reportTo) {
    try {
      writeFileSync(reportTo, JSON.stringify({ medusa: medusaVersion, database: databaseVersion }) + "\n")
    } catch {
      log("cannot write the versions report")
    }
  }
  log(`runs Medusa ${medusaVersion}, PostgreSQL ${databaseVersion}`)
  log("done")
}

async function storeApi(base: string, key: string, method: string, path: string, body?: unknown): Promise<any> {
  const res = await fetch(base + path, {
    method,
    headers: { "content-type": "application/json", "x-publishable-api-key": key },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  const text = await res.text()
  if (!res.ok) fail(`${method} ${path} answered ${res.status}: ${text.slice(0, 500)}`)
  return text ? JSON.parse(text) : {}
}

async function placeTestOrder(base: string, key: string, regionId: string, email: string, country: string): Promise<string> {
  const { products } = await storeApi(base, key, "GET", `/store/products?region_id=${regionId}&limit=1&fields=id,variants.id`)
  const variant = products?.[0]?.variants?.[0]?.id
  if (!variant) fail("the storefront lists no product to order")
  const address = { first_name: "Test", last_name: "Customer", address_1: "1 Storefleet Way", city: "Testville", postal_code: "12345", country_code: country }
  const { cart } = await storeApi(base, key, "POST", "/store/carts", { region_id: regionId, email, shipping_address: address, billing_address: address })
  await storeApi(base, key, "POST", `/store/carts/${cart.id}/line-items`, { variant_id: variant, quantity: 1 })
  const { shipping_options } = await storeApi(base, key, "GET", `/store/shipping-options?cart_id=${cart.id}`)
  if (!shipping_options?.length) fail("no shipping option is offered for the test cart")
  await storeApi(base, key, "POST", `/store/carts/${cart.id}/shipping-methods`, { option_id: shipping_options[0].id })
  const { payment_collection } = await storeApi(base, key, "POST", "/store/payment-collections", { cart_id: cart.id })
  await storeApi(base, key, "POST", `/store/payment-collections/${payment_collection.id}/payment-sessions`, { provider_id: SYSTEM_PAYMENT_PROVIDER })
  const completed = await storeApi(base, key, "POST", `/store/carts/${cart.id}/complete`)
  if (completed.type !== "order" || !completed.order?.id) fail(`completing the test cart gave no order: ${JSON.stringify(completed).slice(0, 300)}`)
  log(`placed test order ${completed.order.id}`)
  return completed.order.id
}
