output "secret_ids" {
  description = "Full secret resource names by id (projects/P/secrets/ID), for the Secret Manager CSI SecretProviderClass."
  value       = { for k, s in google_secret_manager_secret.this : k => s.id }
}
