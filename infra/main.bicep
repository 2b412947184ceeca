// PAL Watch: everything `azd up` creates in the partner's (managing) tenant.
// Shape of the Azure-Samples Python Functions azd quickstarts: the app's resource group, a Flex
// Consumption function app on Python 3.11, one user-assigned managed identity for everything
// (in a resource group of its own, locked, named apart from the environment: docs/deploy.md),
// identity-based storage, Application Insights with Entra ID ingestion, and the two Event Grid
// pieces (custom topic for findings, Microsoft Graph partner topic for identity events).
// What needs a tenant admin (Graph app permissions, Monitoring Reader at `/`) is in
// scripts/grant-permissions.sh; docs/deploy.md explains every grant.
targetScope = 'subscription'

@minLength(1)
@maxLength(64)
@description('Name of the azd environment; used for the resource group and the resource token.')
param environmentName string

@minLength(1)
@description('Region of every resource. Must offer Flex Consumption (FC1).')
@metadata({ azd: { type: 'location' } })
param location string

@description('Optional names; leave empty to derive them from the environment name.')
param resourceGroupName string = ''
param functionAppName string = ''
param storageAccountName string = ''
param logAnalyticsName string = ''
param applicationInsightsName string = ''
param keyVaultName string = ''
param eventsTopicName string = ''
param graphPartnerTopicName string = ''

// ---- The identity customers' offers name: never recreated (docs/deploy.md, "The identity") ----
@description('Resource id of an existing PAL Watch identity to reuse (PAL_IDENTITY_RESOURCE_ID). Empty: create (or keep) identityName in identityResourceGroupName.')
param existingIdentityId string = ''

@description('Resource group of the identity, apart from the app and not named from the environment, with a CanNotDelete lock.')
param identityResourceGroupName string = 'rg-pal-watch-identity'

@description('Name of the identity; not derived from the environment, so a new environment or region finds the same one.')
param identityName string = 'id-pal-watch'

@description('PAL_IDENTITY_LOCATION: region of the identity group, fixed by the first install (a resource group cannot move). Empty: this environment\'s location. Set it when a later environment in another region reuses the identity by name.')
param identityLocation string = ''

var identityRegion = empty(identityLocation) ? location : identityLocation

// ---- Watching the watcher ----
@description('Ops address the alert rules on PAL Watch itself mail (the action group). Empty: the rules fire without a mail receiver.')
param opsAlertEmail string = ''

// ---- What the engine reads (the app settings of README.md, "Settings"); docs/deploy.md lists each ----
@description('PAL_PARTNER_ID: the associated partner location ID(s), comma-separated, each optionally named (5127255:Oslo,5127256:Bergen); new links point to the first, a link to any is the partner\'s own.')
param palPartnerId string

@description('PAL_PARTNER_ID_PREVIOUS: the partner ID links carried before a deliberate change; only links carrying it are re-pointed.')
param palPartnerIdPrevious string = ''

@description('PAL_PARTNER_ID_BY_CUSTOMER: optional customer tenant -> location (ID or name of PAL_PARTNER_ID) its credit should go to: tenant=location,... or a JSON object.')
param palPartnerIdByCustomer string = ''

@description('PAL_EXEMPTIONS: JSON list of accepted findings, each with kind, reason, expires and a tenant, scope or offer.')
param palExemptions string = ''

@description('PAL_MODE: observe (report what would be linked, write nothing) or repair.')
@allowed(['observe', 'repair'])
param palMode string = 'repair'

@description('PAL_MANAGING_TENANT_ID: the partner tenant; defaults to the tenant deployed to.')
param palManagingTenantId string = tenant().tenantId

@description('PAL_IDENTITIES: JSON list of the extra identities the app may act as (federated, certificate, secret).')
param palIdentities string = '[]'

@description('PAL_FEDERATION_DISCOVERY: try federation for unknown service principals.')
param palFederationDiscovery string = 'true'

@description('PAL_ATTESTED_USERS: comma-separated object ids of users linked outside the tool.')
param palAttestedUsers string = ''

@description('PAL_CUSTOMER_TENANTS: comma-separated tenant ids where a multi-tenant identity\'s app is installed without Lighthouse.')
param palCustomerTenants string = ''
@description('PAL_CSP_TENANTS: comma-separated customer tenant ids whose subscriptions are the partner\'s own CSP (Azure plan) business.')
param palCspTenants string = ''
@description('PAL_AOBO_GROUP_IDS: comma-separated object ids of Admin Agents groups (own, indirect provider\'s, reseller\'s) whose AOBO counts.')
param palAoboGroupIds string = ''

