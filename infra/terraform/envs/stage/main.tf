# Staging: modules/platform with the stack document's stage sizes and CIDRs
# (spot nodes, zonal db-f1-micro, no replica, no deletion protection).
# Backend and provider are in versions.tf.
module "platform" {
  source = "../../modules/platform"

  environment          = "stage"
  kubernetes_namespace = "bro-ai-staging"

  project_id                 = var.project_id
  region                     = var.region
  billing_account            = var.billing_account
  domain                     = var.domain
  alert_emails               = var.alert_emails
  master_authorized_networks = var.master_authorized_networks
  ci_principal_set           = var.ci_principal_set
  iap_accessors              = var.iap_accessors
  cdn_signed_requests        = var.cdn_signed_requests

  cidrs = {
    public_subnet          = "10.10.1.0/24"
    private_subnet         = "10.10.2.0/24"
    pods                   = "10.11.0.0/16"
    services               = "10.12.0.0/16"
    private_service_access = "10.10.16.0/20"
    gke_control_plane      = "10.10.3.0/28"
  }
  flow_log_sampling = 0.1

  gke = {
    node_locations = ["us-central1-a", "us-central1-b"]
    node_pools = {
      general = {
        machine_type = "e2-medium"
        min_nodes    = 1
        max_nodes    = 5
        disk_size_gb = 50
        disk_type    = "pd-standard"
        spot         = true
      }
    }
  }

  cloudsql = {
    tier                     = "db-f1-micro"
    availability_type        = "ZONAL"
    disk_type                = "PD_HDD"
    disk_size_gb             = 20
    disk_autoresize_limit_gb = 100
    backup_retention_count   = 7
    replica_region           = null
  }

  redis = {
    memory_size_gb = 1
    persistence    = null
  }

  backup_retention_days = 30
  log_retention_days    = 30
  budget_amount         = 200
  deletion_protection   = false
}
