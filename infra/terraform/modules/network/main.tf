locals {
  # Google front ends: load balancer proxies and health checkers.
  health_check_ranges = ["35.191.0.0/16", "130.211.0.0/22"]
  # Identity-Aware Proxy TCP forwarding.
  iap_tcp_range = ["35.235.240.0/20"]

  psa_address = split("/", var.private_service_access_cidr)[0]
  psa_prefix  = tonumber(split("/", var.private_service_access_cidr)[1])
}

resource "google_compute_network" "this" {
  project                 = var.project_id
  name                    = var.name
  auto_create_subnetworks = false
  routing_mode            = "REGIONAL"
}

resource "google_compute_subnetwork" "public" {
  project                  = var.project_id
  name                     = "${var.name}-public"
  region                   = var.region
  network                  = google_compute_network.this.id
  ip_cidr_range            = var.public_subnet_cidr
  private_ip_google_access = true

  secondary_ip_range {
    range_name    = "pods"
    ip_cidr_range = var.pods_cidr
  }

  secondary_ip_range {
    range_name    = "services"
    ip_cidr_range = var.services_cidr
  }

  log_config {
    aggregation_interval = "INTERVAL_5_SEC"
    flow_sampling        = var.flow_log_sampling
    metadata             = "INCLUDE_ALL_METADATA"
  }
}

resource "google_compute_subnetwork" "private" {
  project                  = var.project_id
  name                     = "${var.name}-private"
  region                   = var.region
  network                  = google_compute_network.this.id
  ip_cidr_range            = var.private_subnet_cidr
  private_ip_google_access = true

  log_config {
    aggregation_interval = "INTERVAL_5_SEC"
    flow_sampling        = var.flow_log_sampling
    metadata             = "INCLUDE_ALL_METADATA"
  }
}

resource "google_compute_router" "this" {
  project = var.project_id
  name    = "${var.name}-router"
  region  = var.region
  network = google_compute_network.this.id
}

resource "google_compute_router_nat" "this" {
  project                             = var.project_id
  name                                = "${var.name}-nat"
  region                              = var.region
  router                              = google_compute_router.this.name
  nat_ip_allocate_option              = "AUTO_ONLY"
  source_subnetwork_ip_ranges_to_nat  = "LIST_OF_SUBNETWORKS"
  enable_dynamic_port_allocation      = true
  enable_endpoint_independent_mapping = false
  min_ports_per_vm                    = var.nat_min_ports_per_vm
  max_ports_per_vm                    = var.nat_max_ports_per_vm

  # Nodes, pods and services of the GKE subnet.
  subnetwork {
    name                    = google_compute_subnetwork.public.self_link
    source_ip_ranges_to_nat = ["ALL_IP_RANGES"]
  }

  subnetwork {
    name                    = google_compute_subnetwork.private.self_link
    source_ip_ranges_to_nat = ["PRIMARY_IP_RANGE"]
  }

  log_config {
    enable = true
    filter = "ERRORS_ONLY"
  }
}

resource "google_compute_firewall" "allow_health_checks" {
  project     = var.project_id
  name        = "${var.name}-allow-health-checks"
  network     = google_compute_network.this.id
  description = "Load balancer proxies and health checks to GKE nodes and pods."
  direction   = "INGRESS"
  priority    = 1000

  source_ranges = local.health_check_ranges
  target_tags   = [var.gke_node_tag]

  allow {
    protocol = "tcp"
  }

  log_config {
    metadata = "INCLUDE_ALL_METADATA"
  }
}

resource "google_compute_firewall" "allow_iap_ssh" {
  project     = var.project_id
  name        = "${var.name}-allow-iap-ssh"
  network     = google_compute_network.this.id
  description = "SSH through Identity-Aware Proxy TCP forwarding only."
  direction   = "INGRESS"
  priority    = 1000

  source_ranges = local.iap_tcp_range
  target_tags   = [var.gke_node_tag]

  allow {
    protocol = "tcp"
    ports    = ["22"]
  }

  log_config {
    metadata = "INCLUDE_ALL_METADATA"
  }
}

# Makes the implied deny visible in firewall logs.
resource "google_compute_firewall" "deny_all_ingress" {
  project     = var.project_id
  name        = "${var.name}-deny-all-ingress"
  network     = google_compute_network.this.id
  description = "Explicit, logged default deny for ingress."
  direction   = "INGRESS"
  priority    = 65534

  source_ranges = ["0.0.0.0/0"]

  deny {
    protocol = "all"
  }

  log_config {
    metadata = "EXCLUDE_ALL_METADATA"
  }
}

resource "google_compute_global_address" "private_service_access" {
  project       = var.project_id
  name          = "${var.name}-psa"
  purpose       = "VPC_PEERING"
  address_type  = "INTERNAL"
  address       = local.psa_address
  prefix_length = local.psa_prefix
  network       = google_compute_network.this.id
}

resource "google_service_networking_connection" "this" {
  network                 = google_compute_network.this.id
  service                 = "servicenetworking.googleapis.com"
  reserved_peering_ranges = [google_compute_global_address.private_service_access.name]
  deletion_policy         = "ABANDON"
}
