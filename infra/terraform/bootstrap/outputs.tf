output "state_bucket" {
  description = "Bucket for backend.hcl of every root (prefixes: bootstrap, envs/stage, envs/prod)."
  value       = google_storage_bucket.state.name
}

output "workload_identity_provider" {
  description = "Full provider name for google-github-actions/auth (workload_identity_provider)."
  value       = google_iam_workload_identity_pool_provider.github.name
}

output "ci_principal_set" {
  description = "principalSet of the repository's workflows; pass it to the environments as ci_principal_set (image push, attestation, static assets)."
  value       = "principalSet://iam.googleapis.com/${local.pool_name}/attribute.repository/${var.github_repository}"
}

output "plan_service_accounts" {
  description = "Read-only Terraform identities by environment."
  value       = { for k, sa in google_service_account.plan : k => sa.email }
}

output "apply_service_accounts" {
  description = "Apply identities by environment (usable only from the GitHub environment of the same name)."
  value       = { for k, sa in google_service_account.apply : k => sa.email }
}

output "admin_project_number" {
  description = "Number of the admin project (part of the pool's resource names)."
  value       = data.google_project.admin.number
}