param palTablePrefix string = 'palwatch'
param palMaxConcurrency string = '16'
param palHttpTimeoutSeconds string = '30'
param palWatchSchedule string = '0 */5 * * * *'
param palVerifySchedule string = '0 0 */6 * * *'

@description('PAL_COST: true turns on the daily cost snapshot (Cost Management Query API, Reader on each delegated scope).')
param palCost string = 'false'
param palCostSchedule string = '0 30 2 * * *'
@description('PAL_PEC_RATE: the partner earned credit rate alerts quote (e.g. 0.15); empty: no PEC estimate.')
param palPecRate string = ''
@description('PAL_BILLING: true turns on the daily credit snapshot (Graph partner billing export; PartnerBilling.Read.All).')
param palBilling string = 'false'
param palCreditSnapshotSchedule string = '0 0 6 * * *'
@description('PAL_BILLING_CURRENCY: the partner billing currency the export asks for (ISO 4217).')
param palBillingCurrency string = 'USD'

@description('Cloud endpoints; the defaults are the public cloud. Override for sovereign clouds.')
param palArmEndpoint string = 'https://management.azure.com'
param palGraphEndpoint string = 'https://graph.microsoft.com'
param azureAuthorityHost string = 'https://login.microsoftonline.com'
param palArmAudience string = 'https://management.azure.com/'
param palGraphAudience string = 'https://graph.microsoft.com'

@description('Alert channels (any combination). Leave empty to turn a channel off.')
param palAlertMailFrom string = ''
param palAlertMailTo string = ''
param palAlertSmtpHost string = ''
param palAlertSmtpPort string = ''
@allowed(['', 'starttls', 'tls', 'none'])
param palAlertSmtpSecurity string = ''
param palAlertSmtpUser string = ''
param palAlertRemindHours string = '24'
param palAlertDigest string = 'off'
@description('PAL_ALERT_DIGEST_HOUR: UTC hour (0-23) from which the daily digest goes out.')
param palAlertDigestHour string = '7'

@secure()
@description('PAL_GRAPH_CLIENT_STATE: random secret put on the Graph subscriptions; notifications without it are rejected.')
param graphClientState string = ''

@description('Turn on the Microsoft Graph partner configuration (Graph may then create the partner topic).')
param enableGraphEvents bool = true

@description('Second step, after the app has created its Graph subscriptions and the partner topic was activated: subscribe identity_events to it.')
param graphPartnerTopicReady bool = false

@description('Create a Key Vault (RBAC) for certificate/secret identities and secret alert settings.')
param enableKeyVault bool = false

@description('App setting name -> Key Vault reference, e.g. {"PAL_ALERT_SMTP_PASSWORD": "@Microsoft.KeyVault(VaultName=kv-x;SecretName=smtp-password)"}. Secrets go here, never as plain values.')
param keyVaultSettings object = {}

@description('Grant Storage Queue Data Contributor (the Functions host documents it for identity-based host storage).')
param grantQueueAccess bool = true

var abbrs = loadJsonContent('./abbreviations.json')
var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = { 'azd-env-name': environmentName }
var appName = !empty(functionAppName) ? functionAppName : '${abbrs.webSitesFunctions}palwatch-${resourceToken}'
var deploymentContainerName = 'app-package-${take(appName, 32)}-${take(resourceToken, 7)}'
var partnerTopicName = !empty(graphPartnerTopicName) ? graphPartnerTopicName : '${abbrs.eventGridPartnerTopics}graph-${resourceToken}'
var kvName = !empty(keyVaultName) ? keyVaultName : '${abbrs.keyVaultVaults}${resourceToken}'
var reuseIdentity = !empty(existingIdentityId)
var identityIdParts = split(existingIdentityId, '/')
var identitySubscriptionId = reuseIdentity ? identityIdParts[2] : subscription().subscriptionId
var identityGroupName = reuseIdentity ? identityIdParts[4] : identityResourceGroupName
var identityResourceName = reuseIdentity ? identityIdParts[8] : identityName
// No azd-env-name tag: the identity belongs to no environment.
var identityTags = { 'pal-watch': 'identity-never-delete' }
// Hours between verifications from the NCRONTAB hour field ('*/6' -> 6; a fixed hour -> daily).
var verifyHourField = split(palVerifySchedule, ' ')[2]
var verifyHours = contains(verifyHourField, '*/') ? int(replace(verifyHourField, '*/', '')) : 24

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: !empty(resourceGroupName) ? resourceGroupName : '${abbrs.resourcesResourceGroups}${environmentName}'
  location: location
  tags: tags
}

