// Reads the PAL Watch identity (created by core/identity.bicep, or an existing one passed as
// PAL_IDENTITY_RESOURCE_ID) so the rest of the template gets its ids the same way either way.
param name string

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' existing = {
  name: name
}

output id string = identity.id
output name string = identity.name
output clientId string = identity.properties.clientId
output principalId string = identity.properties.principalId
