// The one user-assigned managed identity PAL Watch runs as, in its own resource group with a
// CanNotDelete lock (called from main.bicep, scoped to that group). Its object id is written
// into every customer's Lighthouse offer and carries the PAL link: a new identity means every
// delegation stops being attributed. So it is named independently of the azd environment,
// lives apart from the app's group, and the lock refuses `azd down` or a portal delete.
param name string
param location string
param tags object

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: name
  location: location
  tags: tags
}

resource keep 'Microsoft.Authorization/locks@2020-05-01' = {
  name: 'pal-watch-identity-never-delete'
  properties: {
    level: 'CanNotDelete'
    notes: 'Customers Lighthouse offers name this identity by object id, and it carries the partner link. Deleting it breaks attribution for every customer (docs/deploy.md).'
  }
}

output id string = identity.id
output name string = identity.name
