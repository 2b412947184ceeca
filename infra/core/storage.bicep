// Storage for the Functions host (timer leases, deployment package) and the app's state tables
// (called from main.bicep). No keys: shared-key access is off, the app uses its identity.
param name string
param location string
param tags object
param deploymentContainerName string
@description('Object id of the app identity that gets the data roles below.')
param principalId string
param grantQueueAccess bool = true

// Built-in role definition ids (stable across tenants).
var storageBlobDataOwner = 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
var storageQueueDataContributor = '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
var storageTableDataContributor = '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  //checkov:skip=CKV_AZURE_206:Replication: the tables hold a cache of what Azure shows; a verify run rebuilds it, so LRS is enough.
  sku: { name: 'Standard_LRS' }
  //checkov:skip=CKV_AZURE_33:Queue service logging: the app does not use queues; host diagnostics go to Application Insights.
  //checkov:skip=CKV_AZURE_59:Public network access stays on: Flex Consumption without a VNet reaches storage over its public endpoint; keys are off, so only Entra ID identities with data roles get in.
  //checkov:skip=CKV2_AZURE_33:Private endpoint: see CKV_AZURE_59 (no VNet in the default deployment).
  properties: {
    accessTier: 'Hot'
    allowBlobPublicAccess: false
    allowSharedKeyAccess: false
    allowCrossTenantReplication: false
    defaultToOAuthAuthentication: true
    dnsEndpointType: 'Standard'
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    publicNetworkAccess: 'Enabled'
    //checkov:skip=CKV_AZURE_35:Default action Allow: see CKV_AZURE_59 (a Flex app without VNet integration is not a trusted service).
    networkAcls: {
      bypass: 'AzureServices'
      defaultAction: 'Allow'
    }
    encryption: {
      keySource: 'Microsoft.Storage'
      requireInfrastructureEncryption: true
      services: {
        blob: { enabled: true }
        table: { enabled: true, keyType: 'Account' }
        queue: { enabled: true, keyType: 'Account' }
      }
    }
  }

  resource blobs 'blobServices' = {
    name: 'default'
    properties: {
      deleteRetentionPolicy: { enabled: true, days: 7 }
    }

    // Flex Consumption reads the app package from this container (functionAppConfig.deployment).
    resource deploymentContainer 'containers' = {
      name: deploymentContainerName
      properties: { publicAccess: 'None' }
    }
  }

  resource tables 'tableServices' = {
    name: 'default'
  }
}

// Blob Data Owner, not Contributor: the Functions host manages blob leases and containers for
// timer singletons and reads the deployment package (Microsoft's documented host-storage role).
resource blobOwner 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, principalId, storageBlobDataOwner)
  scope: storage
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageBlobDataOwner)
  }
}

// The app's state (delegations, links, findings, outbox) lives in tables it creates on first use.
resource tableContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, principalId, storageTableDataContributor)
  scope: storage
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageTableDataContributor)
  }
}

// The host's documented role set for identity-based AzureWebJobsStorage includes queues (used
// by host features such as blob-trigger receipts). PAL Watch's own triggers use none; a partner
// who wants the strict minimum can set grantQueueAccess=false.
resource queueContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (grantQueueAccess) {
  name: guid(storage.id, principalId, storageQueueDataContributor)
  scope: storage
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageQueueDataContributor)
  }
}

output name string = storage.name
output id string = storage.id
output blobEndpoint string = storage.properties.primaryEndpoints.blob
output tableEndpoint string = storage.properties.primaryEndpoints.table
