// The PAL Watch workbook in Azure Monitor (called from main.bicep): coverage over time, open
// findings by customer and severity, trigger health and the doctor, all from the app's
// structured records in Application Insights. The content is workbook.json (the portal's own
// gallery format), so it can be edited in the portal and exported back.
param location string
param tags object
param applicationInsightsId string
param displayName string = 'PAL Watch'

resource workbook 'Microsoft.Insights/workbooks@2023-06-01' = {
  name: guid(applicationInsightsId, 'pal-watch-workbook')
  location: location
  tags: tags
  kind: 'shared'
  properties: {
    displayName: displayName
    category: 'workbook'
    sourceId: applicationInsightsId
    serializedData: string(loadJsonContent('./workbook.json'))
  }
}

output id string = workbook.id
