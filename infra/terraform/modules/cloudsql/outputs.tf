output "instance_name" {
  description = "Primary instance name."
  value       = google_sql_database_instance.primary.name
}

output "connection_name" {
  description = "PROJECT:REGION:INSTANCE, for the Cloud SQL connectors."
  value       = google_sql_database_instance.primary.connection_name
}

output "private_ip_address" {
  description = "Private IP of the primary instance."
  value       = google_sql_database_instance.primary.private_ip_address
}

output "dns_name" {
  description = "DNS name matching the server certificate (sslmode=verify-full)."
  value       = google_sql_database_instance.primary.dns_name
}

output "server_ca_cert" {
  description = "PEM of the instance's server CA, for sslmode=verify-full."
  value       = google_sql_database_instance.primary.server_ca_cert[0].cert
}

output "database_name" {
  description = "Application database."
  value       = google_sql_database.this.name
}

output "replica_names" {
  description = "Names of the cross-region replicas (empty when none)."
  value       = google_sql_database_instance.replica[*].name
}

output "iam_users" {
  description = "PostgreSQL role names of the IAM database users."
  value       = { for k, u in google_sql_user.iam : k => u.name }
}
