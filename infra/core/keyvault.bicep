// Optional Key Vault (called from main.bicep when enableKeyVault): holds the certificate (PEM)
// or client secret of an extra identity and secret alert settings (SMTP password, webhook URL).
// RBAC only; the app reads secrets through Key Vault references, never with code.
param name string
param location string
param tags object
param principalId string

var keyVaultSecretsUser = '4633458b-17de-408a-b874-0445c86b69e6'

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: name
  location: location
  tags: tags
  //checkov:skip=CKV_AZURE_109:Firewall default Allow: Flex Consumption without a VNet resolves Key Vault references over the public endpoint; access is Entra ID RBAC only.
  //checkov:skip=CKV_AZURE_189:Public network access: see CKV_AZURE_109.
  //checkov:skip=CKV2_AZURE_32:Private endpoint: see CKV_AZURE_109 (no VNet in the default deployment).
  properties: {
    tenantId: tenant().tenantId
    sku: { family: 'A', name: 'standard' }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 90
    enablePurgeProtection: true
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      bypass: 'AzureServices'
      defaultAction: 'Allow'
    }
  }
}

// Key Vault Secrets User on this vault only: read secret values (a certificate's PEM is read
// through its secret). Without it every Key Vault reference stays unresolved and the setting
// holds the literal "@Microsoft.KeyVault(...)" text.
resource secretsUser 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(vault.id, principalId, keyVaultSecretsUser)
  scope: vault
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', keyVaultSecretsUser)
  }
}

output name string = vault.name
output uri string = vault.properties.vaultUri
