// Event Grid custom topic for findings (called from main.bicep): every finding opened or
// resolved is published here (PAL_EVENTS_TOPIC_ENDPOINT) so ticketing and automation can
// subscribe. Entra ID only: the app publishes with its identity, there are no access keys.
param name string
param location string
param tags object
param principalId string

@description('Schema the publisher uses; CloudEvents 1.0 unless the alerts code sends EventGridEvent.')
@allowed(['CloudEventSchemaV1_0', 'EventGridSchema'])
param inputSchema string = 'CloudEventSchemaV1_0'

var eventGridDataSender = 'd5a91429-5739-47e2-a06b-3470a27159e7'

resource topic 'Microsoft.EventGrid/topics@2025-02-15' = {
  name: name
  location: location
  tags: tags
  //checkov:skip=CKV_AZURE_191:No managed identity on the topic: no subscription delivers with the topic's identity, so it would be an identity without purpose.
  //checkov:skip=CKV_AZURE_193:Public network access: the Flex Consumption app has no VNet in the default deployment; local auth is off, so only Entra ID principals with EventGrid Data Sender can publish.
  properties: {
    inputSchema: inputSchema
    disableLocalAuth: true
    publicNetworkAccess: 'Enabled'
    minimumTlsVersionAllowed: '1.2'
  }
}

// EventGrid Data Sender on this topic only: publish events, nothing else (no management, no
// other topics). Without it, findings still reach mail/webhook but the topic gets nothing.
resource sender 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(topic.id, principalId, eventGridDataSender)
  scope: topic
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', eventGridDataSender)
  }
}

output endpoint string = topic.properties.endpoint
output id string = topic.id
