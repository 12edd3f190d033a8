output "notification_channel_ids" {
  description = "Notification channel ids (budgets reuse them)."
  value       = local.channels
}

output "log_dataset_id" {
  description = "BigQuery dataset that receives the log sink."
  value       = google_bigquery_dataset.logs.dataset_id
}

output "uptime_check_id" {
  description = "Uptime check id of /health."
  value       = google_monitoring_uptime_check_config.health.uptime_check_id
}