// One user-assigned identity: storage, App Insights ingestion, Key Vault references, Event Grid
// publishing, ARM and Graph calls. It is also the identity customers delegate to (it links
// itself to the partner ID), so its object id must stay stable: own group, lock, fixed name.
resource identityRg 'Microsoft.Resources/resourceGroups@2024-03-01' = if (!reuseIdentity) {
  name: identityResourceGroupName
  location: identityRegion
  tags: identityTags
}

module identityCreate './core/identity.bicep' = if (!reuseIdentity) {
  name: 'identity'
  scope: identityRg
  params: {
    name: identityName
    location: identityRegion
    tags: identityTags
  }
}

module identity './core/identity-ref.bicep' = {
  name: 'identity-ref'
  scope: resourceGroup(identitySubscriptionId, identityGroupName)
  params: {
    name: identityResourceName
  }
  dependsOn: [
    identityCreate
  ]
}

module storage './core/storage.bicep' = {
  name: 'storage'
  scope: rg
  params: {
    name: !empty(storageAccountName) ? storageAccountName : '${abbrs.storageStorageAccounts}${resourceToken}'
    location: location
    tags: tags
    deploymentContainerName: deploymentContainerName
    principalId: identity.outputs.principalId
    grantQueueAccess: grantQueueAccess
  }
}

module monitoring './core/monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: {
    logAnalyticsName: !empty(logAnalyticsName) ? logAnalyticsName : '${abbrs.operationalInsightsWorkspaces}${resourceToken}'
    applicationInsightsName: !empty(applicationInsightsName) ? applicationInsightsName : '${abbrs.insightsComponents}${resourceToken}'
    location: location
    tags: tags
    principalId: identity.outputs.principalId
  }
}

module keyVault './core/keyvault.bicep' = if (enableKeyVault) {
  name: 'keyvault'
  scope: rg
  params: {
    name: kvName
    location: location
    tags: tags
    principalId: identity.outputs.principalId
  }
}

module eventsTopic './app/events-topic.bicep' = {
  name: 'events-topic'
  scope: rg
  params: {
    name: !empty(eventsTopicName) ? eventsTopicName : '${abbrs.eventGridDomainsTopics}palwatch-${resourceToken}'
    location: location
    tags: tags
    principalId: identity.outputs.principalId
  }
}

module graphPartner './app/graph-partner.bicep' = if (enableGraphEvents) {
  name: 'graph-partner'
  scope: rg
  params: {
    tags: tags
  }
}

// Graph posts its notifications to the partner topic named by this address (learn.microsoft.com/graph/change-notifications-delivery-event-grid).
var graphNotificationUrl = enableGraphEvents ? 'EventGrid:?azuresubscriptionid=${subscription().subscriptionId}&resourcegroup=${rg.name}&partnertopic=${partnerTopicName}&location=${location}' : ''

