output "project_id" {
  description = "Project id, available once the APIs are enabled."
  value       = var.project_id
  depends_on  = [google_project_service.this]
}

output "project_number" {
  description = "Project number (budgets and service-agent addresses use it)."
  value       = local.number
}

output "service_agents" {
  description = "Google-managed service agents that need grants on CMEK keys, topics and buckets. The Cloud SQL and Secret Manager agents must exist first (bootstrap/service-identities.sh)."
  value = {
    artifact_registry = "service-${local.number}@gcp-sa-artifactregistry.iam.gserviceaccount.com"
    bigquery          = data.google_bigquery_default_service_account.this.email
    cdn_fill          = "service-${local.number}@cloud-cdn-fill.iam.gserviceaccount.com"
    cloud_sql         = "service-${local.number}@gcp-sa-cloud-sql.iam.gserviceaccount.com"
    gke               = "service-${local.number}@container-engine-robot.iam.gserviceaccount.com"
    pubsub            = "service-${local.number}@gcp-sa-pubsub.iam.gserviceaccount.com"
    redis             = "service-${local.number}@cloud-redis.iam.gserviceaccount.com"
    secret_manager    = "service-${local.number}@gcp-sa-secretmanager.iam.gserviceaccount.com"
    storage           = data.google_storage_project_service_account.this.email_address
  }
  depends_on = [google_project_service.this]
}
