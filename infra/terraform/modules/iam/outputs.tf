output "emails" {
  description = "Service account emails by account id."
  value       = { for k, sa in google_service_account.this : k => sa.email }
}

output "members" {
  description = "IAM members (serviceAccount:EMAIL) by account id, for resource-level grants."
  value       = { for k, sa in google_service_account.this : k => sa.member }
}

output "kubernetes_annotations" {
  description = "For deploy/: KSA name => value of its iam.gke.io/gcp-service-account annotation."
  value       = { for b in values(local.ksa_bindings) : b.ksa => google_service_account.this[b.account].email }
}
