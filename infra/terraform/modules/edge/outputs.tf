output "ingress_ip_name" {
  description = "Name of the global IP for the API Ingress (kubernetes.io/ingress.global-static-ip-name)."
  value       = google_compute_global_address.ingress.name
}

output "ingress_ip_address" {
  description = "Global IP of the API Ingress."
  value       = google_compute_global_address.ingress.address
}

output "assets_ip_address" {
  description = "Global IP of the static-assets load balancer."
  value       = google_compute_global_address.assets.address
}

output "ssl_policy_name" {
  description = "SSL policy name (FrontendConfig spec.sslPolicy)."
  value       = google_compute_ssl_policy.this.name
}

output "security_policy_name" {
  description = "Cloud Armor policy name (BackendConfig spec.securityPolicy.name)."
  value       = google_compute_security_policy.this.name
}
