output "host" {
  description = "Private IP of the primary endpoint."
  value       = google_redis_instance.this.host
}

output "port" {
  description = "TLS port (6378 with SERVER_AUTHENTICATION)."
  value       = google_redis_instance.this.port
}

output "server_ca_certs" {
  description = "PEM certificates of the instance's server CA, for the client's TLS verification."
  value       = [for c in google_redis_instance.this.server_ca_certs : c.cert]
}

output "instance_id" {
  description = "Instance id (for gcloud redis instances get-auth-string)."
  value       = google_redis_instance.this.id
}
