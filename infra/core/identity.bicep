// The one user-assigned managed identity PAL Watch runs as (called from main.bicep).
// Kept outside the app so that its object id, which customers put in their Lighthouse
// authorizations and which carries the PAL link, survives a rebuild of the function app.
param name string
param location string
param tags object

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: name
  location: location
  tags: tags
}

output id string = identity.id
output name string = identity.name
output clientId string = identity.properties.clientId
output principalId string = identity.properties.principalId