module api './app/api.bicep' = {
  name: 'api'
  scope: rg
  params: {
    name: appName
    location: location
    tags: tags
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    storageAccountName: storage.outputs.name
    deploymentContainerName: deploymentContainerName
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    keyVaultReferences: keyVaultSettings
    graphClientState: graphClientState
    palSettings: {
      PAL_PARTNER_ID: palPartnerId
      PAL_PARTNER_ID_PREVIOUS: palPartnerIdPrevious
      PAL_PARTNER_ID_BY_CUSTOMER: palPartnerIdByCustomer
      PAL_MODE: palMode
      PAL_EXEMPTIONS: palExemptions
      PAL_MANAGING_TENANT_ID: palManagingTenantId
      PAL_IDENTITIES: palIdentities
      PAL_FEDERATION_DISCOVERY: palFederationDiscovery
      PAL_ATTESTED_USERS: palAttestedUsers
      PAL_CUSTOMER_TENANTS: palCustomerTenants
      PAL_CSP_TENANTS: palCspTenants
      PAL_AOBO_GROUP_IDS: palAoboGroupIds
      PAL_ARM_ENDPOINT: palArmEndpoint
      PAL_GRAPH_ENDPOINT: palGraphEndpoint
      AZURE_AUTHORITY_HOST: azureAuthorityHost
      PAL_ARM_AUDIENCE: palArmAudience
      PAL_GRAPH_AUDIENCE: palGraphAudience
      PAL_TABLE_PREFIX: palTablePrefix
      PAL_MAX_CONCURRENCY: palMaxConcurrency
      PAL_HTTP_TIMEOUT_SECONDS: palHttpTimeoutSeconds
      PAL_WATCH_SCHEDULE: palWatchSchedule
      PAL_VERIFY_SCHEDULE: palVerifySchedule
      PAL_COST: palCost
      PAL_COST_SCHEDULE: palCostSchedule
      PAL_PEC_RATE: palPecRate
      PAL_BILLING: palBilling
      PAL_CREDIT_SNAPSHOT_SCHEDULE: palCreditSnapshotSchedule
      PAL_BILLING_CURRENCY: palBillingCurrency
      PAL_GRAPH_NOTIFICATION_URL: graphNotificationUrl
      PAL_ALERT_MAIL_FROM: palAlertMailFrom
      PAL_ALERT_MAIL_TO: palAlertMailTo
      PAL_ALERT_SMTP_HOST: palAlertSmtpHost
      PAL_ALERT_SMTP_PORT: palAlertSmtpPort
      PAL_ALERT_SMTP_SECURITY: palAlertSmtpSecurity
      PAL_ALERT_SMTP_USER: palAlertSmtpUser
      // Secrets: only through keyVaultSettings (a Key Vault reference), never a plain value.
      PAL_ALERT_SMTP_PASSWORD: ''
      PAL_ALERT_WEBHOOK_URL: ''
      PAL_EVENTS_TOPIC_ENDPOINT: eventsTopic.outputs.endpoint
      PAL_ALERT_REMIND_HOURS: palAlertRemindHours
      PAL_ALERT_DIGEST: palAlertDigest
      PAL_ALERT_DIGEST_HOUR: palAlertDigestHour
    }
  }
  dependsOn: [
    // Key Vault references resolve at start-up: the vault and its role must exist first.
    keyVault
  ]
}

// Watching the watcher: an action group (ops address) and log alert rules on the app's records.
module alerts './core/alerts.bicep' = {
  name: 'alerts'
  scope: rg
  params: {
    location: location
    tags: tags
    applicationInsightsId: monitoring.outputs.applicationInsightsId
    opsEmail: !empty(opsAlertEmail) ? opsAlertEmail : first(split(palAlertMailTo, ','))
    actionGroupName: 'ag-palwatch-${resourceToken}'
    verifyWindow: 'PT${verifyHours * 2}H'
  }
}

module workbook './app/workbook.bicep' = {
  name: 'workbook'
  scope: rg
  params: {
    location: location
    tags: tags
    applicationInsightsId: monitoring.outputs.applicationInsightsId
  }
}

// Step two of the Graph wiring (docs/deploy.md): the partner topic exists only after the app
// created its Graph subscriptions, and was activated by an operator.
module graphSubscription './app/graph-subscription.bicep' = if (enableGraphEvents && graphPartnerTopicReady) {
  name: 'graph-subscription'
  scope: rg
  params: {
    partnerTopicName: partnerTopicName
    functionAppName: api.outputs.SERVICE_API_NAME
  }
  dependsOn: [
    graphPartner
  ]
}

// Outputs azd stores in .azure/<env>/.env; the SERVICE_* and AZURE_* names are the ones azd reads.
output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output SERVICE_API_NAME string = api.outputs.SERVICE_API_NAME
output SERVICE_API_URI string = api.outputs.SERVICE_API_URI
output AZURE_FUNCTION_NAME string = api.outputs.SERVICE_API_NAME
output APPLICATIONINSIGHTS_CONNECTION_STRING string = monitoring.outputs.connectionString
output PAL_IDENTITY_CLIENT_ID string = identity.outputs.clientId
output PAL_IDENTITY_PRINCIPAL_ID string = identity.outputs.principalId
output PAL_IDENTITY_RESOURCE_ID string = identity.outputs.id
output PAL_COVERAGE_URL string = '${api.outputs.SERVICE_API_URI}/api/coverage?format=html'
output PAL_HEALTH_URL string = '${api.outputs.SERVICE_API_URI}/api/health?format=text'
output PAL_FUNCTION_KEY_COMMAND string = 'az functionapp keys list -g ${rg.name} -n ${api.outputs.SERVICE_API_NAME} --query functionKeys.default -o tsv'
output PAL_ALERT_RULES array = alerts.outputs.ruleNames
output PAL_EVENTS_TOPIC_ENDPOINT string = eventsTopic.outputs.endpoint
output PAL_GRAPH_PARTNER_TOPIC string = enableGraphEvents ? partnerTopicName : ''
output AZURE_KEY_VAULT_NAME string = enableKeyVault ? kvName : ''
