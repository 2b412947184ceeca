// Step two of identity events (called from main.bicep when graphPartnerTopicReady): subscribes
// the identity_events function to the Microsoft Graph partner topic. The topic is created by
// Graph when the app registers its users/groups subscriptions, and must be activated by an
// operator (`az eventgrid partner topic activate`) before this deployment (docs/deploy.md).
param partnerTopicName string
param functionAppName string

resource partnerTopic 'Microsoft.EventGrid/partnerTopics@2025-02-15' existing = {
  name: partnerTopicName
}

resource functionApp 'Microsoft.Web/sites@2024-04-01' existing = {
  name: functionAppName
}

// No event type filter on purpose: the topic carries only the app's own Graph subscriptions,
// and lifecycle events (reauthorization, removal, missed notifications) must reach the app;
// the handler ignores, with a logged reason, what it does not know.
resource identityEvents 'Microsoft.EventGrid/partnerTopics/eventSubscriptions@2025-02-15' = {
  parent: partnerTopic
  name: 'identity-events'
  properties: {
    eventDeliverySchema: 'CloudEventSchemaV1_0'
    destination: {
      endpointType: 'AzureFunction'
      properties: {
        resourceId: '${functionApp.id}/functions/identity_events'
        maxEventsPerBatch: 10
        preferredBatchSizeInKilobytes: 64
      }
    }
    retryPolicy: {
      maxDeliveryAttempts: 30
      eventTimeToLiveInMinutes: 1440
    }
  }
}

output id string = identityEvents.id
