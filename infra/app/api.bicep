// The PAL Watch function app (called from main.bicep): Flex Consumption (FC1), Python 3.11,
// running as the one user-assigned identity, with identity-based host storage and every app
// setting the engine reads. Tagged azd-service-name=api so `azd deploy` finds it.
param name string
param location string
param tags object
param identityId string
param identityClientId string
param storageAccountName string
param deploymentContainerName string
param applicationInsightsName string

@description('PAL_* and endpoint settings from main.bicep; an empty value means "not configured" to the engine.')
param palSettings object

@description('App setting name -> Key Vault reference; wins over palSettings.')
param keyVaultReferences object = {}

@secure()
param graphClientState string = ''

@minValue(40)
@maxValue(1000)
param maximumInstanceCount int = 40

@allowed([512, 2048, 4096])
param instanceMemoryMB int = 2048

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: 'plan-${name}'
  location: location
  tags: tags
  kind: 'functionapp'
  //checkov:skip=CKV_AZURE_225:Zone redundancy: handlers are idempotent and retried, verify repairs after an outage; zone redundancy would add always-ready cost for no lost data.
  sku: {
    name: 'FC1'
    tier: 'FlexConsumption'
  }
  properties: {
    reserved: true
  }
}

// Settings the Functions host and azure-identity read. No key or connection string with a
// secret anywhere: storage and Application Insights are reached with the identity.
// (Flex Consumption rejects FUNCTIONS_WORKER_RUNTIME and FUNCTIONS_EXTENSION_VERSION: the
// runtime comes from functionAppConfig below.)
var platformSettings = {
  AzureWebJobsStorage__accountName: storage.name
  AzureWebJobsStorage__credential: 'managedidentity'
  AzureWebJobsStorage__clientId: identityClientId
  // The engine's table client takes the table endpoint directly (sovereign-cloud safe).
  AzureWebJobsStorage__tableServiceUri: storage.properties.primaryEndpoints.table
  AZURE_CLIENT_ID: identityClientId
  APPLICATIONINSIGHTS_CONNECTION_STRING: appInsights.properties.ConnectionString
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identityClientId};Authorization=AAD'
}

var secretSettings = {
  PAL_GRAPH_CLIENT_STATE: graphClientState
}

// Later objects win: a Key Vault reference replaces the empty default of the same setting.
var appSettings = union(platformSettings, palSettings, secretSettings, keyVaultReferences)

resource functionApp 'Microsoft.Web/sites@2024-04-01' = {
  name: name
  location: location
  tags: union(tags, { 'azd-service-name': 'api' })
  //checkov:skip=CKV_AZURE_212:Minimum instances: Flex Consumption scales from zero; Event Grid retries deliveries for 24 h and timers catch up, so no always-ready instance is paid for.
  //checkov:skip=CKV_AZURE_213:Health check: the platform's health check pings a path on instances that scale to zero; Functions hosts report health themselves.
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  //checkov:skip=CKV_AZURE_17:Client certificates: callers are Event Grid (system key) and operators (function key); mTLS is not offered by them.
  //checkov:skip=CKV_AZURE_56:App Service Authentication: the only HTTP endpoints are the Event Grid webhook (host-validated system key) and `coverage` (function key).
  //checkov:skip=CKV_AZURE_222:Public network access: Event Grid (customer system topics, Graph partner topic) must reach the webhook.
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    clientCertEnabled: false
    publicNetworkAccess: 'Enabled'
    keyVaultReferenceIdentity: identityId
    siteConfig: {
      minTlsVersion: '1.2'
      scmMinTlsVersion: '1.2'
      ftpsState: 'Disabled'
      http20Enabled: true
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storage.properties.primaryEndpoints.blob}${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
      }
      runtime: {
        name: 'python'
        version: '3.11'
      }
    }
  }

  resource settings 'config' = {
    name: 'appsettings'
    properties: appSettings
  }

  // azd deploys with an Entra ID token (OneDeploy); basic publishing credentials stay off.
  resource ftpCredentials 'basicPublishingCredentialsPolicies' = {
    name: 'ftp'
    properties: { allow: false }
  }

  resource scmCredentials 'basicPublishingCredentialsPolicies' = {
    name: 'scm'
    properties: { allow: false }
  }
}

output SERVICE_API_NAME string = functionApp.name
output SERVICE_API_URI string = 'https://${functionApp.properties.defaultHostName}'
output id string = functionApp.id
