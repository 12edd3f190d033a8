output "cluster_id" {
  description = "Cluster id."
  value       = google_container_cluster.this.id
}

output "cluster_name" {
  description = "Cluster name (kubectl context, Argo CD destination)."
  value       = google_container_cluster.this.name
}

output "endpoint" {
  description = "Control plane endpoint."
  value       = google_container_cluster.this.endpoint
  sensitive   = true
}

output "ca_certificate" {
  description = "Cluster CA certificate (base64)."
  value       = google_container_cluster.this.master_auth[0].cluster_ca_certificate
  sensitive   = true
}

output "workload_identity_pool" {
  description = "Workload Identity pool (PROJECT.svc.id.goog); exists once the cluster does."
  value       = google_container_cluster.this.workload_identity_config[0].workload_pool
}

output "node_service_account" {
  description = "Email of the nodes' service account."
  value       = google_service_account.nodes.email
}
