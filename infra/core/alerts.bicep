// Watching the watcher (called from main.bicep): an action group that mails the ops address,
// and log alert rules over Application Insights on the structured records the app writes
// (shared/telemetry.py; names and dimensions in docs/deploy.md, "Alerts on PAL Watch itself").
// tools/check_infra.py checks that each rule exists, queries a known record and notifies the group.
param location string
param tags object
param applicationInsightsId string
param opsEmail string
param actionGroupName string

@description('Window in which a verification must complete: twice the verify schedule (ISO 8601).')
param verifyWindow string = 'PT12H'

@description('Window in which the watch timer must have run at least once (ISO 8601).')
param watchWindow string = 'PT30M'

// KQL: a record is "<name> <json>" in traces.message; this reads the JSON part.
var dims = 'parse_json(substring(message, indexof(message, " ") + 1))'

resource actionGroup 'Microsoft.Insights/actionGroups@2023-01-01' = {
  name: actionGroupName
  location: 'global'
  tags: tags
  properties: {
    groupShortName: 'palwatch'
    enabled: true
    emailReceivers: empty(opsEmail) ? [] : [
      {
        name: 'ops'
        emailAddress: opsEmail
        useCommonAlertSchema: true
      }
    ]
  }
}

var rules = [
  {
    name: 'pal-watch-function-failures'
    record: 'PalWatch.TriggerOutcome'
    severity: 1
    frequency: 'PT5M'
    window: 'PT15M'
    operator: 'GreaterThan'
    threshold: 0
    description: 'A PAL Watch function run failed (any trigger): an unhandled error in the host, or a TriggerOutcome record with status failed.'
    query: 'union (requests | where success == false and operation_Name !in ("health", "coverage")), (traces | where message startswith "PalWatch.TriggerOutcome " | extend d = ${dims} | where tostring(d.status) == "failed")'
  }
  {
    name: 'pal-watch-verification-overdue'
    record: 'PalWatch.TriggerOutcome'
    severity: 2
    frequency: 'PT1H'
    window: verifyWindow
    operator: 'LessThan'
    threshold: 1
    description: 'No verification completed (status ok or partial) within twice its schedule: coverage and repairs are stale.'
    query: 'traces | where message startswith "PalWatch.TriggerOutcome " | extend d = ${dims} | where tostring(d.trigger) == "verify_attribution" and tostring(d.status) in ("ok", "partial")'
  }
  {
    name: 'pal-watch-watch-timer-stopped'
    record: 'PalWatch.TriggerOutcome'
    severity: 1
    frequency: 'PT15M'
    window: watchWindow
    operator: 'LessThan'
    threshold: 1
    description: 'The watch timer has not run: new delegations, identity losses and pending alerts are not handled.'
    query: 'traces | where message startswith "PalWatch.TriggerOutcome " | extend d = ${dims} | where tostring(d.trigger) == "watch_delegations"'
  }
  {
    name: 'pal-watch-outbox-dead-letters'
    record: 'PalWatch.OutboxDeadLetter'
    severity: 2
    frequency: 'PT15M'
    window: 'PT15M'
    operator: 'GreaterThan'
    threshold: 0
    description: 'Alert notices were given up on a channel: the ops inbox may have missed a finding.'
    query: 'traces | where message startswith "PalWatch.OutboxDeadLetter "'
  }
  {
    name: 'pal-watch-doctor-red'
    record: 'PalWatch.Doctor'
    severity: 1
    frequency: 'PT15M'
    window: 'P1D'
    operator: 'GreaterThan'
    threshold: 0
    description: 'The doctor turned red: a required check fails (store, alert channel, token or permission). GET /api/health?format=text shows the fix.'
    query: 'traces | where message startswith "PalWatch.Doctor " | extend d = ${dims} | summarize arg_max(timestamp, d) | where tobool(d.ok) == false'
  }
]

resource alertRules 'Microsoft.Insights/scheduledQueryRules@2021-08-01' = [for rule in rules: {
  name: rule.name
  location: location
  tags: union(tags, { 'pal-watch-record': rule.record })
  properties: {
    displayName: rule.name
    description: rule.description
    severity: rule.severity
    enabled: true
    scopes: [
      applicationInsightsId
    ]
    evaluationFrequency: rule.frequency
    windowSize: rule.window
    autoMitigate: true
    criteria: {
      allOf: [
        {
          query: rule.query
          timeAggregation: 'Count'
          operator: rule.operator
          threshold: rule.threshold
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    actions: {
      actionGroups: [
        actionGroup.id
      ]
    }
  }
}]

output actionGroupId string = actionGroup.id
output ruleNames array = [for rule in rules: rule.name]
