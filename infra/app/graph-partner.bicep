// Authorizes Microsoft Graph as an Event Grid partner in this resource group (called from
// main.bicep). Step one of identity events: with it, a Graph subscription whose notificationUrl
// is "EventGrid:?...&partnertopic=NAME..." (PAL_GRAPH_NOTIFICATION_URL) makes Graph create
// the partner topic NAME here. The app creates that Graph subscription itself at run time;
// graph-subscription.bicep then connects the activated topic to identity_events.
param tags object

@description('Microsoft Graph API partner registration (the id the portal shows under "Authorize partner").')
param graphPartnerRegistrationImmutableId string = 'c02e0126-707c-436d-b6a1-175d2748fb58'

@description('Start of the authorization window; each `azd provision` renews it.')
param authorizedFrom string = utcNow()

@minValue(1)
@maxValue(365)
param authorizationDays int = 365

resource partnerConfiguration 'Microsoft.EventGrid/partnerConfigurations@2025-02-15' = {
  name: 'default'
  location: 'global'
  tags: tags
  properties: {
    partnerAuthorization: {
      defaultMaximumExpirationTimeInDays: authorizationDays
      authorizedPartnersList: [
        {
          partnerName: 'MicrosoftGraphAPI'
          partnerRegistrationImmutableId: graphPartnerRegistrationImmutableId
          // After this date Graph can no longer create or update partner topics here; topics
          // that exist keep delivering. Re-run `azd provision` within a year.
          authorizationExpirationTimeInUtc: dateTimeAdd(authorizedFrom, 'P${authorizationDays}D')
        }
      ]
    }
  }
}

output id string = partnerConfiguration.id
