output "network_id" {
  description = "VPC id (projects/P/global/networks/N)."
  value       = google_compute_network.this.id
}

output "network_self_link" {
  description = "VPC self link."
  value       = google_compute_network.this.self_link
}

output "network_name" {
  description = "VPC name."
  value       = google_compute_network.this.name
}

output "gke_subnet_self_link" {
  description = "Subnet of the GKE nodes (the public subnet); Cloud NAT covers all of its ranges."
  value       = google_compute_subnetwork.public.self_link
}

output "private_subnet_self_link" {
  description = "Subnet for internal services."
  value       = google_compute_subnetwork.private.self_link
}

output "pods_range_name" {
  description = "Secondary range name for GKE pods."
  value       = google_compute_subnetwork.public.secondary_ip_range[0].range_name
}

output "services_range_name" {
  description = "Secondary range name for GKE services."
  value       = google_compute_subnetwork.public.secondary_ip_range[1].range_name
}

output "private_service_access_range_name" {
  description = "Allocated range for private services access, available once the peering exists."
  value       = google_compute_global_address.private_service_access.name
  depends_on  = [google_service_networking_connection.this]
}

output "nat_name" {
  description = "Cloud NAT gateway name."
  value       = google_compute_router_nat.this.name
}

output "private_service_access_cidr" {
  description = "Range Cloud SQL and Memorystore draw their private IPs from (NetworkPolicy egress)."
  value       = var.private_service_access_cidr
}
